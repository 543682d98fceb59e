package dev.ember.engine.pipeline;

import dev.ember.engine.sampling.StepBlend;

/**
 * Inpainting's rule for every sampling step: outside the mask the latent is replaced by the init latent noised
 * to the step's sigma, {@code x = (1 - m) * (init + sigma * noise) + m * x} per element, with {@code m} the
 * latent-size mask (1 = repaint) shared by all channels and {@code noise} the image's own sampling noise. After
 * the last step (sigma 0) the kept part is the init latent itself.
 */
final class MaskBlend implements StepBlend {
    private final float[] mask;   // [h * w]
    private final float[] init;   // [c, h, w]
    private final float[] noise;  // [c, h, w]

    MaskBlend(float[] mask, float[] init, float[] noise) {
        if (init.length != noise.length || init.length % mask.length != 0) {
            throw new IllegalArgumentException("mask of " + mask.length + ", init of " + init.length + " and noise of " + noise.length + " values");
        }
        this.mask = mask;
        this.init = init;
        this.noise = noise;
    }

    @Override
    public void apply(double[] x, double sigma) {
        if (x.length != init.length) throw new IllegalArgumentException("latent of " + x.length + " values, init of " + init.length);
        int plane = mask.length;
        for (int i = 0; i < x.length; i++) {
            double m = mask[i % plane];
            x[i] = (1 - m) * (init[i] + sigma * (double) noise[i]) + m * x[i];
        }
    }
}
