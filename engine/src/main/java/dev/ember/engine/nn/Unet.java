package dev.ember.engine.nn;

import dev.ember.bindings.ember_h;
import dev.ember.bindings.ember_model_stats;
import dev.ember.bindings.ember_unet_config;
import dev.ember.engine.NativeException;
import dev.ember.engine.model.NetworkLayout;
import dev.ember.engine.model.StateDict;
import dev.ember.engine.model.TensorData;
import dev.ember.engine.model.UnetConfig;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Collection;
import java.util.Objects;

/**
 * The SD UNet (LDM {@code UNetModel}) on the native side: owns one {@code ember_unet}. Predicts eps or v
 * (whatever the weights were trained for) for a batch of latents at given timesteps and text context,
 * plus SDXL's vector conditioning when {@link UnetConfig#hasVectorConditioning()}. {@link #imagesEvaluated()}
 * counts the latents it has run (a CFG step with guidance is two, without one).
 *
 * <p>Weights are copied into the context's device during construction, so the {@link StateDict} may be
 * closed afterwards, unless the context has {@link NativeContext.Options#weightsInPlace()} on the CPU: then
 * tensors that already have their stored type are used where they lie, and the dict must stay open (its
 * file unchanged) until this UNet is closed. Every native call takes the context's {@link NativeContext#lock()}; one instance may
 * be used from several threads. {@link #close()} is idempotent and must come before the context's.
 */
public final class Unet implements AutoCloseable {

    private final NativeContext context;
    private final UnetConfig config;
    private final java.util.concurrent.atomic.AtomicLong imagesEvaluated = new java.util.concurrent.atomic.AtomicLong();
    private MemorySegment handle;

    /**
     * Loads the UNet's tensors (canonical names, {@link NetworkLayout#unet}) from {@code weights}.
     *
     * @param weightType an {@code EMBER_WEIGHT_*} code: how matrix weights are stored on the device
     * @throws NativeException naming the tensor when one is missing or has the wrong shape
     */
    public Unet(NativeContext context, UnetConfig config, StateDict weights, int weightType) {
        this.context = Objects.requireNonNull(context, "context");
        this.config = Objects.requireNonNull(config, "config");
        Objects.requireNonNull(weights, "weights");
        Collection<TensorData> tensors = weights.withPrefix(NetworkLayout.UNET_PREFIX).values();
        context.lock().lock();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cfg = describe(config, arena);
            MemorySegment list = NativeTensors.describe(tensors, arena);
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            int status = ember_h.ember_unet_create(context.handle(), cfg, list, tensors.size(), weightType, out);
            context.check(status, "loading the UNet");
            handle = out.get(ValueLayout.ADDRESS, 0);
        } finally {
            context.lock().unlock();
        }
    }

    public UnetConfig config() {
        return config;
    }

    /** The context (device, threads) this UNet runs on. */
    public NativeContext context() {
        return context;
    }

    /**
     * Runs the UNet on heap arrays.
     *
     * @param latent        [batch, inChannels, height, width]
     * @param timesteps     [batch]
     * @param textContext   [batch, contextTokens, contextDim]
     * @return [batch, outChannels, height, width]
     */
    public float[] forward(float[] latent, int batch, int height, int width, float[] timesteps, float[] textContext, int contextTokens) {
        return forward(latent, batch, height, width, timesteps, textContext, contextTokens, null);
    }

    /**
     * As {@link #forward(float[], int, int, int, float[], float[], int)} with SDXL's vector conditioning
     * {@code vector} [batch, admInChannels] (required exactly when the UNet has vector conditioning).
     */
    public float[] forward(float[] latent, int batch, int height, int width, float[] timesteps, float[] textContext, int contextTokens,
                           float[] vector) {
        checkShapes(batch, height, width, contextTokens);
        checkVector(vector != null);
        expectLength("latent", latent, (long) batch * config.inChannels() * height * width);
        expectLength("timesteps", timesteps, batch);
        expectLength("context", textContext, (long) batch * contextTokens * config.contextDim());
        if (vector != null) expectLength("vector", vector, (long) batch * config.admInChannels());
        long outLength = (long) batch * config.outChannels() * height * width;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment x = arena.allocateFrom(ValueLayout.JAVA_FLOAT, latent);
            MemorySegment t = arena.allocateFrom(ValueLayout.JAVA_FLOAT, timesteps);
            MemorySegment c = arena.allocateFrom(ValueLayout.JAVA_FLOAT, textContext);
            MemorySegment y = vector == null ? null : arena.allocateFrom(ValueLayout.JAVA_FLOAT, vector);
            MemorySegment out = arena.allocate(ValueLayout.JAVA_FLOAT, outLength);
            forward(x, batch, height, width, t, c, contextTokens, y, out);
            return out.toArray(ValueLayout.JAVA_FLOAT);
        }
    }

    /** Runs the UNet on native float buffers laid out as in {@link #forward(float[], int, int, int, float[], float[], int)}. */
    public void forward(MemorySegment latent, int batch, int height, int width, MemorySegment timesteps, MemorySegment textContext,
                        int contextTokens, MemorySegment out) {
        forward(latent, batch, height, width, timesteps, textContext, contextTokens, null, out);
    }

    /**
     * Runs the UNet on native float buffers; {@code vector} [batch, admInChannels] is SDXL's vector
     * conditioning, null for a UNet without one.
     *
     * @throws IllegalArgumentException when the vector is missing for a UNet that needs it, or given to one that does not
     */
    public void forward(MemorySegment latent, int batch, int height, int width, MemorySegment timesteps, MemorySegment textContext,
                        int contextTokens, MemorySegment vector, MemorySegment out) {
        checkShapes(batch, height, width, contextTokens);
        checkVector(vector != null);
        long plane = (long) height * width * Float.BYTES * batch;
        expectBytes("latent", latent, plane * config.inChannels());
        expectBytes("timesteps", timesteps, (long) batch * Float.BYTES);
        expectBytes("context", textContext, (long) batch * contextTokens * config.contextDim() * Float.BYTES);
        if (vector != null) expectBytes("vector", vector, (long) batch * config.admInChannels() * Float.BYTES);
        expectBytes("out", out, plane * config.outChannels());
        context.lock().lock();
        try {
            int status = ember_h.ember_unet_forward_ex(handle(), latent, batch, height, width, timesteps, textContext, contextTokens,
                    vector == null ? MemorySegment.NULL : vector, out);
            context.check(status, "running the UNet");
            imagesEvaluated.addAndGet(batch);
        } finally {
            context.lock().unlock();
        }
    }

    private void checkVector(boolean given) {
        if (given != config.hasVectorConditioning()) {
            throw new IllegalArgumentException(config.hasVectorConditioning()
                    ? "this UNet needs its vector conditioning (" + config.admInChannels() + " values per latent)"
                    : "this UNet takes no vector conditioning");
        }
    }

    /** Latents run so far, over all calls (a batch of two counts two): classifier-free guidance doubles it. */
    public long imagesEvaluated() {
        return imagesEvaluated.get();
    }

    /**
     * Replaces some weights (canonical names and shapes of {@link NetworkLayout#unet}) by new values, stored as
     * loading them would store them: how a LoRA is merged in and taken out again. With weights in place on the
     * CPU, a tensor that already has its stored type is used where it lies, so its memory must stay valid until
     * that tensor is replaced again or this UNet is closed; others are copied. Nothing changes when one is refused.
     *
     * @throws NativeException naming an unknown or misshapen tensor
     */
    public void setWeights(Collection<TensorData> tensors) {
        NativeTensors.setWeights(context, tensors, (list, n) -> ember_h.ember_unet_set_weights(handle(), list, n), "UNet");
    }

    public NetworkStats stats() {
        context.lock().lock();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = ember_model_stats.allocate(arena);
            context.check(ember_h.ember_unet_stats(handle(), s), "reading the UNet's stats");
            return NetworkStats.of(s);
        } finally {
            context.lock().unlock();
        }
    }

    @Override
    public void close() {
        context.lock().lock();
        try {
            if (handle != null) {
                ember_h.ember_unet_free(handle);
                handle = null;
            }
        } finally {
            context.lock().unlock();
        }
    }

    private MemorySegment handle() {
        if (handle == null) throw new IllegalStateException("UNet is closed");
        return handle;
    }

    private void checkShapes(int batch, int height, int width, int contextTokens) {
        if (batch <= 0) throw new IllegalArgumentException("batch must be positive, got " + batch);
        if (contextTokens <= 0) throw new IllegalArgumentException("contextTokens must be positive, got " + contextTokens);
        if (height <= 0 || width <= 0) {
            throw new IllegalArgumentException("latent size " + height + "x" + width + " must be positive");
        }
    }

    private static void expectLength(String what, float[] a, long n) {
        Objects.requireNonNull(a, what);
        if (a.length != n) throw new IllegalArgumentException(what + " has " + a.length + " values, expected " + n);
    }

    private static void expectBytes(String what, MemorySegment s, long bytes) {
        Objects.requireNonNull(s, what);
        if (s.byteSize() < bytes) throw new IllegalArgumentException(what + " has " + s.byteSize() + " bytes, needs " + bytes);
    }

    static MemorySegment describe(UnetConfig c, Arena arena) {
        MemorySegment s = ember_unet_config.allocate(arena);
        ember_unet_config.in_channels(s, c.inChannels());
        ember_unet_config.out_channels(s, c.outChannels());
        ember_unet_config.model_channels(s, c.modelChannels());
        ember_unet_config.num_res_blocks(s, c.numResBlocks());
        int[] mult = c.channelMult();
        ember_unet_config.num_levels(s, mult.length);
        for (int i = 0; i < 6; i++) ember_unet_config.channel_mult(s, i, i < mult.length ? mult[i] : 0);
        ember_unet_config.attention_levels(s, c.attentionLevels());
        ember_unet_config.num_heads(s, c.numHeads());
        ember_unet_config.head_dim(s, c.headDim());
        ember_unet_config.transformer_depth(s, c.transformerDepth());
        ember_unet_config.context_dim(s, c.contextDim());
        ember_unet_config.linear_projection(s, c.linearProjection() ? 1 : 0);
        ember_unet_config.norm_groups(s, c.normGroups());
        for (int i = 0; i < 6; i++) ember_unet_config.transformer_depths(s, i, i < mult.length ? c.depthAt(i) : 0);
        ember_unet_config.transformer_depth_middle(s, c.middleDepth());
        ember_unet_config.adm_in_channels(s, c.admInChannels());
        return s;
    }
}
