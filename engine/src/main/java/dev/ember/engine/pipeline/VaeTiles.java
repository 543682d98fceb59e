package dev.ember.engine.pipeline;

import java.util.ArrayList;
import java.util.List;

/**
 * Decoding and encoding in overlapping tiles, so that an image of any size fits a bounded compute buffer:
 * the input is cut into tiles of at most {@code tile} pixels a side that overlap by at least {@code overlap}
 * (spread evenly, the last one ending at the edge), each tile goes through the network on its own, and the
 * outputs are blended with weights that ramp across each overlap, normalised by their sum, so no tile border shows
 * as a seam. A tile's outermost quarter of each overlap gets weight 0 (its neighbour covers those pixels, which the
 * tile's own zero padding disturbs most), the middle half ramps linearly to 1, the rest is 1, as are the image's edges.
 *
 * <p>The SD VAE's decoder normalises over the whole picture (GroupNorm, mid-block attention), so a tiled decode
 * differs from the untiled one a little wherever a tile's statistics differ from the picture's; TAESD sees only
 * a bounded neighbourhood and differs only within its reach of a tile edge. VaeTilesTest measures both.
 */
public final class VaeTiles {
    private VaeTiles() {}

    /** A network call on one tile: input [channels, h, w] -> output [outChannels, h * scale, w * scale] (scale may be 1/f). */
    @FunctionalInterface
    public interface TileCall {
        float[] apply(float[] tile, int height, int width);
    }

    /** Where tiles start along one axis of {@code length}: tiles of {@code tile} overlapping by at least {@code overlap}. */
    static int[] starts(int length, int tile, int overlap) {
        if (length <= tile) return new int[] {0};
        int stride = Math.max(1, tile - overlap);
        int n = (int) Math.ceil((double) (length - tile) / stride) + 1;
        int[] s = new int[n];
        for (int i = 0; i < n; i++) s[i] = (int) Math.round((double) i * (length - tile) / (n - 1));
        return s;
    }

    /**
     * Runs {@code call} tile by tile over {@code input} [channels, height, width] and blends the outputs into
     * [outChannels, height * num / den, width * num / den]. Tile sizes and overlaps are in input pixels; every tile
     * start and size is a multiple of {@code den} (so a tile maps to whole output pixels when the scale is 1/den).
     */
    public static float[] run(float[] input, int channels, int height, int width, int outChannels, int num, int den, int tile,
                              int overlap, TileCall call) {
        if (tile % den != 0 || overlap % den != 0) throw new IllegalArgumentException("tile and overlap must be multiples of " + den);
        int[] ys = aligned(starts(height, tile, overlap), den), xs = aligned(starts(width, tile, overlap), den);
        int oh = height * num / den, ow = width * num / den;
        float[] sum = new float[outChannels * oh * ow];
        float[] weights = new float[oh * ow];
        for (int yi = 0; yi < ys.length; yi++) {
            int y0 = ys[yi], th = Math.min(tile, height - y0);
            for (int xi = 0; xi < xs.length; xi++) {
                int x0 = xs[xi], tw = Math.min(tile, width - x0);
                float[] in = crop(input, channels, height, width, y0, x0, th, tw);
                float[] out = call.apply(in, th, tw);
                int toh = th * num / den, tow = tw * num / den;
                if (out.length != outChannels * toh * tow) {
                    throw new IllegalStateException("tile output has " + out.length + " values, expected " + outChannels * toh * tow);
                }
                // Ramps over the overlap with each neighbour, in output pixels.
                float[] wy = ramp(toh, yi > 0 ? (ys[yi - 1] + tile - y0) * num / den : 0,
                        yi + 1 < ys.length ? (y0 + th - ys[yi + 1]) * num / den : 0);
                float[] wx = ramp(tow, xi > 0 ? (xs[xi - 1] + tile - x0) * num / den : 0,
                        xi + 1 < xs.length ? (x0 + tw - xs[xi + 1]) * num / den : 0);
                int oy0 = y0 * num / den, ox0 = x0 * num / den;
                for (int y = 0; y < toh; y++) {
                    for (int x = 0; x < tow; x++) {
                        float w = wy[y] * wx[x];
                        int at = (oy0 + y) * ow + ox0 + x;
                        weights[at] += w;
                        for (int c = 0; c < outChannels; c++) sum[c * oh * ow + at] += w * out[(c * toh + y) * tow + x];
                    }
                }
            }
        }
        for (int i = 0; i < oh * ow; i++) {
            if (!(weights[i] > 0)) throw new IllegalStateException("output pixel " + i + " has no tile weight (tile " + tile + ", overlap " + overlap + ")");
        }
        for (int c = 0; c < outChannels; c++) {
            for (int i = 0; i < oh * ow; i++) sum[c * oh * ow + i] /= weights[i];
        }
        return sum;
    }

    /** How many tiles {@link #run} makes for this input. */
    public static int count(int height, int width, int tile, int overlap, int den) {
        return aligned(starts(height, tile, overlap), den).length * aligned(starts(width, tile, overlap), den).length;
    }

    private static int[] aligned(int[] starts, int den) {
        List<Integer> out = new ArrayList<>();
        for (int s : starts) {
            int a = s / den * den;
            if (out.isEmpty() || out.getLast() != a) out.add(a);
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    /**
     * Weights along one axis of a tile: over the {@code before} pixels it shares with the previous tile, 0 for the first
     * quarter, rising linearly over the middle half, 1 after; the same mirrored over the {@code after} pixels it shares
     * with the next. Two neighbours' weights add up to 1 across their overlap.
     */
    static float[] ramp(int length, int before, int after) {
        float[] w = new float[length];
        for (int i = 0; i < length; i++) w[i] = Math.min(rise(i, before), rise(length - 1 - i, after));
        return w;
    }

    /** The weight at {@code i} pixels into an overlap of {@code overlap} pixels (1 without one). */
    private static float rise(int i, int overlap) {
        if (overlap <= 0 || i >= overlap) return 1f;
        int margin = overlap / 4, width = overlap - 2 * margin;
        if (i < margin) return 0f;
        return Math.min(1f, (i - margin + 0.5f) / width);
    }

    private static float[] crop(float[] x, int channels, int height, int width, int y0, int x0, int th, int tw) {
        float[] out = new float[channels * th * tw];
        for (int c = 0; c < channels; c++)
            for (int y = 0; y < th; y++) System.arraycopy(x, (c * height + y0 + y) * width + x0, out, (c * th + y) * tw, tw);
        return out;
    }
}
