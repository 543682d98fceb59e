package dev.ember.spark;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * One instance per key for the whole JVM, lent to whoever asks and counted: what lets every task on a
 * Spark executor share one loaded model instead of loading it per partition.
 *
 * <p>The first {@link #acquire} of a key loads it (while others asking for it wait, so it loads once);
 * later ones share it. A resource nobody holds stays open for the next task, except that loading a new
 * key first closes the idle ones of other keys (an executor keeps the model it works with, not one per
 * job it ever ran). {@link #shutdown()} closes the idle ones and makes the rest close when their last
 * lease does.
 */
final class SharedResources<K, V extends AutoCloseable> {
    private final Function<K, V> loader;
    private final Map<K, Entry<V>> entries = new HashMap<>();
    private int loads;
    private boolean shutdown;

    private static final class Entry<V> {
        final V value;
        int leases;

        Entry(V value) {
            this.value = value;
        }
    }

    /** A share of one resource; closing it (idempotent) gives the share back. */
    final class Lease implements AutoCloseable {
        private final K key;
        private final Entry<V> entry;
        private boolean closed;

        private Lease(K key, Entry<V> entry) {
            this.key = key;
            this.entry = entry;
        }

        V get() {
            synchronized (SharedResources.this) {
                if (closed) throw new IllegalStateException("lease of " + key + " is closed");
            }
            return entry.value;
        }

        @Override
        public void close() {
            synchronized (SharedResources.this) {
                if (closed) return;
                closed = true;
                entry.leases--;
                if (entry.leases == 0 && shutdown) {
                    entries.remove(key, entry);
                    closeQuietly(entry.value);
                }
            }
        }
    }

    SharedResources(Function<K, V> loader) {
        this.loader = loader;
    }

    /**
     * The resource of {@code key}, loaded now if nobody holds or keeps it. Exceptions of the loader pass
     * through (nothing is kept, the next call tries again).
     */
    synchronized Lease acquire(K key) {
        if (shutdown) throw new IllegalStateException("shutting down: no new " + key);
        Entry<V> entry = entries.get(key);
        if (entry == null) {
            closeIdle(key);
            entry = new Entry<>(loader.apply(key));
            loads++;
            entries.put(key, entry);
        }
        entry.leases++;
        return new Lease(key, entry);
    }

    /** How many times a resource was loaded. */
    synchronized int loads() {
        return loads;
    }

    /** The keys loaded now (held or idle). */
    synchronized Set<K> loaded() {
        return Set.copyOf(entries.keySet());
    }

    /** Closes every idle resource now; the held ones close when their last lease is given back. Idempotent. */
    synchronized void shutdown() {
        shutdown = true;
        closeIdle(null);
    }

    /** Closes the resources nobody holds, except {@code keep}'s. */
    private void closeIdle(K keep) {
        List<K> idle = new ArrayList<>();
        entries.forEach((k, e) -> {
            if (e.leases == 0 && !k.equals(keep)) idle.add(k);
        });
        for (K k : idle) closeQuietly(entries.remove(k).value);
    }

    private static void closeQuietly(AutoCloseable value) {
        try {
            value.close();
        } catch (Exception e) {
            System.err.println("ember: closing " + value + " failed: " + e);
        }
    }
}
