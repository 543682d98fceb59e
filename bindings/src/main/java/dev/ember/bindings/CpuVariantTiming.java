package dev.ember.bindings;

import java.util.Locale;

/**
 * What one libember variant measured while Ember chose this CPU's variant ({@link CpuVariants}): the best
 * time of each representative workload, or why it could not be measured.
 *
 * @param variant               the variant's name
 * @param productSeconds        an f16 product shaped like SD 1.5's 3x3 convolutions at 256 x 256 ({@link #PRODUCT_FLOP})
 * @param attentionSeconds      the fused attention the networks use, over a 64 x 64 latent ({@link #ATTENTION_FLOP})
 * @param exactAttentionSeconds the exact products and softmax (flash attention off), {@link #EXACT_ATTENTION_FLOP}
 * @param error                 why the variant was not (fully) measured, or null
 */
public record CpuVariantTiming(String variant, double productSeconds, double attentionSeconds, double exactAttentionSeconds, String error) {
    /** The product: an f16 im2col of 512 pixels x 2880 (3 x 3 x 320 channels) times an f16 kernel 2880 x 320. */
    public static final int PRODUCT_M = 512, PRODUCT_N = 320, PRODUCT_K = 2880;
    public static final double PRODUCT_FLOP = 2.0 * PRODUCT_M * PRODUCT_N * PRODUCT_K;
    /** The attention: 512 of a 64 x 64 latent's queries over all its 4096 keys, 8 heads of 40 (SD 1.5's first level). */
    public static final int ATTENTION_QUERIES = 512, ATTENTION_KEYS = 4096, ATTENTION_HEADS = 8, ATTENTION_HEAD_DIM = 40;
    public static final double ATTENTION_FLOP = 4.0 * ATTENTION_QUERIES * ATTENTION_KEYS * ATTENTION_HEADS * ATTENTION_HEAD_DIM;
    /** The exact attention (only reported) is timed on fewer queries: it is the slow one. */
    public static final int EXACT_ATTENTION_QUERIES = 256;
    public static final double EXACT_ATTENTION_FLOP = 4.0 * EXACT_ATTENTION_QUERIES * ATTENTION_KEYS * ATTENTION_HEADS * ATTENTION_HEAD_DIM;
    /**
     * The work of one SD 1.5 UNet CFG step at 256 x 256 plus one at 512 x 512 (FlopCounter), split into
     * products (convolutions and linear layers) and attention (both attention products of every transformer,
     * self and cross): 360.2 + 1606.6 GFLOP, of which 17.1 + 252.0 attention. EngineFlopMixTest checks these.
     */
    public static final double STEP_PRODUCT_FLOP = 1697.7e9, STEP_ATTENTION_FLOP = 269.1e9;

    public static CpuVariantTiming failed(String variant, String error) {
        return new CpuVariantTiming(variant, Double.NaN, Double.NaN, Double.NaN, error);
    }

    /** The rate of the f16 product, FLOP per second. */
    public double productRate() {
        return PRODUCT_FLOP / productSeconds;
    }

    public boolean measured() {
        return error == null;
    }

    /**
     * The score a variant is chosen by, lower is better: the seconds this variant's rates predict for a UNet
     * CFG step at 256 plus one at 512 (products at the product's rate, attention at the fused attention's).
     */
    public double estimatedStepSeconds() {
        if (!measured()) return Double.POSITIVE_INFINITY;
        return STEP_PRODUCT_FLOP / (PRODUCT_FLOP / productSeconds) + STEP_ATTENTION_FLOP / (ATTENTION_FLOP / attentionSeconds);
    }

    /** One line for people: the rates and the estimate. */
    public String describe() {
        if (!measured()) return String.format(Locale.ROOT, "%-9s %s", variant, error);
        return String.format(Locale.ROOT, "%-9s f16 product %6.1f GFLOP/s, attention %6.1f GFLOP/s fused, %6.1f exact; est. UNet steps 256+512 %6.2f s",
                variant, PRODUCT_FLOP / productSeconds / 1e9, ATTENTION_FLOP / attentionSeconds / 1e9,
                EXACT_ATTENTION_FLOP / exactAttentionSeconds / 1e9, estimatedStepSeconds());
    }
}
