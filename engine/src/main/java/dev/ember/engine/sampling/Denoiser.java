package dev.ember.engine.sampling;

/**
 * A model as k-diffusion samplers see it: given a noisy latent {@code x} at noise level
 * {@code sigma} (k-diffusion's variance-exploding convention, {@code x = x0 + sigma * noise}),
 * return the estimate of the clean latent {@code x0}, same length as {@code x}. Classifier-free
 * guidance, batching and the network call live behind it (see {@link KDiffusion}).
 */
@FunctionalInterface
public interface Denoiser {

    /** The denoised estimate; must not keep or modify {@code x}. */
    float[] denoise(float[] x, double sigma);
}
