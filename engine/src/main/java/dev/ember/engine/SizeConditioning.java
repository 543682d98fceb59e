package dev.ember.engine;

/**
 * SDXL's micro-conditioning on sizes (sgm's {@code original_size_as_tuple}, {@code crop_coords_top_left},
 * {@code target_size_as_tuple}): what size the training image had, where it was cropped, and what size
 * the output is meant to be. Each number becomes a sinusoidal embedding in the UNet's vector
 * conditioning. The usual choice, and the default, is the image's own size with no crop
 * ({@link #of(int, int)}); a smaller original size makes SDXL imitate low-resolution training images,
 * a crop makes it draw a cut-off subject. Only SDXL models take it.
 *
 * @param originalWidth  pixels, 1 to {@link #MAX}
 * @param originalHeight pixels, 1 to {@link #MAX}
 * @param cropTop        pixels, 0 to {@link #MAX}
 * @param cropLeft       pixels, 0 to {@link #MAX}
 * @param targetWidth    pixels, 1 to {@link #MAX}
 * @param targetHeight   pixels, 1 to {@link #MAX}
 */
public record SizeConditioning(int originalWidth, int originalHeight, int cropTop, int cropLeft, int targetWidth, int targetHeight) {
    public static final int MAX = 16384;

    public SizeConditioning {
        positive("original width", originalWidth);
        positive("original height", originalHeight);
        positive("target width", targetWidth);
        positive("target height", targetHeight);
        if (cropTop < 0 || cropTop > MAX || cropLeft < 0 || cropLeft > MAX) {
            throw new IllegalArgumentException("crop top and left must be between 0 and " + MAX + ", got " + cropTop + ", " + cropLeft);
        }
    }

    /** The default: original and target are the image's size, no crop. */
    public static SizeConditioning of(int width, int height) {
        return new SizeConditioning(width, height, 0, 0, width, height);
    }

    /** The six numbers in sgm's order: original (height, width), crop (top, left), target (height, width). */
    public double[] values() {
        return new double[] {originalHeight, originalWidth, cropTop, cropLeft, targetHeight, targetWidth};
    }

    private static void positive(String what, int v) {
        if (v < 1 || v > MAX) throw new IllegalArgumentException(what + " must be between 1 and " + MAX + ", got " + v);
    }
}
