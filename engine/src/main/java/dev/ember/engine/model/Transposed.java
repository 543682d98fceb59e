package dev.ember.engine.model;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The one tensor whose orientation differs between SDXL's file formats: OpenCLIP keeps bigG's
 * {@code text_projection} as [hidden, projection] and multiplies {@code x @ P}; Hugging Face keeps the
 * linear weight [projection, hidden] ({@code x W^T}), its transpose (diffusers' converter writes
 * {@code text_projection.T}). Canonical names use Hugging Face's; the single-file reader and writer
 * transpose. The matrix is small (1280 x 1280), so the copy is cheap.
 */
final class Transposed {
    private Transposed() {}

    /** A transposed copy of a rank-2 tensor, in memory the garbage collector frees once nothing refers to it. */
    static TensorData of(TensorData t, String name) {
        if (t.rank() != 2) throw new IllegalArgumentException(t.name() + " is not a matrix: " + java.util.Arrays.toString(t.shape()));
        MemorySegment out = Arena.ofAuto().allocate(t.data().byteSize(), 64);
        transpose(t.data(), out, t.dim(0), t.dim(1), t.dtype().byteSize());
        return new TensorData(name, t.dtype(), new long[] {t.dim(1), t.dim(0)}, out);
    }

    /** A source whose bytes are the transpose of {@code t}'s ([rows, cols] becomes [cols, rows]). */
    static TensorSource of(TensorSource t, String name) {
        long[] s = t.shape();
        if (s.length != 2) throw new IllegalArgumentException(t.name() + " is not a matrix");
        int element = t.dtype().byteSize();
        return new TensorSource(name, t.dtype(), new long[] {s[1], s[0]}, out -> {
            try (Arena scratch = Arena.ofConfined()) {
                MemorySegment original = scratch.allocate(out.byteSize(), 64);
                t.filler().accept(original);
                transpose(original, out, s[0], s[1], element);
            }
        });
    }

    /** {@code out[c][r] = in[r][c]} for a row-major [rows, cols] matrix of {@code element}-byte values. */
    private static void transpose(MemorySegment in, MemorySegment out, long rows, long cols, int element) {
        for (long r = 0; r < rows; r++) {
            for (long c = 0; c < cols; c++) {
                MemorySegment.copy(in, (r * cols + c) * element, out, (c * rows + r) * element, element);
            }
        }
    }
}
