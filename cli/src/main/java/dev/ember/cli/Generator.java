package dev.ember.cli;

import dev.ember.engine.GeneratedImage;
import dev.ember.engine.GenerationRequest;
import dev.ember.engine.GenerationResult;
import dev.ember.engine.LatentRecorder;
import dev.ember.engine.StableDiffusion;
import dev.ember.engine.StepEvent;
import dev.ember.engine.StepListener;
import dev.ember.engine.image.OutputFiles;
import dev.ember.engine.metadata.ImageParameters;
import dev.ember.engine.metadata.PngMetadata;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Runs one resolved request on a loaded model and writes each image as soon as it is done, as
 * {@code NNNNNN.SEED.png} with its metadata, plus its intermediates when asked, each file atomically.
 * A run that is stopped (SIGTERM, a crash, a changed model file) keeps the images it finished and
 * leaves no partial or temporary file ({@link OutputFiles}).
 */
final class Generator {
    /** Where things go: the image folder, optionally intermediates (folder, every N-th step, how drawn) and raw latents. */
    record Outputs(Path folder, Path intermediates, int every, Previews previews, Path latents) {}

    /** One written image: its place in the batch, seed, file, intermediate files and latent files. */
    record Written(int index, long seed, Path file, List<Path> intermediates, List<Path> latents) {}

    /** What a run produced; {@code stepsRun} per image, 0 when every image was skipped. */
    record Outcome(ImageParameters parameters, List<Written> images, int stepsRun, Duration elapsed) {}

    private Generator() {}

    /**
     * Makes the images of {@code parameters}' batch whose seeds are not in {@code skip}, handing each
     * written one to {@code written} at once.
     */
    static Outcome run(StableDiffusion sd, ImageParameters parameters, InitImage init, Outputs outputs, PrintWriter err,
                       boolean progress, Set<Long> skip, Consumer<Written> written) {
        GenerationRequest batch = InitImage.request(parameters, init);
        IntermediatesRecorder recorder = outputs.intermediates() == null ? null
                : new IntermediatesRecorder(sd, outputs.previews(), outputs.every());
        List<Written> all = new ArrayList<>();
        int stepsRun = 0;
        Duration elapsed = Duration.ZERO;
        // Runs of consecutive images to make: image i of the batch is image i - first of its run, same seed.
        for (int first = 0; first < batch.images(); ) {
            if (skip.contains(batch.imageSeed(first))) {
                first++;
                continue;
            }
            int end = first;
            while (end < batch.images() && !skip.contains(batch.imageSeed(end))) end++;
            GenerationRequest run = batch.toBuilder().seed(batch.imageSeed(first)).images(end - first).build();
            LatentRecorder latents = outputs.latents() == null ? null : new LatentRecorder();
            List<StepListener> steps = new ArrayList<>();
            if (progress) steps.add(new ProgressReporter(err, run.images()));
            if (recorder != null) steps.add(recorder);
            if (latents != null) steps.add(latents);
            ImageWriter writer = new ImageWriter(parameters, outputs, steps, recorder, latents, batch.images() > 1, first, w -> {
                all.add(w);
                written.accept(w);
            });
            GenerationResult result = sd.generate(run, writer, warning -> err.println("ember: warning: " + Terminal.safe(warning)));
            stepsRun = result.stepsRun();
            elapsed = elapsed.plus(result.elapsed());
            first = end;
        }
        return new Outcome(parameters, all, stepsRun, elapsed);
    }

    /** Passes steps on to the step listeners, and writes each finished image with its intermediates. */
    private static final class ImageWriter implements StepListener {
        private final ImageParameters parameters;
        private final Outputs outputs;
        private final List<StepListener> steps;
        private final IntermediatesRecorder recorder;
        private final LatentRecorder latents;
        private final boolean subfolders;
        private final int offset;
        private final Consumer<Written> written;

        ImageWriter(ImageParameters parameters, Outputs outputs, List<StepListener> steps, IntermediatesRecorder recorder,
                    LatentRecorder latents, boolean subfolders, int offset, Consumer<Written> written) {
            this.parameters = parameters;
            this.outputs = outputs;
            this.steps = steps;
            this.recorder = recorder;
            this.latents = latents;
            this.subfolders = subfolders;
            this.offset = offset;
            this.written = written;
        }

        @Override
        public Action onStep(StepEvent event) throws Exception {
            for (StepListener l : steps) {
                if (l.onStep(event) == Action.CANCEL) return Action.CANCEL;
            }
            return Action.CONTINUE;
        }

        @Override
        public void onImage(GeneratedImage image) {
            byte[] png = PngMetadata.encode(image.image(), parameters.forImage(image.seed()));
            Path file;
            List<Path> intermediates = List.of(), raw = List.of();
            try {
                file = OutputFiles.writeNumbered(outputs.folder(), image.seed(), png);
                if (recorder != null) {
                    intermediates = recorder.write(image.index(), subfolders ? outputs.intermediates().resolve(stem(file)) : outputs.intermediates());
                }
                if (latents != null) raw = latents.write(image.index(), subfolders ? outputs.latents().resolve(stem(file)) : outputs.latents());
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write image " + (offset + image.index() + 1) + ": " + FileErrors.describe(e), e);
            }
            written.accept(new Written(offset + image.index(), image.seed(), file, intermediates, raw));
        }
    }

    private static String stem(Path file) {
        String name = file.getFileName().toString();
        return name.endsWith(".png") ? name.substring(0, name.length() - 4) : name;
    }
}
