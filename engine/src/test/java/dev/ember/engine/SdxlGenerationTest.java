package dev.ember.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.bindings.ember_h;
import dev.ember.engine.image.RgbImage;
import dev.ember.engine.model.Architecture;
import dev.ember.engine.model.DType;
import dev.ember.engine.model.ModelFormat;
import dev.ember.engine.model.ModelPreset;
import dev.ember.engine.model.SyntheticCheckpoint;
import dev.ember.engine.nn.Vae;
import dev.ember.engine.pipeline.ModelInternals;
import dev.ember.engine.pipeline.OnDemand;
import dev.ember.engine.sampling.Sampler;
import dev.ember.engine.sampling.Schedule;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SDXL end to end on the tiny SDXL preset through the public API (one thread: on a busy machine two spin). */
class SdxlGenerationTest {
    private static StableDiffusion sd;

    @BeforeAll
    static void load() {
        sd = StableDiffusion.load(TinyModels.tinyXlSafetensors(), ModelOptions.defaults().withThreads(1));
    }

    @AfterAll
    static void close() {
        sd.close();
    }

    private static GenerationRequest.Builder small(String prompt) {
        return GenerationRequest.builder(prompt).size(64, 64).steps(2).seed(3).cfgScale(5);
    }

    /** The UNet latents one request runs. */
    private static long unetPasses(GenerationRequest request) {
        long before = ModelInternals.unet(sd).imagesEvaluated();
        RgbImage image = sd.generate(request, StepListener.NONE).images().getFirst().image();
        assertEquals(request.width(), image.width());
        return ModelInternals.unet(sd).imagesEvaluated() - before;
    }

    private static byte[] pixels(GenerationRequest request) {
        return sd.generate(request, StepListener.NONE).images().getFirst().image().rgb();
    }

    @Test
    void loadsAsSdxlWithBothTextEncodersAndDefaultsTo1024() {
        assertEquals(Architecture.SDXL, sd.spec().architecture());
        assertTrue(sd.residentNetworks().contains(StableDiffusion.Network.TEXT_ENCODER_2));
        assertEquals(1024, sd.defaultImageSize());
        assertEquals(dev.ember.engine.image.LatentPreview.Palette.SDXL, sd.previewPalette(), "SDXL's VAE has its own preview colours");
        assertEquals(1024, sd.requestBuilder("x").build().width());
        assertEquals(1024, StableDiffusion.defaultImageSize(TinyModels.tinyXlSafetensors(), null));
        assertEquals(512, StableDiffusion.defaultImageSize(TinyModels.tinySafetensors(), null));
        assertEquals(768, ModelPreset.SD21.spec().defaultImageSize(), "SD 2.x v-prediction");
    }

    @Test
    void guidanceRunsTwoLatentsPerStepAndCfgOneRunsOne() {
        assertEquals(4, unetPasses(small("a lighthouse").build()), "2 steps x (cond + uncond)");
        // Turbo: one step on the trailing schedule, no guidance: a single UNet latent.
        assertEquals(1, unetPasses(small("a lighthouse").steps(1).cfgScale(1).sampler(Sampler.EULER_A).schedule(Schedule.TRAILING).build()));
        assertEquals(2, unetPasses(small("a lighthouse").steps(2).cfgScale(1).sampler(Sampler.LCM).schedule(Schedule.SGM_UNIFORM).build()));
        // A prompt of two chunks against a one-chunk negative: cond and uncond run as separate passes, still two latents a step.
        String longPrompt = String.join(", ", java.util.Collections.nCopies(40, "a red lighthouse"));
        assertEquals(4, unetPasses(small(longPrompt).negativePrompt("blurry").build()));
    }

    @Test
    void img2imgRunsIntOfStepsTimesStrength() {
        RgbImage init = sd.generate(small("a house").build(), StepListener.NONE).images().getFirst().image();
        GenerationResult r = sd.generate(small("a house").steps(4).strength(0.5).initImage(init).build(), StepListener.NONE);
        assertEquals(2, r.stepsRun());
        GenerationResult turbo = sd.generate(small("a house").steps(2).strength(0.5).cfgScale(1).sampler(Sampler.EULER_A)
                .schedule(Schedule.TRAILING).initImage(init).build(), StepListener.NONE);
        assertEquals(1, turbo.stepsRun());
    }

    @Test
    void anEmptyNegativePromptConditionsOnZeros() {
        // "" and " " tokenize alike; only the empty one is zeroed (sgm's force_zero_embeddings), so the images differ.
        byte[] empty = pixels(small("a lighthouse").negativePrompt("").build());
        byte[] space = pixels(small("a lighthouse").negativePrompt(" ").build());
        assertFalse(Arrays.equals(empty, space));
        assertArrayEquals(empty, pixels(small("a lighthouse").negativePrompt("").build()), "deterministic");
    }

    @Test
    void sizeConditioningChangesTheImage() {
        byte[] plain = pixels(small("a lighthouse").build());
        assertArrayEquals(plain, pixels(small("a lighthouse").sizeConditioning(SizeConditioning.of(64, 64)).build()),
                "the default is the image size with no crop");
        assertFalse(Arrays.equals(plain, pixels(small("a lighthouse").sizeConditioning(new SizeConditioning(256, 256, 0, 0, 64, 64)).build())));
        assertFalse(Arrays.equals(plain, pixels(small("a lighthouse").sizeConditioning(new SizeConditioning(64, 64, 32, 0, 64, 64)).build())));
    }

    @Test
    void sizeConditioningIsRefusedForModelsWithoutIt() {
        try (StableDiffusion sd1 = StableDiffusion.load(TinyModels.tinySafetensors(), ModelOptions.defaults().withThreads(1))) {
            var e = assertThrows(IllegalArgumentException.class,
                    () -> sd1.generate(small("x").sizeConditioning(SizeConditioning.of(64, 64)).build(), StepListener.NONE));
            assertTrue(e.getMessage().contains("SDXL"), e.getMessage());
        }
    }

    @Test
    void theVaeKeepsF32WeightsAndNonFiniteOutputIsAnError() {
        try (StableDiffusion f16 = StableDiffusion.load(TinyModels.tinyXlSafetensors(),
                ModelOptions.defaults().withThreads(1).withWeightType(WeightType.F16));
             OnDemand.Lease<Vae> vae = ModelInternals.vaeDecoder(f16)) {
            assertEquals(ember_h.EMBER_WEIGHT_F32(), vae.get().stats().weightType(), "SDXL's VAE overflows f16");
            assertEquals(ember_h.EMBER_WEIGHT_F16(), ModelInternals.unet(f16).stats().weightType());
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment latent = arena.allocate(ValueLayout.JAVA_FLOAT, 4 * 8 * 8);
            latent.setAtIndex(ValueLayout.JAVA_FLOAT, 5, Float.NaN);
            var e = assertThrows(EmberException.class, () -> sd.decodePreview(latent, 8, 8));
            assertTrue(e.getMessage().contains("non-finite"), e.getMessage());
            assertTrue(e.getMessage().contains("sampling diverged"), e.getMessage());
        }
    }

    @Test
    void everyFileFormatGivesTheSameImage(@TempDir Path dir) {
        // Single files (sgm names, bigG's projection transposed), .ckpt and diffusers folders (text_encoder_2,
        // add_embedding) must reach the networks as the same tensors: the same pixels.
        GenerationRequest request = small("a lighthouse").negativePrompt("fog").build();
        byte[] reference = pixels(request);
        for (ModelFormat f : new ModelFormat[] {ModelFormat.CKPT, ModelFormat.DIFFUSERS}) {
            Path p = dir.resolve("xl." + f.label());
            SyntheticCheckpoint.write(ModelPreset.SDXL_TINY, p, f, DType.F32, 1234);
            try (StableDiffusion other = StableDiffusion.load(p, ModelOptions.defaults().withThreads(1))) {
                assertArrayEquals(reference, other.generate(request, StepListener.NONE).images().getFirst().image().rgb(), f.label());
            }
        }
    }

    @Test
    void lowMemoryModeLoadsTheSecondEncoderPerUse() {
        try (StableDiffusion low = StableDiffusion.load(TinyModels.tinyXlSafetensors(), ModelOptions.defaults().withThreads(1).withLowMemory(true))) {
            assertEquals(java.util.Set.of(StableDiffusion.Network.UNET), low.residentNetworks());
            GenerationRequest request = small("a lighthouse").build();
            assertArrayEquals(pixels(request), low.generate(request, StepListener.NONE).images().getFirst().image().rgb());
        }
    }
}
