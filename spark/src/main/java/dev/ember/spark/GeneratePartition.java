package dev.ember.spark;

import dev.ember.engine.GeneratedImage;
import dev.ember.engine.StableDiffusion;
import dev.ember.engine.StepListener;
import dev.ember.engine.metadata.ImageParameters;
import dev.ember.engine.metadata.Infotext;
import dev.ember.engine.metadata.PngMetadata;
import java.util.Iterator;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.util.TaskCompletionListener;

/**
 * Generates one partition on an executor, row by row as Spark pulls them. The JVM's shared model is taken
 * at the first row that needs it (to generate, or for its default size; a partition of rows whose values
 * do not parse loads nothing) and given back when the task ends.
 * A row whose values or generation fail gets its {@code error}; failing to load the model fails the task,
 * so Spark retries it and, if every try fails, reports the job's cause.
 */
final class GeneratePartition implements MapPartitionsFunction<Row, Row> {
    private final EmberSparkOptions options;
    private final RequestColumns requests;
    private final ResultColumns results;

    GeneratePartition(EmberSparkOptions options, RequestColumns requests, ResultColumns results) {
        this.options = options;
        this.requests = requests;
        this.results = results;
    }

    @Override
    public Iterator<Row> call(Iterator<Row> rows) {
        TaskContext task = TaskContext.get();
        int taskCpus = task == null ? 1 : task.cpus();
        return new Iterator<>() {
            private SharedResources<ExecutorModels.Key, StableDiffusion>.Lease model;
            private RuntimeException loadFailure;

            @Override
            public boolean hasNext() {
                boolean more = rows.hasNext();
                if (!more && model != null) model.close(); // done early; the completion listener is then a no-op
                return more;
            }

            /** The JVM's shared model, taken at the first row that needs it and given back when the task ends. */
            private StableDiffusion model() {
                if (model == null) {
                    SharedResources<ExecutorModels.Key, StableDiffusion>.Lease lease;
                    try {
                        lease = ExecutorModels.acquire(options, taskCpus);
                    } catch (RuntimeException e) {
                        loadFailure = e;
                        throw e;
                    }
                    model = lease;
                    if (task != null) task.addTaskCompletionListener((TaskCompletionListener) context -> lease.close());
                }
                return model.get();
            }

            @Override
            public Row next() {
                Row row = rows.next();
                long start = System.nanoTime();
                RequestColumns.Parsed parsed;
                try {
                    parsed = requests.read(row, () -> model().defaultImageSize());
                } catch (RuntimeException e) {
                    if (e == loadFailure) throw e; // the model, not the row: fail the task
                    return results.failed(row, requests.seedOrNull(row), message(e), seconds(start));
                }
                StableDiffusion sd = model();
                try {
                    GeneratedImage image = sd.generate(parsed.request(), StepListener.NONE).images().getFirst();
                    ImageParameters parameters = ImageParameters.of(parsed.request(), sd, parsed.initName(), parsed.initSha256());
                    byte[] png = PngMetadata.encode(image.image(), parameters);
                    return results.succeeded(row, png, image.seed(), Infotext.format(parameters), PngMetadata.toJson(parameters),
                            seconds(start));
                } catch (RuntimeException e) {
                    return results.failed(row, parsed.request().seed(), message(e), seconds(start));
                }
            }
        };
    }

    private static double seconds(long start) {
        return (System.nanoTime() - start) / 1e9;
    }

    private static String message(RuntimeException e) {
        return e.getMessage() == null || e.getMessage().isBlank() ? e.getClass().getSimpleName() : e.getMessage();
    }
}
