package dev.ember.engine.pipeline;

import java.util.Objects;

/**
 * What the UNet is conditioned on for one prompt: the text context {@code [tokens, width]} and, for
 * SDXL, the vector conditioning (pooled text and size embeddings; null for SD 1.x/2.x).
 */
public record Conditioning(float[] context, int tokens, float[] vector) {
    public Conditioning {
        Objects.requireNonNull(context, "context");
        if (tokens <= 0 || context.length % tokens != 0) throw new IllegalArgumentException(context.length + " context values for " + tokens + " tokens");
    }

    /**
     * Whether a prompt and its negative (null without guidance) run as one UNet batch: they must have the same
     * number of context tokens (a long prompt split into more 77-token chunks than its negative runs as two calls).
     */
    public static boolean oneBatch(Conditioning cond, Conditioning uncond) {
        return uncond == null || uncond.tokens() == cond.tokens();
    }
}
