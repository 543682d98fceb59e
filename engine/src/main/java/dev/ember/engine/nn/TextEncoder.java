package dev.ember.engine.nn;

import dev.ember.bindings.ember_h;
import dev.ember.bindings.ember_model_stats;
import dev.ember.bindings.ember_text_config;
import dev.ember.engine.model.NetworkLayout;
import dev.ember.engine.model.StateDict;
import dev.ember.engine.model.TensorData;
import dev.ember.engine.model.TensorSpec;
import dev.ember.engine.model.TextEncoderConfig;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;

/**
 * The CLIP text transformer in libember: tokens {@code [batch, nTokens]} to hidden states
 * {@code [batch, nTokens, hiddenSize]}, final layer norm applied to the layer that {@code clipSkip}
 * selects (1 = last layer, 2 = the one before, ...). {@link #encode(int[], int, int, int, boolean, boolean)}
 * can leave that norm out and also return the pooled output (SDXL's OpenCLIP bigG).
 *
 * <p>Owns one {@code ember_text_encoder}; {@link #close()} frees it once. The weights are copied into
 * the device's memory during construction, so the {@link StateDict} may be closed afterwards, unless the
 * context has {@link NativeContext.Options#weightsInPlace()} on the CPU: then tensors that already have
 * their stored type are used where they lie, and the dict must stay open (its file unchanged) until this
 * encoder is closed. Every
 * native call holds the context's {@link NativeContext#lock()}, so instances may be shared between
 * threads. The context must outlive this object.
 */
public final class TextEncoder implements AutoCloseable {

    private final NativeContext context;
    private final TextEncoderConfig config;
    /** Where this encoder's canonical names live ({@link NetworkLayout#TEXT_ROOT} or {@link NetworkLayout#TEXT2_ROOT}). */
    private final String root;
    private MemorySegment handle;

    /**
     * Loads the text encoder's tensors (canonical names, {@link NetworkLayout#textEncoder}) from {@code weights}.
     *
     * @param weightType an {@code EMBER_WEIGHT_*} code ({@code ember_h.EMBER_WEIGHT_F32()} ...)
     * @throws dev.ember.engine.NativeException if libember rejects the weights (a missing or mis-shaped
     *         tensor, named in the message; an unknown weight type; memory)
     */
    public TextEncoder(NativeContext context, TextEncoderConfig config, StateDict weights, int weightType) {
        this(context, config, weights, weightType, NetworkLayout.TEXT_ROOT);
    }

    /**
     * Loads a text encoder whose tensors live under {@code root} ({@link NetworkLayout#TEXT_ROOT}, or
     * {@link NetworkLayout#TEXT2_ROOT} for SDXL's second encoder). libember knows one set of names: the
     * tensors are handed over renamed to {@link NetworkLayout#TEXT_ROOT} (the same memory).
     */
    public TextEncoder(NativeContext context, TextEncoderConfig config, StateDict weights, int weightType, String root) {
        this.context = Objects.requireNonNull(context, "context");
        this.config = Objects.requireNonNull(config, "config");
        Objects.requireNonNull(weights, "weights");
        this.root = Objects.requireNonNull(root, "root");
        List<TensorData> tensors = new ArrayList<>();
        for (TensorSpec spec : NetworkLayout.textEncoder(config, root)) {
            // A missing tensor is passed over here and reported by libember, which names it.
            weights.find(spec.name()).ifPresent(t -> tensors.add(underTextRoot(spec.name(), t)));
        }
        context.lock().lock();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cfg = ember_text_config.allocate(arena);
            ember_text_config.vocab_size(cfg, config.vocabSize());
            ember_text_config.max_positions(cfg, config.maxPositions());
            ember_text_config.hidden_size(cfg, config.hiddenSize());
            ember_text_config.intermediate_size(cfg, config.intermediateSize());
            ember_text_config.num_layers(cfg, config.numLayers());
            ember_text_config.num_heads(cfg, config.numHeads());
            ember_text_config.activation(cfg, switch (config.activation()) {
                case QUICK_GELU -> ember_h.EMBER_ACT_QUICK_GELU();
                case GELU -> ember_h.EMBER_ACT_GELU();
            });
            ember_text_config.projection_dim(cfg, config.projectionDim());
            MemorySegment array = NativeTensors.describe(tensors, arena);
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            int status = ember_h.ember_text_encoder_create(context.handle(), cfg, array, tensors.size(), weightType, out);
            context.check(status, "loading the text encoder");
            handle = out.get(ValueLayout.ADDRESS, 0);
        } finally {
            context.lock().unlock();
        }
    }

    public TextEncoderConfig config() {
        return config;
    }

    /**
     * Encodes {@code batch} rows of {@code nTokens} token ids (row-major) into hidden states, row-major
     * {@code [batch, nTokens, hiddenSize]}, with the final layer norm applied.
     *
     * @throws IllegalArgumentException if the array length does not match
     * @throws dev.ember.engine.NativeException for ids outside the vocabulary, a bad clip skip or token count
     */
    public float[] encode(int[] tokens, int batch, int nTokens, int clipSkip) {
        return encode(tokens, batch, nTokens, clipSkip, new float[0]);
    }

    /**
     * As {@link #encode(int[], int, int, int)}, with extra token embeddings (textual inversion): an id
     * {@code v >= vocabSize} takes row {@code v - vocabSize} of {@code extra} ([rows, hiddenSize], row-major, used
     * exactly as given) in place of a token embedding row.
     *
     * @throws IllegalArgumentException if {@code extra} is not a whole number of rows
     */
    public float[] encode(int[] tokens, int batch, int nTokens, int clipSkip, float[] extra) {
        return encode(tokens, batch, nTokens, clipSkip, true, false, extra).hidden();
    }

    /**
     * What {@link #encode(int[], int, int, int, boolean, boolean, float[])} returns.
     *
     * @param hidden [batch, nTokens, hiddenSize]
     * @param pooled [batch, projectionDim], or null when not asked for
     */
    public record Output(float[] hidden, float[] pooled) {}

    /** {@link #encode(int[], int, int, int, boolean, boolean, float[])} without extra embeddings. */
    public Output encode(int[] tokens, int batch, int nTokens, int clipSkip, boolean finalNorm, boolean pooled) {
        return encode(tokens, batch, nTokens, clipSkip, finalNorm, pooled, new float[0]);
    }

    /**
     * Encodes token rows: the layer {@code clipSkip} selects, with or without the final layer norm, and
     * optionally the pooled output (final layer norm of the LAST layer at each row's end-of-text token,
     * times {@code text_projection}; needs {@link TextEncoderConfig#projectionDim()} > 0); ids from the
     * vocabulary size on take rows of {@code extra} (see {@link #encode(int[], int, int, int, float[])}).
     */
    public Output encode(int[] tokens, int batch, int nTokens, int clipSkip, boolean finalNorm, boolean pooled, float[] extra) {
        Objects.requireNonNull(tokens, "tokens");
        Objects.requireNonNull(extra, "extra");
        if (extra.length % config.hiddenSize() != 0) {
            throw new IllegalArgumentException(extra.length + " extra values are not rows of " + config.hiddenSize());
        }
        int extraRows = extra.length / config.hiddenSize();
        if (batch <= 0 || nTokens <= 0) throw new IllegalArgumentException("batch and nTokens must be positive, got " + batch + ", " + nTokens);
        if (tokens.length != Math.multiplyExact(batch, nTokens)) {
            throw new IllegalArgumentException(tokens.length + " tokens for batch " + batch + " x " + nTokens);
        }
        if (pooled && config.projectionDim() <= 0) throw new IllegalArgumentException("this text encoder has no projection, so no pooled output");
        long outCount = (long) batch * nTokens * config.hiddenSize();
        if (outCount > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("output too large: " + outCount + " floats");
        float[] hidden = new float[(int) outCount];
        float[] pooledOut = pooled ? new float[batch * config.projectionDim()] : null;
        context.lock().lock();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment in = arena.allocateFrom(ValueLayout.JAVA_INT, tokens);
            MemorySegment rows = extraRows == 0 ? MemorySegment.NULL : arena.allocateFrom(ValueLayout.JAVA_FLOAT, extra);
            MemorySegment out = arena.allocate(ValueLayout.JAVA_FLOAT, outCount);
            MemorySegment pool = pooled ? arena.allocate(ValueLayout.JAVA_FLOAT, pooledOut.length) : MemorySegment.NULL;
            int status = ember_h.ember_text_encoder_encode_ex(handle(), in, batch, nTokens, clipSkip, finalNorm ? 1 : 0, rows, extraRows,
                    out, pool);
            context.check(status, "encoding text");
            MemorySegment.copy(out, ValueLayout.JAVA_FLOAT, 0, hidden, 0, hidden.length);
            if (pooled) MemorySegment.copy(pool, ValueLayout.JAVA_FLOAT, 0, pooledOut, 0, pooledOut.length);
        } finally {
            context.lock().unlock();
        }
        return new Output(hidden, pooledOut);
    }

    /**
     * Replaces some weights by new values, stored as loading them would store them (LoRA merges); the
     * rules of {@link Unet#setWeights} apply.
     */
    public void setWeights(Collection<TensorData> tensors) {
        // Named under this encoder's root, as loading takes them: renamed to the one set of names libember knows.
        List<TensorData> renamed = new ArrayList<>(tensors.size());
        for (TensorData t : tensors) {
            if (!t.name().startsWith(root)) throw new IllegalArgumentException(t.name() + " is not a tensor of the text encoder under " + root);
            renamed.add(underTextRoot(t.name(), t));
        }
        NativeTensors.setWeights(context, renamed, (list, n) -> ember_h.ember_text_encoder_set_weights(handle(), list, n), "text encoder");
    }

    /** Tensor {@code name} of this encoder under the one set of names libember knows ({@link NetworkLayout#TEXT_ROOT}); the same memory. */
    private TensorData underTextRoot(String name, TensorData t) {
        return t.renamed(NetworkLayout.TEXT_ROOT + name.substring(root.length()));
    }

    public NetworkStats stats() {
        context.lock().lock();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = ember_model_stats.allocate(arena);
            context.check(ember_h.ember_text_encoder_stats(handle(), s), "reading text encoder stats");
            return NetworkStats.of(s);
        } finally {
            context.lock().unlock();
        }
    }

    private MemorySegment handle() {
        if (handle == null) throw new IllegalStateException("text encoder is closed");
        return handle;
    }

    @Override
    public void close() {
        context.lock().lock();
        try {
            if (handle != null) {
                ember_h.ember_text_encoder_free(handle);
                handle = null;
            }
        } finally {
            context.lock().unlock();
        }
    }
}
