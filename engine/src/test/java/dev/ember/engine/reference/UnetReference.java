package dev.ember.engine.reference;

import dev.ember.engine.model.StateDict;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * LDM's {@code UNetModel.forward} (ldm/modules/diffusionmodules/openaimodel.py with
 * ldm/modules/attention.py) in float64, written from the PyTorch code, not from the ggml graph.
 * Tensors are NCHW images and [N, T, D] token arrays. Only for tiny configs.
 *
 * <p>The structure comes from the raw LDM tensors themselves ({@link LdmTensors}): channels from weight
 * shapes, which input and output blocks hold a ResBlock, a SpatialTransformer, a downsampler or an
 * upsampler from the names present, linear or 1x1-conv projections from proj_in's rank, transformer depth
 * from the block count. Only what no tensor tells is given: the head count (SD 1.x) or head width (SD 2.x).
 * GroupNorm is LDM's {@code normalization()}: 32 groups.
 */
public final class UnetReference {
    private static final String P = "model.diffusion_model.";
    private static final int GROUPS = 32;

    private final LdmTensors w;
    private final int numHeads;
    private final int headDim;

    /**
     * @param numHeads heads of every transformer (SD 1.x: 8), or 0 when {@code headDim} is given
     * @param headDim  channels per head (SD 2.x: 64), or 0 when {@code numHeads} is given
     */
    public UnetReference(StateDict weights, int numHeads, int headDim) {
        if ((numHeads == 0) == (headDim == 0)) throw new IllegalArgumentException("give exactly one of numHeads and headDim");
        this.w = new LdmTensors(weights, P);
        this.numHeads = numHeads;
        this.headDim = headDim;
    }

    /** An NCHW image with its dimensions. */
    private record Image(double[] v, int n, int ch, int h, int w) {}

    private double[] p(String name) {
        return w.load(name);
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

        // emb = time_embed(timestep_embedding(t, model_channels)): model_channels is conv_in's output.
        int mc = this.w.dim("input_blocks.0.0.weight", 0), inChannels = this.w.dim("input_blocks.0.0.weight", 1);
        int ted = this.w.dim("time_embed.0.weight", 0);
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
        Image cur = conv(new Image(x, n, inChannels, h, w), "input_blocks.0.0", 3, 1, 1);
        hs.push(cur);
        int inputs = this.w.count("input_blocks.");
        for (int block = 1; block < inputs; block++) {
            String b = "input_blocks." + block + ".";
            if (this.w.has(b + "0.op.weight")) {
                cur = conv(cur, b + "0.op", 3, 2, 1); // Downsample: 3x3, stride 2, padding 1
            } else {
                cur = resBlock(cur, emb, b + "0.");
                if (this.w.has(b + "1.norm.weight")) cur = spatialTransformer(cur, ctx, tokens, b + "1.");
            }
            hs.push(cur);
        }
        cur = resBlock(cur, emb, "middle_block.0.");
        cur = spatialTransformer(cur, ctx, tokens, "middle_block.1.");
        cur = resBlock(cur, emb, "middle_block.2.");
        int outputs = this.w.count("output_blocks.");
        for (int block = 0; block < outputs; block++) {
            String b = "output_blocks." + block + ".";
            cur = resBlock(catChannels(cur, hs.pop()), emb, b + "0.");
            int sub = 1;
            if (this.w.has(b + "1.norm.weight")) cur = spatialTransformer(cur, ctx, tokens, b + sub++ + ".");
            if (this.w.has(b + sub + ".conv.weight")) {
                // diffusers' rule: nearest upsampling to the size of the skip that comes next (2x when sizes halve evenly).
                Image next = hs.peek();
                Image up = new Image(Ops.upsampleNearest(cur.v, cur.n, cur.ch, cur.h, cur.w, next.h, next.w), cur.n, cur.ch, next.h, next.w);
                cur = conv(up, b + sub + ".conv", 3, 1, 1);
            }
        }
        if (!hs.isEmpty()) throw new IllegalStateException("unused skip connections");
        Image out = new Image(Ops.groupNorm(cur.v, cur.n, cur.ch, cur.h * cur.w, GROUPS, 1e-5, p("out.0.weight"), p("out.0.bias")),
                cur.n, cur.ch, cur.h, cur.w);
        out = silu(out);
        return conv(out, "out.2", 3, 1, 1).v;
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

    /** A k x k convolution whose output channels are its weight's first dimension. */
    private Image conv(Image x, String name, int k, int stride, int pad) {
        int outCh = w.dim(name + ".weight", 0);
        if (w.dim(name + ".weight", 1) != x.ch) throw new IllegalStateException(name + " takes " + w.dim(name + ".weight", 1) + " channels, gets " + x.ch);
        double[] y = Ops.conv2d(x.v, x.n, x.ch, x.h, x.w, p(name + ".weight"), p(name + ".bias"), outCh, k, stride, pad);
        int oh = (x.h + 2 * pad - k) / stride + 1, ow = (x.w + 2 * pad - k) / stride + 1;
        return new Image(y, x.n, outCh, oh, ow);
    }

    private Image groupNormSilu(Image x, String name, double eps) {
        double[] y = Ops.groupNorm(x.v, x.n, x.ch, x.h * x.w, GROUPS, eps, p(name + ".weight"), p(name + ".bias"));
        return silu(new Image(y, x.n, x.ch, x.h, x.w));
    }

    private static Image silu(Image x) {
        double[] y = new double[x.v.length];
        for (int i = 0; i < y.length; i++) y[i] = Ops.silu(x.v[i]);
        return new Image(y, x.n, x.ch, x.h, x.w);
    }

    /** ResBlock._forward without scale-shift norm: skip(x) + out_layers(in_layers(x) + emb_layers(emb)). */
    private Image resBlock(Image x, double[] emb, String pre) {
        Image h = conv(groupNormSilu(x, pre + "in_layers.0", 1e-5), pre + "in_layers.2", 3, 1, 1);
        int out = h.ch;
        int ted = w.dim(pre + "emb_layers.1.weight", 1);
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
        h = conv(groupNormSilu(h, pre + "out_layers.0", 1e-5), pre + "out_layers.3", 3, 1, 1);
        // skip_connection is the identity when the channels stay, else a 1x1 convolution (present in the file).
        Image skip = w.has(pre + "skip_connection.weight") ? conv(x, pre + "skip_connection", 1, 1, 0) : x;
        return new Image(Ops.add(skip.v, h.v), x.n, out, x.h, x.w);
    }

    /** SpatialTransformer: x + proj_out(blocks(proj_in(norm(x)))), tokens in (h w) order. */
    private Image spatialTransformer(Image x, double[] ctx, int tokens, String pre) {
        int ch = x.ch, hw = x.h * x.w, n = x.n;
        double[] normed = Ops.groupNorm(x.v, n, ch, hw, GROUPS, 1e-6, p(pre + "norm.weight"), p(pre + "norm.bias"));
        // SD 2.x (use_linear_in_transformer) stores proj_in/proj_out as [C, C] linear layers, SD 1.x as [C, C, 1, 1] convolutions.
        boolean linear = w.rank(pre + "proj_in.weight") == 2;
        int inner = w.dim(pre + "proj_in.weight", 0);
        double[] t;
        if (linear) {
            t = Ops.linear(toTokens(normed, n, ch, hw), n * hw, ch, p(pre + "proj_in.weight"), p(pre + "proj_in.bias"), inner);
        } else {
            double[] conv = Ops.conv2d(normed, n, ch, x.h, x.w, p(pre + "proj_in.weight"), p(pre + "proj_in.bias"), inner, 1, 1, 0);
            t = toTokens(conv, n, inner, hw);
        }
        int heads = numHeads != 0 ? numHeads : inner / headDim;
        int depth = w.count(pre + "transformer_blocks.");
        for (int d = 0; d < depth; d++) {
            t = transformerBlock(t, n, hw, inner, heads, ctx, tokens, pre + "transformer_blocks." + d + ".");
        }
        double[] img;
        if (linear) {
            img = fromTokens(Ops.linear(t, n * hw, inner, p(pre + "proj_out.weight"), p(pre + "proj_out.bias"), ch), n, ch, hw);
        } else {
            img = Ops.conv2d(fromTokens(t, n, inner, hw), n, inner, x.h, x.w, p(pre + "proj_out.weight"), p(pre + "proj_out.bias"), ch, 1, 1, 0);
        }
        return new Image(Ops.add(img, x.v), n, ch, x.h, x.w);
    }

    /** BasicTransformerBlock: self-attention, cross-attention, GEGLU feed-forward, each pre-norm with a residual. */
    private double[] transformerBlock(double[] x, int n, int t, int ch, int heads, double[] ctx, int tokens, String pre) {
        int rows = n * t;
        double[] h = Ops.layerNorm(x, rows, ch, 1e-5, p(pre + "norm1.weight"), p(pre + "norm1.bias"));
        x = Ops.add(x, attention(h, n, t, ch, h, t, ch, heads, pre + "attn1."));
        h = Ops.layerNorm(x, rows, ch, 1e-5, p(pre + "norm2.weight"), p(pre + "norm2.bias"));
        x = Ops.add(x, attention(h, n, t, ch, ctx, tokens, w.dim(pre + "attn2.to_k.weight", 1), heads, pre + "attn2."));
        h = Ops.layerNorm(x, rows, ch, 1e-5, p(pre + "norm3.weight"), p(pre + "norm3.bias"));
        int inner = w.dim(pre + "ff.net.2.weight", 1); // GEGLU's width: ff.net.0.proj has twice as many rows
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
