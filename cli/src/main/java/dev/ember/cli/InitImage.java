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
 * output's metadata, so a re-run can tell whether the file at that path is still the same picture).
 */
record InitImage(Path path, RgbImage image, String sha256) {
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

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
