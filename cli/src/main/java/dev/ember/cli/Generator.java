package dev.ember.cli;

import dev.ember.engine.GeneratedImage;
import dev.ember.engine.GenerationRequest;
import dev.ember.engine.GenerationResult;
import dev.ember.engine.LatentRecorder;
import dev.ember.engine.StableDiffusion;
import dev.ember.engine.StepListener;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import dev.ember.engine.metadata.PngMetadata;
import dev.ember.engine.metadata.ImageParameters;
import dev.ember.engine.image.OutputFiles;

/**
 * Runs one resolved request on a loaded model and writes its outputs: each image as
 * {@code NNNNNN.SEED.png} with its metadata, plus the intermediates when asked. Nothing is written
 * until the generation has succeeded.
 */
final class Generator {
    /** Where things go: the image folder, optionally intermediates (folder, every N-th step, how drawn) and raw latents. */
    record Outputs(Path folder, Path intermediates, int every, Previews previews, Path latents) {}

    /** One written image: its file, seed, intermediate files and latent files. */
    record Written(int index, long seed, Path file, List<Path> intermediates, List<Path> latents) {}

    /** What a run produced. */
    record Outcome(ImageParameters parameters, List<Written> images, GenerationResult result) {}

    private Generator() {}

    static Outcome run(StableDiffusion sd, ImageParameters parameters, InitImage init, Outputs outputs, PrintWriter err,
                       boolean progress) throws IOException {
        GenerationRequest request = parameters.toRequest(init == null ? null : init.image());
        IntermediatesRecorder recorder = outputs.intermediates() == null ? null
                : new IntermediatesRecorder(sd, outputs.previews(), outputs.every());
        LatentRecorder latents = outputs.latents() == null ? null : new LatentRecorder();
        List<StepListener> listeners = new ArrayList<>();
        if (progress) listeners.add(new ProgressReporter(err, request.images()));
        if (recorder != null) listeners.add(recorder);
        if (latents != null) listeners.add(latents);
        GenerationResult result = sd.generate(request, all(listeners), warning -> err.println("ember: warning: " + warning));

        List<Written> written = new ArrayList<>();
        for (GeneratedImage image : result.images()) {
            byte[] png = PngMetadata.encode(image.image(), parameters.forImage(image.seed()));
            Path file = OutputFiles.writeNumbered(outputs.folder(), image.seed(), png);
            List<Path> steps = List.of();
            if (recorder != null) {
                Path folder = result.images().size() == 1 ? outputs.intermediates()
                        : outputs.intermediates().resolve(stem(file));
                steps = recorder.write(image.index(), folder);
            }
            List<Path> raw = List.of();
            if (latents != null) {
                Path folder = result.images().size() == 1 ? outputs.latents() : outputs.latents().resolve(stem(file));
                raw = latents.write(image.index(), folder);
            }
            written.add(new Written(image.index(), image.seed(), file, steps, raw));
        }
        return new Outcome(parameters, written, result);
    }

    private static StepListener all(List<StepListener> listeners) {
        if (listeners.isEmpty()) return StepListener.NONE;
        return event -> {
            for (StepListener l : listeners) {
                if (l.onStep(event) == StepListener.Action.CANCEL) return StepListener.Action.CANCEL;
            }
            return StepListener.Action.CONTINUE;
        };
    }

    private static String stem(Path file) {
        String name = file.getFileName().toString();
        return name.endsWith(".png") ? name.substring(0, name.length() - 4) : name;
    }
}
