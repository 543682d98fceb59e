package dev.ember.spark;

import dev.ember.engine.ModelOptions;
import dev.ember.engine.StableDiffusion;
import dev.ember.engine.metadata.ImageParameters;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.apache.spark.SparkFiles;

/**
 * The models of this JVM (a Spark executor, or the driver in local mode): one {@link StableDiffusion} per
 * model file and options, loaded by the first task that needs it, shared by every later task and partition
 * of every job, and closed when the JVM shuts down.
 */
final class ExecutorModels {
    /**
     * What identifies a loaded model: the file with its size and modification time (a file replaced under a
     * running executor is loaded anew) and the engine's options.
     */
    record Key(Path model, long size, long modified, ModelOptions options) {}

    private static final SharedResources<Key, StableDiffusion> MODELS =
            new SharedResources<>(key -> StableDiffusion.load(key.model(), key.options()));

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(MODELS::shutdown, "ember-models-shutdown"));
    }

    private ExecutorModels() {}

    /** A share of the model {@code options} name, loaded with threads for a task of {@code taskCpus} cores. */
    static SharedResources<Key, StableDiffusion>.Lease acquire(EmberSparkOptions options, int taskCpus) {
        Path model = locate(options);
        Long size = ImageParameters.sizeOf(model);
        long modified;
        try {
            modified = Files.getLastModifiedTime(model).toMillis();
        } catch (IOException e) {
            modified = -1; // missing: the load reports it
        }
        return MODELS.acquire(new Key(model.toAbsolutePath().normalize(), size == null ? -1 : size, modified,
                options.modelOptions(taskCpus)));
    }

    /**
     * The model file on this machine: the path as given, or, for a relative name that is not there, the copy
     * {@code spark-submit --files} shipped to this executor.
     */
    static Path locate(EmberSparkOptions options) {
        Path path = options.modelPath();
        if (path.isAbsolute() || Files.exists(path) || path.getFileName() == null) return path;
        try {
            Path shipped = Path.of(SparkFiles.get(path.getFileName().toString()));
            return Files.exists(shipped) ? shipped : path;
        } catch (RuntimeException noSparkContext) {
            return path;
        }
    }

    /** How many models this JVM has loaded so far. */
    static int loads() {
        return MODELS.loads();
    }

    /** The models loaded now (held by a task or kept for the next one). */
    static Set<Key> loaded() {
        return MODELS.loaded();
    }
}
