package dev.ember.spark;

import dev.ember.engine.EmberException;
import dev.ember.engine.TinyModel;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ember batch}: every row of a prompts file becomes {@code DIR/<id>.<seed>.png} (with the command
 * line's metadata), run as a Spark job, locally or under {@code spark-submit}; the rows' outcomes are
 * appended to {@code DIR/results.parquet}. Rows whose picture exists are skipped, so an interrupted run
 * resumes where it stopped and a finished one does nothing.
 *
 * <p>Exit codes as the command line's: 0 every row made, 1 bad input or some rows failed (each failed row
 * is listed), 2 bad usage.
 */
@Command(name = "ember batch", mixinStandardHelpOptions = true, sortOptions = false, versionProvider = BatchCommand.Version.class,
        description = {"Make a picture for every row of a prompts table, on Apache Spark (local, or a cluster through spark-submit).",
                "Columns: prompt (required), negative_prompt, seed, steps, cfg, sampler, schedule, noise, width, height, "
                        + "init_image (a path) and strength for img2img, id (names the picture; default: the row number). "
                        + "Options below fill in cells a row leaves empty."},
        footer = {"", "Examples:",
                "  ember batch --input prompts.jsonl --out pictures/ --model v1-5-pruned-emaonly.safetensors -s 30",
                "  ember batch --input prompts.csv --out pictures/ --master 'local[2]' --threads 1",
                "  spark-submit --class dev.ember.spark.BatchCommand ember-spark.jar --input /shared/p.parquet --out /shared/pictures/"})
public final class BatchCommand implements Callable<Integer> {
    static final String RESULTS = "results.parquet";
    static final String RUN = "run";

    @Option(names = "--input", required = true, paramLabel = "FILE",
            description = "Prompts: .jsonl (JSON lines), .csv (with a header) or .parquet; a local path or a URI Spark reads (hdfs://...).")
    String input;

    @Option(names = "--out", required = true, paramLabel = "DIR",
            description = "Folder for the pictures and results.parquet; on a cluster, one that every executor can write.")
    Path out;

    @Option(names = "--model", paramLabel = "PATH",
            description = "Checkpoint as the executors see it (a shared path, or a file shipped with spark-submit --files) "
                    + "(default: Ember's tiny synthetic model, which draws noise).")
    String model;

    @Option(names = "--master", paramLabel = "URL",
            description = "Spark master, e.g. local[2] (default: spark-submit's, else local[*]).")
    String master;

    @Option(names = "--partitions", paramLabel = "N", description = "Spark partitions of the rows to make (default: 4 per task slot, at most one per row).")
    Integer partitions;

    @Option(names = "--threads", paramLabel = "N", description = "Native threads per task (default: spark.task.cpus; with a local master, "
            + "which then runs one task at a time, all its cores).")
    Integer threads;

    @Option(names = "--device", paramLabel = "DEVICE", description = "cpu, cuda:0, ... on every executor (default: cpu).")
    String device;

    @Option(names = "--weight-type", paramLabel = "TYPE", description = "auto, f32, f16, q8_0 or q4_0 (default: auto).")
    String weightType;

    @Option(names = "--flash-attention", negatable = true, description = "ggml's fused attention (default: on unless the weights are f32).")
    Boolean flashAttention;

    @Option(names = "--lora-dir", paramLabel = "DIR", description = "Folder of LoRAs that prompts name with <lora:NAME:WEIGHT> (a path the executors can read).")
    String loraDir;

    @Option(names = "--embeddings-dir", paramLabel = "DIR", description = "Folder of textual-inversion embeddings prompts may name.")
    String embeddingsDir;

    @Option(names = "--vae", paramLabel = "FILE", description = "A separate VAE replacing the checkpoint's.")
    String vae;

    @Option(names = {"-p", "--prompt"}, paramLabel = "TEXT", description = "Prompt of rows whose prompt is empty.")
    String prompt;

    @Option(names = "--negative", paramLabel = "TEXT", description = "Negative prompt of rows without one (default: none).")
    String negative;

    @Option(names = {"-S", "--seed"}, paramLabel = "N", description = "Seed of rows without one (default: 42).")
    Long seed;

    @Option(names = {"-s", "--steps"}, paramLabel = "N", description = "Steps of rows without them (default: 50).")
    Integer steps;

    @Option(names = {"-W", "--width"}, paramLabel = "PX", description = "Width of rows without one (default: the model's: 1024 for SDXL, 768 for SD 2.x v-models, else 512).")
    Integer width;

    @Option(names = {"-H", "--height"}, paramLabel = "PX", description = "Height of rows without one (default: the model's: 1024 for SDXL, 768 for SD 2.x v-models, else 512).")
    Integer height;

    @Option(names = {"-C", "--cfg"}, paramLabel = "SCALE", description = "CFG scale of rows without one (default: 7.5).")
    Double cfg;

    @Option(names = {"-A", "--sampler"}, paramLabel = "NAME", description = "Sampler of rows without one (default: lms).")
    String sampler;

    @Option(names = "--conf", paramLabel = "KEY=VALUE", description = "A Spark setting, e.g. --conf spark.task.cpus=2 (repeatable).")
    Map<String, String> conf = new LinkedHashMap<>();

    @Option(names = "--verbose", description = "Spark's INFO log and the stack traces of errors.")
    boolean verbose;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The command line with Ember's exit codes (tests call {@code execute} on it rather than main). */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new BatchCommand());
        cl.setOverwrittenOptionsAllowed(true);
        cl.setExecutionExceptionHandler(BatchCommand::handleError);
        cl.setParameterExceptionHandler((ex, args) -> {
            PrintWriter err = ex.getCommandLine().getErr();
            err.println("ember: " + ex.getMessage());
            ex.getCommandLine().usage(err);
            return 2;
        });
        return cl;
    }

    @Override
    public Integer call() throws IOException {
        PrintWriter stdout = spec.commandLine().getOut(), stderr = spec.commandLine().getErr();
        EmberSparkOptions options = options();
        boolean ownSession = SparkSession.getActiveSession().isEmpty() && SparkSession.getDefaultSession().isEmpty();
        SparkSession spark = session();
        try {
            return run(spark, options, stdout, stderr);
        } finally {
            stdout.flush();
            stderr.flush();
            if (ownSession) spark.stop();
        }
    }

    /** A path this machine has, made absolute (local executors run elsewhere); others as given, for the executors. */
    private static String absolute(String path) {
        if (path == null) return null;
        Path p = Path.of(path);
        return Files.exists(p) ? p.toAbsolutePath().normalize().toString() : path;
    }

    private EmberSparkOptions options() {
        if (partitions != null && partitions < 1) throw new CommandLine.ParameterException(spec.commandLine(), "--partitions must be at least 1");
        EmberSparkOptions o = EmberSparkOptions.defaults();
        if (model != null) {
            Path path = Path.of(model);
            // A model this machine has is named by its absolute path (what local executors and the metadata need);
            // one it does not have is left as given, for the executors to find (shared path, or shipped with --files).
            o = o.withModel(Files.exists(path) ? path.toAbsolutePath().normalize().toString() : model);
        }
        try {
            if (threads != null) o = o.withThreads(threads);
            if (device != null) o = o.withDevice(device);
            if (weightType != null) o = o.withWeightType(weightType);
            o = o.withAddOns(absolute(loraDir), absolute(embeddingsDir), absolute(vae));
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        return o.withFlashAttention(flashAttention);
    }

    private SparkSession session() {
        SparkConf given = new SparkConf(); // spark-submit's settings arrive as spark.* system properties
        String url = master != null ? master : given.get("spark.master", "local[*]");
        SparkSession.Builder builder = SparkSession.builder().appName("ember batch").master(url);
        if (url.startsWith("local")) {
            // One machine: nothing to serve to other hosts, no web UI on an open port, Spark's stage progress
            // bar on a terminal, and Spark's log quiet unless asked (a cluster keeps its own settings).
            builder.config("spark.ui.enabled", "false")
                    .config("spark.driver.bindAddress", "127.0.0.1")
                    .config("spark.driver.host", "127.0.0.1")
                    .config("spark.ui.showConsoleProgress", System.console() != null)
                    .config("spark.log.level", verbose ? "INFO" : "WARN");
            // An executor's tasks share one model whose compute runs one call at a time, so by default one task
            // runs at a time with every core as native threads, rather than one single-threaded task per core.
            int cores = localCores(url);
            if (threads == null && !conf.containsKey("spark.task.cpus") && !given.contains("spark.task.cpus") && cores > 1) {
                builder.config("spark.task.cpus", Integer.toString(cores));
            }
        }
        conf.forEach(builder::config);
        return builder.getOrCreate();
    }

    /** The cores of a local master ({@code local}, {@code local[4]}, {@code local[*]}, {@code local[4,2]}); 0 for any other. */
    static int localCores(String master) {
        Matcher m = LOCAL.matcher(master.strip());
        if (!m.matches()) return 0;
        if (m.group(1) == null) return 1;
        return m.group(1).equals("*") ? Runtime.getRuntime().availableProcessors() : Integer.parseInt(m.group(1));
    }

    private static final Pattern LOCAL = Pattern.compile("local(?:\\[(\\*|\\d+)(?:,\\d+)?])?");

    int run(SparkSession spark, EmberSparkOptions options, PrintWriter stdout, PrintWriter stderr) throws IOException {
        boolean local = spark.sparkContext().isLocal();
        if (options.model() == null) stderr.println(TinyModel.NOTICE);
        else if (local && !Files.exists(Path.of(options.model()))) throw new IllegalArgumentException("model " + options.model() + " not found");
        Path folder = out.toAbsolutePath().normalize();
        if (Files.exists(folder) && !Files.isDirectory(folder)) throw new IllegalArgumentException("--out " + out + " is a file, not a folder");
        Files.createDirectories(folder);

        Dataset<Row> table = withDefaults(BatchInput.withIds(spark, BatchInput.read(spark, input)));
        RequestColumns requests = RequestColumns.of(table.schema());
        ResultColumns.of(table.schema()); // a clash with an output column fails here, before any work
        for (String own : List.of(BatchPictures.FILE, RUN)) {
            if (RequestColumns.find(table.schema(), own) >= 0) {
                throw new IllegalArgumentException(input + " has a column '" + own + "', which results.parquet uses; rename or drop it");
            }
        }
        BatchInput.IdCheck ids = BatchInput.checkIds(table, 5);
        if (!ids.problems().isEmpty()) throw new IllegalArgumentException(input + ": " + String.join("; ", ids.problems()));

        long rows = ids.rows();
        Dataset<Row> todo = table.filter(new BatchPictures.Missing(folder, requests, table.schema().fieldIndex(BatchInput.ID)));
        long missing = todo.count();
        if (missing == 0) {
            stdout.printf(Locale.ROOT, "ember batch: nothing to do, the pictures of all %d rows are in %s%n", rows, folder);
            return 0;
        }
        int taskCpus = spark.sparkContext().getConf().getInt("spark.task.cpus", 1);
        int slots = Math.max(1, spark.sparkContext().defaultParallelism() / taskCpus);
        int parts = partitions != null ? partitions : (int) Math.min(missing, 4L * slots);
        stdout.printf(Locale.ROOT, "ember batch: %d rows, %d to make (%d already in %s), %d partitions on %s%n",
                rows, missing, rows - missing, folder, parts, spark.sparkContext().master());
        stdout.flush();

        String runId = Instant.now().toString();
        long start = System.nanoTime();
        String results = folder.resolve(RESULTS).toUri().toString();
        // On a local master the driver is the executor: it loads the JVM's shared model before the job (the
        // tasks then share that one load), so a model file that cannot be read stops the run with its one-line
        // error, not a failed Spark job. A cluster's executors load their own, and a failure fails the job.
        try (var model = local ? ExecutorModels.acquire(options, taskCpus) : null) {
            Dataset<Row> generated = EmberSpark.generate(todo.repartition(parts), options);
            BatchPictures.Write write = new BatchPictures.Write(folder, generated.schema());
            generated.mapPartitions(write, org.apache.spark.sql.Encoders.row(write.schema()))
                    .withColumn(RUN, functions.lit(runId))
                    .repartition(1) // one results file per run; the pictures were made by the partitions above
                    .write().mode(SaveMode.Append).parquet(results);
        }
        double seconds = (System.nanoTime() - start) / 1e9;

        Dataset<Row> thisRun = spark.read().parquet(results).filter(functions.col(RUN).equalTo(runId));
        Column error = functions.col(EmberSpark.ERROR);
        Row counts = thisRun.agg(functions.count_if(error.isNull()), functions.count_if(error.isNotNull())).first();
        long made = counts.getLong(0), failed = counts.getLong(1);
        stdout.printf(Locale.ROOT, "ember batch: wrote %d pictures to %s in %.1f s (%.2f s each); results in %s%n",
                made, folder, seconds, made == 0 ? 0.0 : seconds / made, folder.resolve(RESULTS));
        if (failed == 0) return 0;
        stderr.printf(Locale.ROOT, "ember: %d of %d rows failed:%n", failed, missing);
        int shown = 20;
        for (Row r : thisRun.filter(error.isNotNull()).select(BatchInput.ID, EmberSpark.ERROR).orderBy(BatchInput.ID).limit(shown).collectAsList()) {
            stderr.println("  " + r.getString(0) + ": " + r.getString(1));
        }
        if (failed > shown) stderr.printf(Locale.ROOT, "  ... and %d more (the error column of %s)%n", failed - shown, folder.resolve(RESULTS));
        return 1;
    }

    /** The table with the command line's values in the cells rows leave empty (text: rows parse it as they do theirs). */
    private Dataset<Row> withDefaults(Dataset<Row> table) {
        Map<String, Object> defaults = new LinkedHashMap<>();
        defaults.put(EmberSpark.PROMPT, prompt);
        defaults.put(EmberSpark.NEGATIVE_PROMPT, negative);
        defaults.put(EmberSpark.SEED, seed);
        defaults.put(EmberSpark.STEPS, steps);
        defaults.put(EmberSpark.WIDTH, width);
        defaults.put(EmberSpark.HEIGHT, height);
        defaults.put(EmberSpark.CFG, cfg);
        defaults.put(EmberSpark.SAMPLER, sampler);
        for (Map.Entry<String, Object> d : defaults.entrySet()) {
            if (d.getValue() == null) continue;
            int i = RequestColumns.find(table.schema(), d.getKey());
            var value = functions.lit(d.getValue().toString());
            if (i < 0) {
                table = table.withColumn(d.getKey(), value);
            } else {
                String name = table.schema().fieldNames()[i];
                table = table.withColumn(name, functions.coalesce(functions.col(name).cast("string"), value));
            }
        }
        return table;
    }

    /** Errors that name their cause print one line and exit 1; the stack trace only with --verbose. */
    private static int handleError(Exception ex, CommandLine cl, CommandLine.ParseResult parsed) {
        PrintWriter err = cl.getErr();
        String cause = namedCause(ex);
        if (cause != null) err.println("ember: " + cause);
        else err.println("ember: unexpected error: " + firstLine(ex.toString()));
        if (parsed != null && parsed.hasMatchedOption("--verbose")) ex.printStackTrace(err);
        err.flush();
        return 1;
    }

    /**
     * The first exception in the chain that names its cause for a user; for a job that failed on an executor,
     * Ember's exception as Spark's message quotes it ("... failure: Lost task ...: dev.ember...Exception: why").
     */
    static String namedCause(Throwable ex) {
        for (Throwable t = ex; t != null; t = t.getCause()) {
            if (t.getMessage() != null && (t instanceof EmberException || t instanceof IllegalArgumentException
                    || t instanceof IOException || t instanceof UncheckedIOException)) {
                return t.getMessage();
            }
            Matcher task = TASK_FAILURE.matcher(t.getMessage() == null ? "" : t.getMessage());
            if (task.find()) return task.group(1).strip();
        }
        return null;
    }

    private static final Pattern TASK_FAILURE = Pattern.compile("most recent failure: .*?\\bdev\\.ember\\.[\\w.]+Exception: ([^\\n]+)");

    private static String firstLine(String text) {
        int nl = text.indexOf('\n');
        return nl < 0 ? text : text.substring(0, nl);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String spark = org.apache.spark.SparkContext.class.getPackage().getImplementationVersion();
            return new String[] {"ember " + dev.ember.engine.Ember.version() + " on Spark " + (spark == null ? "(unknown version)" : spark)};
        }
    }
}
