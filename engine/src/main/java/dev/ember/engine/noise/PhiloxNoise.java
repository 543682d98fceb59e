package dev.ember.engine.noise;

/**
 * {@code torch.randn} as a CUDA device computes it, in the formulation of AUTOMATIC1111's
 * {@code modules/rng_philox.py} (also stable-diffusion.cpp's {@code rng_philox.hpp}): element
 * {@code i} of call number {@code offset} runs Philox4x32-10 with counter
 * {@code (offset, 0, i, 0)} and key {@code (seed low 32 bits, seed high 32 bits)}, then Box-Muller
 * on the first two output words (only the sine branch is used).
 */
public final class PhiloxNoise implements NoiseGenerator {

    private static final long M0 = 0xD2511F53L;
    private static final long M1 = 0xCD9E8D57L;
    private static final int W0 = 0x9E3779B9;
    private static final int W1 = 0xBB67AE85;
    private static final int ROUNDS = 10;
    private static final double TWO_POW_32_INV = 1.0 / 4294967296.0;

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
        int c0 = callOffset;
        int c1 = 0;
        int c2 = index;
        int c3 = 0;
        int k0 = (int) seed;
        int k1 = (int) (seed >>> 32);
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

    /** Uniforms are taken at cell centres ({@code (x + 0.5) / 2^32}), so log never sees 0. */
    private static float boxMuller(int x, int y) {
        double u = ((x & 0xFFFFFFFFL) + 0.5) * TWO_POW_32_INV;
        double v = ((y & 0xFFFFFFFFL) + 0.5) * TWO_POW_32_INV * 2 * Math.PI;
        return (float) (StrictMath.sqrt(-2.0 * StrictMath.log(u)) * StrictMath.sin(v));
    }
}
