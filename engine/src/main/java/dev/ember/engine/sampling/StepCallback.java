package dev.ember.engine.sampling;

/**
 * Called once per sampler step (on the sampler's thread). Returning {@code false} cancels the run:
 * the sampler then throws {@link dev.ember.engine.GenerationCancelledException} without calling the
 * model again.
 */
@FunctionalInterface
public interface StepCallback {

    /** A callback that never cancels. */
    StepCallback NONE = step -> true;

    /** {@code true} to go on, {@code false} to cancel. */
    boolean onStep(SamplerStep step);
}
