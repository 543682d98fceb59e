package dev.ember.cli;

import dev.ember.engine.StableDiffusion;
import dev.ember.engine.StepEvent;
import dev.ember.engine.StepListener;
import dev.ember.engine.image.RgbImage;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import dev.ember.engine.metadata.PngMetadata;
import dev.ember.engine.image.OutputFiles;

/**
 * Keeps a preview of every {@code every}-th step of each image (step 0 and the last step always) while
 * the image is made; they are written, each file atomically, once the image is done, and then forgotten.
 *
 * <p>Files: {@code step-00.png}, {@code step-01.png}, ... and {@code steps.png}, the written steps side
 * by side. One image goes straight into the folder; with several, each image gets a subfolder named
 * after its output file ({@code 000032.1592514025/}).
 */
final class IntermediatesRecorder implements StepListener {
    private final StableDiffusion sd;
    private final Previews kind;
    private final int every;
    /** imageIndex -> step -> preview. */
    private final Map<Integer, TreeMap<Integer, RgbImage>> frames = new TreeMap<>();

    IntermediatesRecorder(StableDiffusion sd, Previews kind, int every) {
        if (every < 1) throw new IllegalArgumentException("--intermediates-every must be at least 1, got " + every);
        this.sd = sd;
        this.kind = kind;
        this.every = every;
    }

    @Override
    public Action onStep(StepEvent e) {
        if (e.step() == 0 || e.step() == e.totalSteps() || e.step() % every == 0) {
            frames.computeIfAbsent(e.imageIndex(), i -> new TreeMap<>()).put(e.step(), kind.render(sd, e));
        }
        return Action.CONTINUE;
    }

    /**
     * Writes image {@code imageIndex}'s steps and strip into {@code folder}, forgets them, and returns the
     * files written. Older {@code step-NN.png} files there are removed first, so a strip's folder never
     * mixes two runs.
     */
    List<Path> write(int imageIndex, Path folder) throws IOException {
        TreeMap<Integer, RgbImage> steps = frames.remove(imageIndex);
        if (steps == null) steps = new TreeMap<>();
        if (steps.isEmpty()) return List.of();
        Files.createDirectories(folder);
        removeOldSteps(folder);
        int digits = Math.max(2, Integer.toString(steps.lastKey()).length());
        List<Path> written = new ArrayList<>();
        for (Map.Entry<Integer, RgbImage> s : steps.entrySet()) {
            Path file = folder.resolve(String.format(Locale.ROOT, "step-%0" + digits + "d.png", s.getKey()));
            OutputFiles.writeReplacing(file, PngMetadata.plainPng(s.getValue()));
            written.add(file);
        }
        Path strip = folder.resolve("steps.png");
        OutputFiles.writeReplacing(strip, PngMetadata.plainPng(StepStrip.compose(List.copyOf(steps.values()))));
        written.add(strip);
        return written;
    }

    private static void removeOldSteps(Path folder) throws IOException {
        try (DirectoryStream<Path> old = Files.newDirectoryStream(folder, "step-[0-9]*.png")) {
            for (Path f : old) {
                if (f.getFileName().toString().matches("step-\\d+\\.png")) Files.deleteIfExists(f);
            }
        }
    }
}
