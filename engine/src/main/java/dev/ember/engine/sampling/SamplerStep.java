package dev.ember.engine.sampling;

/**
 * What a sampler reports at the end of each step, as soon as the step's latent exists (before the next
 * model call).
 * The arrays are the sampler's working copies handed over without copying (a 64x64 latent is 64 KiB);
 * a listener that keeps them beyond the call must copy them.
 *
 * @param step       1-based step number within this run
 * @param totalSteps steps this run takes
 * @param sigma      noise level the step started from
 * @param sigmaNext  noise level the step moved to, that of {@code latent} (0 on the last step of a full run)
 * @param latent     the latent the step ended with
 * @param denoised   the model's denoised estimate made during the step, which it moved towards (what previews
 *                   should show)
 */
public record SamplerStep(int step, int totalSteps, double sigma, double sigmaNext, float[] latent, float[] denoised) {

    public SamplerStep {
        if (totalSteps < 1 || step < 1 || step > totalSteps) throw new IllegalArgumentException("step " + step + " of " + totalSteps);
        if (!(sigma > 0) || !(sigmaNext >= 0)) throw new IllegalArgumentException("bad sigmas " + sigma + " -> " + sigmaNext);
        if (latent == null || denoised == null || latent.length != denoised.length) {
            throw new IllegalArgumentException("latent and denoised must be non-null and of equal length");
        }
    }
}
