package dev.ember.engine.sampling;

/**
 * A raw diffusion network as trained: it takes the scaled input {@code c_in * x} and a (fractional)
 * timestep and returns its prediction (noise for eps-models, velocity for v-models).
 * {@link KDiffusion#denoiser} turns one into a {@link Denoiser}.
 */
@FunctionalInterface
public interface NetworkFunction {

    /** The network output for {@code scaledInput} at {@code timestep}, same length as the input. */
    float[] apply(float[] scaledInput, double timestep);
}
