package dev.ember.engine.pipeline;

import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * One network (or any closeable resource) handed out through leases, either kept resident or loaded per
 * use. {@link #perUse} loads on the first {@link #acquire()}, counts the leases out, and frees the value
 * when the last one is closed, so it is resident only while someone uses it; {@link #resident} wraps a
 * value that stays loaded until {@link #close()}. Callers write one path for both:
 *
 * <pre>{@code
 * try (OnDemand.Lease<Vae> vae = decoder.acquire()) {
 *     image = vae.get().decode(latent, 1, h, w);
 * }
 * }</pre>
 *
 * <p>Thread-safe: concurrent acquirers share one loaded value (a second thread waits while the first
 * loads). This object owns the value it holds and closes it exactly once. {@link #close()} frees the value
 * even if leases are still out (a lease's value then fails on use, as a closed network does); after it,
 * {@link #acquire()} throws.
 *
 * @param <T> what is lent, e.g. a {@link dev.ember.engine.nn.TextEncoder}
 */
public final class OnDemand<T extends AutoCloseable> implements AutoCloseable {
    /** A use of the value; close it (once is enough, more is harmless) when done. Not for sharing between threads. */
    public interface Lease<T> extends AutoCloseable {
        /** The value; valid until this lease is closed. */
        T get();

        @Override
        void close();
    }

    private final String name;
    private final Supplier<? extends T> loader; // null: resident
    private T value;
    private int leases;
    private boolean closed;

    private OnDemand(String name, Supplier<? extends T> loader, T value) {
        this.name = Objects.requireNonNull(name, "name");
        this.loader = loader;
        this.value = value;
    }

    /** A value that stays loaded until {@link #close()}; this object takes ownership of it. */
    public static <T extends AutoCloseable> OnDemand<T> resident(String name, T value) {
        return new OnDemand<>(name, null, Objects.requireNonNull(value, "value"));
    }

    /**
     * A value made by {@code loader} when the first lease is taken and closed when the last is returned.
     * The loader runs under this object's lock; when it throws, nothing is loaded and the exception
     * reaches the acquirer.
     */
    public static <T extends AutoCloseable> OnDemand<T> perUse(String name, Supplier<? extends T> loader) {
        return new OnDemand<>(name, Objects.requireNonNull(loader, "loader"), null);
    }

    /**
     * Lends the value, loading it first if needed.
     *
     * @throws IllegalStateException after {@link #close()}
     */
    public synchronized Lease<T> acquire() {
        if (closed) throw new IllegalStateException(name + " is closed");
        if (value == null) value = Objects.requireNonNull(loader.get(), "loader returned null");
        leases++;
        return new Grant(value);
    }

    /** Whether the value is loaded now (always, for a resident one, until closed). */
    public synchronized boolean loaded() {
        return value != null;
    }

    /** Whether the value is loaded per use rather than kept resident. */
    public boolean perUse() {
        return loader != null;
    }

    private synchronized void release(T lent) {
        leases--;
        if (leases == 0 && loader != null && value == lent) {
            value = null;
            closeValue(lent);
        }
    }

    /** Frees the value if loaded. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        T v = value;
        value = null;
        if (v != null) closeValue(v);
    }

    private void closeValue(T v) {
        try {
            v.close();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException("closing " + name + ": " + e.getMessage(), e);
        }
    }

    private final class Grant implements Lease<T> {
        private final T lent;
        private final AtomicBoolean open = new AtomicBoolean(true);

        Grant(T lent) {
            this.lent = lent;
        }

        @Override
        public T get() {
            if (!open.get()) throw new IllegalStateException("lease of " + name + " is closed");
            return lent;
        }

        @Override
        public void close() {
            if (open.compareAndSet(true, false)) release(lent);
        }
    }

    @Override
    public String toString() {
        return name + (loader == null ? " (resident)" : " (per use)");
    }
}
