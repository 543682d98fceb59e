package dev.ember.engine.model;

import java.util.Arrays;

/**
 * Hyperparameters of LDM's AutoencoderKL. The image is {@link #downscale()} times larger than the
 * latent in each direction; latents are multiplied by {@code scaleFactor} before the UNet sees them.
 */
public record VaeConfig(
        int imageChannels, int latentChannels, int baseChannels, int[] channelMult, int numResBlocks, int normGroups,
        double scaleFactor) {

    public static final VaeConfig SD = new VaeConfig(3, 4, 128, new int[] {1, 2, 4, 4}, 2, 32, 0.18215);
    /** The tiny test preset: four levels (so the 8x downscale of the real one), 32/64 channels. */
    public static final VaeConfig TINY = new VaeConfig(3, 4, 32, new int[] {1, 1, 2, 2}, 1, 32, 0.18215);
    /** SDXL's VAE: SD's architecture, retrained; latents scaled by 0.13025 (sgm's sd_xl_base.yaml). */
    public static final double SDXL_SCALE_FACTOR = 0.13025;
    public static final VaeConfig SDXL = new VaeConfig(3, 4, 128, new int[] {1, 2, 4, 4}, 2, 32, SDXL_SCALE_FACTOR);
    public static final VaeConfig TINY_XL = new VaeConfig(3, 4, 32, new int[] {1, 1, 2, 2}, 1, 32, SDXL_SCALE_FACTOR);

    public VaeConfig {
        TextEncoderConfig.positive("imageChannels", imageChannels);
        TextEncoderConfig.positive("latentChannels", latentChannels);
        TextEncoderConfig.positive("baseChannels", baseChannels);
        TextEncoderConfig.positive("numResBlocks", numResBlocks);
        TextEncoderConfig.positive("normGroups", normGroups);
        if (channelMult == null || channelMult.length < 1 || channelMult.length > 6) throw new IllegalArgumentException("channelMult needs 1 to 6 levels");
        channelMult = channelMult.clone();
        for (int m : channelMult) {
            if (baseChannels * m % normGroups != 0) throw new IllegalArgumentException("VAE channels " + baseChannels * m + " not a multiple of " + normGroups + " groups");
        }
        if (!(scaleFactor > 0)) throw new IllegalArgumentException("scaleFactor must be positive");
    }

    @Override
    public int[] channelMult() {
        return channelMult.clone();
    }

    public int numLevels() {
        return channelMult.length;
    }

    public int channels(int level) {
        return baseChannels * channelMult[level];
    }

    public int downscale() {
        return 1 << (channelMult.length - 1);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VaeConfig c && imageChannels == c.imageChannels && latentChannels == c.latentChannels
                && baseChannels == c.baseChannels && Arrays.equals(channelMult, c.channelMult)
                && numResBlocks == c.numResBlocks && normGroups == c.normGroups && scaleFactor == c.scaleFactor;
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(channelMult) * 31 + baseChannels;
    }

    @Override
    public String toString() {
        return "VaeConfig[image=" + imageChannels + ", latent=" + latentChannels + ", channels=" + baseChannels
                + ", mult=" + Arrays.toString(channelMult) + ", resBlocks=" + numResBlocks + ", groups=" + normGroups
                + ", scale=" + scaleFactor + "]";
    }
}
