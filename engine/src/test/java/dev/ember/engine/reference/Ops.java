package dev.ember.engine.reference;

import dev.ember.engine.model.GgmlBlocks;
import dev.ember.engine.model.StateDict;
import dev.ember.engine.model.TensorData;
import java.lang.foreign.ValueLayout;

/**
 * Plain float64 building blocks for the reference networks: written from the PyTorch definitions,
 * not from the ggml graphs, loops over NCHW / [N, T, D] arrays. Slow on purpose; only for tiny shapes.
 */
public final class Ops {
    private Ops() {}

    /** A tensor of the state dict as doubles (f32, f16 and bf16 sources, and ggml's block types through {@link GgmlBlocks}). */
    public static double[] load(StateDict weights, String name) {
        TensorData t = weights.get(name);
        int n = Math.toIntExact(t.elementCount());
        double[] out = new double[n];
        if (t.dtype().isBlock()) {
            float[] values = GgmlBlocks.dequantize(t.dtype(), t.data(), n);
            for (int i = 0; i < n; i++) out[i] = values[i];
            return out;
        }
        for (int i = 0; i < n; i++) {
            out[i] = switch (t.dtype()) {
                case F32 -> t.data().getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i);
                case F16 -> Float.float16ToFloat(t.data().getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i));
                case BF16 -> Float.intBitsToFloat((t.data().getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i) & 0xffff) << 16);
                default -> throw new IllegalArgumentException(name + ": " + t.dtype());
            };
        }
        return out;
    }

    /** y[r, o] = sum_i x[r, i] w[o, i] + b[o]; x is [rows, in], w is PyTorch's [out, in]; b may be null. */
    public static double[] linear(double[] x, int rows, int in, double[] w, double[] b, int out) {
        double[] y = new double[rows * out];
        for (int r = 0; r < rows; r++) {
            for (int o = 0; o < out; o++) {
                double s = b == null ? 0 : b[o];
                for (int i = 0; i < in; i++) s += x[r * in + i] * w[o * in + i];
                y[r * out + o] = s;
            }
        }
        return y;
    }

    /** NCHW convolution, square kernel k, zero padding pad on every side; weight [oc, c, k, k]. */
    public static double[] conv2d(double[] x, int n, int c, int h, int w, double[] weight, double[] bias, int oc, int k,
                                  int stride, int pad) {
        int oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1;
        double[] y = new double[n * oc * oh * ow];
        for (int b = 0; b < n; b++)
            for (int o = 0; o < oc; o++)
                for (int i = 0; i < oh; i++)
                    for (int j = 0; j < ow; j++) {
                        double s = bias == null ? 0 : bias[o];
                        for (int ci = 0; ci < c; ci++)
                            for (int ki = 0; ki < k; ki++) {
                                int yy = i * stride + ki - pad;
                                if (yy < 0 || yy >= h) continue;
                                for (int kj = 0; kj < k; kj++) {
                                    int xx = j * stride + kj - pad;
                                    if (xx < 0 || xx >= w) continue;
                                    s += x[((b * c + ci) * h + yy) * w + xx] * weight[((o * c + ci) * k + ki) * k + kj];
                                }
                            }
                        y[((b * oc + o) * oh + i) * ow + j] = s;
                    }
        return y;
    }

    /** Zero-pads an NCHW image by the given amounts on the right and bottom only (the VAE's downsample). */
    public static double[] padRightBottom(double[] x, int n, int c, int h, int w, int padH, int padW) {
        int nh = h + padH, nw = w + padW;
        double[] y = new double[n * c * nh * nw];
        for (int p = 0; p < n * c; p++)
            for (int i = 0; i < h; i++)
                System.arraycopy(x, (p * h + i) * w, y, (p * nh + i) * nw, w);
        return y;
    }

    /** GroupNorm over NCHW with per-channel affine (biased variance, as PyTorch). */
    public static double[] groupNorm(double[] x, int n, int c, int hw, int groups, double eps, double[] gamma, double[] beta) {
        double[] y = new double[x.length];
        int per = c / groups;
        for (int b = 0; b < n; b++)
            for (int g = 0; g < groups; g++) {
                int start = (b * c + g * per) * hw, len = per * hw;
                double mean = 0;
                for (int i = 0; i < len; i++) mean += x[start + i];
                mean /= len;
                double var = 0;
                for (int i = 0; i < len; i++) var += (x[start + i] - mean) * (x[start + i] - mean);
                var /= len;
                double inv = 1 / Math.sqrt(var + eps);
                for (int ch = 0; ch < per; ch++) {
                    int cc = g * per + ch;
                    for (int i = 0; i < hw; i++) {
                        int idx = (b * c + cc) * hw + i;
                        y[idx] = (x[idx] - mean) * inv * gamma[cc] + beta[cc];
                    }
                }
            }
        return y;
    }

    /** LayerNorm over the last dimension d of [rows, d]. */
    public static double[] layerNorm(double[] x, int rows, int d, double eps, double[] gamma, double[] beta) {
        double[] y = new double[x.length];
        for (int r = 0; r < rows; r++) {
            double mean = 0, var = 0;
            for (int i = 0; i < d; i++) mean += x[r * d + i];
            mean /= d;
            for (int i = 0; i < d; i++) var += (x[r * d + i] - mean) * (x[r * d + i] - mean);
            var /= d;
            double inv = 1 / Math.sqrt(var + eps);
            for (int i = 0; i < d; i++) y[r * d + i] = (x[r * d + i] - mean) * inv * gamma[i] + beta[i];
        }
        return y;
    }

    /**
     * Multi-head scaled dot-product attention for one batch element: q [tq, heads*dh], k and v
     * [tk, heads*dh] -> [tq, heads*dh]. {@code causal} hides keys after the query's position.
     */
    public static double[] attention(double[] q, double[] k, double[] v, int tq, int tk, int heads, int dh, boolean causal) {
        int width = heads * dh;
        double[] out = new double[tq * width];
        double scale = 1 / Math.sqrt(dh);
        double[] scores = new double[tk];
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < tq; i++) {
                double max = Double.NEGATIVE_INFINITY;
                int limit = causal ? Math.min(tk, i + 1) : tk;
                for (int j = 0; j < limit; j++) {
                    double s = 0;
                    for (int e = 0; e < dh; e++) s += q[i * width + h * dh + e] * k[j * width + h * dh + e];
                    scores[j] = s * scale;
                    max = Math.max(max, scores[j]);
                }
                double sum = 0;
                for (int j = 0; j < limit; j++) {
                    scores[j] = Math.exp(scores[j] - max);
                    sum += scores[j];
                }
                for (int j = 0; j < limit; j++) {
                    double p = scores[j] / sum;
                    for (int e = 0; e < dh; e++) out[i * width + h * dh + e] += p * v[j * width + h * dh + e];
                }
            }
        return out;
    }

    public static double silu(double x) {
        return x / (1 + Math.exp(-x));
    }

    public static double quickGelu(double x) {
        return x / (1 + Math.exp(-1.702 * x));
    }

    /** Exact GELU, x * Phi(x), with Phi from a double-precision erf. */
    public static double gelu(double x) {
        return 0.5 * x * (1 + erf(x / Math.sqrt(2)));
    }

    /** erf to ~1e-15 (Abramowitz-Stegun 7.1.26 is too coarse): series near 0, continued fraction beyond. */
    public static double erf(double x) {
        double ax = Math.abs(x);
        double r;
        if (ax < 2.5) {
            double term = ax, sum = ax, x2 = ax * ax;
            for (int n = 1; n < 200; n++) {
                term *= -x2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
            }
            r = 2 / Math.sqrt(Math.PI) * sum;
        } else {
            // erfc by Lentz's continued fraction, then erf = 1 - erfc
            double tiny = 1e-300, f = ax, c = ax, d = 0;
            for (int n = 1; n < 300; n++) {
                double an = n / 2.0;
                d = ax + an * d;
                d = Math.abs(d) < tiny ? tiny : d;
                c = ax + an / c;
                c = Math.abs(c) < tiny ? tiny : c;
                d = 1 / d;
                double delta = c * d;
                f *= delta;
                if (Math.abs(delta - 1) < 1e-16) break;
            }
            r = 1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
        }
        return x < 0 ? -r : r;
    }

    /** Nearest-neighbour 2x upsampling of NCHW. */
    public static double[] upsample2x(double[] x, int n, int c, int h, int w) {
        double[] y = new double[n * c * 4 * h * w];
        for (int p = 0; p < n * c; p++)
            for (int i = 0; i < 2 * h; i++)
                for (int j = 0; j < 2 * w; j++) y[(p * 2 * h + i) * 2 * w + j] = x[(p * h + i / 2) * w + j / 2];
        return y;
    }

    /** Nearest-neighbour resize of NCHW to oh x ow, as PyTorch's {@code interpolate(size=..., mode="nearest")}: src = floor(dst * in / out). */
    public static double[] upsampleNearest(double[] x, int n, int c, int h, int w, int oh, int ow) {
        double[] y = new double[n * c * oh * ow];
        for (int p = 0; p < n * c; p++)
            for (int i = 0; i < oh; i++) {
                int si = (int) Math.floor((double) i * h / oh);
                for (int j = 0; j < ow; j++) y[(p * oh + i) * ow + j] = x[(p * h + si) * w + (int) Math.floor((double) j * w / ow)];
            }
        return y;
    }

    public static double[] add(double[] a, double[] b) {
        double[] y = new double[a.length];
        for (int i = 0; i < a.length; i++) y[i] = a[i] + b[i];
        return y;
    }

    /** Relative L2 error |a - b| / |b|, b being the reference. */
    public static double relativeL2(float[] actual, double[] reference) {
        if (actual.length != reference.length) throw new IllegalArgumentException(actual.length + " vs " + reference.length);
        double num = 0, den = 0;
        for (int i = 0; i < actual.length; i++) {
            double d = actual[i] - reference[i];
            num += d * d;
            den += reference[i] * reference[i];
        }
        return Math.sqrt(num / den);
    }
}
