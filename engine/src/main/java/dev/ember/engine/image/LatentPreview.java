package dev.ember.engine.image;

import java.util.Objects;

/**
 * The cheap latent preview: each pixel's 4 latent channels projected linearly to RGB, with no VAE.
 * Good enough to watch a generation take shape, at 1/8 of the image size (or blown up 8x, nearest).
 *
 * <p>The factors are the SD 1.x ones that Keturn fitted and published on the Hugging Face forum
 * ("Decoding latents to RGB without upscaling", discuss.huggingface.co/t/23204), used by AUTOMATIC1111's
 * web UI as "Approx cheap" ({@code modules/sd_vae_approx.py}, {@code cheap_approximation}) and, in the
 * same numbers, by early ComfyUI ({@code comfy/latent_formats.py}, {@code SD15.latent_rgb_factors}).
 * SD 2.x shares SD 1.x's VAE, so the same factors serve it. As in A1111, they apply to the latent as
 * the sampler holds it (the VAE latent times the 0.18215 scale factor) and give RGB in about [-1, 1],
 * which is then mapped to bytes as a decoded image would be ({@link RgbImage#fromTensor}).
 *
 * <p>SDXL's VAE is another one: its latents (times 0.13025) get ComfyUI's SDXL factors and bias
 * ({@code comfy/latent_formats.py}, {@code SDXL.latent_rgb_factors} and {@code latent_rgb_factors_bias}),
 * {@link Palette#SDXL}.
 */
public final class LatentPreview {
    /** The latent-to-RGB projection of one VAE family: {@code factors[latent channel][r, g, b]} and an RGB bias. */
    public enum Palette {
        /** SD 1.x / 2.x (Keturn's factors, no bias). */
        SD(new double[][] {
            {0.298, 0.207, 0.208},
            {0.187, 0.286, 0.173},
            {-0.158, 0.189, 0.264},
            {-0.184, -0.271, -0.473},
        }, new double[] {0, 0, 0}),
        /** SDXL (ComfyUI's factors and bias). */
        SDXL(new double[][] {
            {0.3651, 0.4232, 0.4341},
            {-0.2533, -0.0042, 0.1068},
            {0.1076, 0.1111, -0.0362},
            {-0.3165, -0.2492, -0.2188},
        }, new double[] {0.1084, -0.0175, -0.0011});

        private final double[][] factors;
        private final double[] bias;

        Palette(double[][] factors, double[] bias) {
            this.factors = factors;
            this.bias = bias;
        }
    }

    private static final double[][] FACTORS = Palette.SD.factors;

    public static final int LATENT_CHANNELS = 4;
    /** The VAE's downscale: latent pixels per image pixel along each side. */
    public static final int VAE_SCALE = 8;

    private LatentPreview() {}

    /** The factor that latent channel {@code c} contributes to RGB channel {@code rgb} (0 = R, 1 = G, 2 = B). */
    public static double factor(int c, int rgb) {
        return FACTORS[c][rgb];
    }

    /** One [4, h, w] latent at index 0, at latent size. */
    public static RgbImage preview(float[] latent, int height, int width) {
        return preview(latent, 0, height, width, 1);
    }

    /**
     * One [4, h, w] latent starting at {@code offset} (element {@code i} of a batch starts at
     * {@code i * 4 * h * w}), as an RGB image of {@code h * upscale x w * upscale}: each latent pixel
     * becomes an {@code upscale x upscale} block (nearest neighbour; {@link #VAE_SCALE} gives image size).
     */
    public static RgbImage preview(float[] latent, int offset, int height, int width, int upscale) {
        return preview(Palette.SD, latent, offset, height, width, upscale);
    }

    /** As {@link #preview(float[], int, int, int, int)} with another VAE family's projection. */
    public static RgbImage preview(Palette palette, float[] latent, int offset, int height, int width, int upscale) {
        Objects.requireNonNull(palette, "palette");
        Objects.requireNonNull(latent, "latent");
        if (height <= 0 || width <= 0) throw new IllegalArgumentException("latent size must be positive, got " + height + "x" + width);
        if (upscale <= 0) throw new IllegalArgumentException("upscale must be positive, got " + upscale);
        int plane = Math.multiplyExact(height, width);
        Objects.checkFromIndexSize(offset, Math.multiplyExact(LATENT_CHANNELS, plane), latent.length);
        int outW = Math.multiplyExact(width, upscale), outH = Math.multiplyExact(height, upscale);
        byte[] rgb = new byte[Math.multiplyExact(Math.multiplyExact(outW, outH), 3)];
        byte[] pixel = new byte[3];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int p = offset + y * width + x;
                for (int c = 0; c < 3; c++) {
                    double v = palette.bias[c];
                    for (int l = 0; l < LATENT_CHANNELS; l++) v += latent[p + l * plane] * palette.factors[l][c];
                    pixel[c] = RgbImage.toByte(v);
                }
                for (int dy = 0; dy < upscale; dy++) {
                    int row = (y * upscale + dy) * outW + x * upscale;
                    for (int dx = 0; dx < upscale; dx++) System.arraycopy(pixel, 0, rgb, (row + dx) * 3, 3);
                }
            }
        }
        return new RgbImage(outW, outH, rgb);
    }
}
