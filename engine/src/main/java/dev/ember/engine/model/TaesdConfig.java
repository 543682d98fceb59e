package dev.ember.engine.model;

/**
 * Hyperparameters of TAESD, the tiny autoencoder (madebyollin/taesd, diffusers {@code AutoencoderTiny}):
 * every released one (taesd for SD 1.x/2.x, taesdxl for SDXL) has 3 image channels, 4 latent channels
 * and 64 feature channels, an 8x downscale and three blocks per level; only the weights differ.
 */
public record TaesdConfig(int imageChannels, int latentChannels, int channels) {
    public static final TaesdConfig STANDARD = new TaesdConfig(3, 4, 64);
    /** Pixels per latent pixel in each direction. */
    public static final int DOWNSCALE = 8;

    public TaesdConfig {
        TextEncoderConfig.positive("imageChannels", imageChannels);
        TextEncoderConfig.positive("latentChannels", latentChannels);
        TextEncoderConfig.positive("channels", channels);
    }
}
