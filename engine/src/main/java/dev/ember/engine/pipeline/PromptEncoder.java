package dev.ember.engine.pipeline;

import dev.ember.engine.nn.TextEncoder;
import dev.ember.engine.text.ClipTokenizer;
import dev.ember.engine.text.PadStyle;
import dev.ember.engine.text.TokenizedPrompt;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Prompt text to the UNet's context: tokenize to 77 ids, run the text encoder, keep the result.
 * Recent prompts are cached because a batch of requests usually repeats the negative prompt (and
 * often the prompt); the cache is small and bounded. The text encoder is leased only when a prompt is
 * not cached, so a per-use encoder ({@link OnDemand#perUse}) is loaded only then.
 */
public final class PromptEncoder {
    private static final int CACHE_SIZE = 16;

    private final ClipTokenizer tokenizer;
    private final OnDemand<TextEncoder> encoder;
    private final PadStyle pad;
    private final int clipSkip;
    private final int hidden;
    private final Map<String, float[]> cache = new LinkedHashMap<>(CACHE_SIZE, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, float[]> eldest) {
            return size() > CACHE_SIZE;
        }
    };

    public PromptEncoder(ClipTokenizer tokenizer, OnDemand<TextEncoder> encoder, PadStyle pad, int clipSkip, int hidden) {
        this.tokenizer = tokenizer;
        this.encoder = encoder;
        this.pad = pad;
        this.clipSkip = clipSkip;
        this.hidden = hidden;
    }

    /** Tokens per prompt (CLIP's context length). */
    public int tokens() {
        return ClipTokenizer.CONTEXT_LENGTH;
    }

    public int hidden() {
        return hidden;
    }

    /**
     * The contexts of {@code prompts}, concatenated: [prompts.size(), 77, hidden]. Prompts not cached
     * are encoded together in one batch. Truncation warnings go to {@code warnings}. Synchronized:
     * native compute is serialized per context anyway, and this keeps the cache simple.
     */
    public synchronized float[] encode(List<String> prompts, Consumer<String> warnings) {
        int per = tokens() * hidden;
        List<String> missing = prompts.stream().distinct().filter(p -> !cache.containsKey(p)).toList();
        if (!missing.isEmpty()) {
            int[] ids = new int[missing.size() * tokens()];
            for (int i = 0; i < missing.size(); i++) {
                TokenizedPrompt t = tokenizer.encode(missing.get(i), pad);
                if (t.truncated()) warnings.accept(t.warning());
                System.arraycopy(t.ids(), 0, ids, i * tokens(), tokens());
            }
            float[] hiddenStates;
            try (OnDemand.Lease<TextEncoder> text = encoder.acquire()) {
                hiddenStates = text.get().encode(ids, missing.size(), tokens(), clipSkip);
            }
            for (int i = 0; i < missing.size(); i++) {
                float[] one = new float[per];
                System.arraycopy(hiddenStates, i * per, one, 0, per);
                cache.put(missing.get(i), one);
            }
        }
        float[] out = new float[prompts.size() * per];
        for (int i = 0; i < prompts.size(); i++) System.arraycopy(cache.get(prompts.get(i)), 0, out, i * per, per);
        return out;
    }
}
