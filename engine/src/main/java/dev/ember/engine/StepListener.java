package dev.ember.engine;

/**
 * Receives every step of one generation (see {@link StepEvent} for what a step holds and how long its
 * buffers live), and each finished image ({@link #onImage}). Listeners belong to a single {@code generate} call, never to the model.
 *
 * <p>Return {@link Action#CANCEL} to stop the generation: {@code generate} then throws
 * {@link GenerationCancelledException}. An exception thrown here also stops the generation; it reaches
 * the caller as the cause of a {@link GenerationCancelledException}.
 */
@FunctionalInterface
public interface StepListener {
    enum Action { CONTINUE, CANCEL }

    Action onStep(StepEvent event) throws Exception;

    /**
     * Called with each finished image as soon as it is decoded (and, with {@link ModelFileAccess#MAPPED},
     * the model file checked unchanged), in batch order, before the next image starts: write it out here
     * so that an interrupted batch keeps what it finished. The image is also in the result. An exception
     * thrown here stops the generation: a runtime exception reaches the caller as it is, a checked one as
     * the cause of a {@link GenerationCancelledException}. Does nothing by default.
     */
    default void onImage(GeneratedImage image) throws Exception {}

    /** A listener that does nothing. */
    StepListener NONE = event -> Action.CONTINUE;
}
