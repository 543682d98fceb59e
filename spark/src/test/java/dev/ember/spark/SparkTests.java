package dev.ember.spark;

import dev.ember.engine.TinyModel;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import org.apache.spark.sql.SparkSession;

/**
 * The one local Spark of the test JVM: two task slots of one core each (spark.task.cpus = 1), so two
 * partitions really run at once, on 127.0.0.1 without a web UI; and a private Ember cache, so the tiny
 * model is made in a temporary folder and never in ~/.cache/ember.
 */
final class SparkTests {
    private static SparkSession spark;

    private SparkTests() {}

    static synchronized SparkSession spark() {
        if (spark == null) {
            try {
                System.setProperty(TinyModel.CACHE_PROPERTY, Files.createTempDirectory("ember-spark-cache-").toString());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            spark = SparkSession.builder()
                    .appName("ember-spark-tests")
                    .master("local[2]")
                    .config("spark.ui.enabled", "false")
                    .config("spark.driver.bindAddress", "127.0.0.1")
                    .config("spark.driver.host", "127.0.0.1")
                    .config("spark.sql.shuffle.partitions", "2")
                    .config("spark.log.level", "WARN")
                    .getOrCreate();
        }
        return spark;
    }
}
