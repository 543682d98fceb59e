package dev.ember.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.engine.image.RgbImage;
import dev.ember.engine.model.DType;
import dev.ember.engine.model.ModelFormat;
import dev.ember.engine.model.ModelPreset;
import dev.ember.engine.model.SyntheticCheckpoint;
import dev.ember.engine.pipeline.ModelInternals;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link ModelOptions#weightsInPlace()}: same images as copied weights, and the checkpoint held while the model is open. */
class WeightsInPlaceModelTest {
    private static final ModelOptions IN_PLACE = ModelOptions.defaults().withThreads(2);
    private static final ModelOptions COPIED = IN_PLACE.withWeightsInPlace(false);

    private static GenerationRequest txt2img() {
        return GenerationRequest.builder("a lighthouse").negativePrompt("fog").size(64, 64).steps(3).seed(5).build();
    }

    private static GenerationRequest img2img() {
        byte[] rgb = new byte[64 * 64 * 3];
        for (int i = 0; i < rgb.length; i++) rgb[i] = (byte) (i * 7);
        RgbImage init = new RgbImage(64, 64, rgb);
        return GenerationRequest.builder("a lighthouse").size(64, 64).steps(4).seed(6).initImage(init).strength(0.5).build();
    }

    private static List<byte[]> run(StableDiffusion sd, GenerationRequest r) {
        return sd.generate(r, StepListener.NONE).images().stream().map(i -> i.image().rgb()).toList();
    }

    private static void assertSameImages(StableDiffusion expected, StableDiffusion actual, String what) {
        for (GenerationRequest r : List.of(txt2img(), img2img())) {
            List<byte[]> a = run(expected, r), b = run(actual, r);
            assertEquals(a.size(), b.size(), what);
            for (int i = 0; i < a.size(); i++) assertArrayEquals(a.get(i), b.get(i), what + ", image " + i);
        }
    }

    private static void compare(Path model, ModelOptions inPlace, String what) {
        try (StableDiffusion copied = StableDiffusion.load(model, COPIED); StableDiffusion placed = StableDiffusion.load(model, inPlace)) {
            assertTrue(placed.weightsInPlace(), what);
            assertFalse(copied.weightsInPlace(), what);
            assertTrue(placed.holdsCheckpoint(), what + ": in place, the checkpoint stays open");
            assertFalse(copied.holdsCheckpoint(), what + ": copied, the checkpoint is closed after loading");
            assertEquals(ModelInternals.unet(copied).stats().weightBytes(), ModelInternals.unet(placed).stats().weightBytes(), what);
            assertSameImages(copied, placed, what);
        }
    }

    @Test
    void defaultsAreInPlaceOnTheCpu() {
        assertTrue(ModelOptions.defaults().weightsInPlace());
        assertFalse(ModelOptions.defaults().withWeightsInPlace(false).weightsInPlace());
        assertFalse(ModelOptions.defaults().withWeightsInPlace(false).withThreads(3).weightsInPlace(), "with* keeps the option");
    }

    @Test
    void f32FileGivesTheCopiedImages() {
        compare(TinyModels.tinySafetensors(), IN_PLACE, "f32 safetensors");
    }

    @Test
    void f16FileGivesTheCopiedImages(@TempDir Path dir) {
        Path f16 = dir.resolve("tiny-f16.safetensors");
        SyntheticCheckpoint.write(ModelPreset.TINY, f16, ModelFormat.SAFETENSORS, DType.F16, 99);
        compare(f16, IN_PLACE, "f16 safetensors");
        compare(f16, IN_PLACE.withLowMemory(true), "f16 safetensors, low-memory mode");
    }

    @Test
    void aCompressedCkptIsHeldInMemoryAndGivesTheCopiedImages(@TempDir Path dir) throws Exception {
        compare(TinyModels.deflatedCkpt(dir), IN_PLACE, "deflated ckpt");
    }

    @Test
    void theCheckpointStaysOpenUntilCloseWhichIsIdempotent() {
        StableDiffusion sd = StableDiffusion.load(TinyModels.tinySafetensors(), IN_PLACE);
        assertTrue(sd.holdsCheckpoint());
        run(sd, txt2img());
        assertTrue(sd.holdsCheckpoint(), "still open after generating");
        sd.close();
        assertFalse(sd.holdsCheckpoint(), "closed with the model");
        sd.close();
        assertFalse(sd.holdsCheckpoint());
        assertEquals("model is closed", assertThrows(IllegalStateException.class, () -> sd.generate(txt2img(), StepListener.NONE)).getMessage());
    }
}
