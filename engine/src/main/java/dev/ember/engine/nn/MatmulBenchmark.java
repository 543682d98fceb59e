package dev.ember.engine.nn;

import dev.ember.bindings.ember_h;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The reference rate network figures are compared against: an f32 matrix product timed by
 * {@code ember_benchmark_matmul} on a context's device, with its threads and backends (BLAS if used).
 */
public final class MatmulBenchmark {
    private MatmulBenchmark() {}

    /** The best of {@code repeats} runs (after one warm-up) of [m x k] x [k x n], in seconds. */
    public static double seconds(NativeContext context, int m, int n, int k, int repeats) {
        context.lock().lock();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_DOUBLE);
            context.check(ember_h.ember_benchmark_matmul(context.handle(), m, n, k, repeats, out), "timing a matrix product");
            return out.get(ValueLayout.JAVA_DOUBLE, 0);
        } finally {
            context.lock().unlock();
        }
    }

    /** The f32 GEMM rate in FLOP/s (2 m n k / best time). */
    public static double flopsPerSecond(NativeContext context, int m, int n, int k, int repeats) {
        return 2.0 * m * n * k / seconds(context, m, n, k, repeats);
    }
}
