package dev.ember.engine;

/**
 * Receives every step of one generation (see {@link StepEvent} for what a step holds and how long its
 * buffers live). Listeners belong to a single {@code generate} call, never to the model.
 *
 * <p>Return {@link Action#CANCEL} to stop the generation: {@code generate} then throws
 * {@link GenerationCancelledException}. An exception thrown here also stops the generation; it reaches
 * the caller as the cause of a {@link GenerationCancelledException}.
 */
@FunctionalInterface
public interface StepListener {
    enum Action { CONTINUE, CANCEL }

    Action onStep(StepEvent event) throws Exception;

    /** A listener that does nothing. */
    StepListener NONE = event -> Action.CONTINUE;
}
