package dev.ember.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.engine.TinyModel;
import dev.ember.engine.image.RgbImage;
import dev.ember.engine.metadata.ImageParameters;
import dev.ember.engine.metadata.PngMetadata;
import dev.ember.engine.model.DType;
import dev.ember.engine.model.ModelFileWatch;
import dev.ember.engine.model.ModelFormat;
import dev.ember.engine.model.ModelPreset;
import dev.ember.engine.model.SyntheticCheckpoint;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each image is written as soon as it is done: a batch stopped by SIGTERM keeps its finished images
 * (complete, no temporary files), {@code --skip-existing} finishes it, and a batch whose model file is
 * rewritten in place stops with the images made before the change.
 */
class InterruptedRunsTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void cache() {
        TestModels.useTemporaryCache();
    }

    private static final int IMAGES = 6;

    private List<String> batch(Path model, Path out, String... more) {
        List<String> args = new ArrayList<>(List.of("txt2img", "-p", "a lighthouse", "-S", "4294967293", "-n", Integer.toString(IMAGES),
                "-W", "64", "-H", "64", "-s", "8", "--threads", "1", "--model", model.toString(), "--out", out.toString()));
        args.addAll(List.of(more));
        return args;
    }

    static List<Path> files(Path dir, String glob) throws IOException {
        if (!Files.isDirectory(dir)) return List.of();
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> dir.getFileSystem().getPathMatcher("glob:" + glob).matches(p.getFileName())).sorted().toList();
        }
    }

    /** Seed to pixels of every PNG in {@code out}. */
    static Map<Long, byte[]> pixelsBySeed(Path out) throws IOException {
        Map<Long, byte[]> bySeed = new HashMap<>();
        for (Path png : files(out, "*.png")) {
            bySeed.put(PngMetadata.read(png).ember().seed(), RgbImage.read(png).rgb());
        }
        return bySeed;
    }

    private static void waitForFirst(Path out, CompletableFuture<?> orProcessEnd) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (files(out, "*.png").isEmpty()) {
            assertFalse(orProcessEnd.isDone(), "the run ended before its first image");
            assertTrue(System.nanoTime() < deadline, "no image after 120 s");
            Thread.sleep(20);
        }
    }

    @Test
    void sigtermKeepsFinishedImagesAndSkipExistingFinishesTheBatch() throws Exception {
        Path model = TestModels.tiny();
        Path reference = dir.resolve("reference");
        CliRunner whole = CliRunner.run(batch(model, reference).toArray(String[]::new));
        assertEquals(0, whole.exitCode(), whole.err());
        Map<Long, byte[]> expected = pixelsBySeed(reference);
        assertEquals(List.of(4294967293L, 4294967294L, 4294967295L, 0L, 1L, 2L).stream().sorted().toList(),
                expected.keySet().stream().sorted().toList(), "seeds wrap from 4294967295 to 0");

        Path out = dir.resolve("out");
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Dember.cache=" + TinyModel.cacheRoot(), "-cp", System.getProperty("java.class.path"),
                Main.class.getName()));
        command.addAll(batch(model, out));
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(dir.resolve("child.log").toFile()).start();
        waitForFirst(out, p.onExit());
        p.destroy(); // SIGTERM
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(143, p.exitValue(), Files.readString(dir.resolve("child.log")));

        List<Path> kept = files(out, "*.png");
        assertTrue(!kept.isEmpty() && kept.size() < IMAGES, "stopped part way: " + kept);
        assertEquals(List.of(), files(out, ".*"), "no temporary file left behind");
        Map<Long, byte[]> finished = pixelsBySeed(out); // every kept file is a complete PNG with its metadata
        finished.forEach((seed, rgb) -> assertArrayEquals(expected.get(seed), rgb, "seed " + seed));

        CliRunner rest = CliRunner.run(batch(model, out, "--skip-existing").toArray(String[]::new));
        assertEquals(0, rest.exitCode(), rest.err());
        assertEquals(kept.size(), rest.err().lines().filter(l -> l.startsWith("ember: skipping seed ")).count(), rest.err());
        assertEquals(IMAGES - kept.size(), rest.out().lines().filter(l -> l.startsWith("wrote ")).count(), rest.out());
        Map<Long, byte[]> all = pixelsBySeed(out);
        assertEquals(expected.keySet(), all.keySet());
        all.forEach((seed, rgb) -> assertArrayEquals(expected.get(seed), rgb, "seed " + seed));

        // Nothing left to make; other parameters are not the same images.
        CliRunner none = CliRunner.run(batch(model, out, "--skip-existing").toArray(String[]::new));
        assertEquals(0, none.exitCode(), none.err());
        assertFalse(none.out().contains("wrote "), none.out());
        assertTrue(none.out().contains("0 image(s) (6 skipped: already there)"), none.out());
        CliRunner other = CliRunner.run(batch(model, out, "--skip-existing", "-C", "5", "-n", "1").toArray(String[]::new));
        assertEquals(0, other.exitCode(), other.err());
        assertEquals(1, other.out().lines().filter(l -> l.startsWith("wrote ")).count(), "cfg 5 is another image");
    }

    @Test
    void aModelRewrittenDuringTheBatchStopsItAndKeepsTheImagesMadeBefore() throws Exception {
        Path model = Files.copy(TestModels.tiny(), dir.resolve("model.safetensors"));
        Path other = dir.resolve("other.safetensors");
        SyntheticCheckpoint.write(ModelPreset.TINY, other, ModelFormat.SAFETENSORS, DType.F32, 99);
        String fingerprint = ModelFileWatch.fingerprintOf(model);
        Path reference = dir.resolve("reference");
        assertEquals(0, CliRunner.run(batch(model, reference, "-n", "2").toArray(String[]::new)).exitCode());
        Map<Long, byte[]> expected = pixelsBySeed(reference);

        Path out = dir.resolve("out");
        CompletableFuture<CliRunner> run = CompletableFuture.supplyAsync(() -> CliRunner.run(batch(model, out).toArray(String[]::new)));
        waitForFirst(out, run);
        try (FileChannel ch = FileChannel.open(model, StandardOpenOption.WRITE); FileChannel in = FileChannel.open(other)) {
            ch.transferFrom(in, 0, in.size()); // in place: the same file, the same size, other weights
        }
        CliRunner r = run.get(120, TimeUnit.SECONDS);

        assertEquals(1, r.exitCode(), r.err());
        List<Path> kept = files(out, "*.png");
        assertTrue(!kept.isEmpty() && kept.size() < IMAGES, kept.toString());
        String error = r.err().strip().lines().reduce((a, b) -> b).orElse("");
        assertTrue(error.startsWith("ember: " + model.toAbsolutePath() + ": the model file changed while Ember was using it: the file was "), error);
        assertTrue(error.endsWith("; " + kept.size() + " image(s) made before the change are written, the other " + (IMAGES - kept.size())
                + " were not made; --no-weights-in-place keeps a private copy of the model that changes to the file cannot affect"), error);
        for (Path png : kept) {
            ImageParameters p = PngMetadata.read(png).ember();
            assertEquals(fingerprint, p.modelFingerprint(), "the fingerprint of the file as it was read");
            if (expected.containsKey(p.seed())) assertArrayEquals(expected.get(p.seed()), RgbImage.read(png).rgb(), "made before the change");
        }
    }
}
