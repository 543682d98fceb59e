package dev.ember.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.cli.EmberCommand;
import dev.ember.engine.AddOns;
import dev.ember.engine.GenerationRequest;
import dev.ember.engine.ModelOptions;
import dev.ember.engine.StableDiffusion;
import dev.ember.engine.StepListener;
import dev.ember.engine.TinyModel;
import dev.ember.engine.model.DType;
import dev.ember.engine.model.ModelPreset;
import dev.ember.engine.model.SyntheticLora;
import dev.ember.engine.sampling.Sampler;
import dev.ember.engine.image.RgbImage;
import dev.ember.engine.metadata.ImageParameters;
import dev.ember.engine.metadata.PngMetadata;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** EmberSpark.generate on local[2] with the tiny model: same pixels as the command line, bad rows alone, one model per JVM. */
class EmberSparkTest {
    private static final StructType SCHEMA = new StructType()
            .add("prompt", DataTypes.StringType).add("negative_prompt", DataTypes.StringType)
            .add("seed", DataTypes.LongType).add("steps", DataTypes.IntegerType).add("cfg", DataTypes.DoubleType)
            .add("sampler", DataTypes.StringType).add("width", DataTypes.IntegerType).add("height", DataTypes.IntegerType)
            .add("strength", DataTypes.DoubleType).add("init_image", DataTypes.StringType).add("tag", DataTypes.StringType);

    static SparkSession spark;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() {
        spark = SparkTests.spark();
    }

    private static Row row(String prompt, String negative, long seed, int steps, double cfg, String sampler, int w, int h,
                           Double strength, String init, String tag) {
        return RowFactory.create(prompt, negative, seed, steps, cfg, sampler, w, h, strength, init, tag);
    }

    @Test
    void eightRowsOverTwoPartitionsGiveTheCommandLinesPixelsAndMetadata() throws IOException {
        Path init = dir.resolve("init.png");
        new RgbImage(64, 64, noise(64 * 64 * 3)).writePng(init);
        List<Row> rows = List.of(
                row("a lighthouse at dusk", null, 1, 3, 7.5, "lms", 64, 64, null, null, "a"),
                row("a red fox", "blurry", 2, 2, 5.0, "euler_a", 64, 64, null, null, "b"),
                row("a red fox", "blurry", 3, 2, 5.0, "euler_a", 64, 64, null, null, "c"),
                row("mountains", null, 4, 3, 1.0, "euler", 64, 96, null, null, "d"),
                row("a bowl of fruit", "", 5, 2, 9.0, "dpmpp_2m", 96, 64, null, null, "e"),
                row("a city at night", null, 6, 2, 7.5, "heun", 64, 64, null, null, "f"),
                row("an old map", null, 7, 4, 6.0, "ddim", 64, 64, 0.5, init.toString(), "g"),
                row("a sailing ship", null, 4294967295L, 2, 7.5, "dpm2", 64, 64, null, null, "h"));
        Dataset<Row> requests = spark.createDataFrame(rows, SCHEMA).repartition(2);
        assertEquals(2, requests.rdd().getNumPartitions());

        List<Row> results = EmberSpark.generate(requests, EmberSparkOptions.defaults()).collectAsList();
        assertEquals(8, results.size());
        for (Row r : results) {
            Row request = rows.stream().filter(q -> q.getString(10).equals(r.getString(r.fieldIndex("tag")))).findFirst().orElseThrow();
            assertNull(r.get(r.fieldIndex("error")), () -> "row " + request + ": " + r.get(r.fieldIndex("error")));
            byte[] png = (byte[]) r.get(r.fieldIndex("png"));
            Path cli = commandLinePicture(request, dir.resolve("cli-" + request.getString(10)));
            assertArrayEquals(RgbImage.read(cli).rgb(), RgbImage.read(new ByteArrayInputStream(png), "png").rgb(),
                    () -> "pixels of row " + request);

            PngMetadata.Found ours = PngMetadata.read(write(png)), theirs = PngMetadata.read(cli);
            assertEquals(theirs.parameters(), ours.parameters());
            assertEquals(theirs.parameters(), r.getString(r.fieldIndex("parameters")));
            assertEquals(PngMetadata.toJson(ours.ember()), r.getString(r.fieldIndex("metadata")));
            assertEquals(1, ours.ember().threads(), "native threads = spark.task.cpus");
            assertEquals(withoutThreads(theirs.ember()), withoutThreads(ours.ember()));
            assertEquals(request.getLong(2), r.getLong(r.fieldIndex("seed")));
            assertTrue(r.getDouble(r.fieldIndex("seconds")) > 0);
        }
    }

    @Test
    void aLoraTagInARowGivesTheEnginesPicture() throws IOException {
        Path loras = Files.createDirectories(dir.resolve("loras"));
        SyntheticLora.write(loras.resolve("ink.safetensors"), ModelPreset.TINY.spec(), 4, 4, 11, DType.F32, SyntheticLora.Format.KOHYA);
        List<Row> rows = List.of(row("a harbour <lora:ink:0.8>", null, 9, 2, 7.5, "euler", 64, 64, null, null, "lora"),
                row("a harbour", null, 9, 2, 7.5, "euler", 64, 64, null, null, "plain"));
        List<Row> results = EmberSpark.generate(spark.createDataFrame(rows, SCHEMA).repartition(1),
                EmberSparkOptions.defaults().withAddOns(loras.toString(), null, null)).collectAsList();
        Row withLora = results.stream().filter(r -> r.getString(r.fieldIndex("tag")).equals("lora")).findFirst().orElseThrow();
        Row plain = results.stream().filter(r -> r.getString(r.fieldIndex("tag")).equals("plain")).findFirst().orElseThrow();
        assertNull(withLora.get(withLora.fieldIndex("error")), () -> String.valueOf(withLora.get(withLora.fieldIndex("error"))));
        RgbImage got = RgbImage.read(new ByteArrayInputStream((byte[]) withLora.get(withLora.fieldIndex("png"))), "png");
        GenerationRequest request = GenerationRequest.builder("a harbour <lora:ink:0.8>").seed(9).steps(2).cfgScale(7.5)
                .sampler(Sampler.EULER).size(64, 64).build();
        try (StableDiffusion sd = StableDiffusion.load(TinyModel.path(),
                ModelOptions.defaults().withThreads(1).withAddOns(AddOns.none().withLoraDir(loras)))) {
            assertArrayEquals(sd.generate(request, StepListener.NONE).images().getFirst().image().rgb(), got.rgb());
        }
        assertTrue(withLora.getString(withLora.fieldIndex("parameters")).contains("Lora hashes: "), withLora.getString(withLora.fieldIndex("parameters")));
        assertTrue(!Arrays.equals(got.rgb(), RgbImage.read(new ByteArrayInputStream((byte[]) plain.get(plain.fieldIndex("png"))), "png").rgb()),
                "the LoRA changes the picture");
    }

    @Test
    void badRowsFailAloneWithTheirError() {
        StructType schema = new StructType().add("prompt", DataTypes.StringType).add("seed", DataTypes.StringType)
                .add("steps", DataTypes.StringType).add("sampler", DataTypes.StringType).add("width", DataTypes.StringType)
                .add("strength", DataTypes.StringType).add("init_image", DataTypes.StringType).add("tag", DataTypes.StringType);
        List<Row> rows = List.of(
                RowFactory.create("fine", "11", "2", null, "64", null, null, "ok1"),
                RowFactory.create("zero steps", null, "0", null, "64", null, null, "steps"),
                RowFactory.create("odd sampler", null, "2", "nope", "64", null, null, "sampler"),
                RowFactory.create("odd width", null, "2", null, "100", null, null, "width"),
                RowFactory.create(null, null, "2", null, "64", null, null, "prompt"),
                RowFactory.create("bad seed", "x1", "2", null, "64", null, null, "seed"),
                RowFactory.create("no init", null, "2", null, "64", "0.5", null, "strength"),
                RowFactory.create("missing init", null, "2", null, "64", "0.5", "/no/such/init.png", "init"),
                RowFactory.create("fine too", " 12 ", "2", "euler", "64", null, null, "ok2"));
        Dataset<Row> requests = spark.createDataFrame(rows, schema).withColumn("height", org.apache.spark.sql.functions.lit(64)).repartition(2);
        Map<String, String> expected = Map.of(
                "steps", "steps must be between 1 and 1000, got 0",
                "sampler", "unknown sampler 'nope'",
                "width", "width must be a multiple of 8, got 100",
                "prompt", "prompt is missing",
                "seed", "seed must be a whole number, got 'x1'",
                "strength", "strength is for img2img, but this row has no init_image",
                "init", "init_image /no/such/init.png not found");
        List<Row> results = EmberSpark.generate(requests, EmberSparkOptions.defaults()).collectAsList();
        assertEquals(rows.size(), results.size());
        for (Row r : results) {
            String tag = r.getString(r.fieldIndex("tag"));
            String error = r.getString(r.fieldIndex("error"));
            if (tag.startsWith("ok")) {
                assertNull(error, tag);
                assertNotNull(r.get(r.fieldIndex("png")));
                assertEquals(tag.equals("ok1") ? 11L : 12L, r.getLong(r.fieldIndex("seed")));
            } else {
                assertNotNull(error, tag);
                assertTrue(error.startsWith(expected.get(tag)), tag + ": " + error);
                assertNull(r.get(r.fieldIndex("png")), tag);
                assertNull(r.get(r.fieldIndex("parameters")), tag);
            }
        }
    }

    @Test
    void missingColumnsTakeEmbersDefaultsAndOtherColumnsPassThrough() {
        StructType schema = new StructType().add("Prompt", DataTypes.StringType).add("steps", DataTypes.LongType)
                .add("width", DataTypes.LongType).add("height", DataTypes.LongType).add("note", DataTypes.StringType);
        Dataset<Row> requests = spark.createDataFrame(List.of(RowFactory.create("a cat", 2L, 64L, 64L, "kept")), schema);
        Dataset<Row> out = EmberSpark.generate(requests, EmberSparkOptions.defaults());
        assertEquals(List.of("Prompt", "steps", "width", "height", "note", "png", "seed", "parameters", "metadata", "error", "seconds"),
                Arrays.asList(out.columns()));
        Row r = out.collectAsList().getFirst();
        assertNull(r.get(r.fieldIndex("error")));
        assertEquals("kept", r.getString(r.fieldIndex("note")));
        ImageParameters p = PngMetadata.read(write((byte[]) r.get(r.fieldIndex("png")))).ember();
        assertEquals(42, p.seed());
        assertEquals(7.5, p.cfgScale());
        assertEquals("lms", p.sampler());
        assertEquals("", p.negativePrompt());
        assertEquals(TinyModel.PRESET, p.modelPreset());
    }

    @Test
    void anInitImageGivenAsBytesWorksAsOneGivenAsAPath() throws IOException {
        Path init = dir.resolve("init.png");
        new RgbImage(64, 64, noise(64 * 64 * 3)).writePng(init);
        StructType byPath = new StructType().add("prompt", DataTypes.StringType).add("init_image", DataTypes.StringType)
                .add("strength", DataTypes.DoubleType).add("steps", DataTypes.IntegerType).add("width", DataTypes.IntegerType)
                .add("height", DataTypes.IntegerType);
        StructType byBytes = new StructType(Arrays.stream(byPath.fields())
                .map(f -> f.name().equals("init_image") ? DataTypes.createStructField("init_image", DataTypes.BinaryType, true) : f)
                .toArray(org.apache.spark.sql.types.StructField[]::new));
        Row a = EmberSpark.generate(spark.createDataFrame(List.of(RowFactory.create("a map", init.toString(), 0.6, 4, 64, 64)), byPath),
                EmberSparkOptions.defaults()).first();
        Row b = EmberSpark.generate(spark.createDataFrame(List.of(RowFactory.create("a map", Files.readAllBytes(init), 0.6, 4, 64, 64)), byBytes),
                EmberSparkOptions.defaults()).first();
        assertNull(a.get(a.fieldIndex("error")));
        assertNull(b.get(b.fieldIndex("error")));
        assertArrayEquals(RgbImage.read(new ByteArrayInputStream((byte[]) a.get(a.fieldIndex("png"))), "a").rgb(),
                RgbImage.read(new ByteArrayInputStream((byte[]) b.get(b.fieldIndex("png"))), "b").rgb());
        ImageParameters pa = PngMetadata.read(write((byte[]) a.get(a.fieldIndex("png")))).ember();
        ImageParameters pb = PngMetadata.read(write((byte[]) b.get(b.fieldIndex("png")))).ember();
        assertEquals("img2img", pb.mode());
        assertEquals(init.toAbsolutePath().toString(), pa.initImage());
        assertNull(pb.initImage(), "bytes have no path");
        assertEquals(pa.initImageSha256(), pb.initImageSha256());
        assertEquals(0.6, pb.strength());
    }

    @Test
    void tablesThatCannotHoldRequestsFailAtOnce() {
        Dataset<Row> noPrompt = spark.createDataFrame(List.of(RowFactory.create("x")), new StructType().add("text", DataTypes.StringType));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> EmberSpark.generate(noPrompt, EmberSparkOptions.defaults()));
        assertTrue(e.getMessage().contains("no 'prompt' column (columns: text)"), e.getMessage());

        Dataset<Row> clash = spark.createDataFrame(List.of(RowFactory.create("x", "y")),
                new StructType().add("prompt", DataTypes.StringType).add("error", DataTypes.StringType));
        e = assertThrows(IllegalArgumentException.class, () -> EmberSpark.generate(clash, EmberSparkOptions.defaults()));
        assertTrue(e.getMessage().contains("column 'error'"), e.getMessage());

        Dataset<Row> badType = spark.createDataFrame(List.of(RowFactory.create("x", List.of(1, 2))),
                new StructType().add("prompt", DataTypes.StringType).add("steps", DataTypes.createArrayType(DataTypes.IntegerType)));
        e = assertThrows(IllegalArgumentException.class, () -> EmberSpark.generate(badType, EmberSparkOptions.defaults()));
        assertTrue(e.getMessage().contains("column 'steps' has type array<int>"), e.getMessage());
    }

    @Test
    void theModelLoadsOncePerJvmForEveryPartitionAndJob() throws IOException {
        // A model file of this test's own, so no other test has loaded it.
        Path model = Files.copy(TinyModel.path(), dir.resolve("own-tiny.safetensors"));
        EmberSparkOptions options = EmberSparkOptions.defaults().withModel(model.toString());
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < 6; i++) rows.add(row("prompt " + i, null, i, 1, 7.5, "euler", 64, 64, null, null, "t" + i));
        int before = EmberSpark.modelLoadsInThisJvm();

        assertEquals(6, EmberSpark.generate(spark.createDataFrame(rows, SCHEMA).repartition(3), options)
                .filter("error is null").count());
        assertEquals(6, EmberSpark.generate(spark.createDataFrame(rows, SCHEMA).repartition(4), options)
                .filter("error is null").count());

        assertEquals(1, EmberSpark.modelLoadsInThisJvm() - before, "one load for 7 partitions in two jobs on two task slots");
        ExecutorModels.Key key = ExecutorModels.loaded().stream().filter(k -> k.model().equals(model.toAbsolutePath().normalize()))
                .findFirst().orElseThrow();
        assertEquals(1, key.options().threads(), "threads = spark.task.cpus");
        assertTrue(!key.options().weightsInPlace(), "executors own their weights");
    }

    @Test
    void aModelThatCannotLoadFailsTheJobWithItsReason() throws IOException {
        Path corrupt = Files.writeString(dir.resolve("corrupt.safetensors"), "junk");
        Dataset<Row> requests = spark.createDataFrame(List.of(row("x", null, 1, 1, 7.5, "euler", 64, 64, null, null, "t")), SCHEMA);
        Exception e = assertThrows(Exception.class,
                () -> EmberSpark.generate(requests, EmberSparkOptions.defaults().withModel(corrupt.toString())).collectAsList());
        // What ember batch prints for a job that failed on a cluster's executor: the engine's one line, not Spark's trace.
        assertEquals(corrupt + ": truncated: 4 bytes, too short for a safetensors header", BatchCommand.namedCause(e));
        // The same when the load is for a row's default size (no width, no height): the task fails, not the row.
        Dataset<Row> promptOnly = spark.createDataFrame(List.of(RowFactory.create("x")), new StructType().add("prompt", DataTypes.StringType));
        e = assertThrows(Exception.class,
                () -> EmberSpark.generate(promptOnly, EmberSparkOptions.defaults().withModel(corrupt.toString())).collectAsList());
        assertEquals(corrupt + ": truncated: 4 bytes, too short for a safetensors header", BatchCommand.namedCause(e));
    }

    /** The same request through the command line, into its own folder; the picture it wrote. */
    private static Path commandLinePicture(Row q, Path out) throws IOException {
        List<String> args = new ArrayList<>(List.of(q.isNullAt(9) ? "txt2img" : "img2img", "-p", q.getString(0),
                "-S", Long.toString(q.getLong(2)), "-s", Integer.toString(q.getInt(3)), "-C", Double.toString(q.getDouble(4)),
                "-A", q.getString(5), "-W", Integer.toString(q.getInt(6)), "-H", Integer.toString(q.getInt(7)),
                "--out", out.toString()));
        if (!q.isNullAt(1)) args.addAll(List.of("--negative", q.getString(1)));
        if (!q.isNullAt(9)) args.addAll(List.of("-I", q.getString(9), "-f", Double.toString(q.getDouble(8))));
        StringWriter err = new StringWriter();
        CommandLine cl = EmberCommand.commandLine();
        cl.setOut(new PrintWriter(new StringWriter()));
        cl.setErr(new PrintWriter(err));
        assertEquals(0, cl.execute(args.toArray(String[]::new)), err::toString);
        try (Stream<Path> files = Files.list(out)) {
            return files.filter(f -> f.toString().endsWith(".png")).findFirst().orElseThrow();
        }
    }

    private Path write(byte[] png) {
        try {
            return Files.write(Files.createTempFile(dir, "row-", ".png"), png);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static Map<String, Object> withoutThreads(ImageParameters p) {
        Map<String, Object> fields = PngMetadata.toMap(p);
        fields.remove("threads");
        return fields;
    }

    private static byte[] noise(int n) {
        byte[] b = new byte[n];
        new java.util.Random(3).nextBytes(b);
        return b;
    }
}
