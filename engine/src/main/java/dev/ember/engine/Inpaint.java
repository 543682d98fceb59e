package dev.ember.engine;

import dev.ember.engine.image.RgbImage;
import java.util.Objects;

/**
 * Inpainting: repaint only the masked part of an img2img request's init image (white = repaint,
 * black = keep; grey repaints partly). The mask is fitted to the output size as the init image is.
 * With any model, every sampling step puts the init latent, noised to the step's sigma, back outside
 * the mask (through a latent-size copy of the blurred mask), and the decoded picture gets the original
 * pixels pasted back through the blurred mask, so pixels the blurred mask leaves at 0 are exactly the
 * init image's. Inpainting models (9 UNet input channels) also see the mask and the masked image.
 * AUTOMATIC1111's img2img fields, by name: {@code mask_blur}, {@code inpainting_fill},
 * {@code inpainting_mask_invert}, {@code inpaint_full_res} (+ {@code _padding}), {@code initial_noise_multiplier}.
 *
 * @param mask            the mask, as a picture: its luminance (ITU-R 601, as PIL's "L") is the mask
 * @param blur            Gaussian blur radius (sigma) of the mask in pixels, A1111's {@code mask_blur} (default 4)
 * @param fill            what the masked area starts from
 * @param invert          repaint the black part instead
 * @param onlyMasked      inpaint only the mask's bounding box (plus padding), scaled to the output size, then paste it back
 * @param padding         pixels added around the bounding box with {@code onlyMasked}
 * @param noiseMultiplier the starting noise times this (A1111's {@code initial_noise_multiplier}; 1 = unchanged)
 */
public record Inpaint(RgbImage mask, int blur, InpaintFill fill, boolean invert, boolean onlyMasked, int padding, double noiseMultiplier) {
    public static final int MAX_BLUR = 64;
    public static final int MAX_PADDING = 1024;
    public static final int DEFAULT_BLUR = 4;

    /**
     * @throws IllegalArgumentException for a value out of range, or a mask that repaints nothing (all black, or all
     *     white when inverted): there is nothing to do
     */
    public Inpaint {
        Objects.requireNonNull(mask, "mask");
        if (blur < 0 || blur > MAX_BLUR) throw new IllegalArgumentException("mask blur must be between 0 and " + MAX_BLUR + " pixels, got " + blur);
        if (fill == null) fill = InpaintFill.ORIGINAL;
        if (padding < 0 || padding > MAX_PADDING) throw new IllegalArgumentException("only-masked padding must be between 0 and " + MAX_PADDING + " pixels, got " + padding);
        if (!(noiseMultiplier >= 0 && noiseMultiplier <= 2)) throw new IllegalArgumentException("initial noise multiplier must be between 0 and 2, got " + noiseMultiplier);
        if (maxLevel(mask, invert) == 0) {
            throw new IllegalArgumentException("the mask is " + (invert ? "all white, and inverted" : "all black")
                    + ": nothing to inpaint (white = repaint, black = keep)");
        }
    }

    /** A mask with A1111's defaults otherwise: blur 4, original content, not inverted, whole picture, noise unchanged. */
    public static Inpaint of(RgbImage mask) {
        return new Inpaint(mask, DEFAULT_BLUR, InpaintFill.ORIGINAL, false, false, 32, 1);
    }

    public Inpaint withBlur(int v) { return new Inpaint(mask, v, fill, invert, onlyMasked, padding, noiseMultiplier); }
    public Inpaint withFill(InpaintFill v) { return new Inpaint(mask, blur, v, invert, onlyMasked, padding, noiseMultiplier); }
    public Inpaint withInvert(boolean v) { return new Inpaint(mask, blur, fill, v, onlyMasked, padding, noiseMultiplier); }
    public Inpaint withOnlyMasked(boolean v, int pad) { return new Inpaint(mask, blur, fill, invert, v, pad, noiseMultiplier); }
    public Inpaint withNoiseMultiplier(double v) { return new Inpaint(mask, blur, fill, invert, onlyMasked, padding, v); }

    /** Whether the mask repaints every pixel fully (all white, or all black inverted): then it is plain img2img. */
    public boolean repaintsAll() {
        return minLevel(mask, invert) == 255;
    }

    /** The mask's value (0 keep .. 255 repaint) at pixel {@code p} (row-major), inversion applied. */
    public static int level(RgbImage mask, int p, boolean invert) {
        int v = luminance(mask, p);
        return invert ? 255 - v : v;
    }

    /** PIL's RGB to "L": {@code (R * 299 + G * 587 + B * 114) / 1000}, rounded. */
    static int luminance(RgbImage image, int p) {
        int rgb = image.pixel(p % image.width(), p / image.width());
        int r = rgb >> 16 & 0xff, g = rgb >> 8 & 0xff, b = rgb & 0xff;
        return (r * 299 + g * 587 + b * 114 + 500) / 1000;
    }

    private static int maxLevel(RgbImage mask, boolean invert) {
        int max = 0;
        for (int p = 0, n = mask.width() * mask.height(); p < n && max < 255; p++) max = Math.max(max, level(mask, p, invert));
        return max;
    }

    private static int minLevel(RgbImage mask, boolean invert) {
        int min = 255;
        for (int p = 0, n = mask.width() * mask.height(); p < n && min > 0; p++) min = Math.min(min, level(mask, p, invert));
        return min;
    }
}
