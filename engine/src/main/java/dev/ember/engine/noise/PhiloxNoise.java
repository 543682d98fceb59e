package dev.ember.engine.noise;

/**
 * {@code torch.randn} as a CUDA device computes it, in the formulation of AUTOMATIC1111's
 * {@code modules/rng_philox.py} (also ComfyUI's and stable-diffusion.cpp's ports): element {@code i}
 * of call number {@code offset} runs Philox4x32-10 with counter {@code (offset, 0, i, 0)} and key
 * {@code (seed low 32 bits, seed high 32 bits)}, then Box-Muller on the first two output words (only
 * the sine branch is used).
 *
 * <p>Box-Muller is rng_philox.py's, bit for bit: its float32 constants {@code 2^-32} and
 * {@code float32(2.3283064e-10 * 6.2831855)} (the 2 pi / 2^32 of curand, which differs from the exact
 * value in the 8th digit), {@code u = x * c + c / 2} and {@code v = y * c2pi + c2pi / 2} evaluated as
 * numpy does (uint32 times a float32 array promotes to float64), float64 log, sqrt and sine, and one
 * rounding to float32 at the end. torch on a GPU evaluates the same formula in float32 with the
 * hardware's approximate sine ({@code __sinf}), which no CPU reproduces bit for bit; rng_philox.py's
 * values agree with it to about 1e-7.
 */
public final class PhiloxNoise implements NoiseGenerator {

    private static final long M0 = 0xD2511F53L;
    private static final long M1 = 0xCD9E8D57L;
    private static final int W0 = 0x9E3779B9;
    private static final int W1 = 0xBB67AE85;
    private static final int ROUNDS = 10;
    // rng_philox.py's float32 constants; "c / 2" is a float32 division there too.
    private static final float TWO_POW_32_INV = 2.3283064e-10f;
    private static final float TWO_POW_32_INV_HALF = TWO_POW_32_INV / 2;
    private static final float TWO_POW_32_INV_2PI = (float) (2.3283064e-10 * 6.2831855);
    private static final float TWO_POW_32_INV_2PI_HALF = TWO_POW_32_INV_2PI / 2;

    private final long seed;
    private int offset;

    /** A generator at call offset 0. */
    public PhiloxNoise(long seed) {
        this(seed, 0);
    }

    /** A generator that continues at a given call offset (the number of earlier {@code randn} calls). */
    public PhiloxNoise(long seed, int offset) {
        if (offset < 0) throw new IllegalArgumentException("offset must not be negative");
        this.seed = seed;
        this.offset = offset;
    }

    /** How many {@code randn} calls this generator has answered (plus its starting offset). */
    public int offset() {
        return offset;
    }

    @Override
    public float[] next(int count) {
        if (count < 0) throw new IllegalArgumentException("count must not be negative");
        float[] out = new float[count];
        int[] block = new int[4];
        for (int i = 0; i < count; i++) {
            philox(offset, i, block);
            out[i] = boxMuller(block[0], block[1]);
        }
        offset++;
        return out;
    }

    private void philox(int callOffset, int index, int[] out) {
        philox4x32_10(callOffset, 0, index, 0, (int) seed, (int) (seed >>> 32), out);
    }

    /** Philox4x32-10 (Salmon et al. 2011) of counter {@code c0..c3} under key {@code k0, k1}, into {@code out[0..3]}. */
    static void philox4x32_10(int c0, int c1, int c2, int c3, int k0, int k1, int[] out) {
        for (int r = 0; r < ROUNDS; r++) {
            if (r > 0) {
                k0 += W0;
                k1 += W1;
            }
            long p0 = (c0 & 0xFFFFFFFFL) * M0;
            long p1 = (c2 & 0xFFFFFFFFL) * M1;
            int n0 = (int) (p1 >>> 32) ^ c1 ^ k0;
            int n1 = (int) p1;
            int n2 = (int) (p0 >>> 32) ^ c3 ^ k1;
            int n3 = (int) p0;
            c0 = n0;
            c1 = n1;
            c2 = n2;
            c3 = n3;
        }
        out[0] = c0;
        out[1] = c1;
        out[2] = c2;
        out[3] = c3;
    }

    /** rng_philox.py's {@code box_muller(x, y)}: see the class comment. */
    static float boxMuller(int x, int y) {
        // In double, as numpy promotes uint32 x float32 arrays (Java would otherwise multiply long x float in float).
        double u = (double) (x & 0xFFFFFFFFL) * (double) TWO_POW_32_INV + (double) TWO_POW_32_INV_HALF;
        double v = (double) (y & 0xFFFFFFFFL) * (double) TWO_POW_32_INV_2PI + (double) TWO_POW_32_INV_2PI_HALF;
        return (float) (StrictMath.sqrt(-2.0 * StrictMath.log(u)) * StrictMath.sin(v));
    }
}
