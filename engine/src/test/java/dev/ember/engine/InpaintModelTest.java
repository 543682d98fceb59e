package dev.ember.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.engine.image.RgbImage;
import dev.ember.engine.model.DType;
import dev.ember.engine.model.ModelFormat;
import dev.ember.engine.model.ModelPreset;
import dev.ember.engine.model.ModelSpec;
import dev.ember.engine.model.SyntheticCheckpoint;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A synthetic inpainting model (the tiny preset with 9 UNet input channels): detected by its conv_in, it runs
 * txt2img and img2img (the whole picture masked, as A1111 does) and inpaints with kept pixels exactly the init
 * image's, at strength 1 as such models are used.
 */
class InpaintModelTest {
    private static final int SIDE = 64;

    @Test
    void nineChannelModelIsDetectedAndInpaints(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("tiny-inpaint.safetensors");
        SyntheticCheckpoint.write(ModelPreset.TINY_INPAINT, file, ModelFormat.SAFETENSORS, DType.F32, 1234);
        detectedAndInpaints(file);
    }

    /** SDXL inpainting models (diffusers' stable-diffusion-xl-1.0-inpainting-0.1 layout): the same 9 channels on SDXL's UNet. */
    @Test
    void nineChannelSdxlModelIsDetectedAndInpaints(@TempDir Path dir) throws Exception {
        ModelSpec xl = ModelPreset.SDXL_TINY.spec();
        ModelSpec inpainting = new ModelSpec(xl.architecture(), xl.prediction(), xl.predictionSource(), xl.text(), xl.unet().withInChannels(9),
                xl.vae(), xl.text2());
        Path file = dir.resolve("sdxl-tiny-inpaint.safetensors");
        SyntheticCheckpoint.write(inpainting, "sdxl-tiny-inpaint", file, ModelFormat.SAFETENSORS, DType.F32, 1234);
        detectedAndInpaints(file);
    }

    private static void detectedAndInpaints(Path file) {
        try (StableDiffusion sd = StableDiffusion.load(file, ModelOptions.defaults().withThreads(2))) {
            assertTrue(sd.isInpaintingModel());
            assertEquals(9, sd.spec().unet().inChannels());
            assertEquals(4, sd.spec().unet().outChannels());
            RgbImage init = sd.generate(GenerationRequest.builder("init").size(SIDE, SIDE).steps(2).seed(5).build(), StepListener.NONE)
                    .images().getFirst().image();
            GenerationRequest.Builder b = GenerationRequest.builder("a dog").size(SIDE, SIDE).steps(4).seed(9).initImage(init).strength(1);
            RgbImage img2img = sd.generate(b.build(), StepListener.NONE).images().getFirst().image();
            RgbImage out = sd.generate(b.inpaint(Inpaint.of(InpaintTest.rightOf(32)).withBlur(0)).build(), StepListener.NONE)
                    .images().getFirst().image();
            int changed = 0;
            for (int y = 0; y < SIDE; y++) for (int x = 0; x < SIDE; x++) {
                if (x < 32) assertEquals(init.pixel(x, y), out.pixel(x, y), "(" + x + ", " + y + ")");
                else if (out.pixel(x, y) != init.pixel(x, y)) changed++;
            }
            assertTrue(changed > 0);
            assertNotEquals(img2img, out);
            // The mask reaches the UNet: the same request with another mask changes the repainted half too.
            RgbImage other = sd.generate(b.inpaint(Inpaint.of(InpaintTest.rightOf(24)).withBlur(0)).build(), StepListener.NONE)
                    .images().getFirst().image();
            boolean differs = false;
            for (int y = 0; y < SIDE && !differs; y++) for (int x = 40; x < SIDE; x++) differs |= other.pixel(x, y) != out.pixel(x, y);
            assertTrue(differs);
        }
    }

    @Test
    void ordinaryModelIsNotAnInpaintingModel() {
        try (StableDiffusion sd = StableDiffusion.load(TinyModels.tinySafetensors(), ModelOptions.defaults().withThreads(2))) {
            assertFalse(sd.isInpaintingModel());
        }
    }
}
