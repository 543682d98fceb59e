package dev.ember.engine.pipeline;

import dev.ember.engine.embedding.EmbeddingLibrary;
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
 * not cached, so a per-use encoder ({@link OnDemand#perUse}) is loaded only then. With an
 * {@link EmbeddingLibrary}, embedding names in a prompt become their vectors (extra rows the text encoder
 * takes in place of token embeddings).
 */
public final class PromptEncoder {
    private static final int CACHE_SIZE = 16;

    private final ClipTokenizer tokenizer;
    private final OnDemand<TextEncoder> encoder;
    private final PadStyle pad;
    private final int clipSkip;
    private final int hidden;
    private final EmbeddingLibrary embeddings;
    private final int vocabSize;
    private final Map<String, float[]> cache = new LinkedHashMap<>(CACHE_SIZE, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, float[]> eldest) {
            return size() > CACHE_SIZE;
        }
    };

    public PromptEncoder(ClipTokenizer tokenizer, OnDemand<TextEncoder> encoder, PadStyle pad, int clipSkip, int hidden) {
        this(tokenizer, encoder, pad, clipSkip, hidden, null, 0);
    }

    /**
     * @param embeddings textual-inversion embeddings to find in prompts, or null
     * @param vocabSize  the text encoder's vocabulary size: embedding vectors get the ids after it
     */
    public PromptEncoder(ClipTokenizer tokenizer, OnDemand<TextEncoder> encoder, PadStyle pad, int clipSkip, int hidden,
                         EmbeddingLibrary embeddings, int vocabSize) {
        this.tokenizer = tokenizer;
        this.encoder = encoder;
        this.pad = pad;
        this.clipSkip = clipSkip;
        this.hidden = hidden;
        this.embeddings = embeddings;
        this.vocabSize = vocabSize;
    }

    /** Forgets every cached encoding (the text encoder's weights changed: a LoRA came or went). */
    public synchronized void clear() {
        cache.clear();
    }

    public ClipTokenizer tokenizer() {
        return tokenizer;
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
            float[] extra = new float[0];
            for (int i = 0; i < missing.size(); i++) {
                int[] content = tokenizer.tokenize(missing.get(i));
                if (embeddings != null) {
                    // This prompt's vectors go after the rows of the prompts before it in the batch.
                    EmbeddingLibrary.Substitution sub = embeddings.substitute(content, vocabSize);
                    int before = extra.length / hidden;
                    content = sub.ids();
                    for (int k = 0; k < content.length; k++) if (content[k] >= vocabSize) content[k] += before;
                    float[] all = java.util.Arrays.copyOf(extra, extra.length + sub.extra().length);
                    System.arraycopy(sub.extra(), 0, all, extra.length, sub.extra().length);
                    extra = all;
                }
                TokenizedPrompt t = tokenizer.encode(content, pad.padId());
                if (t.truncated()) warnings.accept(t.warning());
                System.arraycopy(t.ids(), 0, ids, i * tokens(), tokens());
            }
            float[] hiddenStates;
            try (OnDemand.Lease<TextEncoder> text = encoder.acquire()) {
                hiddenStates = text.get().encode(ids, missing.size(), tokens(), clipSkip, extra);
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
