package dev.ember.engine.metadata;

import static org.junit.jupiter.api.Assertions.assertEquals;

import static org.junit.jupiter.api.Assertions.assertNull;

import dev.ember.engine.GenerationRequest;
import dev.ember.engine.InitResize;
import dev.ember.engine.ModelOptions;
import dev.ember.engine.StableDiffusion;
import dev.ember.engine.TinyModels;
import dev.ember.engine.image.RgbImage;
import dev.ember.engine.noise.NoiseSource;
import dev.ember.engine.sampling.Sampler;
import dev.ember.engine.sampling.Schedule;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MetadataTest {
    @TempDir
    Path dir;

    static ImageParameters sample(String mode, String negative, Double strength) {
        return new ImageParameters(mode, "a cat, on a mat: photo", negative, 1592514025L, 30, 7.5, 512, 768, "euler_a", "karras",
                "mt19937", 1, strength, strength == null ? null : "crop", null, null, 2, null, "/models/v1-5-pruned.safetensors",
                4_265_146_304L, null, "f16", "cpu", 0, true, "0.1.0", null, strength == null ? null : "sample");
    }

    @Test
    void infotextHasA1111sShape() {
        assertEquals("a cat, on a mat: photo\nNegative prompt: blurry, low quality\n"
                + "Steps: 30, Sampler: Euler a, Schedule type: Karras, CFG scale: 7.5, Seed: 1592514025, Size: 512x768, "
                + "Model: v1-5-pruned, Denoising strength: 0.4, Clip skip: 2, RNG: CPU, Version: ember 0.1.0",
                Infotext.format(sample("img2img", "blurry, low quality", 0.4)));
        // No negative prompt line when there is none; no strength for txt2img.
        assertEquals("a cat, on a mat: photo\nSteps: 30, Sampler: Euler a, Schedule type: Karras, CFG scale: 7.5, Seed: 1592514025, "
                + "Size: 512x768, Model: v1-5-pruned, Clip skip: 2, RNG: CPU, Version: ember 0.1.0", Infotext.format(sample("txt2img", "", null)));
    }

    @Test
    void valuesThatWouldBreakTheListAreJsonQuoted() {
        assertEquals("plain", Infotext.quote("plain"));
        assertEquals("\"a, b\"", Infotext.quote("a, b"));
        assertEquals("\"k: \\\"v\\\"\\n\"", Infotext.quote("k: \"v\"\n"));
    }

    @Test
    void bothChunksRoundTripThroughAPng() throws Exception {
        ImageParameters p = sample("img2img", "blurry", 0.4);
        Path png = Files.write(dir.resolve("x.png"), PngMetadata.encode(new RgbImage(8, 8, new byte[8 * 8 * 3]), p));
        PngMetadata.Found found = PngMetadata.read(png);
        assertEquals(p, found.ember());
        assertEquals(Infotext.format(p), found.parameters());
        assertEquals(new RgbImage(8, 8, new byte[8 * 8 * 3]), RgbImage.read(png));
    }

    @Test
    void aRequestsRecordRebuildsTheSameRequest() {
        try (StableDiffusion sd = StableDiffusion.load(TinyModels.tinySafetensors(), ModelOptions.defaults().withClipSkip(1))) {
            GenerationRequest request = GenerationRequest.builder("a lighthouse, at dusk").negativePrompt("fog").seed(4_000_000_000L)
                    .steps(12).cfgScale(5).size(128, 64).sampler(Sampler.EULER_A).schedule(Schedule.KARRAS).images(3)
                    .noise(NoiseSource.MT19937).build();
            ImageParameters record = ImageParameters.of(request, sd, null, null);
            assertEquals(request, record.toRequest(null));
            assertEquals(ImageParameters.TXT2IMG, record.mode());
            assertEquals(TinyModels.tinySafetensors().toAbsolutePath().toString(), record.model());
            assertEquals(java.nio.file.Files.size(TinyModels.tinySafetensors()), record.modelSize());
            assertEquals(sd.usesFlashAttention(), record.flashAttention());
            assertNull(record.modelPreset(), "not the cached default model");

            RgbImage init = new RgbImage(64, 64, new byte[64 * 64 * 3]);
            GenerationRequest img2img = request.toBuilder().initImage(init).strength(0.4).resize(InitResize.STRETCH).build();
            ImageParameters r2 = ImageParameters.of(img2img, sd, "init.png", "ab12");
            assertEquals(img2img, r2.toRequest(init));
            assertEquals("img2img", r2.mode());
            assertEquals(0.4, r2.strength());
            assertEquals("init.png", r2.initImage());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
