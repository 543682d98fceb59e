package dev.ember.engine.pipeline;

import dev.ember.engine.embedding.EmbeddingLibrary;
import dev.ember.engine.nn.TextEncoder;
import dev.ember.engine.text.ClipTokenizer;
import dev.ember.engine.text.PadStyle;
import dev.ember.engine.text.PromptChunks;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Prompt text to the UNet's context. A prompt is split into 75-token chunks as AUTOMATIC1111 does
 * ({@link PromptChunks}); every chunk is one 77-token window through each text encoder, and the
 * windows' hidden states follow each other, so a prompt of k chunks gives {@code 77 k} context tokens.
 * SDXL has two encoders: their hidden states stand side by side (768 + 1280 = 2048 per token) and the
 * second's pooled output of the FIRST chunk is the prompt's pooled vector (A1111's {@code zs[0].pooled}).
 *
 * <p>Each window is encoded on its own (batch one): a prompt's conditioning then never depends on which
 * other prompts happened to be encoded with it (a batch changes how the CPU kernels split their sums,
 * which moves results by about 1e-6 and an image by a pixel value), so an image is the same whatever
 * ran before it.
 *
 * <p>Recent prompts are cached because a batch of requests usually repeats the negative prompt (and
 * often the prompt); the cache is small and bounded. The text encoders are leased only when a prompt is
 * not cached, so a per-use encoder ({@link OnDemand#perUse}) is loaded only then. With an
 * {@link EmbeddingLibrary}, embedding names in a prompt become their vectors (extra rows each text encoder
 * takes in place of token embeddings; SDXL's two encoders each take their own set).
 */
public final class PromptEncoder {
    private static final int CACHE_SIZE = 16;

    /**
     * One text encoder and how it is used.
     *
     * @param pad       what follows the end-of-text token in a window
     * @param clipSkip  the layer taken, counted from the end (1 = last)
     * @param finalNorm whether the final layer norm is applied to it (SD 1.x/2.x yes, SDXL no)
     * @param pooled    whether this encoder gives the prompt's pooled vector (SDXL's bigG)
     * @param hidden    its width
     */
    public record Encoder(OnDemand<TextEncoder> network, PadStyle pad, int clipSkip, boolean finalNorm, boolean pooled, int hidden) {
        public Encoder {
            Objects.requireNonNull(network, "network");
            Objects.requireNonNull(pad, "pad");
        }
    }

    /**
     * One prompt's conditioning.
     *
     * @param context [tokens, width]: every encoder's hidden states side by side, chunk after chunk
     * @param tokens  77 x chunks
     * @param pooled  the pooled vector, or null when no encoder gives one
     */
    public record Encoded(float[] context, int tokens, float[] pooled) {
        /** The same shapes, all zeros (SDXL's empty negative prompt, as sgm's force_zero_embeddings). */
        public Encoded zeroed() {
            return new Encoded(new float[context.length], tokens, pooled == null ? null : new float[pooled.length]);
        }
    }

    private final ClipTokenizer tokenizer;
    private final List<Encoder> encoders;
    private final int width;
    private final EmbeddingLibrary embeddings;
    private final int vocabSize;
    private final Map<String, Encoded> cache = new LinkedHashMap<>(CACHE_SIZE, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Encoded> eldest) {
            return size() > CACHE_SIZE;
        }
    };

    public PromptEncoder(ClipTokenizer tokenizer, List<Encoder> encoders) {
        this(tokenizer, encoders, null, 0);
    }

    /**
     * @param embeddings textual-inversion embeddings to find in prompts, or null
     * @param vocabSize  the text encoder's vocabulary size: embedding vectors get the ids after it
     */
    public PromptEncoder(ClipTokenizer tokenizer, List<Encoder> encoders, EmbeddingLibrary embeddings, int vocabSize) {
        if (embeddings != null && encoders.size() > 2) throw new IllegalArgumentException("embeddings work with one or two text encoders");
        this.embeddings = embeddings;
        this.vocabSize = vocabSize;
        this.tokenizer = Objects.requireNonNull(tokenizer, "tokenizer");
        if (encoders.isEmpty()) throw new IllegalArgumentException("need at least one text encoder");
        if (encoders.stream().filter(Encoder::pooled).count() > 1) throw new IllegalArgumentException("only one encoder may give the pooled output");
        this.encoders = List.copyOf(encoders);
        this.width = encoders.stream().mapToInt(Encoder::hidden).sum();
    }

    /** Forgets every cached encoding (the text encoders' weights changed: a LoRA came or went). */
    public synchronized void clear() {
        cache.clear();
    }

    public ClipTokenizer tokenizer() {
        return tokenizer;
    }

    /** Context width per token: the encoders' widths added. */
    public int width() {
        return width;
    }

    /**
     * The conditioning of each prompt, in order. Synchronized: native compute is serialized per context
     * anyway, and this keeps the cache simple.
     */
    public synchronized List<Encoded> encode(List<String> prompts) {
        List<String> missing = prompts.stream().distinct().filter(p -> !cache.containsKey(p)).toList();
        if (!missing.isEmpty()) encodeMissing(missing);
        List<Encoded> out = new ArrayList<>(prompts.size());
        for (String p : prompts) out.add(cache.get(p));
        return out;
    }

    private void encodeMissing(List<String> missing) {
        int window = ClipTokenizer.CONTEXT_LENGTH;
        for (String prompt : missing) {
            int[] content = tokenizer.tokenize(prompt);
            EmbeddingLibrary.Substitution sub = null;
            if (embeddings != null) {
                sub = embeddings.substitute(content, vocabSize);
                content = sub.ids();
            }
            List<int[]> chunks = PromptChunks.split(content, tokenizer.tokenId(",</w>"));
            float[] context = new float[chunks.size() * window * width];
            float[] pooled = null;
            int offset = 0; // where this encoder's columns start within a token
            for (int index = 0; index < encoders.size(); index++) {
                Encoder e = encoders.get(index);
                float[] vectors = sub == null ? new float[0] : sub.rowsOf(index);
                try (OnDemand.Lease<TextEncoder> text = e.network().acquire()) {
                    for (int c = 0; c < chunks.size(); c++) {
                        int[] ids = PromptChunks.window(tokenizer, chunks.get(c), e.pad().padId());
                        float[] extra = windowRows(ids, vectors, e.hidden());
                        boolean pool = e.pooled() && c == 0; // the prompt's pooled vector is its first window's
                        TextEncoder.Output out = text.get().encode(ids, 1, window, e.clipSkip(), e.finalNorm(), pool, extra);
                        for (int t = 0; t < window; t++) {
                            System.arraycopy(out.hidden(), t * e.hidden(), context, (c * window + t) * width + offset, e.hidden());
                        }
                        if (pool) pooled = out.pooled();
                    }
                }
                offset += e.hidden();
            }
            cache.put(prompt, new Encoded(context, chunks.size() * window, pooled));
        }
    }

    /**
     * The embedding rows one window uses, renumbered in place: ids from {@code vocabSize} on point into this
     * window's own table (so a window never holds more rows than tokens, whatever the whole prompt uses).
     */
    private float[] windowRows(int[] ids, float[] vectors, int hidden) {
        if (vectors.length == 0) return vectors;
        Map<Integer, Integer> local = new LinkedHashMap<>();
        for (int k = 0; k < ids.length; k++) {
            if (ids[k] < vocabSize) continue;
            Integer row = local.computeIfAbsent(ids[k] - vocabSize, r -> local.size());
            ids[k] = vocabSize + row;
        }
        float[] table = new float[local.size() * hidden];
        local.forEach((row, at) -> System.arraycopy(vectors, row * hidden, table, at * hidden, hidden));
        return table;
    }
}
