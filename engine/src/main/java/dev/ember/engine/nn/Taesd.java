package dev.ember.engine.nn;

import dev.ember.bindings.ember_h;
import dev.ember.bindings.ember_model_stats;
import dev.ember.bindings.ember_taesd_config;
import dev.ember.engine.NativeException;
import dev.ember.engine.model.StateDict;
import dev.ember.engine.model.TaesdConfig;
import dev.ember.engine.model.TaesdLayout;
import dev.ember.engine.model.TensorData;
import dev.ember.engine.model.TensorSpec;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * TAESD, the tiny autoencoder, on libember: owns one {@code ember_taesd} handle. A distilled stand-in for
 * the SD VAE at about 1/18 of its decode work, used for step previews and, when speed matters more than
 * detail, for final images.
 *
 * <p>Its latents are the UNet's own (already multiplied by the VAE's scale factor), not the VAE's
 * unscaled ones; its images are in [0, 1], not [-1, 1]: {@link #decode} maps latents [B, z, h, w] to
 * images [B, 3, 8h, 8w] (roughly [0, 1], not clamped), {@link #encode} the other way. Every native call
 * holds the context's {@link NativeContext#lock()}; {@link #close()} is idempotent and must come before the
 * context's. The weights rules are {@link Vae}'s (copied, or used in place on the CPU).
 */
public final class Taesd implements AutoCloseable {
    private final NativeContext context;
    private final TaesdConfig config;
    private final Vae.Parts parts;
    private MemorySegment handle;

    /**
     * Loads the halves in {@code parts} from {@code weights} (canonical names, {@link TaesdLayout}).
     *
     * @param weightType an {@code EMBER_WEIGHT_*} code (kernels stay f32 or f16 whatever is asked)
     * @throws NativeException naming a missing or misshapen tensor
     */
    public Taesd(NativeContext context, TaesdConfig config, StateDict weights, int weightType, Vae.Parts parts) {
        this.context = Objects.requireNonNull(context, "context");
        this.config = Objects.requireNonNull(config, "config");
        this.parts = Objects.requireNonNull(parts, "parts");
        Objects.requireNonNull(weights, "weights");
        List<TensorSpec> specs = new ArrayList<>();
        if (parts.hasEncoder()) specs.addAll(TaesdLayout.encoder(config));
        if (parts.hasDecoder()) specs.addAll(TaesdLayout.decoder(config));
        List<TensorData> tensors = new ArrayList<>();
        for (TensorSpec spec : specs) weights.find(spec.name()).ifPresent(tensors::add);
        context.lock().lock();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment c = ember_taesd_config.allocate(arena);
            ember_taesd_config.image_channels(c, config.imageChannels());
            ember_taesd_config.latent_channels(c, config.latentChannels());
            ember_taesd_config.channels(c, config.channels());
            ember_taesd_config.parts(c, parts.code());
            MemorySegment list = NativeTensors.describe(tensors, arena);
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            context.check(ember_h.ember_taesd_create(context.handle(), c, list, tensors.size(), weightType, out), "loading TAESD");
            handle = out.get(ValueLayout.ADDRESS, 0);
        } finally {
            context.lock().unlock();
        }
    }

    public TaesdConfig config() {
        return config;
    }

    public Vae.Parts parts() {
        return parts;
    }

    /** latent [batch, latentChannels, height, width] (UNet space) -> image [batch, imageChannels, 8 height, 8 width], ~[0, 1]. */
    public float[] decode(float[] latent, int batch, int height, int width) {
        check("latent", latent, batch, config.latentChannels(), height, width);
        int f = TaesdConfig.DOWNSCALE;
        long out = (long) batch * config.imageChannels() * height * f * width * f;
        return call(latent, out, "TAESD decode", (h, in, o) -> ember_h.ember_taesd_decode(h, in, batch, height, width, o));
    }

    /** image [batch, imageChannels, height, width] in [0, 1], sides multiples of 8 -> latent [batch, latentChannels, height/8, width/8]. */
    public float[] encode(float[] image, int batch, int height, int width) {
        int f = TaesdConfig.DOWNSCALE;
        if (height % f != 0 || width % f != 0) {
            throw new IllegalArgumentException("image size " + height + " x " + width + " is not a multiple of " + f);
        }
        check("image", image, batch, config.imageChannels(), height, width);
        long out = (long) batch * config.latentChannels() * (height / f) * (width / f);
        return call(image, out, "TAESD encode", (h, in, o) -> ember_h.ember_taesd_encode(h, in, batch, height, width, o));
    }

    public NetworkStats stats() {
        context.lock().lock();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = ember_model_stats.allocate(arena);
            context.check(ember_h.ember_taesd_stats(handle(), s), "reading TAESD stats");
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
                ember_h.ember_taesd_free(handle);
                handle = null;
            }
        } finally {
            context.lock().unlock();
        }
    }

    private MemorySegment handle() {
        if (handle == null) throw new IllegalStateException("TAESD is closed");
        return handle;
    }

    private interface NativeCall {
        int apply(MemorySegment handle, MemorySegment in, MemorySegment out);
    }

    private float[] call(float[] input, long outLength, String operation, NativeCall fn) {
        if (outLength > Integer.MAX_VALUE - 8) throw new IllegalArgumentException(operation + ": output of " + outLength + " values is too large");
        context.lock().lock();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment in = arena.allocateFrom(ValueLayout.JAVA_FLOAT, input);
            MemorySegment out = arena.allocate(ValueLayout.JAVA_FLOAT, outLength);
            context.check(fn.apply(handle(), in, out), operation);
            return out.toArray(ValueLayout.JAVA_FLOAT);
        } finally {
            context.lock().unlock();
        }
    }

    private static void check(String what, float[] data, int batch, int channels, int height, int width) {
        Objects.requireNonNull(data, what);
        if (batch <= 0 || height <= 0 || width <= 0) {
            throw new IllegalArgumentException("batch, height and width must be positive, got " + batch + " x " + height + " x " + width);
        }
        long expected = (long) batch * channels * height * width;
        if (data.length != expected) {
            throw new IllegalArgumentException(what + " has " + data.length + " values, expected " + expected + " for [" + batch + ", "
                    + channels + ", " + height + ", " + width + "]");
        }
    }
}
