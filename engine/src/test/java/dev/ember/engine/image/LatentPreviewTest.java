package dev.ember.engine.image;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class LatentPreviewTest {
    /** Bytes of RGB value v in [-1, 1], computed here independently: clamp, (v+1)/2*255, round. */
    private static int expectedByte(double v) {
        v = Math.max(-1, Math.min(1, v));
        return (int) Math.round((v + 1) / 2 * 255);
    }

    @Test
    void eachChannelProjectsWithTheA1111Factors() {
        // A 1x4 latent: pixel x has only channel x set to 1.
        int h = 1, w = 4;
        float[] latent = new float[4 * h * w];
        for (int c = 0; c < 4; c++) latent[c * w + c] = 1f;
        RgbImage img = LatentPreview.preview(latent, h, w);
        int[][] expected = {
            {165, 154, 154},  // ( 0.298,  0.207,  0.208)
            {151, 164, 150},  // ( 0.187,  0.286,  0.173)
            {107, 152, 161},  // (-0.158,  0.189,  0.264)
            {104, 93, 67},    // (-0.184, -0.271, -0.473)
        };
        for (int x = 0; x < 4; x++)
            for (int c = 0; c < 3; c++) assertEquals(expected[x][c], img.channel(x, 0, c), "pixel " + x + " channel " + c);
    }

    @Test
    void sdxlLatentsTakeComfyUisSdxlFactorsAndBias() {
        // ComfyUI's latent_formats.SDXL: factors per channel plus a bias (0.1084, -0.0175, -0.0011).
        float[] latent = new float[4 * 5];
        for (int c = 0; c < 4; c++) latent[c * 5 + c] = 1f; // pixel 4 stays zero: the bias alone
        RgbImage img = LatentPreview.preview(LatentPreview.Palette.SDXL, latent, 0, 1, 5, 1);
        double[][] expected = {
            {0.3651 + 0.1084, 0.4232 - 0.0175, 0.4341 - 0.0011},
            {-0.2533 + 0.1084, -0.0042 - 0.0175, 0.1068 - 0.0011},
            {0.1076 + 0.1084, 0.1111 - 0.0175, -0.0362 - 0.0011},
            {-0.3165 + 0.1084, -0.2492 - 0.0175, -0.2188 - 0.0011},
            {0.1084, -0.0175, -0.0011},
        };
        for (int x = 0; x < 5; x++)
            for (int c = 0; c < 3; c++) assertEquals(expectedByte(expected[x][c]), img.channel(x, 0, c), "pixel " + x + " channel " + c);
    }

    @Test
    void mixesChannelsLinearlyAndClamps() {
        int h = 2, w = 3, plane = h * w;
        float[] latent = new float[4 * plane];
        for (int i = 0; i < latent.length; i++) latent[i] = (float) Math.sin(i * 0.7) * 1.3f;
        latent[0] = 40f;   // far out of range at (0, 0): clamps
        latent[plane] = 40f;
        RgbImage img = LatentPreview.preview(latent, h, w);
        assertEquals(w, img.width());
        assertEquals(h, img.height());
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++) {
                    double v = 0;
                    for (int l = 0; l < 4; l++) v += latent[l * plane + y * w + x] * LatentPreview.factor(l, c);
                    assertEquals(expectedByte(v), img.channel(x, y, c), "(" + x + "," + y + ") channel " + c);
                }
        assertEquals(0xffffff, img.pixel(0, 0));
    }

    @Test
    void upscalesNearestToImageSizeAndTakesBatchOffset() {
        int h = 2, w = 3, plane = h * w;
        float[] batch = new float[2 * 4 * plane];
        for (int i = 0; i < batch.length; i++) batch[i] = (float) Math.cos(i * 1.1);
        RgbImage small = LatentPreview.preview(batch, 4 * plane, h, w, 1);
        RgbImage big = LatentPreview.preview(batch, 4 * plane, h, w, LatentPreview.VAE_SCALE);
        assertEquals(24, big.width());
        assertEquals(16, big.height());
        for (int y = 0; y < 16; y++)
            for (int x = 0; x < 24; x++) assertEquals(small.pixel(x / 8, y / 8), big.pixel(x, y), "(" + x + "," + y + ")");
        // The offset picks the second latent, not the first.
        float[] second = java.util.Arrays.copyOfRange(batch, 4 * plane, 8 * plane);
        assertEquals(LatentPreview.preview(second, h, w), small);
    }

    @Test
    void rejectsBadArguments() {
        assertThrows(IndexOutOfBoundsException.class, () -> LatentPreview.preview(new float[4 * 6 - 1], 2, 3));
        assertThrows(IllegalArgumentException.class, () -> LatentPreview.preview(new float[24], 0, 2, 3, 0));
        assertThrows(IllegalArgumentException.class, () -> LatentPreview.preview(new float[24], 0, 0, 3, 1));
    }
}
