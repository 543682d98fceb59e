package dev.ember.spark;

import dev.ember.engine.AddOns;
import dev.ember.engine.FlashAttention;
import dev.ember.engine.ModelOptions;
import dev.ember.engine.TinyModel;
import dev.ember.engine.WeightType;
import dev.ember.engine.sampling.Prediction;
import java.io.Serializable;
import java.nio.file.Path;

/**
 * Which model the executors load and how: the part of a generation that is the same for every row.
 * Serializable (it travels to the executors inside the task), so it keeps names and paths as strings;
 * each executor turns it into {@link ModelOptions} with {@link #modelOptions(int)}.
 *
 * @param model          the checkpoint's path as the executors see it (a shared or shipped file), or null
 *                       for Ember's tiny synthetic model (made in each executor's Ember cache)
 * @param threads        native threads per task; 0 = the task's {@code spark.task.cpus}
 * @param device         {@code cpu}, {@code cuda:0}, ... as in {@link ModelOptions}
 * @param weightType     {@code auto}, {@code f32}, {@code f16}, {@code q8_0} or {@code q4_0}
 * @param flashAttention ggml's fused attention; null = auto (on unless the weights are f32)
 * @param clipSkip       text encoder layer counted from the end; 0 = the model's default
 * @param prediction     {@code eps} or {@code v} to override the model's; null = the model's own
 * @param loraDir        folder of LoRAs rows name with {@code <lora:NAME:WEIGHT>} (as the executors see it), or null
 * @param embeddingsDir  folder of textual-inversion embeddings prompts may name, or null
 * @param vae            a separate VAE replacing the checkpoint's, or null
 */
public record EmberSparkOptions(String model, int threads, String device, String weightType, Boolean flashAttention,
                                int clipSkip, String prediction, String loraDir, String embeddingsDir, String vae) implements Serializable {
    public EmberSparkOptions {
        if (threads < 0 || threads > 1024) throw new IllegalArgumentException("threads must be between 0 (spark.task.cpus) and 1024, got " + threads);
        device = device == null || device.isBlank() ? "cpu" : device.strip();
        weightType = WeightType.parse(weightType == null ? "auto" : weightType).id();
        if (clipSkip < 0 || clipSkip > 24) throw new IllegalArgumentException("clip skip must be between 0 (model default) and 24, got " + clipSkip);
        if (prediction != null) prediction = Prediction.parse(prediction).label();
    }

    /** The tiny model, threads from {@code spark.task.cpus}, everything else Ember's defaults. */
    public static EmberSparkOptions defaults() {
        return new EmberSparkOptions(null, 0, "cpu", "auto", null, 0, null, null, null, null);
    }

    public EmberSparkOptions withModel(String value) {
        return new EmberSparkOptions(value, threads, device, weightType, flashAttention, clipSkip, prediction, loraDir, embeddingsDir, vae);
    }

    public EmberSparkOptions withThreads(int value) {
        return new EmberSparkOptions(model, value, device, weightType, flashAttention, clipSkip, prediction, loraDir, embeddingsDir, vae);
    }

    public EmberSparkOptions withDevice(String value) {
        return new EmberSparkOptions(model, threads, value, weightType, flashAttention, clipSkip, prediction, loraDir, embeddingsDir, vae);
    }

    public EmberSparkOptions withWeightType(String value) {
        return new EmberSparkOptions(model, threads, device, value, flashAttention, clipSkip, prediction, loraDir, embeddingsDir, vae);
    }

    public EmberSparkOptions withFlashAttention(Boolean value) {
        return new EmberSparkOptions(model, threads, device, weightType, value, clipSkip, prediction, loraDir, embeddingsDir, vae);
    }

    public EmberSparkOptions withClipSkip(int value) {
        return new EmberSparkOptions(model, threads, device, weightType, flashAttention, value, prediction, loraDir, embeddingsDir, vae);
    }

    public EmberSparkOptions withPrediction(String value) {
        return new EmberSparkOptions(model, threads, device, weightType, flashAttention, clipSkip, value, loraDir, embeddingsDir, vae);
    }

    /** With the add-ons every row may use: LoRA and embedding folders and a separate VAE (paths as the executors see them; null: none). */
    public EmberSparkOptions withAddOns(String loraDir, String embeddingsDir, String vae) {
        return new EmberSparkOptions(model, threads, device, weightType, flashAttention, clipSkip, prediction, loraDir, embeddingsDir, vae);
    }

    /** The checkpoint on this machine: {@link #model}, or the tiny model (written to the Ember cache if missing). */
    public Path modelPath() {
        return model == null ? TinyModel.path() : Path.of(model);
    }

    /**
     * The engine's options on an executor whose tasks have {@code taskCpus} cores. Weights are always copied
     * (never used in place from the file's mapping): executors live long, and a model file replaced underneath
     * a running executor must not take it down.
     */
    public ModelOptions modelOptions(int taskCpus) {
        return ModelOptions.defaults()
                .withThreads(threads > 0 ? threads : Math.max(1, taskCpus))
                .withDevice(device)
                .withWeightType(WeightType.parse(weightType))
                .withFlashAttention(flashAttention == null ? FlashAttention.AUTO : FlashAttention.of(flashAttention))
                .withClipSkip(clipSkip)
                .withPrediction(prediction == null ? null : Prediction.parse(prediction))
                .withWeightsInPlace(false)
                .withAddOns(AddOns.none().withLoraDir(path(loraDir)).withEmbeddingsDir(path(embeddingsDir)).withVae(path(vae)));
    }

    private static Path path(String value) {
        return value == null ? null : Path.of(value);
    }
}
