package dev.ember.engine.model;

/**
 * Hyperparameters of a CLIP text transformer. SD 1.x uses OpenAI's ViT-L/14 text tower (quick-GELU,
 * last layer), SD 2.x OpenCLIP's ViT-H/14 (GELU, penultimate layer by default). SDXL uses both
 * OpenAI's ViT-L/14 and OpenCLIP's ViT-bigG/14, each at its penultimate layer; bigG's pooled output
 * goes through its {@code text_projection} ({@code projectionDim} wide, 0 when a model has none).
 */
public record TextEncoderConfig(
        int vocabSize, int maxPositions, int hiddenSize, int intermediateSize, int numLayers, int numHeads,
        Activation activation, int defaultClipSkip, int projectionDim) {

    public enum Activation { QUICK_GELU, GELU }

    public static final TextEncoderConfig SD1 = new TextEncoderConfig(49408, 77, 768, 3072, 12, 12, Activation.QUICK_GELU, 1);
    public static final TextEncoderConfig SD2 = new TextEncoderConfig(49408, 77, 1024, 4096, 24, 16, Activation.GELU, 2);
    /** The tiny test preset: SD 1.x's structure at toy size (real vocabulary, so real prompts work). */
    public static final TextEncoderConfig TINY = new TextEncoderConfig(49408, 77, 32, 64, 2, 2, Activation.QUICK_GELU, 1);
    /** SDXL's first encoder: OpenAI CLIP ViT-L/14, hidden states of layer 11 of 12 (sgm's layer_idx 11). */
    public static final TextEncoderConfig SDXL_CLIP_L = new TextEncoderConfig(49408, 77, 768, 3072, 12, 12, Activation.QUICK_GELU, 2, 0);
    /** SDXL's second encoder: OpenCLIP ViT-bigG/14, penultimate layer, pooled output through a 1280 x 1280 projection. */
    public static final TextEncoderConfig SDXL_CLIP_G = new TextEncoderConfig(49408, 77, 1280, 5120, 32, 20, Activation.GELU, 2, 1280);
    /** The tiny SDXL preset's encoders: widths 32 and 64 (context 96), a projection to 40 that is not square. */
    public static final TextEncoderConfig TINY_XL_L = new TextEncoderConfig(49408, 77, 32, 64, 2, 2, Activation.QUICK_GELU, 2, 0);
    public static final TextEncoderConfig TINY_XL_G = new TextEncoderConfig(49408, 77, 64, 128, 3, 4, Activation.GELU, 2, 40);

    /** A text encoder without a projection (SD 1.x / 2.x). */
    public TextEncoderConfig(int vocabSize, int maxPositions, int hiddenSize, int intermediateSize, int numLayers, int numHeads,
                             Activation activation, int defaultClipSkip) {
        this(vocabSize, maxPositions, hiddenSize, intermediateSize, numLayers, numHeads, activation, defaultClipSkip, 0);
    }

    public TextEncoderConfig {
        positive("vocabSize", vocabSize);
        positive("maxPositions", maxPositions);
        positive("hiddenSize", hiddenSize);
        positive("intermediateSize", intermediateSize);
        positive("numLayers", numLayers);
        positive("numHeads", numHeads);
        if (hiddenSize % numHeads != 0) throw new IllegalArgumentException("hiddenSize " + hiddenSize + " not divisible by numHeads " + numHeads);
        if (activation == null) throw new IllegalArgumentException("activation is required");
        if (defaultClipSkip < 1 || defaultClipSkip > numLayers) throw new IllegalArgumentException("defaultClipSkip out of range: " + defaultClipSkip);
        if (projectionDim < 0) throw new IllegalArgumentException("projectionDim must not be negative, got " + projectionDim);
    }

    public int headDim() {
        return hiddenSize / numHeads;
    }

    static void positive(String what, int value) {
        if (value <= 0) throw new IllegalArgumentException(what + " must be positive, got " + value);
    }
}
