package dev.ember.engine.sampling;

/**
 * A change a sampler applies to its own latent at the end of every step, before it reports the step:
 * inpainting puts the init latent (noised to the step's sigma) back outside its mask, so the next model
 * call, the listener and the result all see the blended latent. The latent is in k-diffusion's scale
 * ({@code x = x0 + sigma * noise}) whatever the sampler reports in.
 */
@FunctionalInterface
public interface StepBlend {

    /** No change. */
    StepBlend NONE = (x, sigma) -> {};

    /** Changes {@code x}, the latent at noise level {@code sigma} (0 after the last step of a full run), in place. */
    void apply(double[] x, double sigma);
}
