package dev.ember.engine.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.engine.InitResize;
import dev.ember.engine.Inpaint;
import dev.ember.engine.InpaintFill;
import dev.ember.engine.image.RgbImage;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The mask as A1111 prepares it, against float64 references written from the definitions: a 2-D Gaussian
 * of sigma {@code blur} over {@code 2 * int(2.5 * blur + 0.5) + 1} taps with reflect-101 borders, 8-bit steps;
 * the latent mask as block means; the paste-back {@code original * (1 - a) + generated * a}, {@code a = min(1, 2m)}.
 */
class InpaintMaskTest {
    static RgbImage gray(int w, int h, java.util.function.IntBinaryOperator value) {
        byte[] rgb = new byte[w * h * 3];
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) {
            int v = value.applyAsInt(x, y);
            for (int c = 0; c < 3; c++) rgb[(y * w + x) * 3 + c] = (byte) v;
        }
        return new RgbImage(w, h, rgb);
    }

    static RgbImage random(int w, int h, long seed) {
        byte[] rgb = new byte[w * h * 3];
        new Random(seed).nextBytes(rgb);
        return new RgbImage(w, h, rgb);
    }

    private static int reflect(int i, int n) {
        while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
        return i;
    }

    @Test
    void blurIsOpenCvsGaussianWithA1111sKernelSize() {
        int w = 24, h = 16, blur = 3;
        RgbImage picture = gray(w, h, (x, y) -> x >= 10 && x < 15 && y >= 4 && y < 9 ? 255 : x == 0 && y == 15 ? 255 : 0);
        InpaintMask mask = InpaintMask.of(new Inpaint(picture, blur, InpaintFill.ORIGINAL, false, false, 0, 1), w, h, InitResize.CROP);
        int size = 2 * (int) (2.5 * blur + 0.5) + 1, r = size / 2;
        double[] g = new double[size];
        double sum = 0;
        for (int i = 0; i < size; i++) sum += g[i] = Math.exp(-Math.pow(i - r, 2) / (2.0 * blur * blur));
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) {
            double v = 0;
            for (int dy = -r; dy <= r; dy++) for (int dx = -r; dx <= r; dx++) {
                v += g[dy + r] * g[dx + r] / (sum * sum) * (picture.channel(reflect(x + dx, w), reflect(y + dy, h), 0) / 255.0);
            }
            assertEquals(Math.round(v * 255) / 255.0, mask.at(y * w + x), 1.0 / 255 + 1e-6, "(" + x + ", " + y + ")");
        }
        assertTrue(mask.at(0) == 0 && mask.at(w - 1) == 0, "far from the mask the blurred mask is exactly 0");
    }

    @Test
    void invertRepaintsTheBlackPart() {
        RgbImage picture = gray(16, 16, (x, y) -> x < 8 ? 255 : 0);
        InpaintMask plain = InpaintMask.of(new Inpaint(picture, 0, null, false, false, 0, 1), 16, 16, InitResize.CROP);
        InpaintMask inverted = InpaintMask.of(new Inpaint(picture, 0, null, true, false, 0, 1), 16, 16, InitResize.CROP);
        for (int p = 0; p < 256; p++) assertEquals(1 - plain.at(p), inverted.at(p), 0, "pixel " + p);
        assertEquals(1, plain.at(0));
    }

    @Test
    void latentMaskIsTheMeanOfEachBlock() {
        RgbImage picture = gray(16, 16, (x, y) -> x < 6 ? 255 : x < 8 ? 51 : 0);
        InpaintMask mask = InpaintMask.of(new Inpaint(picture, 0, null, false, false, 0, 1), 16, 16, InitResize.CROP);
        float[] latent = mask.latent(8);
        assertEquals(4, latent.length);
        assertEquals((6 * 1.0 + 2 * 0.2) / 8, latent[0], 1e-6);
        assertEquals(0, latent[1], 0);
        assertEquals(latent[0], latent[2], 0);
    }

    @Test
    void pasteBackKeepsUnmaskedPixelsExactlyAndBlendsTheEdge() {
        int w = 32, h = 8;
        RgbImage picture = gray(w, h, (x, y) -> x >= 16 ? 255 : 0);
        InpaintMask mask = InpaintMask.of(new Inpaint(picture, 2, null, false, false, 0, 1), w, h, InitResize.CROP);
        RgbImage original = random(w, h, 1), generated = random(w, h, 2);
        RgbImage out = mask.pasteBack(original, generated);
        int soft = 0;
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) {
            double m = mask.at(y * w + x), a = Math.min(1, 2 * m);
            for (int c = 0; c < 3; c++) {
                double expected = original.channel(x, y, c) * (1 - a) + generated.channel(x, y, c) * a;
                assertEquals(Math.round(expected), out.channel(x, y, c), "(" + x + ", " + y + ") channel " + c);
            }
            if (m == 0) assertEquals(original.pixel(x, y), out.pixel(x, y));
            if (m > 0 && m < 0.5) soft++;
        }
        assertTrue(soft > 0, "the blurred edge blends");
        assertEquals(original.pixel(0, 0), out.pixel(0, 0));
        assertEquals(generated.pixel(w - 1, 0), out.pixel(w - 1, 0));
    }

    /** A1111's get_crop_region + expand_crop_region, worked by hand: bounding box plus padding, grown to the working aspect. */
    @Test
    void cropRegionIsTheBoxPlusPaddingAtTheWorkingAspect() {
        RgbImage picture = gray(128, 96, (x, y) -> x >= 80 && x < 96 && y >= 40 && y < 48 ? 255 : 0);
        InpaintMask mask = InpaintMask.of(new Inpaint(picture, 0, null, false, true, 8, 1), 128, 96, InitResize.CROP);
        // box x 80..95, y 40..47; padding 8: x 72..104, y 32..56 (32 x 24); 1:1 work size: height grows by 8, 4 above, 4 below
        assertArrayEquals(new int[] {72, 28, 104, 60}, mask.cropRegion(8, 64, 64));
        // 2:1 work size: width grows by 16 (48 x 24), 8 each side
        assertArrayEquals(new int[] {64, 32, 112, 56}, mask.cropRegion(8, 128, 64));
        // near the edge: box x 120..127, y 0..3; padding 4 clamped: x 116..128, y 0..8 (12 x 8); height grows by 4, 2 above
        // (y -2, shifted back inside to 0) and 2 below, then 2 more for the shift: y 0..12
        RgbImage corner = gray(128, 96, (x, y) -> x >= 120 && y < 4 ? 255 : 0);
        InpaintMask c = InpaintMask.of(new Inpaint(corner, 0, null, false, true, 4, 1), 128, 96, InitResize.CROP);
        assertArrayEquals(new int[] {116, 0, 128, 12}, c.cropRegion(4, 64, 64));
    }

    /** Only masked pastes through the blurred mask itself (A1111's mask_for_overlay there is not doubled), inside the region only. */
    @Test
    void pasteIntoBlendsThroughTheUndoubledMaskInsideTheRegion() {
        int w = 48, h = 40;
        RgbImage picture = gray(w, h, (x, y) -> x >= 20 && x < 28 && y >= 16 && y < 24 ? 255 : 0);
        InpaintMask mask = InpaintMask.of(new Inpaint(picture, 2, null, false, true, 4, 1), w, h, InitResize.CROP);
        int[] region = {8, 8, 40, 32}; // 32 x 24, the generated part's own size: no scaling
        RgbImage original = random(w, h, 3), generated = random(32, 24, 4);
        RgbImage out = mask.pasteInto(original, generated, region);
        int soft = 0;
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) {
            boolean inside = x >= 8 && x < 40 && y >= 8 && y < 32;
            double a = inside ? mask.at(y * w + x) : 0;
            if (a > 0 && a < 1) soft++;
            for (int c = 0; c < 3; c++) {
                double expected = original.channel(x, y, c) * (1 - a) + (inside ? generated.channel(x - 8, y - 8, c) : 0) * a;
                assertEquals(Math.round(expected), out.channel(x, y, c), "(" + x + ", " + y + ") channel " + c);
            }
        }
        assertTrue(soft > 0);
    }

    @Test
    void fillKeepsUnmaskedPixelsAndSpreadsTheirColourInward() {
        int w = 64, h = 32;
        byte[] rgb = new byte[w * h * 3];
        for (int p = 0; p < w * h; p++) {
            boolean left = p % w < 32;
            rgb[p * 3] = (byte) (left ? 200 : 0);
            rgb[p * 3 + 2] = (byte) (left ? 0 : 255);
        }
        RgbImage picture = new RgbImage(w, h, rgb);
        RgbImage maskPicture = gray(w, h, (x, y) -> x >= 32 ? 255 : 0);
        InpaintMask mask = InpaintMask.of(new Inpaint(maskPicture, 0, null, false, false, 0, 1), w, h, InitResize.CROP);
        RgbImage filled = MaskFill.fill(picture, mask);
        for (int y = 0; y < h; y++) for (int x = 0; x < 32; x++) assertEquals(picture.pixel(x, y), filled.pixel(x, y));
        // The blue right half is masked: it gets the kept red, not its own blue.
        for (int y = 0; y < h; y++) for (int x = 32; x < w; x++) {
            assertTrue(filled.channel(x, y, 0) > 150 && filled.channel(x, y, 2) < 50, "(" + x + ", " + y + ") " + Integer.toHexString(filled.pixel(x, y)));
        }
        assertNotEquals(picture.pixel(63, 0), filled.pixel(63, 0));
    }
}
