package dev.ember.engine;

import java.lang.foreign.MemorySegment;

/**
 * One point of a generation's trajectory, handed to a {@link StepListener}.
 *
 * <p>Step 0 comes before the first sampling step: its latent is the initial latent the sampler starts
 * from (pure noise times sigma for txt2img, the noised init latent for img2img) and its denoised
 * estimate is null. Steps 1..{@code totalSteps} follow each sampling step.
 *
 * <p>Lifetime: {@link #latent()} and {@link #denoised()} are fresh copies in GC-managed memory
 * ({@code Arena.ofAuto()}); the listener may keep them as long as it likes, and Ember never touches
 * them again. Layout: f32, [latentChannels, latentHeight, latentWidth], row-major, in the UNet's
 * (scaled) latent space. Scale: k-diffusion's {@code x0 + sigma * noise} for the k-diffusion samplers;
 * DDIM's variance-preserving {@code (x0 + sigma * noise) / sqrt(1 + sigma^2)} for {@code ddim}
 * ({@link dev.ember.engine.sampling.Sampler#latentScale}). One generation uses one scale for all its
 * steps, step 0 included, and its last step's latent is the one decoded.
 *
 * @param imageIndex     which image of the request (0-based)
 * @param seed           that image's seed
 * @param step           0 for the initial latent, then 1..totalSteps
 * @param totalSteps     sampling steps this generation runs (for img2img, {@code int(steps * strength)})
 * @param sigma          noise level of {@link #latent()}
 * @param timestep       the UNet timestep matching {@code sigma} (fractional)
 * @param latentChannels latent channels (4)
 * @param latentHeight   latent rows (height / 8)
 * @param latentWidth    latent columns (width / 8)
 * @param latent         the current latent x: where this step ended (the last step's is the final latent)
 * @param denoised       the model's estimate of the clean latent made during this step (the step moved
 *                       towards it); null at step 0
 */
public record StepEvent(int imageIndex, long seed, int step, int totalSteps, double sigma, double timestep,
                        int latentChannels, int latentHeight, int latentWidth, MemorySegment latent,
                        MemorySegment denoised) {

    /** Elements of one latent. */
    public long latentSize() {
        return (long) latentChannels * latentHeight * latentWidth;
    }
}
