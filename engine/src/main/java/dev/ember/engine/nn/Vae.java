package dev.ember.engine.nn;

import dev.ember.bindings.ember_h;
import dev.ember.bindings.ember_model_stats;
import dev.ember.bindings.ember_vae_config;
import dev.ember.engine.NativeException;
import dev.ember.engine.model.NetworkLayout;
import dev.ember.engine.model.StateDict;
import dev.ember.engine.model.TensorData;
import dev.ember.engine.model.TensorSpec;
import dev.ember.engine.model.VaeConfig;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The SD VAE (LDM {@code AutoencoderKL}) on libember: owns one {@code ember_vae} handle.
 *
 * <p>{@link #encode} maps images [B, 3, H, W] in [-1, 1] to the moments [B, 2z, H/f, W/f] (mean then
 * log-variance, after {@code quant_conv}, unscaled); {@link #decode} maps latents [B, z, h, w] that are
 * already divided by the scale factor to images [B, 3, h*f, w*f], not clamped. f is
 * {@link VaeConfig#downscale()}. Every native call holds the context's {@link NativeContext#lock()}.
 * {@link #close()} is idempotent; the context must outlive this object.
 */
public final class Vae implements AutoCloseable {
    /** Which halves to load; only their tensors are needed. */
    public enum Parts {
        ENCODER(1), DECODER(2), BOTH(3);

        private final int code;

        Parts(int code) {
            this.code = code;
        }

        /** The EMBER_VAE_* bit set. */
        public int code() {
            return code;
        }

        public boolean hasEncoder() {
            return (code & 1) != 0;
        }

        public boolean hasDecoder() {
            return (code & 2) != 0;
        }
    }


    private final NativeContext context;
    private final VaeConfig config;
    private final Parts parts;
    private MemorySegment handle;

    /**
     * Copies the needed tensors of {@code weights} (canonical names, see {@link NetworkLayout#vaeEncoder}
     * and {@link NetworkLayout#vaeDecoder}) into a native VAE; {@code weights} may be closed afterwards, unless the
     * context has {@link NativeContext.Options#weightsInPlace()} on the CPU: then tensors that already have their
     * stored type are used where they lie, and {@code weights} must stay open (its file unchanged) until this VAE
     * is closed.
     *
     * @param weightType an {@code EMBER_WEIGHT_*} code
     * @throws NativeException naming the first missing or mis-shaped tensor, or for other native failures
     */
    public Vae(NativeContext context, VaeConfig config, StateDict weights, int weightType, Parts parts) {
        this.context = Objects.requireNonNull(context, "context");
        this.config = Objects.requireNonNull(config, "config");
        this.parts = Objects.requireNonNull(parts, "parts");
        Objects.requireNonNull(weights, "weights");
        int[] mult = config.channelMult();
        List<TensorSpec> specs = new ArrayList<>();
        if (parts.hasEncoder()) specs.addAll(NetworkLayout.vaeEncoder(config));
        if (parts.hasDecoder()) specs.addAll(NetworkLayout.vaeDecoder(config));
        // Only the tensors this network reads; absent ones are left for libember to name in its error.
        List<TensorData> tensors = new ArrayList<>();
        for (TensorSpec spec : specs) weights.find(spec.name()).ifPresent(tensors::add);

        try (Arena arena = Arena.ofConfined()) {
            MemorySegment c = ember_vae_config.allocate(arena);
            ember_vae_config.image_channels(c, config.imageChannels());
            ember_vae_config.latent_channels(c, config.latentChannels());
            ember_vae_config.base_channels(c, config.baseChannels());
            ember_vae_config.num_levels(c, mult.length);
            for (int i = 0; i < mult.length; i++) ember_vae_config.channel_mult(c, i, mult[i]);
            ember_vae_config.num_res_blocks(c, config.numResBlocks());
            ember_vae_config.norm_groups(c, config.normGroups());
            ember_vae_config.parts(c, parts.code());
            MemorySegment list = NativeTensors.describe(tensors, arena);
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            context.lock().lock();
            try {
                context.check(ember_h.ember_vae_create(context.handle(), c, list, tensors.size(), weightType, out),
                        "creating the VAE");
                handle = out.get(ValueLayout.ADDRESS, 0);
            } finally {
                context.lock().unlock();
            }
        }
    }

    public VaeConfig config() {
        return config;
    }

    public Parts parts() {
        return parts;
    }

    /**
     * image [batch, imageChannels, height, width] -> moments [batch, 2 * latentChannels, height / f, width / f].
     *
     * @throws IllegalArgumentException when the sizes do not fit or are not multiples of f
     * @throws NativeException          when libember fails (e.g. the encoder was not loaded)
     */
    public float[] encode(float[] image, int batch, int height, int width) {
        int f = config.downscale();
        positive(batch, height, width);
        if (height % f != 0 || width % f != 0) {
            throw new IllegalArgumentException("image size " + height + " x " + width
                    + " is not a multiple of the VAE's downscale factor " + f);
        }
        checkLength("image", image, batch, config.imageChannels(), height, width);
        int outLength = elements(batch, 2 * config.latentChannels(), height / f, width / f);
        return call(image, outLength, "VAE encode", (h, in, out) -> ember_h.ember_vae_encode(h, in, batch, height, width, out));
    }

    /**
     * latent [batch, latentChannels, height, width] (already divided by the scale factor)
     * -> image [batch, imageChannels, height * f, width * f], not clamped.
     */
    public float[] decode(float[] latent, int batch, int height, int width) {
        int f = config.downscale();
        positive(batch, height, width);
        checkLength("latent", latent, batch, config.latentChannels(), height, width);
        int outLength = elements(batch, config.imageChannels(), Math.multiplyExact(height, f), Math.multiplyExact(width, f));
        return call(latent, outLength, "VAE decode", (h, in, out) -> ember_h.ember_vae_decode(h, in, batch, height, width, out));
    }

    /** Values of a GroupNorm statistics record of the encoder ({@code encode}) or the decoder: 2 x layers x groups. */
    public int groupStatsSize(boolean encode) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment n = arena.allocate(ValueLayout.JAVA_INT);
            context.lock().lock();
            try {
                context.check(ember_h.ember_vae_group_stats_size(handle(), encode ? 1 : 0, n), "sizing VAE group statistics");
            } finally {
                context.lock().unlock();
            }
            return n.get(ValueLayout.JAVA_INT, 0);
        }
    }

    /**
     * The statistics of every GroupNorm of one pass (batch 1) over {@code input}: an image [imageChannels, height, width]
     * for the encoder, a latent [latentChannels, height, width] for the decoder. Per layer in graph order: the groups'
     * means, then their variances. Tiles run with {@link #decodeWithGroupStats} / {@link #encodeWithGroupStats} and
     * one record normalise alike.
     */
    public float[] recordGroupStats(boolean encode, float[] input, int height, int width) {
        positive(1, height, width);
        checkLength(encode ? "image" : "latent", input, 1, encode ? config.imageChannels() : config.latentChannels(), height, width);
        return call(input, groupStatsSize(encode), "recording VAE group statistics",
                (h, in, out) -> ember_h.ember_vae_record_group_stats(h, encode ? 1 : 0, in, height, width, out));
    }

    /** As {@link #decode} (batch 1), its GroupNorms using {@code stats} from {@link #recordGroupStats}. */
    public float[] decodeWithGroupStats(float[] latent, int height, int width, float[] stats) {
        int f = config.downscale();
        positive(1, height, width);
        checkLength("latent", latent, 1, config.latentChannels(), height, width);
        return withStats(false, latent, height, width, stats, elements(1, config.imageChannels(), height * f, width * f));
    }

    /** As {@link #encode} (batch 1), its GroupNorms using {@code stats} from {@link #recordGroupStats}. */
    public float[] encodeWithGroupStats(float[] image, int height, int width, float[] stats) {
        int f = config.downscale();
        positive(1, height, width);
        if (height % f != 0 || width % f != 0) throw new IllegalArgumentException("image size " + height + " x " + width + " is not a multiple of " + f);
        checkLength("image", image, 1, config.imageChannels(), height, width);
        return withStats(true, image, height, width, stats, elements(1, 2 * config.latentChannels(), height / f, width / f));
    }

    private float[] withStats(boolean encode, float[] input, int height, int width, float[] stats, int outLength) {
        Objects.requireNonNull(stats, "stats");
        if (stats.length != groupStatsSize(encode)) {
            throw new IllegalArgumentException("group statistics have " + stats.length + " values, expected " + groupStatsSize(encode));
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocateFrom(ValueLayout.JAVA_FLOAT, stats);
            return call(input, outLength, encode ? "VAE encode with group statistics" : "VAE decode with group statistics",
                    (h, in, out) -> ember_h.ember_vae_run_with_group_stats(h, encode ? 1 : 0, in, height, width, s, out));
        }
    }

    public NetworkStats stats() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = ember_model_stats.allocate(arena);
            context.lock().lock();
            try {
                context.check(ember_h.ember_vae_stats(handle(), s), "reading VAE stats");
            } finally {
                context.lock().unlock();
            }
            return NetworkStats.of(s);
        }
    }

    @Override
    public void close() {
        context.lock().lock();
        try {
            if (handle != null) {
                ember_h.ember_vae_free(handle);
                handle = null;
            }
        } finally {
            context.lock().unlock();
        }
    }

    // Package-private for tests that call the C API directly.
    MemorySegment handle() {
        if (handle == null) throw new IllegalStateException("VAE is closed");
        return handle;
    }

    private interface NativeCall {
        int apply(MemorySegment handle, MemorySegment in, MemorySegment out);
    }

    private float[] call(float[] input, int outLength, String operation, NativeCall fn) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment in = arena.allocateFrom(ValueLayout.JAVA_FLOAT, input);
            MemorySegment out = arena.allocate(ValueLayout.JAVA_FLOAT, outLength);
            context.lock().lock();
            try {
                context.check(fn.apply(handle(), in, out), operation);
            } finally {
                context.lock().unlock();
            }
            return out.toArray(ValueLayout.JAVA_FLOAT);
        }
    }

    private static void positive(int batch, int height, int width) {
        if (batch <= 0 || height <= 0 || width <= 0) {
            throw new IllegalArgumentException("batch, height and width must be positive, got " + batch + " x " + height + " x " + width);
        }
    }

    private static void checkLength(String what, float[] data, int batch, int channels, int height, int width) {
        Objects.requireNonNull(data, what);
        int expected = elements(batch, channels, height, width);
        if (data.length != expected) {
            throw new IllegalArgumentException(what + " has " + data.length + " values, expected " + expected + " for ["
                    + batch + ", " + channels + ", " + height + ", " + width + "]");
        }
    }

    private static int elements(int batch, int channels, int height, int width) {
        try {
            return Math.multiplyExact(Math.multiplyExact(batch, channels), Math.multiplyExact(height, width));
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException("tensor of [" + batch + ", " + channels + ", " + height + ", " + width + "] is too large");
        }
    }
}
