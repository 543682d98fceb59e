package dev.ember.engine.image;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Objects;
import javax.imageio.ImageIO;

/**
 * An 8-bit RGB image: {@code width x height} pixels, row-major, three interleaved bytes (R, G, B) per
 * pixel. The array is copied in and out, so an instance never changes.
 */
public record RgbImage(int width, int height, byte[] rgb) {
    public RgbImage {
        if (width <= 0 || height <= 0) throw new IllegalArgumentException("image size must be positive, got " + width + "x" + height);
        Objects.requireNonNull(rgb, "rgb");
        if (rgb.length != (long) width * height * 3) {
            throw new IllegalArgumentException(rgb.length + " bytes for a " + width + "x" + height + " RGB image");
        }
        rgb = rgb.clone();
    }

    /** A copy of the interleaved bytes. */
    @Override
    public byte[] rgb() {
        return rgb.clone();
    }

    /** The pixel at (x, y) as 0xRRGGBB. */
    public int pixel(int x, int y) {
        Objects.checkIndex(x, width);
        Objects.checkIndex(y, height);
        int i = (y * width + x) * 3;
        return (rgb[i] & 0xff) << 16 | (rgb[i + 1] & 0xff) << 8 | (rgb[i + 2] & 0xff);
    }

    /** One channel value (0 = R, 1 = G, 2 = B) at (x, y), 0..255. */
    public int channel(int x, int y, int c) {
        Objects.checkIndex(c, 3);
        return pixel(x, y) >> (8 * (2 - c)) & 0xff;
    }

    // ---- tensors ------------------------------------------------------------------------------------

    /** A [3, H, W] tensor with values in [-1, 1] (a VAE decoder's output), starting at index 0. */
    public static RgbImage fromTensor(float[] chw, int height, int width) {
        return fromTensor(chw, 0, height, width);
    }

    /**
     * A [3, H, W] tensor with values in [-1, 1] starting at {@code offset} (image {@code i} of a batch
     * is at {@code i * 3 * H * W}). Each value is clamped to [-1, 1], mapped by (x + 1) / 2 * 255 and
     * rounded to the nearest integer, as the LDM scripts and diffusers do; NaN becomes 0.
     */
    public static RgbImage fromTensor(float[] chw, int offset, int height, int width) {
        Objects.requireNonNull(chw, "chw");
        int plane = Math.multiplyExact(height, width);
        Objects.checkFromIndexSize(offset, Math.multiplyExact(3, plane), chw.length);
        byte[] out = new byte[plane * 3];
        for (int c = 0; c < 3; c++) {
            for (int p = 0; p < plane; p++) out[p * 3 + c] = toByte(chw[offset + c * plane + p]);
        }
        return new RgbImage(width, height, out);
    }

    /** [-1, 1] -> 0..255 with clamping and rounding; NaN -> 0. */
    static byte toByte(double v) {
        if (Double.isNaN(v)) return 0;
        double x = Math.max(-1, Math.min(1, v));
        return (byte) Math.round((x + 1) / 2 * 255);
    }

    /** The image as a [3, H, W] tensor in [-1, 1]: v / 255 * 2 - 1 (a VAE encoder's input). */
    public float[] toTensor() {
        int plane = width * height;
        float[] out = new float[3 * plane];
        for (int c = 0; c < 3; c++) {
            for (int p = 0; p < plane; p++) out[c * plane + p] = (rgb[p * 3 + c] & 0xff) / 255f * 2f - 1f;
        }
        return out;
    }

    // ---- AWT and PNG --------------------------------------------------------------------------------

    /** A new {@link BufferedImage#TYPE_INT_RGB} image with these pixels. */
    public BufferedImage toBufferedImage() {
        BufferedImage image = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        int[] row = new int[width];
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) row[x] = pixel(x, y);
            image.setRGB(0, y, width, 1, row, 0, width);
        }
        return image;
    }

    /** Any {@link BufferedImage}, converted to sRGB by AWT; alpha is dropped. */
    public static RgbImage fromBufferedImage(BufferedImage image) {
        Objects.requireNonNull(image, "image");
        int w = image.getWidth(), h = image.getHeight();
        byte[] out = new byte[w * h * 3];
        int[] row = new int[w];
        for (int y = 0; y < h; y++) {
            image.getRGB(0, y, w, 1, row, 0, w);
            for (int x = 0; x < w; x++) {
                int i = (y * w + x) * 3, p = row[x];
                out[i] = (byte) (p >> 16);
                out[i + 1] = (byte) (p >> 8);
                out[i + 2] = (byte) p;
            }
        }
        return new RgbImage(w, h, out);
    }

    /** Writes the image as a PNG file (replacing an existing one). */
    public void writePng(Path file) throws IOException {
        try (OutputStream out = Files.newOutputStream(file)) {
            writePng(out);
        }
    }

    public void writePng(OutputStream out) throws IOException {
        if (!ImageIO.write(toBufferedImage(), "png", out)) throw new IOException("no PNG writer in ImageIO");
    }

    /** Reads a PNG (or any format ImageIO knows) into RGB; alpha is dropped. */
    public static RgbImage read(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            return read(in, file.toString());
        }
    }

    public static RgbImage read(InputStream in, String what) throws IOException {
        BufferedImage image = ImageIO.read(in);
        if (image == null) throw new IOException(what + " is not an image ImageIO can read");
        return fromBufferedImage(image);
    }

    // ---- record equality by content ---------------------------------------------------------------

    @Override
    public boolean equals(Object o) {
        return o instanceof RgbImage r && r.width == width && r.height == height && Arrays.equals(r.rgb, rgb);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * width + height) + Arrays.hashCode(rgb);
    }

    @Override
    public String toString() {
        return "RgbImage[" + width + "x" + height + "]";
    }
}
