package dev.ember.engine;

import dev.ember.engine.sampling.Prediction;
import java.nio.file.Path;
import java.util.Locale;

/**
 * How a model is loaded and run. Use {@link #defaults()} and the {@code with*} methods.
 *
 * @param threads        CPU threads for compute; 0 = all cores
 * @param device         {@code cpu}, or a GPU as {@code cuda:0}, {@code vulkan:0}, {@code metal:0}, or a
 *                       ggml device name or index from {@code ember devices}
 * @param weightType     how matrix weights are stored on the device
 * @param flashAttention fused attention: {@link FlashAttention#AUTO} (the default) uses it unless the
 *                       weights are f32
 * @param prediction     overrides the model's prediction type (eps / v); null = from the model file
 * @param clipSkip       text encoder layer to use counted from the end (1 = last); 0 = the model's default
 * @param tokenizer      a diffusers {@code tokenizer/} folder or a merges file; null = the model's or the built-in one
 * @param blas           let ggml's BLAS backend (when libember is built with one) take f32 matrix products;
 *                       off by default: it measured slower here, and its sums depend on the thread count
 * @param lowMemory      smallest resident memory (slower; docs/performance.md): only the UNet stays loaded; the
 *                       checkpoint stays mapped while the model is open (so the file must not change meanwhile)
 *                       and the text encoder and VAE are copied from it for each use and freed after; the
 *                       file's pages are released as they are copied and compute buffers are freed after each
 *                       call. See {@link StableDiffusion} for the details and the compressed-{@code .ckpt} case.
 * @param weightsInPlace on the CPU (on by default; ignored on other devices), the networks use the checkpoint's
 *                       memory directly for every tensor that already has the type they store it in (f16
 *                       matrix weights of an f16 file, everything f32 of an f32 file) instead of copying it:
 *                       less memory while loading and after, a faster load. The checkpoint then stays mapped
 *                       (or, for a compressed {@code .ckpt}, held in memory) while the model is open, so the
 *                       file must not change meanwhile (see {@link StableDiffusion}). This is
 *                       {@link ModelFileAccess#MAPPED}; off is {@link ModelFileAccess#COPIED}, which also makes
 *                       low-memory mode read its per-use networks with checked positional reads, never through
 *                       a mapping: {@link #fileAccess()} names the choice.
 * @param addOns         LoRA and embedding folders, a separate VAE, TAESD, the final decoder and VAE tiling ({@link AddOns})
 */
public record ModelOptions(int threads, String device, WeightType weightType, FlashAttention flashAttention, Prediction prediction,
                           int clipSkip, Path tokenizer, boolean blas, boolean lowMemory, boolean weightsInPlace, AddOns addOns) {
    public ModelOptions {
        if (threads < 0 || threads > 1024) throw new IllegalArgumentException("threads must be between 0 (all cores) and 1024, got " + threads);
        device = device == null || device.isBlank() ? "cpu" : device.strip().toLowerCase(Locale.ROOT);
        if (weightType == null) weightType = WeightType.AUTO;
        if (flashAttention == null) flashAttention = FlashAttention.AUTO;
        if (clipSkip < 0 || clipSkip > 24) throw new IllegalArgumentException("clip skip must be between 0 (model default) and 24, got " + clipSkip);
        if (addOns == null) addOns = AddOns.none();
    }

    public static ModelOptions defaults() {
        return new ModelOptions(0, "cpu", WeightType.AUTO, FlashAttention.AUTO, null, 0, null, false, false, true, AddOns.none());
    }

    public ModelOptions withThreads(int value) {
        return new ModelOptions(value, device, weightType, flashAttention, prediction, clipSkip, tokenizer, blas, lowMemory, weightsInPlace, addOns);
    }

    public ModelOptions withDevice(String value) {
        return new ModelOptions(threads, value, weightType, flashAttention, prediction, clipSkip, tokenizer, blas, lowMemory, weightsInPlace, addOns);
    }

    public ModelOptions withWeightType(WeightType value) {
        return new ModelOptions(threads, device, value, flashAttention, prediction, clipSkip, tokenizer, blas, lowMemory, weightsInPlace, addOns);
    }

    public ModelOptions withFlashAttention(FlashAttention value) {
        return new ModelOptions(threads, device, weightType, value, prediction, clipSkip, tokenizer, blas, lowMemory, weightsInPlace, addOns);
    }

    /** {@code true}: {@link FlashAttention#ON}; {@code false}: {@link FlashAttention#OFF}. */
    public ModelOptions withFlashAttention(boolean value) {
        return withFlashAttention(FlashAttention.of(value));
    }

    public ModelOptions withPrediction(Prediction value) {
        return new ModelOptions(threads, device, weightType, flashAttention, value, clipSkip, tokenizer, blas, lowMemory, weightsInPlace, addOns);
    }

    public ModelOptions withClipSkip(int value) {
        return new ModelOptions(threads, device, weightType, flashAttention, prediction, value, tokenizer, blas, lowMemory, weightsInPlace, addOns);
    }

    public ModelOptions withTokenizer(Path value) {
        return new ModelOptions(threads, device, weightType, flashAttention, prediction, clipSkip, value, blas, lowMemory, weightsInPlace, addOns);
    }

    public ModelOptions withBlas(boolean value) {
        return new ModelOptions(threads, device, weightType, flashAttention, prediction, clipSkip, tokenizer, value, lowMemory, weightsInPlace, addOns);
    }

    public ModelOptions withLowMemory(boolean value) {
        return new ModelOptions(threads, device, weightType, flashAttention, prediction, clipSkip, tokenizer, blas, value, weightsInPlace, addOns);
    }

    /**
     * Whether CPU networks use the checkpoint's memory in place of a copy where they can (default on).
     * {@code false} is the same as {@code withFileAccess(ModelFileAccess.COPIED)}.
     */
    public ModelOptions withWeightsInPlace(boolean value) {
        return new ModelOptions(threads, device, weightType, flashAttention, prediction, clipSkip, tokenizer, blas, lowMemory, value, addOns);
    }

    /** LoRA and embedding folders, a separate VAE, TAESD, the final decoder and tiling. */
    public ModelOptions withAddOns(AddOns value) {
        return new ModelOptions(threads, device, weightType, flashAttention, prediction, clipSkip, tokenizer, blas, lowMemory, weightsInPlace, value);
    }

    /**
     * How the model uses its file while open: {@link ModelFileAccess#MAPPED} (the default: fastest, the
     * file must not change) or {@link ModelFileAccess#COPIED} (for long-lived users: a changed file can
     * neither crash the JVM nor change a picture).
     */
    public ModelOptions withFileAccess(ModelFileAccess value) {
        return withWeightsInPlace(java.util.Objects.requireNonNull(value, "file access") == ModelFileAccess.MAPPED);
    }

    /** {@link ModelFileAccess#MAPPED} while {@link #weightsInPlace()} is on, else {@link ModelFileAccess#COPIED}. */
    public ModelFileAccess fileAccess() {
        return weightsInPlace ? ModelFileAccess.MAPPED : ModelFileAccess.COPIED;
    }
}
