package dev.ember.engine.model;

import java.lang.foreign.Arena;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.SequencedMap;

/**
 * Named tensors under canonical names, with the memory that backs them. The arena (usually the one
 * that memory-mapped the file) belongs to this object and is closed by {@link #close()}, after which
 * every {@link TensorData#data()} handed out is invalid. {@code close()} is idempotent.
 */
public final class StateDict implements AutoCloseable {
    private final SequencedMap<String, TensorData> tensors;
    private final Arena arena;
    private boolean closed;

    /** Takes ownership of {@code arena} (may be {@link Arena#global()} for heap-backed test data: never closed). */
    public StateDict(Map<String, TensorData> tensors, Arena arena) {
        this.tensors = Collections.unmodifiableSequencedMap(new LinkedHashMap<>(tensors));
        this.arena = arena;
    }

    public SequencedMap<String, TensorData> tensors() {
        return tensors;
    }

    public Optional<TensorData> find(String name) {
        return Optional.ofNullable(tensors.get(name));
    }

    /** The tensor, or an exception naming the missing one. */
    public TensorData get(String name) {
        TensorData t = tensors.get(name);
        if (t == null) throw new IllegalArgumentException("missing tensor " + name);
        return t;
    }

    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /** The tensors whose names start with {@code prefix}. */
    public Map<String, TensorData> withPrefix(String prefix) {
        Map<String, TensorData> out = new LinkedHashMap<>();
        tensors.forEach((k, v) -> {
            if (k.startsWith(prefix)) out.put(k, v);
        });
        return out;
    }

    public Arena arena() {
        return arena;
    }

    /** Whether {@link #close()} has run (the tensors' memory is then gone). */
    public synchronized boolean isClosed() {
        return closed;
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        if (arena != Arena.global()) arena.close();
    }
}
