package dev.ember.engine.noise;

import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class Mt19937NoiseTest {

    private static void assertClose(double[] expected, float[] actual, double tol) {
        assertEquals(expected.length, actual.length);
        for (int i = 0; i < expected.length; i++) assertEquals(expected[i], actual[i], tol, "element " + i);
    }

    @Test
    void rawEngineMatchesTheReferenceMersenneTwister() {
        // std::mt19937 with the default seed 5489: the 10000th output is 4123659995 (C++ standard,
        // [rand.predef]); its first output is 3499211612.
        Mt19937 mt = new Mt19937(5489);
        assertEquals(3499211612L, mt.nextUnsigned32());
        for (int i = 2; i < 10000; i++) mt.nextUnsigned32();
        assertEquals(4123659995L, mt.nextUnsigned32());
    }

    @Test
    void smallTensorsMatchTorchCpuSeedZero() {
        // torch.manual_seed(0); torch.randn(3, 4) on the CPU -- the numbers printed (4 decimals) in
        // countless tutorials and the PyTorch forums: 1.5410 -0.2934 -2.1788 0.5684 / -1.0845 -1.3986
        // 0.4033 0.8380 / -0.7193 -0.4033 -0.5966 0.1820. Fewer than 16 elements: the double path.
        assertClose(new double[] {1.5410, -0.2934, -2.1788, 0.5684, -1.0845, -1.3986, 0.4033, 0.8380,
            -0.7193, -0.4033, -0.5966, 0.1820}, NoiseSource.MT19937.randn(0, 12), 5e-5);
        assertClose(new double[] {1.5410, -0.2934, -2.1788, 0.5684}, NoiseSource.MT19937.randn(0, 4), 5e-5);
        // torch.manual_seed(42); torch.randn(2, 3): 0.3367 0.1288 0.2345 / 0.2303 -1.1229 -0.1863.
        assertClose(new double[] {0.3367, 0.1288, 0.2345, 0.2303, -1.1229, -0.1863}, NoiseSource.MT19937.randn(42, 6), 5e-5);
    }

    @Test
    void largeTensorsMatchTorchCpuSeedZero() {
        // torch.manual_seed(0); torch.randn(4, 4) on the CPU (16 elements: the normal_fill path), as
        // widely printed: -1.1258 -1.1524 -0.2506 -0.4339 / 0.8487 0.6920 -0.3160 -2.1152 /
        // 0.3223 -1.2633 0.3500 0.3081 / 0.1198 1.2377 1.1168 -0.2473.
        assertClose(new double[] {-1.1258, -1.1524, -0.2506, -0.4339, 0.8487, 0.6920, -0.3160, -2.1152,
            0.3223, -1.2633, 0.3500, 0.3081, 0.1198, 1.2377, 1.1168, -0.2473}, NoiseSource.MT19937.randn(0, 16), 5e-5);
    }

    @Test
    void matchesLlmCsTorchReferenceSequence() {
        // Karpathy's llm.c llmc/rand.h documents this PyTorch run (full float precision):
        // torch.manual_seed(137); five torch.randint(0, 0xFFFFFFFF, [1]); t = torch.zeros(8); t.normal_();
        // one randint; t = torch.zeros(16); t.normal_(); one randint.
        Mt19937 engine = new Mt19937(137);
        long[] ints = {4053805790L, 2173880614L, 380293709L, 1237255315L, 2986595568L};
        for (long v : ints) assertEquals(v, engine.nextUnsigned32());
        Mt19937Noise noise = new Mt19937Noise(engine);
        assertClose(new double[] {0.7947664260864258, 1.4369317293167114, -0.2292192131280899, 0.47556325793266296,
            -0.6334410905838013, -0.5791953802108765, -0.0925704762339592, -0.8659197092056274}, noise.next(8), 1e-6);
        assertEquals(2186503452L, engine.nextUnsigned32());
        assertClose(new double[] {-1.2813878059387207, -2.646395683288574, -0.06569503247737885, 0.2180829495191574,
            -0.46536165475845337, -0.33108410239219666, 2.5485482215881348, 0.10425379872322083,
            0.8460659980773926, 0.9462448358535767, -0.2913765013217926, 0.34313806891441345,
            -1.1186704635620117, -0.18305328488349915, -2.3153159618377686, 0.3961987793445587}, noise.next(16), 1e-6);
        assertEquals(2756748748L, engine.nextUnsigned32());
    }

    @Test
    void countsThatAreNotMultiplesOf16RedoTheLastBlock() {
        // 20 elements: 20 uniforms, a block over 0..15, then 16 fresh uniforms redo 4..19. So the
        // first 4 equal those of a 16-element call; the tail comes from uniforms 21..36.
        float[] twenty = NoiseSource.MT19937.randn(7, 20);
        float[] sixteen = NoiseSource.MT19937.randn(7, 16);
        assertArrayEquals(Arrays.copyOf(sixteen, 4), Arrays.copyOf(twenty, 4));
        assertEquals(false, Arrays.equals(Arrays.copyOfRange(sixteen, 4, 16), Arrays.copyOfRange(twenty, 4, 16)));
    }

    @Test
    void cachedSineValueCarriesAcrossCalls() {
        // torch keeps the spare Box-Muller value in the generator: randn(1) then randn(1) == randn(2).
        NoiseGenerator g = NoiseSource.MT19937.generator(0);
        float a = g.next(1)[0];
        float b = g.next(1)[0];
        assertArrayEquals(new float[] {a, b}, NoiseSource.MT19937.randn(0, 2));
    }

    @Test
    void sameSeedSameNumbersAndParse() {
        assertArrayEquals(NoiseSource.MT19937.randn(99, 1000), NoiseSource.MT19937.randn(99, 1000));
        assertEquals(NoiseSource.MT19937, NoiseSource.parse("CPU"));
        assertEquals(NoiseSource.PHILOX, NoiseSource.parse("gpu"));
        assertEquals(NoiseSource.PHILOX, NoiseSource.parse("Philox"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> NoiseSource.parse("xorshift"));
        assertEquals(true, e.getMessage().contains("mt19937"));
    }
}
