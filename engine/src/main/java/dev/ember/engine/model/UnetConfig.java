package dev.ember.engine.model;

import java.util.Arrays;

/**
 * Hyperparameters of LDM's UNetModel as SD 1.x/2.x and SDXL use it. Levels are the resolutions; level i
 * has {@code modelChannels * channelMult[i]} channels and {@code numResBlocks} ResBlocks in the encoder
 * ({@code numResBlocks + 1} in the decoder), each followed by a SpatialTransformer when bit i of
 * {@code attentionLevels} is set. The middle block always has one.
 *
 * <p>Heads: SD 1.x fixes the head count ({@code numHeads = 8}), SD 2.x and SDXL the head width
 * ({@code headDim = 64}); exactly one of the two is non-zero.
 *
 * <p>Transformer depth: SD 1.x/2.x have one block per SpatialTransformer ({@code transformerDepth});
 * SDXL has a depth per level ({@code levelDepths}: 0 at levels without attention, 2 and 10 at the
 * others) and 10 in the middle block ({@code middleDepth}). Given null and 0, both follow
 * {@code transformerDepth}. {@code admInChannels} is the width of the vector conditioning that
 * {@code label_emb} takes (SDXL: 2816 = pooled text 1280 + six 256-wide size embeddings), 0 for none.
 */
public record UnetConfig(
        int inChannels, int outChannels, int modelChannels, int numResBlocks, int[] channelMult,
        int attentionLevels, int numHeads, int headDim, int transformerDepth, int contextDim,
        boolean linearProjection, int normGroups, int[] levelDepths, int middleDepth, int admInChannels) {

    public static final UnetConfig SD1 = new UnetConfig(4, 4, 320, 2, new int[] {1, 2, 4, 4}, 0b0111, 8, 0, 1, 768, false, 32);
    public static final UnetConfig SD2 = new UnetConfig(4, 4, 320, 2, new int[] {1, 2, 4, 4}, 0b0111, 0, 64, 1, 1024, true, 32);
    /** The tiny test preset: three levels, attention on the first two, two heads; context = tiny text width. */
    public static final UnetConfig TINY = new UnetConfig(4, 4, 32, 1, new int[] {1, 2, 2}, 0b011, 2, 0, 1, 32, false, 32);
    /**
     * SDXL base (sgm's sd_xl_base.yaml): 320 channels, mult 1 2 4, attention at the two lower
     * resolutions with depths 2 and 10 (10 in the middle), 64-wide heads, linear projections, context
     * 2048 (768 + 1280), vector conditioning 2816.
     */
    public static final UnetConfig SDXL = new UnetConfig(4, 4, 320, 2, new int[] {1, 2, 4}, 0b110, 0, 64, 10, 2048, true, 32,
            new int[] {0, 2, 10}, 10, 2816);
    /**
     * The tiny SDXL preset: SDXL's structure (no attention at level 0, transformer depths set per level and
     * in the middle, head width, linear projections, label_emb) at small widths. Context 96 = 32 + 64;
     * vector 40 + 6 x 8 = 88 (pooled projection 40, 8-wide size embeddings). The middle block has two
     * transformer blocks, the levels one: deeper random networks amplify q8_0 rounding past the design
     * bound (depths 1 and 2 per level: 1.0-1.4e-2 over three inputs; these: 0.73-0.86e-2).
     */
    public static final UnetConfig TINY_XL = new UnetConfig(4, 4, 32, 1, new int[] {1, 2, 2}, 0b110, 0, 16, 2, 96, true, 32,
            new int[] {0, 1, 1}, 2, 88);

    /** A UNet with one transformer depth everywhere and no vector conditioning (SD 1.x / 2.x). */
    public UnetConfig(int inChannels, int outChannels, int modelChannels, int numResBlocks, int[] channelMult, int attentionLevels,
                      int numHeads, int headDim, int transformerDepth, int contextDim, boolean linearProjection, int normGroups) {
        this(inChannels, outChannels, modelChannels, numResBlocks, channelMult, attentionLevels, numHeads, headDim, transformerDepth,
                contextDim, linearProjection, normGroups, null, 0, 0);
    }

    public UnetConfig {
        TextEncoderConfig.positive("inChannels", inChannels);
        TextEncoderConfig.positive("outChannels", outChannels);
        TextEncoderConfig.positive("modelChannels", modelChannels);
        TextEncoderConfig.positive("numResBlocks", numResBlocks);
        TextEncoderConfig.positive("transformerDepth", transformerDepth);
        TextEncoderConfig.positive("contextDim", contextDim);
        TextEncoderConfig.positive("normGroups", normGroups);
        if (channelMult == null || channelMult.length < 1 || channelMult.length > 6) throw new IllegalArgumentException("channelMult needs 1 to 6 levels");
        channelMult = channelMult.clone();
        if ((numHeads == 0) == (headDim == 0)) throw new IllegalArgumentException("exactly one of numHeads and headDim must be set");
        if (levelDepths != null && levelDepths.length != channelMult.length) {
            throw new IllegalArgumentException("levelDepths has " + levelDepths.length + " entries for " + channelMult.length + " levels");
        }
        int[] depths = new int[channelMult.length];
        for (int level = 0; level < depths.length; level++) {
            if ((attentionLevels >> level & 1) == 0) continue; // no transformer at this level: depth 0
            depths[level] = levelDepths == null ? transformerDepth : levelDepths[level];
            if (depths[level] < 1) throw new IllegalArgumentException("level " + level + " has attention but transformer depth " + depths[level]);
        }
        levelDepths = depths;
        if (middleDepth < 0) throw new IllegalArgumentException("middleDepth must not be negative");
        if (middleDepth == 0) middleDepth = transformerDepth;
        if (admInChannels < 0) throw new IllegalArgumentException("admInChannels must not be negative");
        // Fields are not assigned yet inside a compact constructor: work on the parameters.
        for (int level = 0; level < channelMult.length; level++) {
            int ch = modelChannels * channelMult[level];
            if (ch % normGroups != 0) throw new IllegalArgumentException("level " + level + " has " + ch + " channels, not a multiple of " + normGroups + " groups");
            int heads = numHeads != 0 ? numHeads : ch / headDim;
            boolean attention = (attentionLevels >> level & 1) != 0;
            if (attention && (heads == 0 || ch % heads != 0)) throw new IllegalArgumentException("level " + level + ": " + ch + " channels do not split into heads");
        }
    }

    /** This UNet with another number of input channels (9: an inpainting model's latent, mask and masked-image latent). */
    public UnetConfig withInChannels(int channels) {
        return new UnetConfig(channels, outChannels, modelChannels, numResBlocks, channelMult, attentionLevels, numHeads, headDim,
                transformerDepth, contextDim, linearProjection, normGroups, levelDepths, middleDepth, admInChannels);
    }

    @Override
    public int[] channelMult() {
        return channelMult.clone();
    }

    /** Transformer blocks per SpatialTransformer at each level (0 where there is no attention). */
    @Override
    public int[] levelDepths() {
        return levelDepths.clone();
    }

    /** Transformer blocks per SpatialTransformer at {@code level} (0 without attention). */
    public int depthAt(int level) {
        return levelDepths[level];
    }

    /** Whether the UNet takes a vector conditioning through {@code label_emb} (SDXL). */
    public boolean hasVectorConditioning() {
        return admInChannels > 0;
    }

    public int numLevels() {
        return channelMult.length;
    }

    public int channels(int level) {
        return modelChannels * channelMult[level];
    }

    public boolean hasAttention(int level) {
        return (attentionLevels >> level & 1) != 0;
    }

    /** Heads of a transformer with {@code channels} channels. */
    public int headsAt(int channels) {
        return numHeads != 0 ? numHeads : channels / headDim;
    }

    public int timeEmbedDim() {
        return modelChannels * 4;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof UnetConfig c && inChannels == c.inChannels && outChannels == c.outChannels
                && modelChannels == c.modelChannels && numResBlocks == c.numResBlocks && Arrays.equals(channelMult, c.channelMult)
                && attentionLevels == c.attentionLevels && numHeads == c.numHeads && headDim == c.headDim
                && transformerDepth == c.transformerDepth && contextDim == c.contextDim
                && linearProjection == c.linearProjection && normGroups == c.normGroups
                && Arrays.equals(levelDepths, c.levelDepths) && middleDepth == c.middleDepth && admInChannels == c.admInChannels;
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(channelMult) * 31 + modelChannels * 17 + contextDim + Arrays.hashCode(levelDepths) * 7 + admInChannels;
    }

    @Override
    public String toString() {
        return "UnetConfig[in=" + inChannels + ", out=" + outChannels + ", channels=" + modelChannels + ", mult=" + Arrays.toString(channelMult)
                + ", resBlocks=" + numResBlocks + ", attentionLevels=0b" + Integer.toBinaryString(attentionLevels)
                + (numHeads != 0 ? ", heads=" + numHeads : ", headDim=" + headDim) + ", depth=" + depthText()
                + ", context=" + contextDim + ", linearProjection=" + linearProjection + ", groups=" + normGroups
                + (admInChannels > 0 ? ", vector=" + admInChannels : "") + "]";
    }

    /** "1" when every transformer has the same depth, else the per-level depths and the middle one: "[0, 2, 10] middle 10". */
    private String depthText() {
        boolean uniform = middleDepth == transformerDepth;
        for (int level = 0; level < levelDepths.length; level++) {
            if (hasAttention(level) && levelDepths[level] != transformerDepth) uniform = false;
        }
        return uniform ? Integer.toString(transformerDepth) : Arrays.toString(levelDepths) + " middle " + middleDepth;
    }
}
