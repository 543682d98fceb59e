package dev.ember.engine.pipeline;

import dev.ember.engine.image.RgbImage;

/**
 * AUTOMATIC1111's {@code masking.fill}: the masked pixels replaced by colours spread in from the kept ones.
 * The kept pixels (alpha = 1 - mask, premultiplied) are blurred at radii 256, 64, 16, 4, 2 and 0, and the
 * blurred layers composited over each other (1, 1, 2, 4, 2 and 1 times), so wide blurs give the far inside
 * of the mask its colour and narrow ones the edges; where the mask is 0 the result is the original pixel.
 * Blurs are PIL's kind: three box passes approximating a Gaussian of that sigma, edges repeated.
 */
final class MaskFill {
    private static final int[][] LAYERS = {{256, 1}, {64, 1}, {16, 2}, {4, 4}, {2, 2}, {0, 1}};

    private MaskFill() {}

    static RgbImage fill(RgbImage image, InpaintMask mask) {
        int w = image.width(), h = image.height(), n = w * h;
        byte[] rgb = image.rgb();
        // Premultiplied planes: R, G, B (0..1, times alpha) and alpha.
        float[][] kept = new float[4][n];
        for (int p = 0; p < n; p++) {
            float a = 1 - mask.at(p);
            for (int c = 0; c < 3; c++) kept[c][p] = (rgb[p * 3 + c] & 0xff) / 255f * a;
            kept[3][p] = a;
        }
        double[][] acc = new double[4][n]; // premultiplied, starts transparent black
        for (int[] layer : LAYERS) {
            float[][] blurred = new float[4][];
            for (int c = 0; c < 4; c++) blurred[c] = boxBlur(kept[c], w, h, layer[0]);
            for (int repeat = 0; repeat < layer[1]; repeat++) {
                for (int p = 0; p < n; p++) {
                    double a = blurred[3][p];
                    for (int c = 0; c < 4; c++) acc[c][p] = blurred[c][p] + acc[c][p] * (1 - a);
                }
            }
        }
        byte[] out = new byte[n * 3];
        for (int p = 0; p < n; p++) {
            double a = acc[3][p];
            for (int c = 0; c < 3; c++) {
                double v = a > 0 ? acc[c][p] / a : 0;
                out[p * 3 + c] = (byte) Math.round(Math.clamp(v, 0, 1) * 255);
            }
        }
        // Kept pixels stay exactly as they were (the last layer is unblurred, but rounding could move them).
        for (int p = 0; p < n; p++) {
            if (mask.at(p) == 0) System.arraycopy(rgb, p * 3, out, p * 3, 3);
        }
        return new RgbImage(w, h, out);
    }

    /** Three box-blur passes per axis whose combined variance is about {@code sigma^2}; edges repeated. */
    static float[] boxBlur(float[] in, int w, int h, int sigma) {
        if (sigma == 0) return in.clone();
        int r = Math.max(1, (int) Math.round((Math.sqrt(12.0 * sigma * sigma / 3 + 1) - 1) / 2));
        float[] v = in;
        for (int pass = 0; pass < 3; pass++) {
            v = boxPass(v, w, h, r, true);
            v = boxPass(v, w, h, r, false);
        }
        return v;
    }

    /** A running-sum box of width {@code 2r + 1} along rows or columns, indices clamped to the edge. */
    private static float[] boxPass(float[] in, int w, int h, int r, boolean horizontal) {
        float[] out = new float[in.length];
        int lines = horizontal ? h : w, len = horizontal ? w : h;
        int stride = horizontal ? 1 : w;
        double norm = 1.0 / (2 * r + 1);
        for (int line = 0; line < lines; line++) {
            int base = horizontal ? line * w : line;
            double sum = 0;
            for (int k = -r; k <= r; k++) sum += in[base + Math.clamp(k, 0, len - 1) * stride];
            for (int i = 0; i < len; i++) {
                out[base + i * stride] = (float) (sum * norm);
                sum += in[base + Math.min(i + r + 1, len - 1) * stride] - in[base + Math.max(i - r, 0) * stride];
            }
        }
        return out;
    }
}
