package dev.ember.server;

import dev.ember.engine.GenerationRequest;
import dev.ember.engine.image.RgbImage;
import dev.ember.engine.metadata.ImageParameters;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One HTTP request's generation: its images (one engine request each, seeds {@code seed + i}), the model they
 * need, and what became of them. The {@link Scheduler} runs the images as tasks; {@link #done()} completes
 * exactly once, when every image that was started has ended.
 *
 * <p>How it can end: every image made; interrupted (A1111's interrupt: the images being sampled stop at their
 * next step and are decoded from their current estimate, the rest are not started); cancelled (the client went
 * away: nothing more is made or decoded); failed (the first error of any of its images).
 */
final class Job {
    private static final AtomicLong IDS = new AtomicLong();
    private static final DateTimeFormatter TIMESTAMP = DateTimeFormatter.ofPattern("yyyyMMddHHmmss");

    /** One image's outcome: the picture, its metadata record, and the step it stopped at (-1 = it ran to the end). */
    record Image(int index, long seed, RgbImage image, ImageParameters parameters, int stoppedAtStep) {}

    private final long id = IDS.incrementAndGet();
    private final String kind;
    private final ModelHost.Key model;
    private final List<GenerationRequest> requests;
    private final String initSha256;
    private final String timestamp = LocalDateTime.now().format(TIMESTAMP);
    private final Image[] images;
    private final AtomicInteger imagesDone = new AtomicInteger();
    private final ConcurrentLinkedQueue<String> warnings = new ConcurrentLinkedQueue<>();
    private final CompletableFuture<Job> done = new CompletableFuture<>();
    /** Tasks started and not ended, plus one for the dispatcher while it may still start more. */
    private final AtomicInteger outstanding = new AtomicInteger(1);
    private volatile boolean cancelled;
    private volatile boolean interrupted;
    private volatile RuntimeException failure;
    private volatile long startedNanos;

    /**
     * @param kind       {@code txt2img}, {@code img2img}: what progress reports as the job
     * @param requests   one per image, each for a single image
     * @param initSha256 img2img: SHA-256 of the init image bytes, recorded in the PNGs; else null
     */
    Job(String kind, ModelHost.Key model, List<GenerationRequest> requests, String initSha256) {
        this.kind = Objects.requireNonNull(kind, "kind");
        this.model = Objects.requireNonNull(model, "model");
        this.requests = List.copyOf(requests);
        if (this.requests.isEmpty()) throw new IllegalArgumentException("a job needs at least one image");
        for (GenerationRequest r : this.requests) if (r.images() != 1) throw new IllegalArgumentException("one request per image");
        this.initSha256 = initSha256;
        this.images = new Image[this.requests.size()];
    }

    long id() { return id; }
    String kind() { return kind; }
    ModelHost.Key model() { return model; }
    List<GenerationRequest> requests() { return requests; }
    String initSha256() { return initSha256; }
    String timestamp() { return timestamp; }
    int imageCount() { return requests.size(); }
    int imagesDone() { return imagesDone.get(); }
    boolean cancelled() { return cancelled; }
    boolean interrupted() { return interrupted; }
    RuntimeException failure() { return failure; }
    long startedNanos() { return startedNanos; }
    CompletableFuture<Job> done() { return done; }

    List<String> warnings() {
        return List.copyOf(warnings);
    }

    void warn(String warning) {
        if (!warnings.contains(warning)) warnings.add(warning);
    }

    /** Whether no more of its images should start, and running ones should stop at their next step. */
    boolean stopping() {
        return cancelled || interrupted || failure != null;
    }

    /** The images that exist, in order (an interrupted job has fewer than it asked for). */
    List<Image> images() {
        List<Image> out = new ArrayList<>();
        synchronized (images) {
            for (Image i : images) if (i != null) out.add(i);
        }
        return out;
    }

    void cancel() {
        cancelled = true;
    }

    void interrupt() {
        interrupted = true;
    }

    void started() {
        startedNanos = System.nanoTime();
    }

    void fail(RuntimeException e) {
        synchronized (this) {
            if (failure == null) failure = e;
        }
    }

    void put(Image image) {
        synchronized (images) {
            images[image.index()] = image;
        }
        imagesDone.incrementAndGet();
    }

    /** A task is about to start. */
    void taskStarted() {
        outstanding.incrementAndGet();
    }

    /** A task (or the dispatcher's hold) ended; true when that was the last, and the job is over. */
    boolean release() {
        return outstanding.decrementAndGet() == 0;
    }

    /** Completes {@link #done()} (once). */
    void finish() {
        done.complete(this);
    }
}
