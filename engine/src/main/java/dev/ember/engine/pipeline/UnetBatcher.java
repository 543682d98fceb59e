package dev.ember.engine.pipeline;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Runs the UNet calls of generations that sample at the same time as one batch. Each generation takes a
 * {@link Seat} for the latent size it samples at, uses it as its {@link UnetCall} and closes it when sampling
 * ends. A seat's call waits until every seat of the same size (height, width, context tokens) has made its next
 * call or left; then one of the waiting threads runs all those rows as one UNet call (several, when they exceed
 * {@code maxRows}) and hands each seat its rows of the output. Seats may join and leave at any time: a seat
 * that joins while a call is running takes part in the next one.
 *
 * <p>Why the pixels do not change: the UNet computes every row of a batch alone (convolutions, norms and
 * attention never mix rows), and ggml's CPU matrix products add each output element up in the same order for
 * any number of rows, except that a product with a single row takes another kernel (ggml's llamafile sgemm
 * declines n &lt; 2). So seats with one row (no classifier-free guidance) never share a call; seats with two
 * (the conditional and unconditional rows) give exactly what they give alone. {@code BatchingTest} checks it.
 *
 * <p>The leading thread reads and writes the other seats' buffers, so a seat's segments must be accessible from
 * any thread (native memory of a shared or global arena, as {@link GuidedUnet}'s are).
 *
 * <p>If a batched call fails (a native error, out of memory), each seat's rows are run again alone, so only
 * a seat whose own call fails sees the error. A seat's call never returns before its rows are computed (it
 * ignores thread interrupts), because the rows are read from and written to the caller's buffers. Thread-safe.
 */
public final class UnetBatcher {
    private final UnetCall unet;
    private final int maxRows;
    private final int inChannels;
    private final int outChannels;
    private final int contextDim;
    private final int vectorDim;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final Map<Shape, Group> groups = new HashMap<>();
    private long calls;
    private long seatCalls;
    private int largestCall;

    /** What {@link #stats()} reports: UNet calls made, seat calls they served, and the most seats one call served. */
    public record Stats(long unetCalls, long seatCalls, int largestCall) {}

    private record Shape(int height, int width, int contextTokens) {}

    /** The seats of one shape, and the calls they have made towards the next batch. */
    private static final class Group {
        final List<Seat> members = new ArrayList<>();
        final List<Pending> pending = new ArrayList<>();
    }

    /** One seat's call, waiting for its batch. */
    private static final class Pending {
        final Seat seat;
        final MemorySegment latent, timesteps, context, vector, out;
        boolean done;
        RuntimeException failure;

        Pending(Seat seat, MemorySegment latent, MemorySegment timesteps, MemorySegment context, MemorySegment vector, MemorySegment out) {
            this.seat = seat;
            this.latent = latent;
            this.timesteps = timesteps;
            this.context = context;
            this.vector = vector;
            this.out = out;
        }
    }

    /**
     * @param unet        the network that runs the batches
     * @param maxRows     the most rows one call may take (at least 2)
     * @param inChannels  latent channels in, outChannels out, contextDim the text context's width: the row sizes
     */
    public UnetBatcher(UnetCall unet, int maxRows, int inChannels, int outChannels, int contextDim) {
        this(unet, maxRows, inChannels, outChannels, contextDim, 0);
    }

    /** As {@link #UnetBatcher(UnetCall, int, int, int, int)}, with {@code vectorDim} values of vector conditioning per row (SDXL; 0: none). */
    public UnetBatcher(UnetCall unet, int maxRows, int inChannels, int outChannels, int contextDim, int vectorDim) {
        this.unet = Objects.requireNonNull(unet, "unet");
        if (maxRows < 2) throw new IllegalArgumentException("maxRows must be at least 2, got " + maxRows);
        this.maxRows = maxRows;
        this.inChannels = inChannels;
        this.outChannels = outChannels;
        this.contextDim = contextDim;
        if (vectorDim < 0) throw new IllegalArgumentException("vectorDim must not be negative, got " + vectorDim);
        this.vectorDim = vectorDim;
    }

    public int maxRows() {
        return maxRows;
    }

    /**
     * A seat for a generation whose UNet calls have {@code rows} rows (2 with guidance, 1 without) of a
     * {@code height x width} latent with {@code contextTokens} context tokens. Close it when sampling ends.
     */
    public Seat join(int rows, int height, int width, int contextTokens) {
        if (rows < 1 || rows > maxRows) throw new IllegalArgumentException("rows must be between 1 and " + maxRows + ", got " + rows);
        Shape shape = new Shape(height, width, contextTokens);
        Seat seat = new Seat(rows, shape);
        if (rows == 1) return seat; // a single row takes another kernel in a batch: it always runs alone
        lock.lock();
        try {
            groups.computeIfAbsent(shape, s -> new Group()).members.add(seat);
        } finally {
            lock.unlock();
        }
        return seat;
    }

    public Stats stats() {
        lock.lock();
        try {
            return new Stats(calls, seatCalls, largestCall);
        } finally {
            lock.unlock();
        }
    }

    /** A generation's place in the batches: its {@link UnetCall}. Used by one thread; close it when sampling ends. */
    public final class Seat implements UnetCall, AutoCloseable {
        private final int rows;
        private final Shape shape;
        private boolean closed;

        private Seat(int rows, Shape shape) {
            this.rows = rows;
            this.shape = shape;
        }

        @Override
        public void forward(MemorySegment latent, int batch, int height, int width, MemorySegment timesteps, MemorySegment textContext,
                            int contextTokens, MemorySegment vector, MemorySegment out) {
            if (closed) throw new IllegalStateException("seat is closed");
            if (batch != rows || height != shape.height() || width != shape.width() || contextTokens != shape.contextTokens()) {
                throw new IllegalArgumentException("this seat runs " + rows + " rows of " + shape.height() + "x" + shape.width()
                        + " with " + shape.contextTokens() + " tokens, got " + batch + " rows of " + height + "x" + width
                        + " with " + contextTokens);
            }
            if (rows == 1) {
                count(1);
                unet.forward(latent, batch, height, width, timesteps, textContext, contextTokens, vector, out);
                return;
            }
            Pending mine = new Pending(this, latent, timesteps, textContext, vector, out);
            lock.lock();
            try {
                Group group = groups.get(shape);
                group.pending.add(mine);
                while (!mine.done) {
                    if (group.pending.contains(mine) && group.pending.size() == group.members.size()) {
                        List<Pending> batchOf = new ArrayList<>(group.pending);
                        group.pending.clear();
                        lock.unlock();
                        try {
                            run(batchOf);
                        } finally {
                            lock.lock();
                            for (Pending p : batchOf) p.done = true;
                            changed.signalAll();
                        }
                    } else {
                        changed.awaitUninterruptibly();
                    }
                }
            } finally {
                lock.unlock();
            }
            if (mine.failure != null) throw mine.failure;
        }

        /** Leaves the batches; the others no longer wait for this seat. Idempotent. */
        @Override
        public void close() {
            if (closed) return;
            closed = true;
            if (rows == 1) return;
            lock.lock();
            try {
                Group group = groups.get(shape);
                group.members.remove(this);
                if (group.members.isEmpty()) groups.remove(shape);
                changed.signalAll(); // the others' batch may be complete now
            } finally {
                lock.unlock();
            }
        }
    }

    /** Runs the calls in chunks of at most {@link #maxRows} rows, recording each call's failure in it. */
    private void run(List<Pending> batch) {
        List<Pending> chunk = new ArrayList<>();
        int rows = 0;
        for (Pending p : batch) {
            if (rows + p.seat.rows > maxRows) {
                runChunk(chunk);
                chunk = new ArrayList<>();
                rows = 0;
            }
            chunk.add(p);
            rows += p.seat.rows;
        }
        if (!chunk.isEmpty()) runChunk(chunk);
    }

    private void runChunk(List<Pending> chunk) {
        if (chunk.size() > 1) {
            try {
                runTogether(chunk);
                count(chunk.size());
                return;
            } catch (RuntimeException | OutOfMemoryError e) {
                // fall through: each seat alone, so that only a seat whose own call fails sees an error
            }
        }
        for (Pending p : chunk) {
            try {
                Shape s = p.seat.shape;
                unet.forward(p.latent, p.seat.rows, s.height(), s.width(), p.timesteps, p.context, s.contextTokens(), p.vector, p.out);
                count(1);
            } catch (RuntimeException e) {
                p.failure = e;
            }
        }
    }

    private void runTogether(List<Pending> chunk) {
        Shape s = chunk.getFirst().seat.shape;
        long plane = (long) s.height() * s.width() * Float.BYTES;
        long contextRow = (long) s.contextTokens() * contextDim * Float.BYTES;
        int rows = 0;
        for (Pending p : chunk) rows += p.seat.rows;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment x = arena.allocate(rows * plane * inChannels, 64);
            MemorySegment t = arena.allocate((long) rows * Float.BYTES, 64);
            MemorySegment c = arena.allocate(rows * contextRow, 64);
            MemorySegment o = arena.allocate(rows * plane * outChannels, 64);
            long vectorRow = (long) vectorDim * Float.BYTES;
            MemorySegment y = vectorDim == 0 ? null : arena.allocate(rows * vectorRow, 64);
            long row = 0;
            for (Pending p : chunk) {
                int n = p.seat.rows;
                MemorySegment.copy(p.latent, 0, x, row * plane * inChannels, n * plane * inChannels);
                MemorySegment.copy(p.timesteps, 0, t, row * Float.BYTES, (long) n * Float.BYTES);
                MemorySegment.copy(p.context, 0, c, row * contextRow, n * contextRow);
                if (y != null) MemorySegment.copy(p.vector, 0, y, row * vectorRow, n * vectorRow);
                row += n;
            }
            unet.forward(x, rows, s.height(), s.width(), t, c, s.contextTokens(), y, o);
            row = 0;
            for (Pending p : chunk) {
                int n = p.seat.rows;
                MemorySegment.copy(o, row * plane * outChannels, p.out, 0, n * plane * outChannels);
                row += n;
            }
        }
    }

    private void count(int seats) {
        lock.lock();
        try {
            calls++;
            seatCalls += seats;
            largestCall = Math.max(largestCall, seats);
        } finally {
            lock.unlock();
        }
    }
}
