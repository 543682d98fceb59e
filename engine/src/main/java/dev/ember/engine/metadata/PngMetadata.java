package dev.ember.engine.metadata;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.ember.engine.image.PngText;
import dev.ember.engine.image.RgbImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Puts generation parameters into PNGs and reads them back: AUTOMATIC1111's {@code parameters} text
 * (for other tools) and Ember's {@code ember} JSON (everything a re-run needs).
 */
public final class PngMetadata {
    public static final String PARAMETERS_KEY = "parameters";
    public static final String EMBER_KEY = "ember";
    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** What a PNG says about how it was made; either part may be null. */
    public record Found(String parameters, ImageParameters ember) {
        public boolean isEmpty() {
            return parameters == null && ember == null;
        }
    }

    private PngMetadata() {}

    /** The image encoded as PNG with both text chunks. */
    public static byte[] encode(RgbImage image, ImageParameters parameters) {
        return PngText.insert(plainPng(image), texts(parameters));
    }

    public static byte[] plainPng(RgbImage image) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try {
            image.writePng(bytes);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    public static Map<String, String> texts(ImageParameters parameters) {
        Map<String, String> texts = new LinkedHashMap<>();
        texts.put(PARAMETERS_KEY, Infotext.format(parameters));
        texts.put(EMBER_KEY, toJson(parameters));
        return texts;
    }

    /** A record's fields as JSON would name them, in order (for listings such as {@code ember info}). */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> toMap(Object value) {
        return JSON.convertValue(value, LinkedHashMap.class);
    }

    public static String toJson(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialize " + value.getClass().getSimpleName(), e);
        }
    }

    /**
     * Reads a PNG's generation parameters.
     *
     * @throws IllegalArgumentException (one line, naming the file) when it is missing, not a PNG, or its
     *                                  {@code ember} chunk is not valid
     */
    public static Found read(Path png) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(png);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(png + ": no such file");
        } catch (IOException e) {
            throw new IllegalArgumentException(png + ": cannot read: " + e.getMessage());
        }
        Map<String, String> texts;
        try {
            texts = PngText.read(bytes);
        } catch (IllegalArgumentException | IOException e) {
            throw new IllegalArgumentException(png + ": " + e.getMessage());
        }
        ImageParameters ember = null;
        String json = texts.get(EMBER_KEY);
        if (json != null) {
            try {
                ember = JSON.readValue(json, ImageParameters.class);
            } catch (JsonProcessingException e) {
                throw new IllegalArgumentException(png + ": the 'ember' metadata is not valid: " + e.getOriginalMessage());
            }
        }
        return new Found(texts.get(PARAMETERS_KEY), ember);
    }

    /** The Ember parameters of an image, for {@code --from-image}; a clear error when it has none. */
    public static ImageParameters require(Path png) {
        Found found = read(png);
        if (found.ember() != null) return found.ember();
        throw new IllegalArgumentException(png + ": no Ember generation parameters in this image"
                + (found.parameters() != null ? " (it has AUTOMATIC1111 'parameters' only, which cannot be re-run exactly)" : ""));
    }
}
