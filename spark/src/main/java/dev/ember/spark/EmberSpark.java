package dev.ember.spark;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;

/**
 * Ember as a Spark transformation: a table of prompts in, the same table with a picture per row out.
 *
 * <pre>{@code
 * Dataset<Row> prompts = spark.read().json("prompts.jsonl");          // prompt, seed, steps, ...
 * Dataset<Row> images = EmberSpark.generate(prompts,
 *         EmberSparkOptions.defaults().withModel("/models/v1-5-pruned-emaonly.safetensors"));
 * images.filter("error is null").select("prompt", "seed", "png").write().parquet("images.parquet");
 * }</pre>
 *
 * <p>Input columns (any case; only {@code prompt} is required, missing columns and null cells take
 * Ember's defaults): {@code prompt}, {@code negative_prompt}, {@code seed}, {@code steps}, {@code cfg},
 * {@code sampler}, {@code schedule}, {@code noise}, {@code width}, {@code height}, and for img2img
 * {@code init_image} (the image file's bytes, or its path as the executors see it) with {@code strength}.
 * Numbers may be given as numbers or text. Other columns pass through untouched.
 *
 * <p>Output: the input's columns, then {@code png} (the picture with the command line's metadata),
 * {@code seed} (the seed used), {@code parameters} (AUTOMATIC1111's text), {@code metadata} (Ember's JSON),
 * {@code error} (null when the row worked, else why it did not: a bad row never fails the job) and
 * {@code seconds}.
 *
 * <p>Each executor JVM loads the model once, at its first row, and every later task and partition shares
 * it; native threads are the task's {@code spark.task.cpus} unless {@link EmberSparkOptions#threads()} says
 * otherwise. The same row gives the same pixels on any executor, so task retries and speculative copies
 * are harmless. Lazy, as any transformation: nothing runs until an action.
 */
public final class EmberSpark {
    public static final String PROMPT = "prompt";
    public static final String NEGATIVE_PROMPT = "negative_prompt";
    public static final String SEED = "seed";
    public static final String STEPS = "steps";
    public static final String CFG = "cfg";
    public static final String SAMPLER = "sampler";
    public static final String SCHEDULE = "schedule";
    public static final String NOISE = "noise";
    public static final String WIDTH = "width";
    public static final String HEIGHT = "height";
    public static final String STRENGTH = "strength";
    public static final String INIT_IMAGE = "init_image";

    public static final String PNG = "png";
    public static final String PARAMETERS = "parameters";
    public static final String METADATA = "metadata";
    public static final String ERROR = "error";
    public static final String SECONDS = "seconds";

    private EmberSpark() {}

    /**
     * The requests with a picture per row (see the class comment for the columns).
     *
     * @throws IllegalArgumentException (one line) when the table cannot hold requests: no {@code prompt}
     *                                  column, a request column of an unusable type, or an input column
     *                                  named like an output column
     */
    public static Dataset<Row> generate(Dataset<Row> requests, EmberSparkOptions options) {
        RequestColumns in = RequestColumns.of(requests.schema());
        ResultColumns out = ResultColumns.of(requests.schema());
        return requests.mapPartitions(new GeneratePartition(options, in, out), Encoders.row(out.schema()));
    }

    /** How many models this JVM has loaded for {@link #generate} (on a local-mode driver: all of them). */
    public static int modelLoadsInThisJvm() {
        return ExecutorModels.loads();
    }
}
