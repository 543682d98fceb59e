package dev.ember.engine.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.bindings.ember_h;
import dev.ember.engine.model.DType;
import dev.ember.engine.model.NetworkLayout;
import dev.ember.engine.model.StateDict;
import dev.ember.engine.model.SyntheticWeights;
import dev.ember.engine.model.TaesdConfig;
import dev.ember.engine.model.TaesdLayout;
import dev.ember.engine.model.VaeConfig;
import dev.ember.engine.nn.NativeContext;
import dev.ember.engine.nn.Taesd;
import dev.ember.engine.nn.Vae;
import java.lang.foreign.Arena;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Tiled decoding and encoding: the blending is exact where tiles agree, and on a smooth latent a tiled decode
 * stays within a stated bound of the untiled one, with no step at the tile borders (the seam check compares
 * the jumps between neighbouring pixels across each border with those of the untiled picture).
 */
class VaeTilesTest {
    static NativeContext context;

    @BeforeAll
    static void open() {
        context = new NativeContext(new NativeContext.Options(2, -1, false, false));
    }

    @AfterAll
    static void close() {
        context.close();
    }

    /**
     * A smooth latent [4, h, w]: per channel an offset plus waves of 24 to 36 latent pixels (192 to 288 image pixels),
     * amplitude ~1 (as real latents divided by the scale factor are).
     */
    static float[] smooth(int h, int w) {
        float[] z = new float[4 * h * w];
        for (int c = 0; c < 4; c++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    z[(c * h + y) * w + x] = (float) (Math.sin(2 * Math.PI * x / (24.0 + 4 * c) + c) * Math.cos(2 * Math.PI * y / (36.0 - 3 * c) - c)
                            + 0.3 * c - 0.5);
                }
        return z;
    }

    @Test
    void tilesCoverEverythingAndBlendingIsExactWhereTilesAgree() {
        assertArrayEquals(new int[] {0}, VaeTiles.starts(40, 64, 16));
        assertArrayEquals(new int[] {0, 45, 91, 136}, VaeTiles.starts(200, 64, 16));
        for (int length : new int[] {65, 100, 129, 500}) {
            int[] s = VaeTiles.starts(length, 64, 16);
            assertEquals(0, s[0]);
            assertEquals(length - 64, s[s.length - 1], "the last tile ends at the edge");
            for (int i = 1; i < s.length; i++) assertTrue(s[i - 1] + 64 - s[i] >= 16, "overlap at least 16 at " + length);
        }
        // A "network" without context (nearest 8x upsampling, then a per-pixel map): every tile agrees with the whole.
        int h = 37, w = 29;
        float[] z = smooth(h, w);
        VaeTiles.TileCall upsample = (t, th, tw) -> {
            float[] out = new float[3 * th * 8 * tw * 8];
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < th * 8; y++)
                    for (int x = 0; x < tw * 8; x++) out[(c * th * 8 + y) * tw * 8 + x] = t[(c * th + y / 8) * tw + x / 8] * 0.5f + c;
            return out;
        };
        float[] whole = upsample.apply(z, h, w);
        float[] tiled = VaeTiles.run(z, 4, h, w, 3, 8, 1, 12, 4, upsample);
        for (int i = 0; i < whole.length; i++) assertEquals(whole[i], tiled[i], 1e-6, "pixel " + i);
        // Encoding direction: 8x8 average pooling, image tiles a multiple of 8.
        float[] image = upsample.apply(z, h, w);
        VaeTiles.TileCall pool = (t, th, tw) -> {
            float[] out = new float[3 * (th / 8) * (tw / 8)];
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < th; y++)
                    for (int x = 0; x < tw; x++) out[(c * (th / 8) + y / 8) * (tw / 8) + x / 8] += t[(c * th + y) * tw + x] / 64f;
            return out;
        };
        float[] pooledWhole = pool.apply(image, h * 8, w * 8);
        float[] pooledTiled = VaeTiles.run(image, 3, h * 8, w * 8, 3, 1, 8, 96, 32, pool);
        for (int i = 0; i < pooledWhole.length; i++) assertEquals(pooledWhole[i], pooledTiled[i], 1e-5, "latent " + i);
    }

    @Test
    void theEdgesOfTilesThatNeighboursCoverDoNotShow() {
        // A "network" that marks the outer 2 latent pixels (16 image pixels) of every tile: with overlaps of 32 pixels
        // the margins (a quarter of the overlap, 8 pixels) are weight 0 and the ramps blend the rest, so a mark shows
        // only at the image's own edges, attenuated where ramps start.
        int h = 24, w = 40;
        float[] z = new float[4 * h * w];
        VaeTiles.TileCall marked = (t, th, tw) -> {
            float[] out = new float[3 * th * 8 * tw * 8];
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < th * 8; y++)
                    for (int x = 0; x < tw * 8; x++) {
                        boolean edge = y < 4 || x < 4 || y >= th * 8 - 4 || x >= tw * 8 - 4;
                        out[(c * th * 8 + y) * tw * 8 + x] = edge ? 10f : 0f;
                    }
            return out;
        };
        float[] tiled = VaeTiles.run(z, 4, h, w, 3, 8, 1, 16, 4, marked);
        for (int y = 4; y < h * 8 - 4; y++)
            for (int x = 4; x < w * 8 - 4; x++) assertEquals(0f, tiled[y * w * 8 + x], "pixel " + x + ", " + y);
    }

    /** Relative L2 of a against b, the largest absolute difference, and the seam ratio at the tile borders {@code borders}. */
    record Error(double relativeL2, double maxAbs, double seam) {}

    static Error compare(float[] tiled, float[] whole, int height, int width, int[] borders) {
        double num = 0, den = 0, max = 0;
        for (int i = 0; i < whole.length; i++) {
            double d = tiled[i] - whole[i];
            num += d * d;
            den += whole[i] * (double) whole[i];
            max = Math.max(max, Math.abs(d));
        }
        // A seam is a step in the error between two neighbouring columns at a tile's first or last column: compare the
        // error's mean jump there with its mean jump at the other columns of the same phase modulo 8 (tile borders fall
        // on latent pixels, and the decoders' nearest upsampling makes 8-pixel steps everywhere): 1, borders are not special.
        double jump = 0, anywhere = 0;
        int n = 0, m = 0;
        for (int c = 0; c < 3; c++) {
            for (int y = 0; y < height; y++) {
                for (int x = 1; x < width; x++) {
                    int at = (c * height + y) * width + x;
                    double step = Math.abs((tiled[at] - whole[at]) - (tiled[at - 1] - whole[at - 1]));
                    if (x % 8 == 0) {
                        anywhere += step;
                        m++;
                    }
                    for (int b : borders) {
                        if (b == x) {
                            jump += step;
                            n++;
                        }
                    }
                }
            }
        }
        double reference = anywhere;
        return new Error(Math.sqrt(num / den), max, (jump / n) / (reference / m));
    }

    @Test
    void recordedGroupStatisticsGiveBackTheUntiledPass() {
        VaeConfig tiny = VaeConfig.TINY;
        try (StateDict weights = SyntheticWeights.generate(NetworkLayout.vae(tiny), 3, DType.F32, Arena.ofShared());
             Vae vae = new Vae(context, tiny, weights, ember_h.EMBER_WEIGHT_F32(), Vae.Parts.BOTH)) {
            int h = 6, w = 5;
            float[] z = smooth(h, w);
            float[] stats = vae.recordGroupStats(false, z, h, w);
            // decoder: mid 5 GroupNorms, 4 levels x 2 res blocks x 2, norm_out; 32 groups; means and variances
            assertEquals(2 * (5 + 16 + 1) * 32, stats.length);
            float[] own = vae.decode(z, 1, h, w), given = vae.decodeWithGroupStats(z, h, w, stats);
            double err = dev.ember.engine.reference.Ops.relativeL2(given, toDouble(own));
            System.out.printf("decode with its own recorded statistics: relative L2 %.3e%n", err);
            assertTrue(err <= 1e-5, "relative L2 " + err);
            float[] image = java.util.Arrays.copyOf(own, own.length);
            float[] encStats = vae.recordGroupStats(true, image, h * 8, w * 8);
            err = dev.ember.engine.reference.Ops.relativeL2(vae.encodeWithGroupStats(image, h * 8, w * 8, encStats),
                    toDouble(vae.encode(image, 1, h * 8, w * 8)));
            System.out.printf("encode with its own recorded statistics: relative L2 %.3e%n", err);
            assertTrue(err <= 1e-5, "relative L2 " + err);
        }
    }

    static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }

    /**
     * Makes a synthetic VAE local and smooth, as a trained decoder is: every kernel's centre tap carries its input
     * channel through (output channel o takes input o mod in), the random weights scaled to a tenth around it. With
     * plain N(0, 1/fan_in) weights the zero padding's effect grows through the twenty-odd layers until even a
     * tile's centre differs from the whole picture by ~50% (measured 0.46-0.60 relative L2, with the whole
     * picture's own GroupNorm statistics too), which says nothing about tiling.
     */
    static void nearIdentity(StateDict weights) {
        for (var t : weights.tensors().values()) {
            if (!t.name().endsWith(".weight") || t.rank() != 4) continue;
            long out = t.dim(0), in = t.dim(1), k = t.dim(2);
            var d = t.data();
            for (long i = 0; i < t.elementCount(); i++) d.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i, 0.1f * d.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i));
            for (long o = 0; o < out; o++) {
                long at = ((o * in + o % in) * k + k / 2) * k + k / 2;
                d.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, at, d.getAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, at) + 1f);
            }
        }
    }

    @Test
    void tiledVaeDecodeOfASmoothLatentStaysWithinTheBound() {
        VaeConfig tiny = VaeConfig.TINY;
        try (StateDict weights = SyntheticWeights.generate(NetworkLayout.vae(tiny), 3, DType.F32, Arena.ofShared())) {
            nearIdentity(weights);
            try (Vae vae = new Vae(context, tiny, weights, ember_h.EMBER_WEIGHT_F32(), Vae.Parts.BOTH)) {
                int h = 32, w = 32, tile = 16, overlap = 4;
                float[] z = smooth(h, w);
                float[] whole = vae.decode(z, 1, h, w);
                int[] starts = VaeTiles.starts(w, tile, overlap);
                int[] borders = new int[2 * (starts.length - 1)];
                for (int i = 1; i < starts.length; i++) {
                    borders[2 * i - 2] = starts[i] * 8;                         // where the next tile starts
                    borders[2 * i - 1] = (starts[i - 1] + tile) * 8;            // where the previous one ends
                }
                // Statistics from the whole latent scaled down to one tile, as LatentCodec records them.
                float[] stats = LatentCodec.proxyStats(vae, false, z, 4, h, w, tile, 1);
                Error shared = compare(VaeTiles.run(z, 4, h, w, 3, 8, 1, tile, overlap, (t, th, tw) -> vae.decodeWithGroupStats(t, th, tw, stats)),
                        whole, h * 8, w * 8, borders);
                // Each tile normalised by its own content: what the shared record avoids.
                Error own = compare(VaeTiles.run(z, 4, h, w, 3, 8, 1, tile, overlap, (t, th, tw) -> vae.decode(t, 1, th, tw)),
                        whole, h * 8, w * 8, borders);
                System.out.printf("VAE tiled decode (256 px, 128 px tiles, 32 px overlap): shared statistics relative L2 %.3e, max |d| %.3e, "
                        + "seam ratio %.3f; each tile its own statistics %.3e, seam ratio %.3f%n", shared.relativeL2(), shared.maxAbs(),
                        shared.seam(), own.relativeL2(), own.seam());
                assertTrue(shared.relativeL2() <= 0.35, "relative L2 " + shared.relativeL2());
                assertTrue(shared.relativeL2() < own.relativeL2(), "shared statistics bring the tiles closer to the whole picture");
                assertTrue(shared.seam() <= 1.5, "seam ratio " + shared.seam());

                // Encoding: image tiles of 128 px overlapping by 32, on the decoded picture.
                float[] moments = vae.encode(whole, 1, h * 8, w * 8);
                float[] encStats = LatentCodec.proxyStats(vae, true, whole, 3, h * 8, w * 8, 128, 8);
                float[] tiledMoments = VaeTiles.run(whole, 3, h * 8, w * 8, 8, 1, 8, 128, 32, (t, th, tw) -> vae.encodeWithGroupStats(t, th, tw, encStats));
                Error enc = compare(java.util.Arrays.copyOf(tiledMoments, 4 * h * w), java.util.Arrays.copyOf(moments, 4 * h * w), h, w, new int[] {12});
                System.out.printf("VAE tiled encode: relative L2 of the mean %.3e%n", enc.relativeL2());
                assertTrue(enc.relativeL2() <= 0.35, "encode relative L2 " + enc.relativeL2());
            }
        }
    }

    @Test
    void tiledTaesdDecodeDiffersOnlyNearTileEdges() {
        TaesdConfig c = TaesdConfig.STANDARD;
        try (StateDict weights = SyntheticWeights.generate(TaesdLayout.decoder(c), 4, DType.F16, Arena.ofShared());
             Taesd taesd = new Taesd(context, c, weights, ember_h.EMBER_WEIGHT_F16(), Vae.Parts.DECODER)) {
            int h = 24, w = 24;
            float[] z = smooth(h, w);
            for (int i = 0; i < z.length; i++) z[i] *= 3;
            float[] whole = taesd.decode(z, 1, h, w);
            float[] tiled = VaeTiles.run(z, 4, h, w, 3, 8, 1, 16, 8, (t, th, tw) -> taesd.decode(t, 1, th, tw));
            Error e = compare(tiled, whole, h * 8, w * 8, new int[] {8 * 8, 16 * 8});
            System.out.printf("TAESD tiled decode (192 px, 128 px tiles, 64 px overlap): relative L2 %.3e, max |d| %.3e, seam ratio %.3f%n",
                    e.relativeL2(), e.maxAbs(), e.seam());
            assertTrue(e.relativeL2() <= 0.05, "relative L2 " + e.relativeL2());
            assertTrue(e.seam() <= 2, "seam ratio " + e.seam());
        }
    }
}
