package dev.ember.spark;

import dev.ember.engine.GenerationRequest;
import dev.ember.engine.image.RgbImage;
import dev.ember.engine.noise.NoiseSource;
import dev.ember.engine.sampling.Sampler;
import dev.ember.engine.sampling.Schedule;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.function.IntSupplier;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.types.AtomicType;
import org.apache.spark.sql.types.BinaryType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.StringType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * Where a table's request columns are, and how a row becomes a {@link GenerationRequest}. Made on the
 * driver from the schema (a missing {@code prompt} column or a column of a type no row could use fails the
 * job there, at once); used on the executors for each row, where a bad value fails only its row with a
 * one-line message. Column names match case-insensitively, as Spark's do; missing columns and null cells
 * take Ember's defaults ({@link GenerationRequest.Builder}).
 */
final class RequestColumns implements Serializable {
    /** Spark's column for lines its JSON and CSV readers could not parse (PERMISSIVE mode). */
    static final String CORRUPT_RECORD = "_corrupt_record";

    private final int prompt, negativePrompt, seed, steps, cfg, sampler, schedule, noise, width, height, strength,
            initImage, corrupt;

    private RequestColumns(StructType schema) {
        prompt = find(schema, EmberSpark.PROMPT);
        if (prompt < 0) {
            throw new IllegalArgumentException("the requests have no '" + EmberSpark.PROMPT + "' column (columns: "
                    + String.join(", ", schema.fieldNames()) + ")");
        }
        negativePrompt = find(schema, EmberSpark.NEGATIVE_PROMPT);
        seed = find(schema, EmberSpark.SEED);
        steps = find(schema, EmberSpark.STEPS);
        cfg = find(schema, EmberSpark.CFG);
        sampler = find(schema, EmberSpark.SAMPLER);
        schedule = find(schema, EmberSpark.SCHEDULE);
        noise = find(schema, EmberSpark.NOISE);
        width = find(schema, EmberSpark.WIDTH);
        height = find(schema, EmberSpark.HEIGHT);
        strength = find(schema, EmberSpark.STRENGTH);
        initImage = find(schema, EmberSpark.INIT_IMAGE);
        corrupt = find(schema, CORRUPT_RECORD);
        for (int i : new int[] {prompt, negativePrompt, seed, steps, cfg, sampler, schedule, noise, width, height, strength}) {
            if (i >= 0) requireType(schema.fields()[i], false);
        }
        if (initImage >= 0) requireType(schema.fields()[initImage], true);
    }

    /** The request columns of {@code schema}; throws IllegalArgumentException (one line) when it cannot hold requests. */
    static RequestColumns of(StructType schema) {
        return new RequestColumns(schema);
    }

    /** A row's request and, for img2img, what its metadata says about the init image. */
    record Parsed(GenerationRequest request, String initName, String initSha256) {}

    /**
     * The row's request; IllegalArgumentException (one line) when a value is bad. {@code modelSide} gives the
     * model's own image side (SDXL 1024, SD 2.x v 768, else 512), asked only when the row lacks a width or height.
     */
    Parsed read(Row row, IntSupplier modelSide) {
        if (corrupt >= 0 && !row.isNullAt(corrupt)) {
            throw new IllegalArgumentException("the input line could not be parsed: " + abbreviate(row.getString(corrupt)));
        }
        String promptText = Cells.text(cell(row, prompt), EmberSpark.PROMPT);
        if (promptText == null) throw new IllegalArgumentException("prompt is missing");
        GenerationRequest.Builder b = GenerationRequest.builder(promptText);
        String negative = Cells.text(cell(row, negativePrompt), EmberSpark.NEGATIVE_PROMPT);
        if (negative != null) b.negativePrompt(negative);
        b.seed(seed(row));
        Integer n = Cells.integer(cell(row, steps), EmberSpark.STEPS);
        if (n != null) b.steps(n);
        Double scale = Cells.number(cell(row, cfg), EmberSpark.CFG);
        if (scale != null) b.cfgScale(scale);
        String name = Cells.name(cell(row, sampler), EmberSpark.SAMPLER);
        if (name != null) b.sampler(Sampler.parse(name));
        name = Cells.name(cell(row, schedule), EmberSpark.SCHEDULE);
        if (name != null) b.schedule(Schedule.parse(name));
        name = Cells.name(cell(row, noise), EmberSpark.NOISE);
        if (name != null) b.noise(NoiseSource.parse(name));
        Integer w = Cells.integer(cell(row, width), EmberSpark.WIDTH);
        Integer h = Cells.integer(cell(row, height), EmberSpark.HEIGHT);
        Double s = Cells.number(cell(row, strength), EmberSpark.STRENGTH);
        if (w == null || h == null) {
            int side = modelSide.getAsInt(); // as the command line: the model's size for a side not given
            if (w == null) w = side;
            if (h == null) h = side;
        }
        b.width(w).height(h);

        Object init = cell(row, initImage);
        if (init == null || (init instanceof String p && p.isBlank())) {
            if (s != null) throw new IllegalArgumentException("strength is for img2img, but this row has no init_image");
            return new Parsed(b.build(), null, null);
        }
        byte[] bytes;
        String initName;
        if (init instanceof byte[] given) {
            bytes = given;
            initName = null;
        } else {
            Path path = Path.of(((String) init).strip()).toAbsolutePath().normalize();
            bytes = readInit(path);
            initName = path.toString();
        }
        String what = initName == null ? "init_image" : "init_image " + initName;
        RgbImage image;
        try {
            image = RgbImage.read(new ByteArrayInputStream(bytes), what);
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException(what + " is not an image Ember can read (PNG, JPEG, BMP, GIF)");
        }
        b.initImage(image);
        if (s != null) b.strength(s);
        return new Parsed(b.build(), initName, sha256(bytes));
    }

    /** The row's seed (Ember's default when it has none); IllegalArgumentException when it is not a whole number. */
    long seed(Row row) {
        Long value = Cells.whole(cell(row, seed), EmberSpark.SEED);
        return value != null ? value : DEFAULT_SEED;
    }

    /** The row's seed, or null when it is not a whole number (a failed row's output). */
    Long seedOrNull(Row row) {
        try {
            return seed(row);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static final long DEFAULT_SEED = GenerationRequest.builder("").build().seed();

    private static Object cell(Row row, int index) {
        return index < 0 || row.isNullAt(index) ? null : row.get(index);
    }

    private static byte[] readInit(Path path) {
        try {
            if (Files.isDirectory(path)) throw new IllegalArgumentException("init_image " + path + " is a folder");
            return Files.readAllBytes(path);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("init_image " + path + " not found");
        } catch (IOException e) {
            throw new IllegalArgumentException("init_image " + path + " cannot be read: " + e.getMessage());
        }
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    private static String abbreviate(String text) {
        String line = text.strip().replace('\n', ' ');
        return line.length() <= 80 ? line : line.substring(0, 77) + "...";
    }

    /** The index of the column named {@code name} in any case, -1 when there is none. */
    static int find(StructType schema, String name) {
        List<Integer> found = new ArrayList<>();
        String[] names = schema.fieldNames();
        for (int i = 0; i < names.length; i++) if (names[i].toLowerCase(Locale.ROOT).equals(name)) found.add(i);
        if (found.size() > 1) throw new IllegalArgumentException("the requests have " + found.size() + " columns named '" + name + "'");
        return found.isEmpty() ? -1 : found.getFirst();
    }

    private static void requireType(StructField field, boolean image) {
        DataType type = field.dataType();
        boolean ok = image ? type instanceof BinaryType || type instanceof StringType
                : type instanceof AtomicType && !(type instanceof BinaryType);
        if (!ok) {
            throw new IllegalArgumentException("column '" + field.name() + "' has type " + type.simpleString() + "; it must be "
                    + (image ? "binary (the image file's bytes) or text (its path)" : "a number or text"));
        }
    }
}
