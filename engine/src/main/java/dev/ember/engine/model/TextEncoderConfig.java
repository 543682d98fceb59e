package dev.ember.engine.model;

/**
 * Hyperparameters of a CLIP text transformer. SD 1.x uses OpenAI's ViT-L/14 text tower (quick-GELU,
 * last layer), SD 2.x OpenCLIP's ViT-H/14 (GELU, penultimate layer by default).
 */
public record TextEncoderConfig(
        int vocabSize, int maxPositions, int hiddenSize, int intermediateSize, int numLayers, int numHeads,
        Activation activation, int defaultClipSkip) {

    public enum Activation { QUICK_GELU, GELU }

    public static final TextEncoderConfig SD1 = new TextEncoderConfig(49408, 77, 768, 3072, 12, 12, Activation.QUICK_GELU, 1);
    public static final TextEncoderConfig SD2 = new TextEncoderConfig(49408, 77, 1024, 4096, 24, 16, Activation.GELU, 2);
    /** The tiny test preset: SD 1.x's structure at toy size (real vocabulary, so real prompts work). */
    public static final TextEncoderConfig TINY = new TextEncoderConfig(49408, 77, 32, 64, 2, 2, Activation.QUICK_GELU, 1);

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
    }

    public int headDim() {
        return hiddenSize / numHeads;
    }

    static void positive(String what, int value) {
        if (value <= 0) throw new IllegalArgumentException(what + " must be positive, got " + value);
    }
}
