package dev.ember.engine;

/**
 * How img2img turns its init image into a latent. The VAE encoder gives a Gaussian posterior (mean and
 * log-variance per latent element).
 */
public enum InitLatent {
    /** The posterior's mean (the default, and what Ember always did): one init image, one latent. */
    MEAN,
    /**
     * A draw from the posterior, {@code mean + exp(logvar / 2) * noise} with the log-variance clamped to
     * [-30, 20] (LDM's {@code DiagonalGaussianDistribution.sample}), as diffusers' and InvokeAI's img2img
     * do. The noise is the first draw of each image's own noise generator, before the sampling noise
     * (diffusers' order), so a seed always gives the same latent.
     */
    SAMPLE;

    public String id() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    /** Case-insensitive: mean or sample. */
    public static InitLatent parse(String name) {
        for (InitLatent l : values()) if (l.name().equalsIgnoreCase(name.strip())) return l;
        throw new IllegalArgumentException("unknown init latent '" + name + "'; valid: mean, sample");
    }
}
