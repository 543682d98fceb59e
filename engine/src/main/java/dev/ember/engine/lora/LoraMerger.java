package dev.ember.engine.lora;

import dev.ember.engine.model.DType;
import dev.ember.engine.model.StateDict;
import dev.ember.engine.model.TensorData;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;

/**
 * Merges LoRAs into weights: for each adapted weight W,
 * {@code W' = W + sum_i w_i * (alpha_i / rank_i) * up_i @ down_i} (LoCon with a mid tensor: the CP product
 * {@code up @ (mid x down)}), reshaped to W's shape. Every sum is taken in double from W's stored values and
 * rounded once, to f32 or (when the network keeps the weight in f16 anyway) f16, so the network then rounds or
 * quantises the merged value exactly as it would a checkpoint that holds it: a LoRA has the same effect on an
 * f16, q8_0 or q4_0 model as on an f32 one, no "higher multiplier" needed.
 */
public final class LoraMerger {
    private LoraMerger() {}

    /** Merged weights in memory of their own; closing frees it (the networks must no longer point at it). */
    public static final class Merged implements AutoCloseable {
        private final Arena arena;
        private final List<TensorData> tensors;
        private final long bytes;

        Merged(Arena arena, List<TensorData> tensors) {
            this.arena = arena;
            this.tensors = Collections.unmodifiableList(tensors);
            this.bytes = tensors.stream().mapToLong(t -> t.data().byteSize()).sum();
        }

        public List<TensorData> tensors() {
            return tensors;
        }

        /** The memory the merged values take. */
        public long bytes() {
            return bytes;
        }

        @Override
        public void close() {
            arena.close();
        }
    }

    /**
     * The merged value of every weight {@code plan} adapts, from the weights in {@code base}, stored as {@code dtype}
     * (F32 or F16). Weights are merged in parallel, each row by row.
     */
    public static Merged merge(LoraTargets.Plan plan, StateDict base, DType dtype) {
        return merge(plan, base, dtype, BLOCK_DOUBLES);
    }

    /** As {@link #merge(LoraTargets.Plan, StateDict, DType)}, with column blocks sized for {@code blockDoubles} down values (tests use small ones). */
    static Merged merge(LoraTargets.Plan plan, StateDict base, DType dtype, int blockDoubles) {
        if (dtype != DType.F32 && dtype != DType.F16) throw new IllegalArgumentException("merged weights are f32 or f16, not " + dtype);
        Arena arena = Arena.ofShared();
        try {
            List<Map.Entry<String, List<LoraTargets.Contribution>>> work = new ArrayList<>(plan.updates().entrySet());
            TensorData[] out = new TensorData[work.size()];
            for (int i = 0; i < out.length; i++) {
                TensorData w = base.get(work.get(i).getKey());
                out[i] = new TensorData(w.name(), dtype, w.shape(), arena.allocate(w.elementCount() * dtype.byteSize(), 64));
            }
            IntStream.range(0, out.length).parallel().forEach(i -> mergeOne(base.get(out[i].name()), work.get(i).getValue(), out[i], blockDoubles));
            return new Merged(arena, List.of(out));
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /** Doubles of the LoRA's down rows one column block holds: they stay in the L2 cache while every row of W passes. */
    private static final int BLOCK_DOUBLES = 16_384;

    /**
     * One weight: for each row o, W[o, :] + sum over terms and ranks of (coefficient * up[o, j]) * down[j, :]. The
     * columns go in blocks whose down rows fit the L2 cache (a rank-32 down matrix of a 5120-wide layer is 1.3 MB in
     * double, re-read for every row); within an element the sum's order is the same either way.
     */
    private static void mergeOne(TensorData w, List<LoraTargets.Contribution> terms, TensorData out, int blockDoubles) {
        int rows = (int) w.dim(0);
        int perRow = Math.toIntExact(w.elementCount() / rows);
        long[] shape = w.shape();
        List<double[]> ups = new ArrayList<>(), downs = new ArrayList<>();
        List<Integer> ranks = new ArrayList<>();
        int totalRank = 0;
        for (LoraTargets.Contribution c : terms) {
            LoraFile.Module m = c.module();
            double[] up = values(m.up());
            double[] down = m.mid() == null ? values(m.down()) : cpDown(values(m.mid()), m.mid().shape(), values(m.down()), (int) shape[1]);
            int rank = up.length / rows;
            for (int i = 0; i < up.length; i++) up[i] *= c.coefficient();
            ups.add(up);
            downs.add(down);
            ranks.add(rank);
            totalRank += rank;
        }
        int block = Math.max(64, Math.min(perRow, blockDoubles / Math.max(1, totalRank)));
        double[] row = new double[block];
        MemorySegment src = w.data(), dst = out.data();
        for (int k0 = 0; k0 < perRow; k0 += block) {
            int n = Math.min(block, perRow - k0);
            for (int o = 0; o < rows; o++) {
                long base = (long) o * perRow + k0;
                read(src, w.dtype(), base, row, n);
                for (int t = 0; t < ups.size(); t++) {
                    double[] up = ups.get(t), down = downs.get(t);
                    int r = ranks.get(t), j = 0;
                    // Four ranks per pass over the row: Java adds left to right, so each element's sum has the same
                    // order as one rank at a time, with a quarter of the row's loads and stores.
                    for (; j + 4 <= r; j += 4) {
                        double c0 = up[o * r + j], c1 = up[o * r + j + 1], c2 = up[o * r + j + 2], c3 = up[o * r + j + 3];
                        int d0 = j * perRow + k0, d1 = d0 + perRow, d2 = d1 + perRow, d3 = d2 + perRow;
                        for (int k = 0; k < n; k++) row[k] = row[k] + c0 * down[d0 + k] + c1 * down[d1 + k] + c2 * down[d2 + k] + c3 * down[d3 + k];
                    }
                    for (; j < r; j++) {
                        double c = up[o * r + j];
                        int d = j * perRow + k0;
                        for (int k = 0; k < n; k++) row[k] += c * down[d + k];
                    }
                }
                if (out.dtype() == DType.F32) {
                    for (int k = 0; k < n; k++) dst.setAtIndex(ValueLayout.JAVA_FLOAT, base + k, (float) row[k]);
                } else {
                    // Through f32 first: the same value the network's own f32 -> f16 conversion would round.
                    for (int k = 0; k < n; k++) dst.setAtIndex(ValueLayout.JAVA_SHORT, base + k, Float.floatToFloat16((float) row[k]));
                }
            }
        }
    }

    /** n values of {@code data} from element {@code from}, as doubles (one loop per type: no per-element switch). */
    private static void read(MemorySegment data, DType dtype, long from, double[] to, int n) {
        switch (dtype) {
            case F32 -> { for (int k = 0; k < n; k++) to[k] = data.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, from + k); }
            case F16 -> { for (int k = 0; k < n; k++) to[k] = Float.float16ToFloat(data.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, from + k)); }
            default -> { for (int k = 0; k < n; k++) to[k] = value(data, dtype, from + k); }
        }
    }

    /**
     * LoCon's CP decomposition: mid [r, r, kh, kw] and down [r, in, 1, 1] give the [r, in * kh * kw] matrix
     * T[n, (i, y, x)] = sum_m mid[n, m, y, x] * down[m, i] that up [out, r] multiplies (A1111's
     * {@code rebuild_cp_decomposition}).
     */
    private static double[] cpDown(double[] mid, long[] midShape, double[] down, int in) {
        int r = (int) midShape[0], rm = (int) midShape[1], kk = (int) (midShape[2] * midShape[3]);
        double[] t = new double[r * in * kk];
        for (int n = 0; n < r; n++)
            for (int m = 0; m < rm; m++)
                for (int i = 0; i < in; i++) {
                    double d = down[m * in + i];
                    if (d == 0) continue;
                    for (int p = 0; p < kk; p++) t[(n * in + i) * kk + p] += mid[(n * rm + m) * kk + p] * d;
                }
        return t;
    }

    static double[] values(TensorData t) {
        int n = Math.toIntExact(t.elementCount());
        double[] out = new double[n];
        for (int i = 0; i < n; i++) out[i] = value(t.data(), t.dtype(), i);
        return out;
    }

    static double value(MemorySegment data, DType dtype, long i) {
        return switch (dtype) {
            case F32 -> data.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i);
            case F16 -> Float.float16ToFloat(data.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i));
            case BF16 -> Float.intBitsToFloat((data.getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i) & 0xffff) << 16);
            case F64 -> data.getAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED, i);
            default -> throw new IllegalArgumentException("not a float tensor: " + dtype);
        };
    }

    /** The weights of {@code base} a plan leaves out of {@code adapted}: what must be put back when switching from one set to another. */
    public static Map<String, TensorData> originals(StateDict base, java.util.Collection<String> names) {
        Map<String, TensorData> out = new LinkedHashMap<>();
        for (String n : names) out.put(n, base.get(n));
        return out;
    }
}
