package dev.ember.server;

import dev.ember.engine.image.RgbImage;
import dev.ember.engine.metadata.ImageParameters;
import dev.ember.engine.metadata.PngMetadata;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Iterator;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/** Images over the wire: base64 in (with or without a {@code data:} prefix, as A1111 accepts them) and base64 PNGs out. */
final class Images {
    /** The largest side of an image a client may send: enough for any init image, too small for a decompression bomb. */
    static final int MAX_SIDE = 8192;

    private Images() {}

    /** The bytes of a base64 image field; 422 naming {@code field} when it is not base64. */
    static byte[] bytes(String field, String value) {
        String data = value.strip();
        if (data.startsWith("data:")) {
            int comma = data.indexOf(',');
            if (comma < 0) throw ApiException.invalid(field, "a data: URL without ','");
            data = data.substring(comma + 1);
        }
        if (data.isEmpty()) throw ApiException.invalid(field, "is empty");
        try {
            return Base64.getDecoder().decode(data.replaceAll("\\s", "")); // line breaks allowed, nothing else
        } catch (IllegalArgumentException e) {
            throw ApiException.invalid(field, "is not valid base64 (" + e.getMessage() + ")");
        }
    }

    /** Decodes an image (PNG, JPEG, anything ImageIO reads); 422 naming {@code field} when it is not one or is too large. */
    static RgbImage decode(String field, byte[] bytes) {
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(bytes))) {
            Iterator<ImageReader> readers = in == null ? null : ImageIO.getImageReaders(in);
            if (readers == null || !readers.hasNext()) throw ApiException.invalid(field, "is not an image (PNG, JPEG, BMP or GIF)");
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                int w = reader.getWidth(0), h = reader.getHeight(0);
                if (w > MAX_SIDE || h > MAX_SIDE) throw ApiException.invalid(field, "is " + w + "x" + h + "; the most is " + MAX_SIDE + " per side");
                return RgbImage.fromBufferedImage(reader.read(0));
            } finally {
                reader.dispose();
            }
        } catch (IOException | RuntimeException e) {
            if (e instanceof ApiException api) throw api;
            throw ApiException.invalid(field, "is not a readable image (" + e.getMessage() + ")");
        }
    }

    /** The image as a PNG with its A1111 {@code parameters} and Ember record, in base64. */
    static String base64Png(RgbImage image, ImageParameters parameters) {
        return Base64.getEncoder().encodeToString(PngMetadata.encode(image, parameters));
    }

    /** A preview as a plain base64 PNG. */
    static String base64Png(RgbImage image) {
        return Base64.getEncoder().encodeToString(PngMetadata.plainPng(image));
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
