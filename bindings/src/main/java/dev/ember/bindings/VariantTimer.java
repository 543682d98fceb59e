package dev.ember.bindings;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;

/**
 * Times {@link CpuVariantTiming}'s workloads on one libember variant through that library's own symbols
 * ({@code ember_h} is bound to the one library Ember finally uses; here several are loaded side by side,
 * which their hidden ggml copies allow). Package-private: {@link CpuVariants} is the way in.
 */
final class VariantTimer {
    private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT;
    private static final AddressLayout A = ValueLayout.ADDRESS;
    private static final int PRODUCT_REPEATS = 3, ATTENTION_REPEATS = 2, EXACT_REPEATS = 1;
    /** A variant whose products alone predict this many times the best estimate so far is not timed further. */
    static final double HOPELESS = 1.5;

    private VariantTimer() {}

    /**
     * Loads {@code library} (never unloaded) and measures it with {@code threads} threads (0 = all cores).
     * {@code bestSoFar} is the lowest estimated step time measured so far (infinite if none): a variant whose
     * products alone take {@value #HOPELESS} times that is left there, which keeps a CPU's first run short
     * (the SSE4.2 variant's f16 products run ~20x slower than AVX2's).
     */
    static CpuVariantTiming time(CpuVariant variant, Path library, int threads, double bestSoFar) {
        try {
            SymbolLookup lookup = SymbolLookup.libraryLookup(library, Arena.global());
            Linker linker = Linker.nativeLinker();
            MethodHandle name = handle(linker, lookup, "ember_cpu_variant", FunctionDescriptor.of(A));
            MethodHandle init = handle(linker, lookup, "ember_context_params_init", FunctionDescriptor.ofVoid(A));
            MethodHandle create = handle(linker, lookup, "ember_context_create", FunctionDescriptor.of(I, A, A));
            MethodHandle free = handle(linker, lookup, "ember_context_free", FunctionDescriptor.ofVoid(A));
            MethodHandle lastError = handle(linker, lookup, "ember_context_last_error", FunctionDescriptor.of(A, A));
            MethodHandle product = handle(linker, lookup, "ember_benchmark_matmul_typed", FunctionDescriptor.of(I, A, I, I, I, I, I, A));
            MethodHandle attention = handle(linker, lookup, "ember_benchmark_attention", FunctionDescriptor.of(I, A, I, I, I, I, I, I, A));
            String reported = ((MemorySegment) name.invokeExact()).reinterpret(256).getString(0);
            if (!reported.equals(variant.name())) {
                return CpuVariantTiming.failed(variant.name(), library + " reports variant " + reported);
            }
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment params = ember_context_params.allocate(arena);
                init.invokeExact(params);
                ember_context_params.n_threads(params, threads);
                MemorySegment out = arena.allocate(A);
                int created = (int) create.invokeExact(params, out);
                if (created != 0) return CpuVariantTiming.failed(variant.name(), "ember_context_create failed with status " + created);
                MemorySegment ctx = out.get(A, 0);
                try {
                    MemorySegment seconds = arena.allocate(ValueLayout.JAVA_DOUBLE);
                    // One timed product first: enough to see a hopeless variant, then the best of a few more.
                    int status = (int) product.invokeExact(ctx, ember_h.EMBER_DTYPE_F16(), CpuVariantTiming.PRODUCT_M,
                            CpuVariantTiming.PRODUCT_N, CpuVariantTiming.PRODUCT_K, 1, seconds);
                    double productSeconds = seconds.get(ValueLayout.JAVA_DOUBLE, 0);
                    double productsAlone = CpuVariantTiming.STEP_PRODUCT_FLOP / (CpuVariantTiming.PRODUCT_FLOP / productSeconds);
                    if (status == 0 && productsAlone <= HOPELESS * bestSoFar) {
                        status = (int) product.invokeExact(ctx, ember_h.EMBER_DTYPE_F16(), CpuVariantTiming.PRODUCT_M,
                                CpuVariantTiming.PRODUCT_N, CpuVariantTiming.PRODUCT_K, PRODUCT_REPEATS, seconds);
                        productSeconds = Math.min(productSeconds, seconds.get(ValueLayout.JAVA_DOUBLE, 0));
                    } else if (status == 0) {
                        return CpuVariantTiming.failed(variant.name(), String.format(java.util.Locale.ROOT,
                                "not timed further: f16 product %.1f GFLOP/s, its products alone would take %.1fx the best estimate",
                                CpuVariantTiming.PRODUCT_FLOP / productSeconds / 1e9, productsAlone / bestSoFar));
                    }
                    double fused = Double.NaN, exact = Double.NaN;
                    if (status == 0) {
                        status = (int) attention.invokeExact(ctx, CpuVariantTiming.ATTENTION_QUERIES, CpuVariantTiming.ATTENTION_KEYS,
                                CpuVariantTiming.ATTENTION_HEADS, CpuVariantTiming.ATTENTION_HEAD_DIM, 1, ATTENTION_REPEATS, seconds);
                        fused = seconds.get(ValueLayout.JAVA_DOUBLE, 0);
                    }
                    if (status == 0) {
                        status = (int) attention.invokeExact(ctx, CpuVariantTiming.EXACT_ATTENTION_QUERIES, CpuVariantTiming.ATTENTION_KEYS,
                                CpuVariantTiming.ATTENTION_HEADS, CpuVariantTiming.ATTENTION_HEAD_DIM, 0, EXACT_REPEATS, seconds);
                        exact = seconds.get(ValueLayout.JAVA_DOUBLE, 0);
                    }
                    if (status != 0) {
                        String message = ((MemorySegment) lastError.invokeExact(ctx)).reinterpret(4096).getString(0);
                        return CpuVariantTiming.failed(variant.name(), "benchmark failed with status " + status + ": " + message);
                    }
                    return new CpuVariantTiming(variant.name(), productSeconds, fused, exact, null);
                } finally {
                    free.invokeExact(ctx);
                }
            }
        } catch (IllegalArgumentException | UnsatisfiedLinkError e) {
            return CpuVariantTiming.failed(variant.name(), "cannot load " + library + ": " + e.getMessage());
        } catch (Throwable e) {
            return CpuVariantTiming.failed(variant.name(), e.toString());
        }
    }

    private static MethodHandle handle(Linker linker, SymbolLookup lookup, String symbol, FunctionDescriptor descriptor) {
        MemorySegment address = lookup.find(symbol).orElseThrow(() -> new UnsatisfiedLinkError("no symbol " + symbol));
        return linker.downcallHandle(address, descriptor);
    }
}
