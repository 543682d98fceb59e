package dev.ember.cli;

import dev.ember.engine.GenerationRequest;
import dev.ember.engine.metadata.ImageParameters;
import dev.ember.engine.metadata.PngMetadata;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code --skip-existing}: the images of a batch that its output folder already holds, so a re-run of an
 * interrupted batch makes only the missing ones. An image counts when a {@code NNNNNN.SEED.png} there
 * has that seed and Ember metadata that make the same picture ({@link ImageParameters#makesSameImageAs}:
 * every parameter that decides the pixels, the model by its fingerprint).
 */
final class ExistingImages {
    private static final Pattern NAME = Pattern.compile("^\\d{6,}\\.(\\d{1,19})\\.png$");

    private ExistingImages() {}

    /** Seed to file, in batch order, for the images of {@code batch} (as run: fingerprint known) found in {@code folder}. */
    static Map<Long, Path> find(Path folder, ImageParameters batch, GenerationRequest request) throws IOException {
        Map<Long, ImageParameters> wanted = new HashMap<>();
        for (int i = 0; i < request.images(); i++) wanted.put(request.imageSeed(i), batch.forImage(request.imageSeed(i)));
        Map<Long, Path> found = new TreeMap<>();
        if (!Files.isDirectory(folder)) return found;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(folder, "*.png")) {
            for (Path f : files) {
                Matcher m = NAME.matcher(f.getFileName().toString());
                if (!m.matches()) continue;
                long seed;
                try {
                    seed = Long.parseLong(m.group(1));
                } catch (NumberFormatException e) {
                    continue;
                }
                ImageParameters want = wanted.get(seed);
                if (want == null || found.containsKey(seed)) continue;
                ImageParameters recorded;
                try {
                    recorded = PngMetadata.read(f).ember();
                } catch (IllegalArgumentException e) {
                    continue; // not a readable Ember image: not ours to skip
                }
                if (recorded != null && want.makesSameImageAs(recorded)) found.put(seed, f);
            }
        }
        Map<Long, Path> inBatchOrder = new LinkedHashMap<>();
        for (int i = 0; i < request.images(); i++) {
            Path f = found.get(request.imageSeed(i));
            if (f != null) inBatchOrder.put(request.imageSeed(i), f);
        }
        return inBatchOrder;
    }
}
