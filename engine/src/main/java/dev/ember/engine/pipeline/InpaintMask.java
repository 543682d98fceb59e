package dev.ember.engine.pipeline;

import dev.ember.engine.Inpaint;
import dev.ember.engine.InitResize;
import dev.ember.engine.image.RgbImage;

/**
 * An inpainting mask at the output size, as AUTOMATIC1111 prepares it: the mask picture fitted to the
 * output as the init image is, its luminance (inverted if asked), blurred by a Gaussian of sigma
 * {@code blur} over {@code 2 * int(2.5 * blur + 0.5) + 1} pixels per axis (OpenCV's {@code GaussianBlur},
 * reflected borders) and kept in 8-bit steps. From it come the latent-size mask the sampler blends with
 * and the overlay that pastes the original pixels back. Values: 0 = keep, 1 = repaint.
 */
public final class InpaintMask {
    private final int width;
    private final int height;
    private final float[] values;

    InpaintMask(int width, int height, float[] values) {
        if (values.length != width * height) throw new IllegalArgumentException(values.length + " mask values for " + width + "x" + height);
        this.width = width;
        this.height = height;
        this.values = values;
    }

    /** The request's mask at {@code width x height}, fitted with {@code resize}, inverted and blurred as {@code inpaint} says. */
    public static InpaintMask of(Inpaint inpaint, int width, int height, InitResize resize) {
        RgbImage fitted = ImageTensors.fit(inpaint.mask(), width, height, resize);
        float[] m = new float[width * height];
        for (int p = 0; p < m.length; p++) m[p] = Inpaint.level(fitted, p, inpaint.invert());
        if (inpaint.blur() > 0) {
            m = blur(m, width, height, inpaint.blur(), true);
            m = blur(m, width, height, inpaint.blur(), false);
        }
        for (int p = 0; p < m.length; p++) m[p] = Math.round(Math.clamp(m[p], 0f, 255f)) / 255f;
        return new InpaintMask(width, height, m);
    }

    public int width() {
        return width;
    }

    public int height() {
        return height;
    }

    /** The blurred mask value at pixel {@code p} (row-major), 0..1. */
    public float at(int p) {
        return values[p];
    }

    /** Whether every pixel is fully repainted (the blurred mask is 1 everywhere). */
    public boolean repaintsAll() {
        for (float v : values) if (v < 1) return false;
        return true;
    }

    /**
     * The mask at latent size: the mean of each {@code factor x factor} block of pixels, so a latent element
     * is repainted as far as the pixels it stands for are.
     */
    public float[] latent(int factor) {
        int lh = height / factor, lw = width / factor;
        float[] out = new float[lh * lw];
        for (int y = 0; y < lh; y++) {
            for (int x = 0; x < lw; x++) {
                double sum = 0;
                for (int dy = 0; dy < factor; dy++) {
                    for (int dx = 0; dx < factor; dx++) sum += values[(y * factor + dy) * width + x * factor + dx];
                }
                out[y * lw + x] = (float) (sum / (factor * factor));
            }
        }
        return out;
    }

    /**
     * The generated picture with the original pasted back through the overlay {@code min(1, 2 * mask)}
     * (A1111's {@code mask_for_overlay}): {@code round(original * (1 - a) + generated * a)} per channel, so
     * where the blurred mask is 0 the pixel is exactly the original's.
     */
    public RgbImage pasteBack(RgbImage original, RgbImage generated) {
        checkSize(original);
        checkSize(generated);
        byte[] o = original.rgb(), g = generated.rgb(), out = new byte[o.length];
        for (int p = 0; p < values.length; p++) {
            double a = Math.min(1.0, 2.0 * values[p]);
            for (int c = 0; c < 3; c++) {
                int i = p * 3 + c;
                out[i] = (byte) Math.round((o[i] & 0xff) * (1 - a) + (g[i] & 0xff) * a);
            }
        }
        return new RgbImage(width, height, out);
    }

    private void checkSize(RgbImage image) {
        if (image.width() != width || image.height() != height) {
            throw new IllegalArgumentException("image is " + image.width() + "x" + image.height() + ", mask " + width + "x" + height);
        }
    }

    /**
     * A1111's only-masked region: the bounding box of the non-zero mask plus {@code padding} (clamped to the picture),
     * grown to the working size's aspect ratio ({@code masking.get_crop_region} and {@code expand_crop_region}), as
     * {x1, y1, x2, y2}, x2 and y2 exclusive.
     */
    int[] cropRegion(int padding, int workWidth, int workHeight) {
        int left = width, top = height, right = -1, bottom = -1;
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                if (values[y * width + x] == 0) continue;
                left = Math.min(left, x);
                right = Math.max(right, x);
                top = Math.min(top, y);
                bottom = Math.max(bottom, y);
            }
        }
        if (right < 0) return new int[] {0, 0, width, height};
        int x1 = Math.max(left - padding, 0), y1 = Math.max(top - padding, 0);
        int x2 = Math.min(right + 1 + padding, width), y2 = Math.min(bottom + 1 + padding, height);
        double ratio = (double) workWidth / workHeight;
        if ((double) (x2 - x1) / (y2 - y1) > ratio) {
            int grow = (int) ((x2 - x1) / ratio - (y2 - y1));
            y1 -= grow / 2;
            y2 += grow - grow / 2;
            if (y2 >= height) { y1 -= y2 - height; y2 = height; }
            if (y1 < 0) { y2 -= y1; y1 = 0; }
            y2 = Math.min(y2, height);
        } else {
            int grow = (int) ((y2 - y1) * ratio - (x2 - x1));
            x1 -= grow / 2;
            x2 += grow - grow / 2;
            if (x2 >= width) { x1 -= x2 - width; x2 = width; }
            if (x1 < 0) { x2 -= x1; x1 = 0; }
            x2 = Math.min(x2, width);
        }
        return new int[] {x1, y1, x2, y2};
    }

    /** The part of this mask inside {@code region}, stretched to {@code w x h} (bicubic, 8-bit steps). */
    InpaintMask cropped(int[] region, int w, int h) {
        int cw = region[2] - region[0], ch = region[3] - region[1];
        byte[] rgb = new byte[cw * ch * 3];
        for (int y = 0; y < ch; y++) {
            for (int x = 0; x < cw; x++) {
                byte v = (byte) Math.round(values[(y + region[1]) * width + x + region[0]] * 255);
                rgb[(y * cw + x) * 3] = rgb[(y * cw + x) * 3 + 1] = rgb[(y * cw + x) * 3 + 2] = v;
            }
        }
        RgbImage scaled = ImageTensors.fit(new RgbImage(cw, ch, rgb), w, h, InitResize.STRETCH);
        float[] m = new float[w * h];
        for (int p = 0; p < m.length; p++) m[p] = Inpaint.level(scaled, p, false) / 255f;
        return new InpaintMask(w, h, m);
    }

    /**
     * Only-masked's paste: {@code generated} stretched to the region's size and laid into {@code original} through
     * this (full-size, blurred, not doubled) mask, as A1111 pastes {@code inpaint_full_res} results; pixels outside
     * the region or where the mask is 0 stay exactly the original's.
     */
    RgbImage pasteInto(RgbImage original, RgbImage generated, int[] region) {
        checkSize(original);
        int cw = region[2] - region[0], ch = region[3] - region[1];
        RgbImage part = ImageTensors.fit(generated, cw, ch, InitResize.STRETCH);
        byte[] o = original.rgb(), g = part.rgb();
        for (int y = 0; y < ch; y++) {
            for (int x = 0; x < cw; x++) {
                int p = (y + region[1]) * width + x + region[0];
                double a = values[p];
                for (int c = 0; c < 3; c++) {
                    int i = p * 3 + c;
                    o[i] = (byte) Math.round((o[i] & 0xff) * (1 - a) + (g[(y * cw + x) * 3 + c] & 0xff) * a);
                }
            }
        }
        return new RgbImage(width, height, o);
    }

    /** One pass of OpenCV's GaussianBlur along rows ({@code horizontal}) or columns, BORDER_REFLECT_101. */
    static float[] blur(float[] in, int width, int height, int sigma, boolean horizontal) {
        double[] kernel = gaussianKernel(sigma);
        int r = kernel.length / 2;
        int n = horizontal ? width : height;
        float[] out = new float[in.length];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int at = horizontal ? x : y;
                double sum = 0;
                for (int k = -r; k <= r; k++) {
                    int j = reflect101(at + k, n);
                    sum += kernel[k + r] * (horizontal ? in[y * width + j] : in[j * width + x]);
                }
                out[y * width + x] = (float) sum;
            }
        }
        return out;
    }

    /** OpenCV's getGaussianKernel for A1111's size {@code 2 * int(2.5 * sigma + 0.5) + 1}: normalized exp(-d^2 / 2 sigma^2). */
    static double[] gaussianKernel(int sigma) {
        int size = 2 * (int) (2.5 * sigma + 0.5) + 1;
        double[] k = new double[size];
        double sum = 0;
        for (int i = 0; i < size; i++) {
            double d = i - (size - 1) / 2.0;
            k[i] = Math.exp(-d * d / (2.0 * sigma * sigma));
            sum += k[i];
        }
        for (int i = 0; i < size; i++) k[i] /= sum;
        return k;
    }

    /** Index {@code i} reflected into [0, n) without repeating the edge (gfedcb|abcdefgh|gfedcba). */
    static int reflect101(int i, int n) {
        if (n == 1) return 0;
        int period = 2 * (n - 1);
        int m = Math.floorMod(i, period);
        return m < n ? m : period - m;
    }
}
