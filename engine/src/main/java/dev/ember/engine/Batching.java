package dev.ember.engine;

import dev.ember.engine.pipeline.UnetBatcher;

/**
 * Batching of generations that run at the same time on one model: every
 * {@link StableDiffusion#generate(GenerationRequest, StepListener, java.util.function.Consumer, Batching)} call
 * that passes this object, from any thread, evaluates the UNet together with the others that are sampling
 * an image of the same size at that moment: one UNet call (one graph, the weights read once) for up to
 * {@link #maxImages()} images, each keeping its own prompt, seed, noise, sampler, steps, guidance scale and
 * listener. Calls may start and end at any time; an image that starts while others sample joins their next
 * UNet call.
 *
 * <p>Each image gets exactly the pixels it gets from a plain {@code generate} on the CPU: the UNet treats every
 * row of a batch alone, and ggml's CPU kernels add up each output the same way for any batch of two or more
 * rows. Images without guidance (cfg scale 1) are single rows, which take another kernel when batched, so
 * they always run alone. Other devices' libraries may pick kernels by batch size, so there a batched image
 * may differ from the unbatched one in the last bits.
 *
 * <p>While batched, a generation's listener holds up the others at every step: keep listeners quick. Create
 * one with {@link StableDiffusion#batching(int)}; it belongs to that model. Thread-safe.
 */
public final class Batching {
    private final StableDiffusion model;
    private final UnetBatcher batcher;
    private final int maxImages;

    /** What the batches have done so far: UNet calls made, image evaluations they served, the most images in one call. */
    public record Stats(long unetCalls, long imageEvaluations, int largestBatch) {}

    Batching(StableDiffusion model, UnetBatcher batcher, int maxImages) {
        this.model = model;
        this.batcher = batcher;
        this.maxImages = maxImages;
    }

    public int maxImages() {
        return maxImages;
    }

    public Stats stats() {
        UnetBatcher.Stats s = batcher.stats();
        return new Stats(s.unetCalls(), s.seatCalls(), s.largestCall());
    }

    StableDiffusion model() {
        return model;
    }

    UnetBatcher batcher() {
        return batcher;
    }
}
