package dev.ember.engine.nn;

import dev.ember.bindings.ember_tensor;
import dev.ember.engine.model.TensorData;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Collection;
import java.util.Objects;

/** Builds the {@code ember_tensor} array that the native {@code *_create} calls read. */
public final class NativeTensors {
    private NativeTensors() {}

    /**
     * Describes {@code tensors} (float types only) in an {@code ember_tensor[]} allocated in {@code arena}.
     * The data pointers point at the tensors' own memory: no copy is made.
     */
    public static MemorySegment describe(Collection<TensorData> tensors, Arena arena) {
        MemorySegment array = ember_tensor.allocateArray(tensors.size(), arena);
        long i = 0;
        for (TensorData t : tensors) {
            if (t.rank() > 4) throw new IllegalArgumentException(t.name() + " has more than 4 dimensions");
            MemorySegment e = ember_tensor.asSlice(array, i++);
            ember_tensor.name(e, arena.allocateFrom(t.name()));
            ember_tensor.data(e, t.data());
            long[] shape = t.shape();
            for (int d = 0; d < 4; d++) ember_tensor.shape(e, d, d < shape.length ? shape[d] : 1);
            ember_tensor.n_dims(e, shape.length);
            ember_tensor.dtype(e, t.dtype().nativeCode());
        }
        return array;
    }

    /** A native {@code *_set_weights} call on a described tensor list. */
    interface SetWeights {
        int apply(MemorySegment list, int count);
    }

    /**
     * Hands {@code tensors} to a network's {@code *_set_weights} under the context's lock; an empty list is a
     * no-op. {@code what} names the network in a failure.
     */
    static void setWeights(NativeContext context, Collection<TensorData> tensors, SetWeights call, String what) {
        Objects.requireNonNull(tensors, "tensors");
        if (tensors.isEmpty()) return;
        context.lock().lock();
        try (Arena arena = Arena.ofConfined()) {
            context.check(call.apply(describe(tensors, arena), tensors.size()), "replacing " + what + " weights");
        } finally {
            context.lock().unlock();
        }
    }
}
