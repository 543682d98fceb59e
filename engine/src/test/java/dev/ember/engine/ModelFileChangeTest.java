package dev.ember.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.engine.model.DType;
import dev.ember.engine.model.ModelFileWatch;
import dev.ember.engine.model.ModelFormat;
import dev.ember.engine.model.ModelPreset;
import dev.ember.engine.model.SyntheticCheckpoint;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model file truncated or rewritten while a model is open: {@link ModelFileAccess#COPIED} never crashes
 * and never gives different pictures; {@link ModelFileAccess#MAPPED} refuses images made after a change.
 * Truncation with a live mapping runs only in a child JVM (a fault there would kill this one).
 */
class ModelFileChangeTest {
    private static final ModelOptions MAPPED = ModelOptions.defaults().withThreads(1);
    private static final ModelOptions COPIED = MAPPED.withFileAccess(ModelFileAccess.COPIED);

    /** The tiny model, and another of the same size and layout with other weights (seed 99). */
    static Path original, other;

    @TempDir
    Path temp;

    @BeforeAll
    static void writeModels(@TempDir Path dir) {
        original = TinyModels.tinySafetensors();
        other = dir.resolve("other.safetensors");
        SyntheticCheckpoint.write(ModelPreset.TINY, other, ModelFormat.SAFETENSORS, DType.F32, 99);
    }

    static GenerationRequest request(int images) {
        return GenerationRequest.builder("a lighthouse").size(64, 64).steps(2).seed(7).images(images).build();
    }

    private Path copyOfOriginal() throws IOException {
        Path model = temp.resolve("model.safetensors");
        Files.copy(original, model, StandardCopyOption.REPLACE_EXISTING);
        return model;
    }

    /** Writes {@code source}'s bytes over {@code target} in place: the same file (inode), then cut to {@code source}'s size. */
    static void overwriteInPlace(Path target, Path source) throws IOException {
        try (FileChannel out = FileChannel.open(target, StandardOpenOption.WRITE); FileChannel in = FileChannel.open(source)) {
            long done = 0;
            while (done < in.size()) done += out.transferFrom(in, done, in.size() - done);
            out.truncate(in.size());
        }
    }

    /** A listener that keeps the images it is handed. */
    static StepListener keeping(List<GeneratedImage> delivered) {
        return new StepListener() {
            @Override
            public Action onStep(StepEvent event) {
                return Action.CONTINUE;
            }

            @Override
            public void onImage(GeneratedImage image) {
                delivered.add(image);
            }
        };
    }

    static void truncate(Path file, long size) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.truncate(size);
        }
    }

    private static List<byte[]> pixels(GenerationResult r) {
        return r.images().stream().map(i -> i.image().rgb()).toList();
    }

    private static void assertSamePixels(List<byte[]> expected, List<byte[]> actual) {
        assertEquals(expected.size(), actual.size());
        for (int i = 0; i < expected.size(); i++) assertArrayEquals(expected.get(i), actual.get(i), "image " + i);
    }

    @Test
    void withWeightsInPlaceFalseIsCopied() {
        assertEquals(ModelFileAccess.MAPPED, ModelOptions.defaults().fileAccess());
        assertEquals(ModelFileAccess.COPIED, ModelOptions.defaults().withWeightsInPlace(false).fileAccess());
        assertFalse(ModelOptions.defaults().withFileAccess(ModelFileAccess.COPIED).weightsInPlace());
    }

    @Test
    void copiedModelKeepsItsPicturesWhateverHappensToTheFile() throws IOException {
        Path model = copyOfOriginal();
        try (StableDiffusion sd = StableDiffusion.load(model, COPIED)) {
            assertFalse(sd.holdsCheckpoint(), "no mapping kept");
            List<byte[]> before = pixels(sd.generate(request(1), StepListener.NONE));
            overwriteInPlace(model, other);
            assertSamePixels(before, pixels(sd.generate(request(1), StepListener.NONE)));
            truncate(model, 100);
            assertSamePixels(before, pixels(sd.generate(request(1), StepListener.NONE)));
        }
    }

    @Test
    void copiedLowMemoryModelRereadsCheckedBytesAndRefusesAChangedFile() throws IOException {
        Path model = copyOfOriginal();
        List<byte[]> reference;
        try (StableDiffusion sd = StableDiffusion.load(model, COPIED)) {
            reference = pixels(sd.generate(request(1), StepListener.NONE));
        }
        try (StableDiffusion sd = StableDiffusion.load(model, COPIED.withLowMemory(true))) {
            assertFalse(sd.holdsCheckpoint(), "no mapping kept, not even for the per-use networks");
            assertEquals(java.util.Set.of(StableDiffusion.Network.UNET), sd.residentNetworks());
            assertSamePixels(reference, pixels(sd.generate(request(1), StepListener.NONE)));

            overwriteInPlace(model, other); // first: a wrong mapping read would show here, not crash
            List<GeneratedImage> delivered = new ArrayList<>();
            ModelFileChangedException e = assertThrows(ModelFileChangedException.class,
                    () -> sd.generate(request(1), keeping(delivered)));
            assertTrue(e.getMessage().startsWith(model + ": the model file changed since it was loaded: tensor first_stage_model."),
                    e.getMessage());
            assertTrue(delivered.isEmpty(), "no image from changed weights");

            truncate(model, 1000);
            e = assertThrows(ModelFileChangedException.class, () -> sd.generate(request(1), StepListener.NONE));
            assertTrue(e.getMessage().contains("the file ends before its data (truncated)"), e.getMessage());

            // The same bytes again (into the file the model opened): the checksums match, the pictures are the loaded model's.
            overwriteInPlace(model, original);
            assertSamePixels(reference, pixels(sd.generate(request(1), StepListener.NONE)));
        }
    }

    @Test
    void copiedLowMemoryReadsEveryFormatAgainAsTheMappedModelReadsIt() {
        for (ModelFormat format : List.of(ModelFormat.DIFFUSERS, ModelFormat.CKPT)) {
            Path model = temp.resolve("model-" + format);
            SyntheticCheckpoint.write(ModelPreset.TINY, model, format, DType.F32, 1234);
            try (StableDiffusion mapped = StableDiffusion.load(model, MAPPED);
                 StableDiffusion copied = StableDiffusion.load(model, COPIED.withLowMemory(true))) {
                assertFalse(copied.holdsCheckpoint(), format + ": no mapping kept");
                assertEquals(java.util.Set.of(StableDiffusion.Network.UNET), copied.residentNetworks(), format + ": loaded per use");
                assertEquals(mapped.fileFingerprint(), copied.fileFingerprint(), format.toString());
                assertSamePixels(pixels(mapped.generate(request(1), StepListener.NONE)), pixels(copied.generate(request(1), StepListener.NONE)));
            }
        }
    }

    @Test
    void mappedModelRefusesImagesMadeAfterARewrite() throws IOException {
        Path model = copyOfOriginal();
        try (StableDiffusion sd = StableDiffusion.load(model, MAPPED)) {
            assertTrue(sd.holdsCheckpoint());
            List<byte[]> before = pixels(sd.generate(request(1), StepListener.NONE)); // image 0 of any batch from seed 7

            // Rewritten while image 1 is being made: image 0 is handed out, image 1 and 2 never are.
            List<GeneratedImage> delivered = new ArrayList<>();
            StepListener rewriteDuringImage1 = new StepListener() {
                @Override
                public Action onStep(StepEvent event) throws IOException {
                    if (event.imageIndex() == 1 && event.step() == 1) overwriteInPlace(model, other);
                    return Action.CONTINUE;
                }

                @Override
                public void onImage(GeneratedImage image) {
                    delivered.add(image);
                }
            };
            ModelFileChangedException e = assertThrows(ModelFileChangedException.class, () -> sd.generate(request(3), rewriteDuringImage1));
            assertTrue(e.getMessage().startsWith(model + ": the model file changed while the model was open"), e.getMessage());
            assertEquals(1, delivered.size());
            assertArrayEquals(before.get(0), delivered.get(0).image().rgb(), "image 0 was made before the change");

            // And every later generation is refused before it starts.
            e = assertThrows(ModelFileChangedException.class, () -> sd.generate(request(1), StepListener.NONE));
            assertTrue(e.getMessage().contains("the file was rewritten (its content differs)"), e.getMessage());
        }
    }

    @Test
    void mappedModelTruncatedBetweenGenerationsFailsCleanlyInAChildJvm() throws Exception {
        Path model = copyOfOriginal();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-Xss4m", "-cp", System.getProperty("java.class.path"),
                TruncateBetweenGenerations.class.getName(), model.toString()).directory(temp.toFile()).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), "the child JVM must not die: " + output);
        assertTrue(output.contains("refused: " + model + ": the model file changed while the model was open"), output);
        assertTrue(output.contains("the file is now 4096 bytes, was " + Files.size(original)), output);
    }

    /** Loads mapped, generates, truncates the file, generates again: must throw, not fault. */
    public static final class TruncateBetweenGenerations {
        public static void main(String[] args) throws IOException {
            Path model = Path.of(args[0]);
            try (StableDiffusion sd = StableDiffusion.load(model, MAPPED)) {
                sd.generate(request(1), StepListener.NONE);
                truncate(model, 4096);
                try {
                    sd.generate(request(1), StepListener.NONE);
                    System.out.println("generated from a truncated file");
                } catch (ModelFileChangedException e) {
                    System.out.println("refused: " + e.getMessage());
                }
            }
        }
    }

    @Test
    void watchSeesSizeContentAndTimeButNotARenameOverTheName() throws IOException {
        Path model = copyOfOriginal();
        try (ModelFileWatch watch = ModelFileWatch.open(model)) {
            assertEquals(null, watch.changes());
            assertEquals(ModelFileWatch.fingerprintOf(original), watch.fingerprint(), "the same bytes elsewhere, the same fingerprint");
            assertNotEquals(ModelFileWatch.fingerprintOf(other), watch.fingerprint());

            // Another file renamed over the name: the open file is intact, so nothing the model uses changed.
            Path replacement = temp.resolve("replacement");
            Files.copy(other, replacement);
            Files.move(replacement, model, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            assertEquals(null, watch.changes());
        }
        try (ModelFileWatch watch = ModelFileWatch.open(model)) {
            Files.setLastModifiedTime(model, FileTime.fromMillis(Files.getLastModifiedTime(model).toMillis() - 5000));
            assertTrue(watch.changes().startsWith("the file was written to (modified "), watch.changes());
        }
        try (ModelFileWatch watch = ModelFileWatch.open(model)) {
            // Sampled bytes rewritten with the old time put back: seen by the content.
            FileTime time = Files.getLastModifiedTime(model);
            overwriteInPlace(model, original);
            Files.setLastModifiedTime(model, time);
            assertEquals("the file was rewritten (its content differs)", watch.changes());
        }
    }
}
