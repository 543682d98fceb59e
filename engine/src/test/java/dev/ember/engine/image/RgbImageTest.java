package dev.ember.engine.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RgbImageTest {
    /** A 3-wide, 2-high image whose channels are told apart by position. */
    private static RgbImage sample() {
        byte[] rgb = new byte[3 * 2 * 3];
        for (int i = 0; i < rgb.length; i++) rgb[i] = (byte) (i * 13 + 7);
        return new RgbImage(3, 2, rgb);
    }

    @Test
    void fromTensorMapsClampsAndRounds() {
        int h = 1, w = 5;
        float[] chw = {
            -1f, 0f, 1f, -3f, 7f,              // R
            0.5f, -0.5f, 0.999f, Float.NaN, 0.00392f, // G
            -0.99f, 0.2f, -0.2f, 1e-9f, -1e-9f, // B
        };
        RgbImage img = RgbImage.fromTensor(chw, h, w);
        assertEquals(5, img.width());
        assertEquals(1, img.height());
        int[][] expected = {
            {0, 128, 255, 0, 255},
            {191, 64, 255, 0, 128},  // 0.75*255 = 191.25; 0.25*255 = 63.75; 0.9995*255 = 254.87; NaN -> 0; 0.50196*255 = 128.0
            {1, 153, 102, 128, 127}, // 0.005*255 = 1.275; 0.6*255 = 153; 0.4*255 = 102; 127.5000001 -> 128; 127.4999999 -> 127
        };
        for (int c = 0; c < 3; c++)
            for (int x = 0; x < w; x++) assertEquals(expected[c][x], img.channel(x, 0, c), "channel " + c + " x " + x);
    }

    @Test
    void fromTensorLayoutAndBatchOffset() {
        int h = 2, w = 3, plane = h * w;
        float[] batch = new float[2 * 3 * plane];
        // Second image: value encodes (channel, y, x) so a transposed or mixed-up layout shows.
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) batch[3 * plane + c * plane + y * w + x] = (c * 6 + y * 3 + x) / 17f * 2 - 1;
        RgbImage img = RgbImage.fromTensor(batch, 3 * plane, h, w);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    assertEquals(Math.round((c * 6 + y * 3 + x) / 17.0 * 255), img.channel(x, y, c), c + "," + y + "," + x);
        assertThrows(IndexOutOfBoundsException.class, () -> RgbImage.fromTensor(batch, 3 * plane + 1, h, w));
    }

    @Test
    void toTensorInvertsFromTensorWithinOneStep() {
        SplittableRandom r = new SplittableRandom(7);
        int h = 4, w = 6;
        float[] chw = new float[3 * h * w];
        for (int i = 0; i < chw.length; i++) chw[i] = (float) (r.nextDouble() * 2 - 1);
        RgbImage img = RgbImage.fromTensor(chw, h, w);
        float[] back = img.toTensor();
        for (int i = 0; i < chw.length; i++) assertEquals(chw[i], back[i], 1.0 / 255 + 1e-6, "element " + i);
        assertEquals(img, RgbImage.fromTensor(back, h, w));
    }

    @Test
    void bufferedImageRoundTrip() {
        RgbImage img = sample();
        BufferedImage b = img.toBufferedImage();
        assertEquals(BufferedImage.TYPE_INT_RGB, b.getType());
        assertEquals(3, b.getWidth());
        assertEquals(2, b.getHeight());
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 3; x++) assertEquals(img.pixel(x, y), b.getRGB(x, y) & 0xffffff);
        assertEquals(img, RgbImage.fromBufferedImage(b));
    }

    @Test
    void fromOtherImageTypes() {
        BufferedImage gray = new BufferedImage(2, 1, BufferedImage.TYPE_BYTE_GRAY);
        gray.getRaster().setSample(0, 0, 0, 0);
        gray.getRaster().setSample(1, 0, 0, 255);
        RgbImage g = RgbImage.fromBufferedImage(gray);
        assertEquals(0x000000, g.pixel(0, 0));
        assertEquals(0xffffff, g.pixel(1, 0));

        BufferedImage argb = new BufferedImage(1, 1, BufferedImage.TYPE_INT_ARGB);
        argb.setRGB(0, 0, 0x80123456);
        assertEquals(0x123456, RgbImage.fromBufferedImage(argb).pixel(0, 0));
    }

    @Test
    void pngRoundTrip(@TempDir Path dir) throws IOException {
        RgbImage img = sample();
        Path file = dir.resolve("out.png");
        img.writePng(file);
        byte[] head = Files.readAllBytes(file);
        assertEquals((byte) 0x89, head[0]);
        assertEquals('P', head[1]);
        assertEquals('N', head[2]);
        assertEquals('G', head[3]);
        assertEquals(img, RgbImage.read(file));
        // And through ImageIO directly: a plain 8-bit RGB PNG.
        BufferedImage decoded = ImageIO.read(file.toFile());
        assertEquals(3, decoded.getColorModel().getNumComponents());
        assertEquals(img.pixel(2, 1), decoded.getRGB(2, 1) & 0xffffff);

        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        img.writePng(bytes);
        assertEquals(img, RgbImage.read(new ByteArrayInputStream(bytes.toByteArray()), "bytes"));
    }

    @Test
    void notAnImage(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("junk.png");
        Files.writeString(file, "not a png");
        IOException e = assertThrows(IOException.class, () -> RgbImage.read(file));
        assertTrue(e.getMessage().contains("junk.png"), e.getMessage());
    }

    @Test
    void validationAndImmutability() {
        assertThrows(IllegalArgumentException.class, () -> new RgbImage(2, 2, new byte[11]));
        assertThrows(IllegalArgumentException.class, () -> new RgbImage(0, 2, new byte[0]));
        byte[] data = new byte[3];
        RgbImage img = new RgbImage(1, 1, data);
        data[0] = 9;
        assertEquals(0, img.channel(0, 0, 0));
        img.rgb()[0] = 9;
        assertEquals(0, img.channel(0, 0, 0));
        assertArrayEquals(new byte[3], img.rgb());
        assertNotEquals(img, new RgbImage(1, 1, new byte[] {1, 0, 0}));
        assertThrows(IndexOutOfBoundsException.class, () -> img.pixel(1, 0));
    }
}
