package dev.ember.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.engine.TinyModel;
import dev.ember.engine.metadata.ImageParameters;
import dev.ember.engine.metadata.PngMetadata;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.spark.scheduler.JobSucceeded$;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerJobEnd;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code ember batch} end to end on the test JVM's local Spark: pictures with metadata, resuming, bad rows, inputs. */
class BatchCommandTest {
    static SparkSession spark;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() {
        spark = SparkTests.spark();
    }

    record Run(int exitCode, String out, String err) {}

    static Run batch(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        CommandLine cl = BatchCommand.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void writesEveryPictureWithMetadataAndAReRunResumes() throws IOException {
        Path input = Files.writeString(dir.resolve("prompts.jsonl"), """
                {"prompt": "a lighthouse at dusk", "seed": 7}
                {"prompt": "a red fox", "sampler": "euler_a", "negative_prompt": "blurry"}
                {"prompt": "a bowl of fruit", "seed": 9, "steps": 3}
                {"prompt": "mountains", "seed": 10, "cfg": 4}
                """);
        Path out = dir.resolve("pictures");
        Run first = batch("--input", input.toString(), "--out", out.toString(), "-s", "2", "-W", "64", "-H", "64", "-S", "5");
        assertEquals(0, first.exitCode(), first.err());
        assertTrue(first.out().contains("4 rows, 4 to make"), first.out());
        Map<String, String> prompts = Map.of("000001.7.png", "a lighthouse at dusk", "000002.5.png", "a red fox",
                "000003.9.png", "a bowl of fruit", "000004.10.png", "mountains");
        assertEquals(prompts.keySet(), pictures(out).keySet());
        for (var e : prompts.entrySet()) {
            PngMetadata.Found found = PngMetadata.read(out.resolve(e.getKey()));
            ImageParameters p = found.ember();
            assertEquals(e.getValue(), p.prompt());
            assertEquals(e.getKey().equals("000003.9.png") ? 3 : 2, p.steps(), "the row's steps win over -s");
            assertEquals(64, p.width());
            assertTrue(found.parameters().startsWith(e.getValue() + "\n"), found.parameters());
        }
        assertEquals("euler_a", PngMetadata.read(out.resolve("000002.5.png")).ember().sampler());
        assertEquals("blurry", PngMetadata.read(out.resolve("000002.5.png")).ember().negativePrompt());
        List<Row> results = spark.read().parquet(out.resolve(BatchCommand.RESULTS).toString())
                .select("id", "file", "seed", "error", "parameters").orderBy("id").collectAsList();
        assertEquals(List.of("000001.7.png", "000002.5.png", "000003.9.png", "000004.10.png"),
                results.stream().map(r -> r.getString(1)).toList());
        results.forEach(r -> assertNull(r.get(3)));

        Map<String, FileTime> before = everything(out);
        Run again = batch("--input", input.toString(), "--out", out.toString(), "-s", "2", "-W", "64", "-H", "64", "-S", "5");
        assertEquals(0, again.exitCode(), again.err());
        assertTrue(again.out().contains("nothing to do"), again.out());
        assertEquals(before, everything(out), "a finished run re-run writes nothing");

        // An interrupted run: one picture missing. The re-run makes exactly that one, with the same bytes.
        byte[] second = Files.readAllBytes(out.resolve("000002.5.png"));
        Files.delete(out.resolve("000002.5.png"));
        Run resumed = batch("--input", input.toString(), "--out", out.toString(), "-s", "2", "-W", "64", "-H", "64", "-S", "5");
        assertEquals(0, resumed.exitCode(), resumed.err());
        assertTrue(resumed.out().contains("4 rows, 1 to make (3 already in"), resumed.out());
        assertArrayEquals(second, Files.readAllBytes(out.resolve("000002.5.png")));
        Map<String, FileTime> after = pictures(out);
        for (String name : List.of("000001.7.png", "000003.9.png", "000004.10.png")) assertEquals(before.get(name), after.get(name), name);
        assertEquals(5, spark.read().parquet(out.resolve(BatchCommand.RESULTS).toString()).count(), "each run appends its rows");
    }

    @Test
    void badRowsAreListedWhileTheOthersAreWritten() throws IOException {
        Path input = Files.writeString(dir.resolve("prompts.csv"), """
                prompt,steps,width,height,seed
                "a cat, sitting",2,64,64,1
                a dog,zero,64,64,2
                "a bird",2,64,64,3
                """);
        Path out = dir.resolve("pictures");
        Path model = Files.copy(TinyModel.path(), dir.resolve("own-tiny.safetensors")); // loaded by no other test
        int loads = EmberSpark.modelLoadsInThisJvm();
        Run run = batch("--input", input.toString(), "--out", out.toString(), "--model", model.toString());
        assertEquals(1, EmberSpark.modelLoadsInThisJvm() - loads, "the driver's check and the tasks share one load");
        assertEquals(1, run.exitCode(), run.out() + run.err());
        assertTrue(run.err().contains("1 of 3 rows failed"), run.err());
        assertTrue(run.err().contains("000002: steps must be a whole number, got 'zero'"), run.err());
        assertEquals(List.of("000001.1.png", "000003.3.png"), List.copyOf(pictures(out).keySet()));
        assertEquals("a cat, sitting", PngMetadata.read(out.resolve("000001.1.png")).ember().prompt());
        Row failed = spark.read().parquet(out.resolve(BatchCommand.RESULTS).toString()).filter("id = '000002'").first();
        assertEquals("steps must be a whole number, got 'zero'", failed.getString(failed.fieldIndex("error")));
        assertNull(failed.get(failed.fieldIndex("file")));
    }

    @Test
    void parquetInputNamesPicturesByItsIdColumn() throws IOException {
        StructType schema = new StructType().add("ID", DataTypes.LongType).add("prompt", DataTypes.StringType)
                .add("steps", DataTypes.LongType);
        Path input = dir.resolve("prompts.parquet");
        spark.createDataFrame(List.of(RowFactory.create(17L, "a tree", 1L), RowFactory.create(4L, "a rock", 2L)), schema)
                .write().parquet(input.toString());
        Path out = dir.resolve("pictures");
        Run run = batch("--input", input.toString(), "--out", out.toString(), "-W", "64", "-H", "64", "-S", "3");
        assertEquals(0, run.exitCode(), run.err());
        assertEquals(List.of("17.3.png", "4.3.png"), List.copyOf(pictures(out).keySet()));
        assertEquals("a rock", PngMetadata.read(out.resolve("4.3.png")).ember().prompt());
    }

    @Test
    void unusableInputsFailBeforeAnyWork() throws Exception {
        Path out = dir.resolve("pictures");
        Path ids = Files.writeString(dir.resolve("ids.jsonl"), """
                {"id": "../escape", "prompt": "x"}
                {"id": "twice", "prompt": "y"}
                {"id": "twice", "prompt": "z"}
                """);
        Run bad = batch("--input", ids.toString(), "--out", out.toString());
        assertEquals(1, bad.exitCode());
        assertTrue(bad.err().contains("id '../escape' cannot be a file name"), bad.err());
        assertTrue(bad.err().contains("id 'twice' is used by 2 rows"), bad.err());

        Path clash = Files.writeString(dir.resolve("clash.jsonl"), "{\"prompt\": \"x\", \"file\": \"y\"}\n");
        Run taken = batch("--input", clash.toString(), "--out", out.toString());
        assertEquals(1, taken.exitCode());
        assertTrue(taken.err().contains("has a column 'file', which results.parquet uses"), taken.err());

        Path noPrompt = Files.writeString(dir.resolve("text.jsonl"), "{\"text\": \"x\"}\n");
        Run missing = batch("--input", noPrompt.toString(), "--out", out.toString());
        assertEquals(1, missing.exitCode());
        assertTrue(missing.err().contains("no 'prompt' column"), missing.err());

        Run format = batch("--input", Files.writeString(dir.resolve("p.txt"), "x").toString(), "--out", out.toString());
        assertEquals(1, format.exitCode());
        assertTrue(format.err().contains("give a .jsonl, .json, .csv or .parquet file"), format.err());

        Run model = batch("--input", noPrompt.toString(), "--out", out.toString(), "--model", dir.resolve("none.safetensors").toString());
        assertEquals(1, model.exitCode());
        assertTrue(model.err().contains("none.safetensors not found"), model.err());

        Path corrupt = Files.writeString(dir.resolve("corrupt.safetensors"), "junk");
        Path one = Files.writeString(dir.resolve("one.jsonl"), "{\"prompt\": \"x\", \"steps\": 1}\n");
        AtomicInteger failedJobs = new AtomicInteger();
        SparkListener jobs = new SparkListener() {
            @Override
            public void onJobEnd(SparkListenerJobEnd end) {
                if (end.jobResult() != JobSucceeded$.MODULE$) failedJobs.incrementAndGet();
            }
        };
        spark.sparkContext().addSparkListener(jobs);
        Run unreadable = batch("--input", one.toString(), "--out", out.toString(), "--model", corrupt.toString());
        spark.sparkContext().listenerBus().waitUntilEmpty();
        spark.sparkContext().removeSparkListener(jobs);
        assertEquals(0, failedJobs.get(), "a local run reads the model before its job, so no Spark job fails");
        assertEquals(1, unreadable.exitCode(), unreadable.err());
        assertEquals(1, unreadable.err().lines().count(), unreadable.err());
        assertTrue(unreadable.err().startsWith("ember: " + corrupt + ": truncated"), unreadable.err());
        assertTrue(!Files.exists(out.resolve(BatchCommand.RESULTS)), "no job ran");

        Run usage = batch("--out", out.toString());
        assertEquals(2, usage.exitCode());
        assertTrue(usage.err().contains("Missing required option: '--input=FILE'"), usage.err());
        assertEquals(List.of(), List.copyOf(pictures(out).keySet()));
    }

    @Test
    void aLocalMastersCoresAreItsTaskSlots() {
        assertEquals(1, BatchCommand.localCores("local"));
        assertEquals(4, BatchCommand.localCores("local[4]"));
        assertEquals(3, BatchCommand.localCores("local[3,2]"));
        assertEquals(Runtime.getRuntime().availableProcessors(), BatchCommand.localCores("local[*]"));
        assertEquals(0, BatchCommand.localCores("yarn"));
        assertEquals(0, BatchCommand.localCores("spark://host:7077"));
    }

    /** The PNGs in a folder with their modification times, by name. */
    private static Map<String, FileTime> pictures(Path folder) throws IOException {
        return everything(folder).entrySet().stream().filter(e -> e.getKey().endsWith(".png") && !e.getKey().contains("/"))
                .collect(Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue, (a, b) -> a, TreeMap::new));
    }

    /** Every file under a folder (relative path) with its modification time. */
    private static Map<String, FileTime> everything(Path folder) throws IOException {
        Map<String, FileTime> files = new TreeMap<>();
        if (!Files.isDirectory(folder)) return files;
        try (Stream<Path> all = Files.walk(folder)) {
            for (Path f : all.filter(Files::isRegularFile).toList()) files.put(folder.relativize(f).toString(), Files.getLastModifiedTime(f));
        }
        return files;
    }
}
