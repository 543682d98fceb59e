package dev.ember.engine.gpu;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Host memory for buffers that go to the compute device on every step (latents, timesteps, the text
 * context, the UNet's output). Where a CUDA device is in use it is pinned ({@code cudaHostAlloc}):
 * the GPU then copies it by DMA, without the driver's staging copy through its own pinned buffer.
 * Anywhere else, or when pinning fails, it is ordinary native memory; callers need not care which.
 *
 * <p>{@link #close()} frees it (idempotent); the segment is invalid afterwards and any access to it
 * throws {@link IllegalStateException} instead of touching freed memory.
 */
public final class HostBuffer implements AutoCloseable {
    private final Arena arena;
    private final MemorySegment segment;
    private final CudaRuntime cuda;     // non-null when pinned
    private final MemorySegment pinned; // the raw pointer cudaHostAlloc returned
    private boolean closed;

    private HostBuffer(Arena arena, MemorySegment segment, CudaRuntime cuda, MemorySegment pinned) {
        this.arena = arena;
        this.segment = segment;
        this.cuda = cuda;
        this.pinned = pinned;
    }

    /**
     * {@code bytes} of zeroed host memory, aligned to 64 bytes; pinned when {@code pin} is set and
     * the CUDA runtime can pin it.
     */
    public static HostBuffer allocate(long bytes, boolean pin) {
        if (bytes <= 0) throw new IllegalArgumentException("bytes must be positive, got " + bytes);
        if (pin) {
            CudaRuntime cuda = CudaRuntime.find().orElse(null);
            if (cuda != null) {
                MemorySegment raw = null;
                try {
                    raw = cuda.hostAlloc(bytes);
                } catch (RuntimeException e) {
                    // no driver, no device, out of pinned memory: ordinary memory does the same job, slower
                }
                if (raw != null && !raw.equals(MemorySegment.NULL)) {
                    Arena arena = Arena.ofShared();
                    MemorySegment segment = raw.reinterpret(bytes, arena, null);
                    segment.fill((byte) 0);
                    return new HostBuffer(arena, segment, cuda, raw);
                }
            }
        }
        Arena arena = Arena.ofShared();
        return new HostBuffer(arena, arena.allocate(bytes, 64), null, null);
    }

    /** The memory; valid until {@link #close()}. */
    public MemorySegment segment() {
        return segment;
    }

    /** Whether the memory is page-locked by the CUDA runtime. */
    public boolean pinned() {
        return cuda != null;
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        arena.close();
        if (cuda != null) cuda.freeHost(pinned);
    }
}
