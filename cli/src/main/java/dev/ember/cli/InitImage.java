package dev.ember.cli;

import dev.ember.engine.image.RgbImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * img2img's starting picture, read once: its pixels and the SHA-256 of its file (recorded in the
 * output's metadata, so a re-run can tell whether the file at that path is still the same picture);
 * for inpainting also the mask (null otherwise).
 */
record InitImage(Path path, RgbImage image, String sha256, RgbImage mask) {
    InitImage(Path path, RgbImage image, String sha256) {
        this(path, image, sha256, null);
    }

    /** This picture (as it goes to the engine: an outpainting's extended canvas) with inpainting's mask. */
    InitImage inpainting(RgbImage picture, RgbImage maskImage) {
        return new InitImage(path, picture, sha256, maskImage);
    }

    /** The engine request of {@code parameters} with this picture (and mask). */
    static dev.ember.engine.GenerationRequest request(dev.ember.engine.metadata.ImageParameters parameters, InitImage init) {
        return parameters.toRequest(init == null ? null : init.image(), init == null ? null : init.mask());
    }

    /** Reads any image ImageIO knows; missing, unreadable or non-image files give one-line errors. */
    static InitImage read(Path path) {
        byte[] bytes;
        try {
            if (Files.isDirectory(path)) throw new IllegalArgumentException("init image " + path + " is a folder");
            bytes = Files.readAllBytes(path);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("init image " + path + " not found");
        } catch (AccessDeniedException e) {
            throw new IllegalArgumentException("init image " + path + " cannot be read: permission denied");
        } catch (IOException e) {
            throw new IllegalArgumentException("init image " + path + " cannot be read: " + e.getMessage());
        }
        RgbImage image;
        try {
            image = RgbImage.read(new ByteArrayInputStream(bytes), path.toString());
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("init image " + path + " is not an image Ember can read (PNG, JPEG, BMP, GIF)");
        }
        return new InitImage(path, image, sha256(bytes));
    }

    /**
     * The transparency of the picture at {@code path} as an inpainting mask (transparent = repaint: 255 - alpha), or
     * null when it has no alpha channel or is opaque everywhere.
     */
    static RgbImage alphaMask(Path path) {
        java.awt.image.BufferedImage image;
        try {
            image = javax.imageio.ImageIO.read(path.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException("init image " + path + " cannot be read: " + e.getMessage());
        }
        if (image == null || !image.getColorModel().hasAlpha()) return null;
        int w = image.getWidth(), h = image.getHeight();
        byte[] rgb = new byte[w * h * 3];
        boolean transparent = false;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int a = image.getRGB(x, y) >>> 24;
                transparent |= a != 255;
                rgb[(y * w + x) * 3] = rgb[(y * w + x) * 3 + 1] = rgb[(y * w + x) * 3 + 2] = (byte) (255 - a);
            }
        }
        return transparent ? new RgbImage(w, h, rgb) : null;
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
