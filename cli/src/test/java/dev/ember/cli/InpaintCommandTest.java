package dev.ember.cli;

import static dev.ember.cli.GenerateCommandsTest.run;
import static dev.ember.cli.GenerateCommandsTest.small;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.engine.image.RgbImage;
import dev.ember.engine.metadata.ImageParameters;
import dev.ember.engine.metadata.InpaintRecord;
import dev.ember.engine.metadata.PngMetadata;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ember inpaint} on the tiny model: kept pixels exactly the init image's, the mask's hash and settings in
 * the metadata, {@code --from-image} re-runs to the same pixels (and refuses a changed mask), the alpha channel as
 * the mask, outpainting's larger canvas, and one-line errors for bad masks and options.
 */
class InpaintCommandTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void cache() {
        TestModels.useTemporaryCache();
    }

    private Path init() throws IOException {
        Path init = dir.resolve("init.png");
        byte[] rgb = new byte[64 * 64 * 3];
        for (int i = 0; i < rgb.length; i++) rgb[i] = (byte) (i * 7 + i / 192);
        new RgbImage(64, 64, rgb).writePng(init);
        return init;
    }

    /** White from column {@code split} on. */
    private Path mask(String name, int split) throws IOException {
        byte[] rgb = new byte[64 * 64 * 3];
        for (int p = 0; p < 64 * 64; p++) if (p % 64 >= split) rgb[p * 3] = rgb[p * 3 + 1] = rgb[p * 3 + 2] = (byte) 255;
        Path file = dir.resolve(name);
        new RgbImage(64, 64, rgb).writePng(file);
        return file;
    }

    @Test
    void inpaintKeepsPixelsRecordsTheMaskAndReRuns() throws IOException {
        Path init = init(), mask = mask("mask.png", 32), out = dir.resolve("out");
        CliRunner r = run("inpaint", small("-I", init.toString(), "--mask", mask.toString(), "--mask-blur", "0", "-p", "a door", "-S", "4",
                "--fill", "latent-noise", "--out", out.toString()));
        assertEquals(0, r.exitCode(), r.err());
        Path png = out.resolve("000001.4.png");
        RgbImage before = RgbImage.read(init), after = RgbImage.read(png);
        int changed = 0;
        for (int y = 0; y < 64; y++) for (int x = 0; x < 64; x++) {
            if (x < 32) assertEquals(before.pixel(x, y), after.pixel(x, y), "(" + x + ", " + y + ")");
            else if (before.pixel(x, y) != after.pixel(x, y)) changed++;
        }
        assertTrue(changed > 1000, "changed " + changed);
        ImageParameters p = PngMetadata.read(png).ember();
        InpaintRecord ip = p.inpaint();
        assertEquals(mask.toAbsolutePath().toString(), ip.mask());
        assertEquals(InitImage.sha256(Files.readAllBytes(mask)), ip.maskSha256());
        assertEquals("file", ip.maskFrom());
        assertEquals(0, ip.blur());
        assertEquals("latent-noise", ip.fill());
        assertTrue(PngMetadata.read(png).parameters().contains("Denoising strength: 0.75, Mask blur: 0, Version: "), PngMetadata.read(png).parameters());

        Path again = dir.resolve("again");
        CliRunner re = CliRunner.run("inpaint", "--from-image", png.toString(), "--threads", "1", "--out", again.toString());
        assertEquals(0, re.exitCode(), re.err());
        assertEquals(after, RgbImage.read(again.resolve("000001.4.png")));
        CliRunner info = CliRunner.run("info", png.toString());
        assertTrue(info.out().contains("re-run: ember inpaint --from-image"), info.out());
        CliRunner txt = CliRunner.run("txt2img", "--from-image", png.toString(), "--out", dir.resolve("x").toString());
        assertEquals(2, txt.exitCode());
        assertTrue(txt.err().contains("'ember inpaint --from-image'"), txt.err());

        mask("mask.png", 30); // same path, other mask
        CliRunner stale = CliRunner.run("inpaint", "--from-image", png.toString(), "--threads", "1", "--out", dir.resolve("third").toString());
        assertEquals(1, stale.exitCode());
        assertEquals("ember: mask " + mask.toAbsolutePath() + " has changed since " + png + " was made (SHA-256 differs); "
                + "pass --mask to use it anyway", stale.err().strip());
        assertFalse(Files.exists(dir.resolve("third")));
    }

    @Test
    void transparentPixelsOfTheInitImageAreTheMask() throws IOException {
        BufferedImage rgba = new BufferedImage(64, 64, BufferedImage.TYPE_INT_ARGB);
        for (int y = 0; y < 64; y++) for (int x = 0; x < 64; x++) rgba.setRGB(x, y, (y < 40 ? 0xff000000 : 0) | (x * 4 << 16) | (y * 4 << 8) | 90);
        Path init = dir.resolve("rgba.png");
        ImageIO.write(rgba, "png", init.toFile());
        Path out = dir.resolve("alpha");
        CliRunner r = run("inpaint", small("-I", init.toString(), "--mask-blur", "0", "-p", "grass", "-S", "2", "--out", out.toString()));
        assertEquals(0, r.exitCode(), r.err());
        RgbImage after = RgbImage.read(out.resolve("000001.2.png"));
        for (int y = 0; y < 40; y++) for (int x = 0; x < 64; x++) assertEquals(rgba.getRGB(x, y) & 0xffffff, after.pixel(x, y));
        assertEquals("alpha", PngMetadata.read(out.resolve("000001.2.png")).ember().inpaint().maskFrom());
    }

    @Test
    void outpaintExtendsTheCanvas() throws IOException {
        Path init = init(), out = dir.resolve("wide");
        CliRunner r = run("inpaint", java.util.List.of("-I", init.toString(), "--outpaint", "left=32,bottom=16", "--mask-blur", "0", "-p", "more sea",
                "-S", "6", "-s", "3", "--threads", "1", "--model", TestModels.tiny().toString(), "--out", out.toString()));
        assertEquals(0, r.exitCode(), r.err());
        Path png = out.resolve("000001.6.png");
        RgbImage before = RgbImage.read(init), after = RgbImage.read(png);
        assertEquals(96, after.width());
        assertEquals(80, after.height());
        for (int y = 0; y < 64; y++) for (int x = 0; x < 64; x++) assertEquals(before.pixel(x, y), after.pixel(x + 32, y));
        assertEquals("left=32,top=0,right=0,bottom=16", PngMetadata.read(png).ember().inpaint().outpaint());
        CliRunner re = CliRunner.run("inpaint", "--from-image", png.toString(), "--threads", "1", "--out", dir.resolve("again").toString());
        assertEquals(0, re.exitCode(), re.err());
        assertEquals(after, RgbImage.read(dir.resolve("again").resolve("000001.6.png")));
    }

    @Test
    void onlyMaskedKeepsThePictureSizeAndReRuns() throws IOException {
        BufferedImage wide = new BufferedImage(96, 72, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 72; y++) for (int x = 0; x < 96; x++) wide.setRGB(x, y, x * 2 << 16 | y * 3 << 8 | 40);
        Path init = dir.resolve("wide.png"), maskFile = dir.resolve("square.png"), out = dir.resolve("region");
        ImageIO.write(wide, "png", init.toFile());
        BufferedImage square = new BufferedImage(96, 72, BufferedImage.TYPE_INT_RGB);
        for (int y = 20; y < 36; y++) for (int x = 50; x < 66; x++) square.setRGB(x, y, 0xffffff);
        ImageIO.write(square, "png", maskFile.toFile());
        CliRunner r = run("inpaint", small("-I", init.toString(), "--mask", maskFile.toString(), "--mask-blur", "0", "--only-masked",
                "--only-masked-padding", "8", "-p", "a bird", "-S", "3", "--out", out.toString()));
        assertEquals(0, r.exitCode(), r.err());
        Path png = out.resolve("000001.3.png");
        RgbImage after = RgbImage.read(png);
        assertEquals(96, after.width());
        assertEquals(72, after.height());
        int changed = 0;
        for (int y = 0; y < 72; y++) for (int x = 0; x < 96; x++) {
            boolean inside = x >= 50 && x < 66 && y >= 20 && y < 36;
            if (!inside) assertEquals(wide.getRGB(x, y) & 0xffffff, after.pixel(x, y), "(" + x + ", " + y + ")");
            else if ((wide.getRGB(x, y) & 0xffffff) != after.pixel(x, y)) changed++;
        }
        assertTrue(changed > 100, "changed " + changed);
        InpaintRecord ip = PngMetadata.read(png).ember().inpaint();
        assertTrue(ip.onlyMasked());
        assertEquals(8, ip.padding());
        CliRunner re = CliRunner.run("inpaint", "--from-image", png.toString(), "--threads", "1", "--out", dir.resolve("again").toString());
        assertEquals(0, re.exitCode(), re.err());
        assertEquals(after, RgbImage.read(dir.resolve("again").resolve("000001.3.png")));
    }

    @Test
    void badMasksAndOptionsGiveOneLine() throws IOException {
        Path init = init(), out = dir.resolve("bad");
        Path black = mask("black.png", 64), notImage = dir.resolve("mask.txt");
        Files.writeString(notImage, "not a picture");
        record Case(int exit, String message, String... args) {}
        for (Case c : new Case[] {
                new Case(1, "ember: the mask is all black: nothing to inpaint (white = repaint, black = keep)", "--mask", black.toString()),
                new Case(1, "ember: mask " + notImage + " is not an image Ember can read (PNG, JPEG, BMP, GIF)", "--mask", notImage.toString()),
                new Case(1, "ember: mask " + dir.resolve("none.png") + " not found", "--mask", dir.resolve("none.png").toString()),
                new Case(2, "ember: inpaint needs a mask: --mask MASK.png, an init image with transparent pixels, or --outpaint SIDES"),
                new Case(2, "ember: --fill: unknown inpaint fill 'paint'; valid: fill, original, latent-noise, latent-nothing (or 0-3)",
                        "--mask", black.toString(), "--fill", "paint"),
                new Case(2, "ember: --outpaint: outpaint 'left=a': a is not a whole number of pixels", "--outpaint", "left=a"),
                new Case(2, "ember: give either --mask or --outpaint, not both", "--outpaint", "left=8", "--mask", black.toString()),
                new Case(2, "ember: --only-masked does not go with --outpaint", "--outpaint", "left=8", "--only-masked"),
                new Case(1, "ember: mask blur must be between 0 and 64 pixels, got 65", "--mask", mask("m.png", 3).toString(), "--mask-blur", "65")}) {
            java.util.List<String> args = new java.util.ArrayList<>(small("-I", init.toString(), "-p", "x", "--out", out.toString()));
            args.addAll(java.util.List.of(c.args()));
            CliRunner r = run("inpaint", args);
            assertEquals(c.exit(), r.exitCode(), r.err());
            assertEquals(c.message(), r.err().strip());
        }
        assertFalse(Files.exists(out));
    }
}
