package dev.ember.engine.nn;

import dev.ember.bindings.ember_context_params;
import dev.ember.bindings.ember_h;
import dev.ember.engine.DeviceInfo;
import dev.ember.engine.Ember;
import dev.ember.engine.FlashAttention;
import dev.ember.engine.NativeException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Owns one {@code ember_context}: the compute device, thread count and last-error text that every
 * network made from it shares. Networks must be closed before their context.
 *
 * <p>ggml's CPU backend keeps one work buffer per backend, so two graphs must not compute on one
 * context at the same time: every native call of the networks takes {@link #lock()}.
 */
public final class NativeContext implements AutoCloseable {
    /**
     * @param threads        CPU threads (0 = all cores)
     * @param device         device index from {@code Ember.devices()}, or -1 for the CPU
     * @param flashAttention ggml's fused attention (AUTO: for networks whose weights are not f32)
     * @param useBlas        let ggml's BLAS backend take matrix products, when libember was built with it;
     *                       results then vary with the thread count
     * @param lowMemory      smallest resident memory: weight sources are paged out of the process as they are
     *                       copied, compute buffers are freed after every call (slower: they are re-allocated)
     * @param weightsInPlace on the CPU, networks use the weights' own memory (the {@link dev.ember.engine.model.StateDict}'s
     *                       mapping) for every tensor that already has the type they store it in, instead of copying
     *                       it: no second copy of those weights, but the dict must then stay open, and its file
     *                       unchanged, until every network made from it is closed. Ignored on other devices.
     */
    public record Options(int threads, int device, FlashAttention flashAttention, boolean useBlas, boolean lowMemory,
                          boolean weightsInPlace) {
        public static final Options DEFAULT = new Options(0, -1, FlashAttention.AUTO, false, false, false);

        public Options {
            if (threads < 0) throw new IllegalArgumentException("threads must be >= 0, got " + threads);
            if (device < -1) throw new IllegalArgumentException("device must be >= -1, got " + device);
            if (flashAttention == null) flashAttention = FlashAttention.AUTO;
        }

        /** Weights copied (not used in place). */
        public Options(int threads, int device, FlashAttention flashAttention, boolean useBlas, boolean lowMemory) {
            this(threads, device, flashAttention, useBlas, lowMemory, false);
        }

        /** Flash attention on or off, not AUTO: what the network tests need to pin the path they check. Weights copied. */
        public Options(int threads, int device, boolean flashAttention, boolean useBlas) {
            this(threads, device, FlashAttention.of(flashAttention), useBlas, false, false);
        }

        public Options withWeightsInPlace(boolean value) {
            return new Options(threads, device, flashAttention, useBlas, lowMemory, value);
        }
    }

    private final ReentrantLock lock = new ReentrantLock();
    private final Options options;
    private MemorySegment handle;
    private volatile Boolean onCuda;

    public NativeContext(Options options) {
        this.options = options;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment params = ember_context_params.allocate(arena);
            ember_h.ember_context_params_init(params);
            ember_context_params.n_threads(params, options.threads());
            ember_context_params.device(params, options.device());
            ember_context_params.flash_attention(params, options.flashAttention().nativeCode());
            ember_context_params.use_blas(params, options.useBlas() ? 1 : 0);
            ember_context_params.low_memory(params, options.lowMemory() ? 1 : 0);
            ember_context_params.weights_in_place(params, options.weightsInPlace() ? 1 : 0);
            MemorySegment out = arena.allocate(ValueLayout.ADDRESS);
            int status = ember_h.ember_context_create(params, out);
            if (status != ember_h.EMBER_OK()) {
                throw new NativeException(status, "creating the native context", "device " + options.device() + ", threads " + options.threads());
            }
            handle = out.get(ValueLayout.ADDRESS, 0);
        }
    }

    public NativeContext() {
        this(Options.DEFAULT);
    }

    public Options options() {
        return options;
    }

    /** Whether the context computes on a CUDA device (ggml's {@code CUDA<N>}): host buffers are then worth pinning. */
    public boolean onCuda() {
        Boolean cuda = onCuda;
        if (cuda == null) {
            int device = options.device();
            List<DeviceInfo> devices = Ember.devices();
            cuda = device >= 0 && device < devices.size() && devices.get(device).name().startsWith("CUDA");
            onCuda = cuda;
        }
        return cuda;
    }

    /** The raw {@code ember_context *}; valid until {@link #close()}. */
    public MemorySegment handle() {
        if (handle == null) throw new IllegalStateException("native context is closed");
        return handle;
    }

    /** Serialises compute on this context (see the class comment). */
    public ReentrantLock lock() {
        return lock;
    }

    /** The context's last error text. */
    public String lastError() {
        return handle == null ? "" : ember_h.ember_context_last_error(handle).getString(0);
    }

    /** Throws a {@link NativeException} with the last error if {@code status} is not OK. */
    public void check(int status, String operation) {
        if (status != ember_h.EMBER_OK()) throw new NativeException(status, operation, lastError());
    }

    public void setThreads(int threads) {
        lock.lock();
        try {
            check(ember_h.ember_context_set_threads(handle(), threads), "setting the thread count");
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void close() {
        lock.lock();
        try {
            if (handle != null) {
                ember_h.ember_context_free(handle);
                handle = null;
            }
        } finally {
            lock.unlock();
        }
    }
}
