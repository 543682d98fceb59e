package dev.ember.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ember.engine.image.RgbImage;
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
                4_265_146_304L, null, "f16", "cpu", 0, true, "0.1.0", null);
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
    void stripsPutFramesSideBySideWithGaps() {
        byte[] white = new byte[4 * 2 * 3];
        java.util.Arrays.fill(white, (byte) 255);
        RgbImage strip = StepStrip.compose(java.util.List.of(new RgbImage(4, 2, new byte[4 * 2 * 3]), new RgbImage(4, 2, white)));
        assertEquals(4 + StepStrip.GAP + 4, strip.width());
        assertEquals(2, strip.height());
        assertEquals(0x000000, strip.pixel(3, 1));
        assertEquals(0x303030, strip.pixel(4, 0));
        assertEquals(0xffffff, strip.pixel(4 + StepStrip.GAP, 1));
    }
}
