package dev.ember.engine.model;

import java.util.Arrays;

/**
 * Hyperparameters of LDM's UNetModel as SD 1.x/2.x use it. Levels are the resolutions; level i has
 * {@code modelChannels * channelMult[i]} channels and {@code numResBlocks} ResBlocks in the encoder
 * ({@code numResBlocks + 1} in the decoder), each followed by a SpatialTransformer when bit i of
 * {@code attentionLevels} is set. The middle block always has one.
 *
 * <p>Heads: SD 1.x fixes the head count ({@code numHeads = 8}), SD 2.x the head width
 * ({@code headDim = 64}); exactly one of the two is non-zero.
 */
public record UnetConfig(
        int inChannels, int outChannels, int modelChannels, int numResBlocks, int[] channelMult,
        int attentionLevels, int numHeads, int headDim, int transformerDepth, int contextDim,
        boolean linearProjection, int normGroups) {

    public static final UnetConfig SD1 = new UnetConfig(4, 4, 320, 2, new int[] {1, 2, 4, 4}, 0b0111, 8, 0, 1, 768, false, 32);
    public static final UnetConfig SD2 = new UnetConfig(4, 4, 320, 2, new int[] {1, 2, 4, 4}, 0b0111, 0, 64, 1, 1024, true, 32);
    /** The tiny test preset: three levels, attention on the first two, two heads; context = tiny text width. */
    public static final UnetConfig TINY = new UnetConfig(4, 4, 32, 1, new int[] {1, 2, 2}, 0b011, 2, 0, 1, 32, false, 32);

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
                transformerDepth, contextDim, linearProjection, normGroups);
    }

    @Override
    public int[] channelMult() {
        return channelMult.clone();
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
                && linearProjection == c.linearProjection && normGroups == c.normGroups;
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(channelMult) * 31 + modelChannels * 17 + contextDim;
    }

    @Override
    public String toString() {
        return "UnetConfig[in=" + inChannels + ", out=" + outChannels + ", channels=" + modelChannels + ", mult=" + Arrays.toString(channelMult)
                + ", resBlocks=" + numResBlocks + ", attentionLevels=0b" + Integer.toBinaryString(attentionLevels)
                + (numHeads != 0 ? ", heads=" + numHeads : ", headDim=" + headDim) + ", depth=" + transformerDepth
                + ", context=" + contextDim + ", linearProjection=" + linearProjection + ", groups=" + normGroups + "]";
    }
}
