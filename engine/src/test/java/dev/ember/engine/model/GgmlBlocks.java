package dev.ember.engine.model;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * ggml's block-quantised formats in Java, for tests: a simple quantiser that writes valid blocks (not
 * ggml's optimising one) and a dequantiser transcribed from the layouts of {@code ggml-common.h}
 * ({@code block_q4_0} ... {@code block_q6_K}) and the arithmetic of {@code ggml-quants.c}'s
 * {@code dequantize_row_*}. Tests hand the blocks to libember and compare its networks with the float64
 * references run on these dequantised values, so a disagreement about a layout shows as an error.
 *
 * <p>Layouts (little-endian, f16 scales): q4_0 {d, qs[16]}; q4_1 {d, m, qs[16]}; q5_0 {d, qh[4], qs[16]};
 * q5_1 {d, m, qh[4], qs[16]}; q8_0 {d, qs[32]}; q2_K {scales[16], qs[64], d, dmin}; q3_K {hmask[32],
 * qs[64], scales[12], d}; q4_K {d, dmin, scales[12], qs[128]}; q5_K {d, dmin, scales[12], qh[32],
 * qs[128]}; q6_K {ql[128], qh[64], scales[16], d}.
 */
public final class GgmlBlocks {
    private GgmlBlocks() {}

    /** Quantises {@code x} (length a multiple of the block size) into {@code type}'s blocks. */
    public static byte[] quantize(DType type, float[] x) {
        int bs = type.blockSize();
        if (x.length % bs != 0) throw new IllegalArgumentException(x.length + " values are not whole " + type + " blocks");
        ByteBuffer out = ByteBuffer.allocate((int) type.byteSize(x.length)).order(ByteOrder.LITTLE_ENDIAN);
        for (int b = 0; b < x.length / bs; b++) {
            float[] v = java.util.Arrays.copyOfRange(x, b * bs, (b + 1) * bs);
            switch (type) {
                case Q4_0 -> q4_0(v, out);
                case Q4_1 -> q4_1(v, out);
                case Q5_0 -> q5(v, out, false);
                case Q5_1 -> q5(v, out, true);
                case Q8_0 -> q8_0(v, out);
                case Q2_K -> q2K(v, out);
                case Q3_K -> q3K(v, out);
                case Q4_K -> q45K(v, out, false);
                case Q5_K -> q45K(v, out, true);
                case Q6_K -> q6K(v, out);
                default -> throw new IllegalArgumentException(type + " is not a block type");
            }
        }
        return out.array();
    }

    /** Dequantises {@code n} elements of {@code type}'s blocks from {@code data}. */
    public static float[] dequantize(DType type, MemorySegment data, int n) {
        ByteBuffer in = ByteBuffer.wrap(data.toArray(ValueLayout.JAVA_BYTE)).order(ByteOrder.LITTLE_ENDIAN);
        return dequantize(type, in, n);
    }

    public static float[] dequantize(DType type, byte[] data, int n) {
        return dequantize(type, ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN), n);
    }

    private static float[] dequantize(DType type, ByteBuffer in, int n) {
        int bs = type.blockSize();
        float[] y = new float[n];
        for (int b = 0; b < n / bs; b++) {
            int base = b * type.blockBytes();
            float[] v = switch (type) {
                case Q4_0 -> dq4_0(in, base);
                case Q4_1 -> dq4_1(in, base);
                case Q5_0 -> dq5(in, base, false);
                case Q5_1 -> dq5(in, base, true);
                case Q8_0 -> dq8_0(in, base);
                case Q2_K -> dq2K(in, base);
                case Q3_K -> dq3K(in, base);
                case Q4_K -> dq45K(in, base, false);
                case Q5_K -> dq45K(in, base, true);
                case Q6_K -> dq6K(in, base);
                default -> throw new IllegalArgumentException(type + " is not a block type");
            };
            System.arraycopy(v, 0, y, b * bs, bs);
        }
        return y;
    }

    // ---- helpers ----------------------------------------------------------------------------------------------

    private static short half(float f) {
        return Float.floatToFloat16(f);
    }

    private static float f16(ByteBuffer in, int at) {
        return Float.float16ToFloat(in.getShort(at));
    }

    private static int u8(ByteBuffer in, int at) {
        return in.get(at) & 0xff;
    }

    private static int clamp(long v, int lo, int hi) {
        return (int) Math.max(lo, Math.min(hi, v));
    }

    private static float maxAbs(float[] v, int from, int to) {
        float m = 0;
        for (int i = from; i < to; i++) m = Math.max(m, Math.abs(v[i]));
        return m;
    }

    // ---- 32-element blocks ---------------------------------------------------------------------------------------

    private static void q8_0(float[] v, ByteBuffer out) {
        float d = Float.float16ToFloat(half(maxAbs(v, 0, 32) / 127));
        out.putShort(half(d));
        for (float x : v) out.put((byte) (d == 0 ? 0 : clamp(Math.round(x / d), -127, 127)));
    }

    private static float[] dq8_0(ByteBuffer in, int at) {
        float d = f16(in, at);
        float[] y = new float[32];
        for (int j = 0; j < 32; j++) y[j] = in.get(at + 2 + j) * d;
        return y;
    }

    /** Element j in low nibble of byte j (j < 16), element j + 16 in its high nibble. */
    private static void nibbles(int[] q, ByteBuffer out) {
        for (int j = 0; j < 16; j++) out.put((byte) ((q[j] & 0xf) | (q[j + 16] & 0xf) << 4));
    }

    private static void q4_0(float[] v, ByteBuffer out) {
        float max = 0;
        for (float x : v) if (Math.abs(x) > Math.abs(max)) max = x;
        float d = Float.float16ToFloat(half(max / -8));
        out.putShort(half(d));
        int[] q = new int[32];
        for (int j = 0; j < 32; j++) q[j] = d == 0 ? 8 : clamp(Math.round(v[j] / d) + 8, 0, 15);
        nibbles(q, out);
    }

    private static float[] dq4_0(ByteBuffer in, int at) {
        float d = f16(in, at);
        float[] y = new float[32];
        for (int j = 0; j < 16; j++) {
            int b = u8(in, at + 2 + j);
            y[j] = ((b & 0xf) - 8) * d;
            y[j + 16] = ((b >> 4) - 8) * d;
        }
        return y;
    }

    private static void q4_1(float[] v, ByteBuffer out) {
        float min = Float.MAX_VALUE, max = -Float.MAX_VALUE;
        for (float x : v) {
            min = Math.min(min, x);
            max = Math.max(max, x);
        }
        float d = Float.float16ToFloat(half((max - min) / 15)), m = Float.float16ToFloat(half(min));
        out.putShort(half(d)).putShort(half(m));
        int[] q = new int[32];
        for (int j = 0; j < 32; j++) q[j] = d == 0 ? 0 : clamp(Math.round((v[j] - m) / d), 0, 15);
        nibbles(q, out);
    }

    private static float[] dq4_1(ByteBuffer in, int at) {
        float d = f16(in, at), m = f16(in, at + 2);
        float[] y = new float[32];
        for (int j = 0; j < 16; j++) {
            int b = u8(in, at + 4 + j);
            y[j] = (b & 0xf) * d + m;
            y[j + 16] = (b >> 4) * d + m;
        }
        return y;
    }

    /** q5_0 (offset 16, d = max / -16) and q5_1 (d and min): bit j of qh is element j's fifth bit. */
    private static void q5(float[] v, ByteBuffer out, boolean withMin) {
        int[] q = new int[32];
        if (withMin) {
            float min = Float.MAX_VALUE, max = -Float.MAX_VALUE;
            for (float x : v) {
                min = Math.min(min, x);
                max = Math.max(max, x);
            }
            float d = Float.float16ToFloat(half((max - min) / 31)), m = Float.float16ToFloat(half(min));
            out.putShort(half(d)).putShort(half(m));
            for (int j = 0; j < 32; j++) q[j] = d == 0 ? 0 : clamp(Math.round((v[j] - m) / d), 0, 31);
        } else {
            float max = 0;
            for (float x : v) if (Math.abs(x) > Math.abs(max)) max = x;
            float d = Float.float16ToFloat(half(max / -16));
            out.putShort(half(d));
            for (int j = 0; j < 32; j++) q[j] = d == 0 ? 16 : clamp(Math.round(v[j] / d) + 16, 0, 31);
        }
        int qh = 0;
        for (int j = 0; j < 32; j++) qh |= (q[j] >> 4 & 1) << j;
        out.putInt(qh);
        nibbles(q, out);
    }

    private static float[] dq5(ByteBuffer in, int at, boolean withMin) {
        float d = f16(in, at), m = withMin ? f16(in, at + 2) : 0;
        int p = at + (withMin ? 4 : 2);
        int qh = in.getInt(p);
        float[] y = new float[32];
        for (int j = 0; j < 16; j++) {
            int b = u8(in, p + 4 + j);
            int x0 = (b & 0xf) | ((qh >> j) << 4 & 0x10);
            int x1 = (b >> 4) | ((qh >> (j + 12)) & 0x10);
            if (withMin) {
                y[j] = x0 * d + m;
                y[j + 16] = x1 * d + m;
            } else {
                y[j] = (x0 - 16) * d;
                y[j + 16] = (x1 - 16) * d;
            }
        }
        return y;
    }

    // ---- 256-element super-blocks ------------------------------------------------------------------------------

    /** q2_K: 16 sub-blocks of 16, x = d sc q - dmin m with 4-bit sc and m, q in 0..3. */
    private static void q2K(float[] v, ByteBuffer out) {
        float[] scale = new float[16], min = new float[16];
        for (int s = 0; s < 16; s++) {
            float lo = 0, hi = 0;
            for (int i = 16 * s; i < 16 * s + 16; i++) {
                lo = Math.min(lo, v[i]);
                hi = Math.max(hi, v[i]);
            }
            scale[s] = (hi - lo) / 3;
            min[s] = -lo;
        }
        float d = Float.float16ToFloat(half(max(scale) / 15)), dmin = Float.float16ToFloat(half(max(min) / 15));
        byte[] scales = new byte[16], qs = new byte[64];
        for (int s = 0; s < 16; s++) {
            int sc = d == 0 ? 0 : clamp(Math.round(scale[s] / d), 0, 15), m = dmin == 0 ? 0 : clamp(Math.round(min[s] / dmin), 0, 15);
            scales[s] = (byte) (sc | m << 4);
            float dl = d * sc, ml = dmin * m;
            for (int i = 16 * s; i < 16 * s + 16; i++) {
                int q = dl == 0 ? 0 : clamp(Math.round((v[i] + ml) / dl), 0, 3);
                int half = i / 128, r = i % 128;
                qs[half * 32 + r % 32] |= (byte) (q << 2 * (r / 32));
            }
        }
        out.put(scales).put(qs).putShort(half(d)).putShort(half(dmin));
    }

    private static float[] dq2K(ByteBuffer in, int at) {
        float d = f16(in, at + 80), dmin = f16(in, at + 82);
        float[] y = new float[256];
        for (int i = 0; i < 256; i++) {
            int sc = u8(in, at + i / 16), half = i / 128, r = i % 128;
            int q = u8(in, at + 16 + half * 32 + r % 32) >> 2 * (r / 32) & 3;
            float dl = d * (sc & 0xf), ml = dmin * (sc >> 4);
            y[i] = dl * q - ml;
        }
        return y;
    }

    /** q3_K: 16 sub-blocks of 16, x = d (sc - 32) q with 6-bit sc and q in -4..3 (two low bits plus hmask). */
    private static void q3K(float[] v, ByteBuffer out) {
        float[] scale = new float[16];
        for (int s = 0; s < 16; s++) scale[s] = maxAbs(v, 16 * s, 16 * s + 16) / 4;
        float d = Float.float16ToFloat(half(max(scale) / 31));
        byte[] hmask = new byte[32], qs = new byte[64], scales = new byte[12];
        for (int s = 0; s < 16; s++) {
            int sc = d == 0 ? 32 : clamp(Math.round(scale[s] / d) + 32, 0, 63);
            if (s < 8) scales[s] |= (byte) (sc & 0xf);
            else scales[s - 8] |= (byte) ((sc & 0xf) << 4);
            scales[8 + s % 4] |= (byte) ((sc >> 4) << 2 * (s / 4));
            float dl = d * (sc - 32);
            for (int i = 16 * s; i < 16 * s + 16; i++) {
                int u = (dl == 0 ? 0 : clamp(Math.round(v[i] / dl), -4, 3)) + 4;
                int half = i / 128, r = i % 128, j = r / 32, l = r % 32;
                qs[half * 32 + l] |= (byte) ((u & 3) << 2 * j);
                if (u >= 4) hmask[l] |= (byte) (1 << (half * 4 + j));
            }
        }
        out.put(hmask).put(qs).put(scales).putShort(half(d));
    }

    private static float[] dq3K(ByteBuffer in, int at) {
        float d = f16(in, at + 108);
        int[] sc = new int[16];
        for (int s = 0; s < 16; s++) {
            int low = s < 8 ? u8(in, at + 96 + s) & 0xf : u8(in, at + 96 + s - 8) >> 4;
            int high = u8(in, at + 96 + 8 + s % 4) >> 2 * (s / 4) & 3;
            sc[s] = (byte) (low | high << 4); // 6 bits
        }
        float[] y = new float[256];
        for (int i = 0; i < 256; i++) {
            int half = i / 128, r = i % 128, j = r / 32, l = r % 32;
            int q = u8(in, at + 32 + half * 32 + l) >> 2 * j & 3;
            boolean hi = (u8(in, at + l) & 1 << (half * 4 + j)) != 0;
            float dl = d * (sc[i / 16] - 32);
            y[i] = dl * (q - (hi ? 0 : 4));
        }
        return y;
    }

    /** q4_K / q5_K: 8 sub-blocks of 32, x = d sc q - dmin m with 6-bit sc and m (get_scale_min_k4), q in 0..15 / 0..31. */
    private static void q45K(float[] v, ByteBuffer out, boolean five) {
        int levels = five ? 31 : 15;
        float[] scale = new float[8], min = new float[8];
        for (int s = 0; s < 8; s++) {
            float lo = 0, hi = 0;
            for (int i = 32 * s; i < 32 * s + 32; i++) {
                lo = Math.min(lo, v[i]);
                hi = Math.max(hi, v[i]);
            }
            scale[s] = (hi - lo) / levels;
            min[s] = -lo;
        }
        float d = Float.float16ToFloat(half(max(scale) / 63)), dmin = Float.float16ToFloat(half(max(min) / 63));
        int[] sc = new int[8], m = new int[8];
        byte[] scales = new byte[12], qh = new byte[32], qs = new byte[128];
        for (int s = 0; s < 8; s++) {
            sc[s] = d == 0 ? 0 : clamp(Math.round(scale[s] / d), 0, 63);
            m[s] = dmin == 0 ? 0 : clamp(Math.round(min[s] / dmin), 0, 63);
        }
        for (int j = 0; j < 4; j++) {
            scales[j] = (byte) (sc[j] | (sc[j + 4] >> 4) << 6);
            scales[j + 4] = (byte) (m[j] | (m[j + 4] >> 4) << 6);
            scales[j + 8] = (byte) ((sc[j + 4] & 0xf) | (m[j + 4] & 0xf) << 4);
        }
        for (int i = 0; i < 256; i++) {
            int s = i / 32;
            float dl = d * sc[s], ml = dmin * m[s];
            int q = dl == 0 ? 0 : clamp(Math.round((v[i] + ml) / dl), 0, levels);
            int c = i / 64, r = i % 64;
            qs[32 * c + r % 32] |= (byte) ((q & 0xf) << 4 * (r / 32));
            if (five && q >= 16) qh[r % 32] |= (byte) (1 << (2 * c + r / 32));
        }
        out.putShort(half(d)).putShort(half(dmin)).put(scales);
        if (five) out.put(qh);
        out.put(qs);
    }

    private static float[] dq45K(ByteBuffer in, int at, boolean five) {
        float d = f16(in, at), dmin = f16(in, at + 2);
        int p = at + 4;
        int[] sc = new int[8], m = new int[8];
        for (int j = 0; j < 8; j++) {
            if (j < 4) {
                sc[j] = u8(in, p + j) & 63;
                m[j] = u8(in, p + j + 4) & 63;
            } else {
                sc[j] = (u8(in, p + j + 4) & 0xf) | (u8(in, p + j - 4) >> 6) << 4;
                m[j] = (u8(in, p + j + 4) >> 4) | (u8(in, p + j) >> 6) << 4;
            }
        }
        int qhAt = at + 16, qsAt = at + 16 + (five ? 32 : 0);
        float[] y = new float[256];
        for (int i = 0; i < 256; i++) {
            int c = i / 64, r = i % 64;
            int q = u8(in, qsAt + 32 * c + r % 32) >> 4 * (r / 32) & 0xf;
            if (five && (u8(in, qhAt + r % 32) & 1 << (2 * c + r / 32)) != 0) q += 16;
            float d1 = d * sc[i / 32], m1 = dmin * m[i / 32];
            y[i] = d1 * q - m1;
        }
        return y;
    }

    /** q6_K: 16 sub-blocks of 16, x = d sc q with int8 sc and q in -32..31 (ql nibbles plus 2 bits in qh). */
    private static void q6K(float[] v, ByteBuffer out) {
        float[] scale = new float[16];
        for (int s = 0; s < 16; s++) scale[s] = maxAbs(v, 16 * s, 16 * s + 16) / 32;
        float d = Float.float16ToFloat(half(max(scale) / 127));
        byte[] ql = new byte[128], qh = new byte[64], scales = new byte[16];
        for (int s = 0; s < 16; s++) {
            int sc = d == 0 ? 0 : clamp(Math.round(scale[s] / d), -128, 127);
            scales[s] = (byte) sc;
            float dl = d * sc;
            for (int i = 16 * s; i < 16 * s + 16; i++) {
                int u = (dl == 0 ? 0 : clamp(Math.round(v[i] / dl), -32, 31)) + 32;
                int half = i / 128, r = i % 128, quarter = r / 32, l = r % 32;
                ql[half * 64 + l + (quarter % 2 == 1 ? 32 : 0)] |= (byte) ((u & 0xf) << (quarter >= 2 ? 4 : 0));
                qh[half * 32 + l] |= (byte) ((u >> 4) << 2 * quarter);
            }
        }
        out.put(ql).put(qh).put(scales).putShort(half(d));
    }

    private static float[] dq6K(ByteBuffer in, int at) {
        float d = f16(in, at + 208);
        float[] y = new float[256];
        for (int i = 0; i < 256; i++) {
            int half = i / 128, r = i % 128, quarter = r / 32, l = r % 32;
            int low = u8(in, at + half * 64 + l + (quarter % 2 == 1 ? 32 : 0)) >> (quarter >= 2 ? 4 : 0) & 0xf;
            int high = u8(in, at + 128 + half * 32 + l) >> 2 * quarter & 3;
            int q = (low | high << 4) - 32;
            y[i] = d * in.get(at + 192 + i / 16) * q;
        }
        return y;
    }

    private static float max(float[] v) {
        float m = 0;
        for (float x : v) m = Math.max(m, x);
        return m;
    }
}
