package dev.ember.engine.noise;

/**
 * The 32-bit Mersenne Twister exactly as PyTorch's CPU generator runs it ({@code at::mt19937}):
 * seeded with the low 32 bits of {@code torch.manual_seed}'s value by the standard
 * {@code 1812433253} recurrence, tempered as in the reference implementation.
 */
public final class Mt19937 {

    private static final int N = 624;
    private static final int M = 397;
    private static final int MATRIX_A = 0x9908B0DF;
    private static final int UPPER = 0x80000000;
    private static final int LOWER = 0x7FFFFFFF;

    private final int[] state = new int[N];
    private int next = N;

    /** An engine seeded as {@code torch.manual_seed(seed)} (only the low 32 bits count). */
    public Mt19937(long seed) {
        state[0] = (int) seed;
        for (int j = 1; j < N; j++) {
            int prev = state[j - 1];
            state[j] = 1812433253 * (prev ^ (prev >>> 30)) + j;
        }
    }

    /** The next 32 random bits, as an unsigned value in a long. */
    public long nextUnsigned32() {
        if (next >= N) twist();
        int y = state[next++];
        y ^= y >>> 11;
        y ^= (y << 7) & 0x9D2C5680;
        y ^= (y << 15) & 0xEFC60000;
        y ^= y >>> 18;
        return y & 0xFFFFFFFFL;
    }

    /** torch's {@code random64()}: two draws, the first one the high word. */
    public long next64() {
        long hi = nextUnsigned32();
        long lo = nextUnsigned32();
        return (hi << 32) | lo;
    }

    /** torch's {@code uniform_real_distribution<float>(0, 1)}: 24 random bits over 2^24. */
    public float nextFloat() {
        return (nextUnsigned32() & 0xFFFFFF) * (1.0f / (1 << 24));
    }

    /** torch's {@code uniform_real_distribution<double>(0, 1)}: 53 bits of {@link #next64()} over 2^53. */
    public double nextDouble() {
        return (next64() & ((1L << 53) - 1)) * (1.0 / (1L << 53));
    }

    private void twist() {
        for (int j = 0; j < N; j++) {
            int y = (state[j] & UPPER) | (state[(j + 1) % N] & LOWER);
            state[j] = state[(j + M) % N] ^ (y >>> 1) ^ ((y & 1) != 0 ? MATRIX_A : 0);
        }
        next = 0;
    }
}
