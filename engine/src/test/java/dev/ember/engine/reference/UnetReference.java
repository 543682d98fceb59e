package dev.ember.engine.reference;

import dev.ember.engine.model.NetworkLayout;
import dev.ember.engine.model.StateDict;
import dev.ember.engine.model.UnetConfig;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * LDM's {@code UNetModel.forward} (ldm/modules/diffusionmodules/openaimodel.py with
 * ldm/modules/attention.py) in float64, written from the PyTorch code, not from the ggml graph.
 * Tensors are NCHW images and [N, T, D] token arrays. Only for tiny configs.
 */
public final class UnetReference {
    private final UnetConfig c;
    private final StateDict weights;

    public UnetReference(UnetConfig config, StateDict weights) {
        this.c = config;
        this.weights = weights;
    }

    /** An NCHW image with its dimensions. */
    private record Image(double[] v, int n, int ch, int h, int w) {}

    private double[] p(String name) {
        return Ops.load(weights, NetworkLayout.UNET_PREFIX + name);
    }

    /**
     * @param latent    [n, inChannels, h, w]
     * @param timesteps [n]
     * @param context   [n, tokens, contextDim]
     * @return [n, outChannels, h, w]
     */
    public double[] forward(float[] latent, int n, int h, int w, float[] timesteps, float[] context, int tokens) {
        return forward(latent, n, h, w, timesteps, context, tokens, null);
    }

    /**
     * As {@link #forward(float[], int, int, int, float[], float[], int)} with SDXL's vector conditioning
     * {@code y} [n, adm_in_channels]: {@code emb = time_embed(t_emb) + label_emb(y)}, label_emb being
     * Linear, SiLU, Linear (sgm's {@code num_classes="sequential"}).
     */
    public double[] forward(float[] latent, int n, int h, int w, float[] timesteps, float[] context, int tokens, float[] vector) {
        double[] x = new double[latent.length];
        for (int i = 0; i < x.length; i++) x[i] = latent[i];
        double[] ctx = new double[context.length];
        for (int i = 0; i < ctx.length; i++) ctx[i] = context[i];

        // emb = time_embed(timestep_embedding(t, model_channels))
        int mc = c.modelChannels(), ted = c.timeEmbedDim();
        double[] tEmb = timestepEmbedding(timesteps, mc);
        double[] emb = Ops.linear(tEmb, n, mc, p("time_embed.0.weight"), p("time_embed.0.bias"), ted);
        for (int i = 0; i < emb.length; i++) emb[i] = Ops.silu(emb[i]);
        emb = Ops.linear(emb, n, ted, p("time_embed.2.weight"), p("time_embed.2.bias"), ted);
        if (vector != null) {
            int adm = vector.length / n;
            double[] y = new double[vector.length];
            for (int i = 0; i < y.length; i++) y[i] = vector[i];
            double[] label = Ops.linear(y, n, adm, p("label_emb.0.0.weight"), p("label_emb.0.0.bias"), ted);
            for (int i = 0; i < label.length; i++) label[i] = Ops.silu(label[i]);
            emb = Ops.add(emb, Ops.linear(label, n, ted, p("label_emb.0.2.weight"), p("label_emb.0.2.bias"), ted));
        }

        Deque<Image> hs = new ArrayDeque<>();
        Image h0 = new Image(x, n, c.inChannels(), h, w);
        Image cur = conv(h0, "input_blocks.0.0", mc, 3, 1, 1);
        hs.push(cur);
        int block = 1;
        for (int level = 0; level < c.numLevels(); level++) {
            for (int i = 0; i < c.numResBlocks(); i++, block++) {
                cur = resBlock(cur, emb, "input_blocks." + block + ".0.", c.channels(level));
                if (c.hasAttention(level)) cur = spatialTransformer(cur, ctx, tokens, "input_blocks." + block + ".1.");
                hs.push(cur);
            }
            if (level != c.numLevels() - 1) {
                cur = conv(cur, "input_blocks." + block + ".0.op", cur.ch, 3, 2, 1);
                hs.push(cur);
                block++;
            }
        }
        cur = resBlock(cur, emb, "middle_block.0.", cur.ch);
        cur = spatialTransformer(cur, ctx, tokens, "middle_block.1.");
        cur = resBlock(cur, emb, "middle_block.2.", cur.ch);
        block = 0;
        for (int level = c.numLevels() - 1; level >= 0; level--) {
            for (int i = 0; i <= c.numResBlocks(); i++, block++) {
                cur = catChannels(cur, hs.pop());
                cur = resBlock(cur, emb, "output_blocks." + block + ".0.", c.channels(level));
                int sub = 1;
                if (c.hasAttention(level)) cur = spatialTransformer(cur, ctx, tokens, "output_blocks." + block + "." + sub++ + ".");
                if (level != 0 && i == c.numResBlocks()) {
                    // diffusers' rule: nearest upsampling to the size of the skip that comes next (2x when sizes halve evenly).
                    Image next = hs.peek();
                    Image up = new Image(Ops.upsampleNearest(cur.v, cur.n, cur.ch, cur.h, cur.w, next.h, next.w), cur.n, cur.ch, next.h, next.w);
                    cur = conv(up, "output_blocks." + block + "." + sub + ".conv", cur.ch, 3, 1, 1);
                }
            }
        }
        if (!hs.isEmpty()) throw new IllegalStateException("unused skip connections");
        Image out = new Image(Ops.groupNorm(cur.v, cur.n, cur.ch, cur.h * cur.w, c.normGroups(), 1e-5, p("out.0.weight"), p("out.0.bias")),
                cur.n, cur.ch, cur.h, cur.w);
        out = silu(out);
        return conv(out, "out.2", c.outChannels(), 3, 1, 1).v;
    }

    /** LDM timestep_embedding: freqs = exp(-ln(10000) * i / half), [cos(t f), sin(t f)], zero pad for odd dim. */
    public static double[] timestepEmbedding(float[] t, int dim) {
        int half = dim / 2;
        double[] out = new double[t.length * dim];
        for (int b = 0; b < t.length; b++)
            for (int i = 0; i < half; i++) {
                double freq = Math.exp(-Math.log(10000) * i / half);
                double arg = t[b] * freq;
                out[b * dim + i] = Math.cos(arg);
                out[b * dim + half + i] = Math.sin(arg);
            }
        return out;
    }

    private Image conv(Image x, String name, int outCh, int k, int stride, int pad) {
        double[] y = Ops.conv2d(x.v, x.n, x.ch, x.h, x.w, p(name + ".weight"), p(name + ".bias"), outCh, k, stride, pad);
        int oh = (x.h + 2 * pad - k) / stride + 1, ow = (x.w + 2 * pad - k) / stride + 1;
        return new Image(y, x.n, outCh, oh, ow);
    }

    private Image groupNormSilu(Image x, String name, double eps) {
        double[] y = Ops.groupNorm(x.v, x.n, x.ch, x.h * x.w, c.normGroups(), eps, p(name + ".weight"), p(name + ".bias"));
        return silu(new Image(y, x.n, x.ch, x.h, x.w));
    }

    private static Image silu(Image x) {
        double[] y = new double[x.v.length];
        for (int i = 0; i < y.length; i++) y[i] = Ops.silu(x.v[i]);
        return new Image(y, x.n, x.ch, x.h, x.w);
    }

    /** ResBlock._forward without scale-shift norm: skip(x) + out_layers(in_layers(x) + emb_layers(emb)). */
    private Image resBlock(Image x, double[] emb, String pre, int out) {
        Image h = conv(groupNormSilu(x, pre + "in_layers.0", 1e-5), pre + "in_layers.2", out, 3, 1, 1);
        int ted = c.timeEmbedDim();
        double[] siluEmb = new double[emb.length];
        for (int i = 0; i < emb.length; i++) siluEmb[i] = Ops.silu(emb[i]);
        double[] e = Ops.linear(siluEmb, x.n, ted, p(pre + "emb_layers.1.weight"), p(pre + "emb_layers.1.bias"), out);
        int hw = h.h * h.w;
        double[] hv = h.v.clone();
        for (int b = 0; b < x.n; b++)
            for (int o = 0; o < out; o++)
                for (int i = 0; i < hw; i++) hv[(b * out + o) * hw + i] += e[b * out + o];
        h = new Image(hv, h.n, out, h.h, h.w);
        // out_layers: GroupNorm, SiLU, Dropout (identity), conv
        h = conv(groupNormSilu(h, pre + "out_layers.0", 1e-5), pre + "out_layers.3", out, 3, 1, 1);
        Image skip = x.ch == out ? x : conv(x, pre + "skip_connection", out, 1, 1, 0);
        return new Image(Ops.add(skip.v, h.v), x.n, out, x.h, x.w);
    }

    /** SpatialTransformer: x + proj_out(blocks(proj_in(norm(x)))), tokens in (h w) order. */
    private Image spatialTransformer(Image x, double[] ctx, int tokens, String pre) {
        int ch = x.ch, hw = x.h * x.w, n = x.n;
        double[] normed = Ops.groupNorm(x.v, n, ch, hw, c.normGroups(), 1e-6, p(pre + "norm.weight"), p(pre + "norm.bias"));
        double[] t;
        if (c.linearProjection()) {
            t = Ops.linear(toTokens(normed, n, ch, hw), n * hw, ch, p(pre + "proj_in.weight"), p(pre + "proj_in.bias"), ch);
        } else {
            double[] conv = Ops.conv2d(normed, n, ch, x.h, x.w, p(pre + "proj_in.weight"), p(pre + "proj_in.bias"), ch, 1, 1, 0);
            t = toTokens(conv, n, ch, hw);
        }
        int heads = c.headsAt(ch);
        // As many transformer blocks as the weights have (SDXL: 2 or 10 per level, 10 in the middle).
        int depth = 0;
        while (weights.contains(NetworkLayout.UNET_PREFIX + pre + "transformer_blocks." + depth + ".norm1.weight")) depth++;
        for (int d = 0; d < depth; d++) {
            t = transformerBlock(t, n, hw, ch, heads, ctx, tokens, pre + "transformer_blocks." + d + ".");
        }
        double[] img;
        if (c.linearProjection()) {
            img = fromTokens(Ops.linear(t, n * hw, ch, p(pre + "proj_out.weight"), p(pre + "proj_out.bias"), ch), n, ch, hw);
        } else {
            img = Ops.conv2d(fromTokens(t, n, ch, hw), n, ch, x.h, x.w, p(pre + "proj_out.weight"), p(pre + "proj_out.bias"), ch, 1, 1, 0);
        }
        return new Image(Ops.add(img, x.v), n, ch, x.h, x.w);
    }

    /** BasicTransformerBlock: self-attention, cross-attention, GEGLU feed-forward, each pre-norm with a residual. */
    private double[] transformerBlock(double[] x, int n, int t, int ch, int heads, double[] ctx, int tokens, String pre) {
        int rows = n * t;
        double[] h = Ops.layerNorm(x, rows, ch, 1e-5, p(pre + "norm1.weight"), p(pre + "norm1.bias"));
        x = Ops.add(x, attention(h, n, t, ch, h, t, ch, heads, pre + "attn1."));
        h = Ops.layerNorm(x, rows, ch, 1e-5, p(pre + "norm2.weight"), p(pre + "norm2.bias"));
        x = Ops.add(x, attention(h, n, t, ch, ctx, tokens, c.contextDim(), heads, pre + "attn2."));
        h = Ops.layerNorm(x, rows, ch, 1e-5, p(pre + "norm3.weight"), p(pre + "norm3.bias"));
        int inner = ch * 4;
        double[] proj = Ops.linear(h, rows, ch, p(pre + "ff.net.0.proj.weight"), p(pre + "ff.net.0.proj.bias"), inner * 2);
        // GEGLU: x, gate = proj(x).chunk(2, dim=-1); x * gelu(gate)
        double[] geglu = new double[rows * inner];
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < inner; i++) geglu[r * inner + i] = proj[r * 2 * inner + i] * Ops.gelu(proj[r * 2 * inner + inner + i]);
        double[] ff = Ops.linear(geglu, rows, inner, p(pre + "ff.net.2.weight"), p(pre + "ff.net.2.bias"), ch);
        return Ops.add(x, ff);
    }

    /** CrossAttention: to_out(softmax(q k^T / sqrt(d)) v) per head, q from x, k and v from kv (x itself for attn1). */
    private double[] attention(double[] x, int n, int tq, int ch, double[] kv, int tk, int kvDim, int heads, String pre) {
        double[] q = Ops.linear(x, n * tq, ch, p(pre + "to_q.weight"), null, ch);
        double[] k = Ops.linear(kv, n * tk, kvDim, p(pre + "to_k.weight"), null, ch);
        double[] v = Ops.linear(kv, n * tk, kvDim, p(pre + "to_v.weight"), null, ch);
        double[] o = new double[n * tq * ch];
        for (int b = 0; b < n; b++) {
            double[] qb = java.util.Arrays.copyOfRange(q, b * tq * ch, (b + 1) * tq * ch);
            double[] kb = java.util.Arrays.copyOfRange(k, b * tk * ch, (b + 1) * tk * ch);
            double[] vb = java.util.Arrays.copyOfRange(v, b * tk * ch, (b + 1) * tk * ch);
            double[] ob = Ops.attention(qb, kb, vb, tq, tk, heads, ch / heads, false);
            System.arraycopy(ob, 0, o, b * tq * ch, tq * ch);
        }
        return Ops.linear(o, n * tq, ch, p(pre + "to_out.0.weight"), p(pre + "to_out.0.bias"), ch);
    }

    /** b c h w -> b (h w) c */
    private static double[] toTokens(double[] img, int n, int ch, int hw) {
        double[] t = new double[img.length];
        for (int b = 0; b < n; b++)
            for (int cc = 0; cc < ch; cc++)
                for (int i = 0; i < hw; i++) t[(b * hw + i) * ch + cc] = img[(b * ch + cc) * hw + i];
        return t;
    }

    /** b (h w) c -> b c h w */
    private static double[] fromTokens(double[] t, int n, int ch, int hw) {
        double[] img = new double[t.length];
        for (int b = 0; b < n; b++)
            for (int cc = 0; cc < ch; cc++)
                for (int i = 0; i < hw; i++) img[(b * ch + cc) * hw + i] = t[(b * hw + i) * ch + cc];
        return img;
    }

    /** torch.cat([h, skip], dim=1) */
    private static Image catChannels(Image a, Image b) {
        if (a.n != b.n || a.h != b.h || a.w != b.w) throw new IllegalArgumentException("skip shape mismatch");
        int hw = a.h * a.w, ch = a.ch + b.ch;
        double[] y = new double[a.n * ch * hw];
        for (int n = 0; n < a.n; n++) {
            System.arraycopy(a.v, n * a.ch * hw, y, n * ch * hw, a.ch * hw);
            System.arraycopy(b.v, n * b.ch * hw, y, (n * ch + a.ch) * hw, b.ch * hw);
        }
        return new Image(y, a.n, ch, a.h, a.w);
    }
}
