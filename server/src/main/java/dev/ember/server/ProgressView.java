package dev.ember.server;

import dev.ember.engine.StepEvent;
import dev.ember.engine.image.LatentPreview;
import dev.ember.engine.image.RgbImage;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code GET /sdapi/v1/progress}: A1111's answer for the oldest running job. {@code progress} is A1111's
 * {@code 0.01 + job_no / job_count + (1 / job_count) * step / steps}, with the images of a job that sample at
 * once (a batch) each adding their own fraction; {@code eta_relative} is the time left at the rate so far.
 *
 * <p>{@code current_image} shows the job's lowest running image as A1111 shows it: the model's current
 * estimate of the clean image (the latent before the first step). It is drawn when a client asks, from the
 * copy the step listener kept, so it never slows sampling: the projection ({@link ServerConfig.Preview#PROJ})
 * costs a few milliseconds of the asking thread; a VAE decode ({@link ServerConfig.Preview#VAE}) waits for the
 * UNet and is made at most once every {@code previewEvery} steps. One drawing serves all clients asking at that step.
 */
final class ProgressView {
    private final Scheduler scheduler;
    private final ModelHost host;
    private final ServerConfig config;
    private record Drawn(long job, int index, int step, String png) {}
    private Drawn drawn;

    ProgressView(Scheduler scheduler, ModelHost host, ServerConfig config) {
        this.scheduler = scheduler;
        this.host = host;
        this.config = config;
    }

    Map<String, Object> answer(boolean skipCurrentImage) {
        Scheduler.Now now = scheduler.now();
        Map<String, Object> state = new LinkedHashMap<>();
        Job job = now.job();
        Scheduler.Task task = now.task();
        StepEvent last = task == null ? null : task.last;
        state.put("skipped", task != null && task.skipped);
        state.put("interrupted", job != null && job.interrupted());
        state.put("stopping_generation", false);
        state.put("job", job != null ? job.kind() : now.loading() != null ? "load model" : "");
        state.put("job_count", job != null ? job.imageCount() : now.loading() != null ? 1 : 0);
        state.put("job_timestamp", job != null ? job.timestamp() : "0");
        state.put("job_no", job != null ? job.imagesDone() : 0);
        state.put("sampling_step", last == null ? 0 : last.step());
        state.put("sampling_steps", last == null ? 0 : last.totalSteps());
        state.put("queue_waiting", now.waiting());

        Map<String, Object> out = new LinkedHashMap<>();
        if (job == null) {
            out.put("progress", now.loading() != null ? 0.01 : 0.0);
            out.put("eta_relative", 0.0);
            out.put("state", state);
            out.put("current_image", null);
            out.put("textinfo", now.loading() != null ? "Loading " + now.loading() : null);
            return out;
        }
        double progress = Math.min(1, 0.01 + fractionDone(job));
        double elapsed = job.startedNanos() == 0 ? 0 : (System.nanoTime() - job.startedNanos()) / 1e9;
        out.put("progress", progress);
        out.put("eta_relative", Math.max(0, elapsed / progress - elapsed));
        out.put("state", state);
        out.put("current_image", skipCurrentImage || last == null ? null : draw(job, task, last));
        out.put("textinfo", last == null ? "Starting" : "Sampling step " + last.step() + "/" + last.totalSteps() + " of image "
                + (task.index + 1) + "/" + job.imageCount() + (now.waiting() > 0 ? "; " + now.waiting() + " job(s) waiting" : ""));
        return out;
    }

    /** Finished images plus each running image's share of its steps, over the job's images. */
    private double fractionDone(Job job) {
        double done = job.imagesDone();
        for (Scheduler.Task t : scheduler.tasksOf(job)) {
            StepEvent e = t.last;
            if (e != null && e.totalSteps() > 0) done += (double) e.step() / e.totalSteps();
        }
        return done / job.imageCount();
    }

    private synchronized String draw(Job job, Scheduler.Task task, StepEvent e) {
        if (config.preview() == ServerConfig.Preview.NONE) return null;
        Drawn d = drawn;
        boolean same = d != null && d.job() == job.id() && d.index() == task.index;
        if (same && d.step() == e.step()) return d.png();
        if (same && config.preview() == ServerConfig.Preview.VAE && e.step() - d.step() < config.previewEvery()) return d.png();
        MemorySegment latent = e.denoised() != null ? e.denoised() : e.latent();
        ModelHost.Loaded loaded = host.current();
        if (loaded == null || !loaded.key().equals(job.model())) return null;
        RgbImage image;
        try {
            image = switch (config.preview()) {
                // The model's own latent-to-RGB factors (SD's or SDXL's), blown up to image size.
                case PROJ -> LatentPreview.preview(loaded.model().previewPalette(), latent.toArray(ValueLayout.JAVA_FLOAT), 0,
                        e.latentHeight(), e.latentWidth(), LatentPreview.VAE_SCALE);
                case TAESD -> loaded.model().taesdPreview(latent, e.latentHeight(), e.latentWidth());
                default -> loaded.model().decodePreview(latent, e.latentHeight(), e.latentWidth());
            };
        } catch (IllegalStateException closed) {
            return null; // the model was switched meanwhile
        }
        drawn = new Drawn(job.id(), task.index, e.step(), Images.base64Png(image));
        return drawn.png();
    }
}
