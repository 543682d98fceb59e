package dev.ember.engine.noise;

/**
 * A seeded stream of standard normal noise. Successive calls continue the stream the way successive
 * {@code torch.randn} calls on one generator do, so a sampler that draws noise every step (ancestral
 * samplers) gets the same numbers as the Python reference. Not thread-safe: one per generation.
 */
public interface NoiseGenerator {

    /** The next {@code count} standard normal values, as one {@code torch.randn(count)} call. */
    float[] next(int count);

    /** Fills {@code out} as one {@code torch.randn(out.length)} call. */
    default void next(float[] out) {
        System.arraycopy(next(out.length), 0, out, 0, out.length);
    }
}
