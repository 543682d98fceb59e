package dev.ember.engine.reference;

import dev.ember.engine.model.NetworkLayout;
import dev.ember.engine.model.StateDict;
import dev.ember.engine.model.TextEncoderConfig;

/**
 * float64 CLIP text transformer, written from Hugging Face's {@code CLIPTextTransformer} (the module
 * SD 1.x's {@code FrozenCLIPEmbedder} wraps; OpenCLIP's {@code TextTransformer} of SD 2.x computes the
 * same once renamed):
 *
 * <pre>
 *   hidden = token_embedding(ids) + position_embedding(arange(T))
 *   for layer in layers[: L - (clip_skip - 1)]:
 *       residual = hidden; hidden = layer_norm1(hidden)
 *       hidden = out_proj(softmax(q k^T * head_dim^-0.5 + causal_mask) v)   # per head
 *       hidden = residual + hidden
 *       residual = hidden; hidden = fc2(act(fc1(layer_norm2(hidden)))); hidden = residual + hidden
 *   return final_layer_norm(hidden)
 * </pre>
 *
 * with {@code act} quick-GELU (OpenAI CLIP) or exact GELU (OpenCLIP), LayerNorm eps 1e-5. clip_skip k
 * takes {@code hidden_states[-k]} and applies the final layer norm to it, as A1111 and LDM's
 * penultimate-layer OpenCLIP embedder do. Widths and the layer count come from the raw tensors
 * ({@link LdmTensors}, SD 1.x's {@code cond_stage_model.transformer.text_model.} names); the head count
 * and the activation, which no tensor tells, are given.
 */
public final class TextEncoderReference {
    private static final double EPS = 1e-5;
    private static final String P = "cond_stage_model.transformer.text_model.";

    private TextEncoderReference() {}

    /**
     * tokens [batch, nTokens] -> hidden [batch, nTokens, hiddenSize], row-major.
     *
     * @param heads     attention heads (SD 1.x: 12, SD 2.x: 16)
     * @param quickGelu quick-GELU (OpenAI CLIP, SD 1.x) or exact GELU (OpenCLIP, SD 2.x)
     */
    public static double[] encode(StateDict weights, int heads, boolean quickGelu, int[] tokens, int batch, int nTokens, int clipSkip) {
        return encode(weights, heads, quickGelu, tokens, batch, nTokens, clipSkip, null);
    }

    /**
     * As {@link #encode(StateDict, int, boolean, int[], int, int, int)}, with the input rows of some slots given
     * (textual inversion): {@code rows[b * nTokens + t]}, when not null, replaces that token's embedding row.
     */
    public static double[] encode(StateDict weights, int heads, boolean quickGelu, int[] tokens, int batch, int nTokens, int clipSkip,
                                  double[][] rows) {
        return encode(weights, heads, quickGelu, tokens, batch, nTokens, clipSkip, rows, true);
    }

    /** As {@link #encode(StateDict, TextEncoderConfig, int[], int, int, int, boolean)} with the config's heads and activation. */
    public static double[] encode(StateDict weights, TextEncoderConfig c, int[] tokens, int batch, int nTokens, int clipSkip, boolean finalNorm) {
        return encode(weights, c.numHeads(), c.activation() == TextEncoderConfig.Activation.QUICK_GELU, tokens, batch, nTokens, clipSkip, null,
                finalNorm);
    }

    /**
     * The general form; {@code finalNorm} false returns {@code hidden_states[-clipSkip]} without the final layer
     * norm, as SDXL's embedders take them (sgm's FrozenCLIPEmbedder {@code outputs.hidden_states[11]},
     * FrozenOpenCLIPEmbedder2's "penultimate").
     */
    public static double[] encode(StateDict weights, int heads, boolean quickGelu, int[] tokens, int batch, int nTokens, int clipSkip,
                                  double[][] rows, boolean finalNorm) {
        LdmTensors w = new LdmTensors(weights, P);
        int d = w.dim("embeddings.token_embedding.weight", 1), f = w.dim("encoder.layers.0.mlp.fc1.weight", 0);
        int dh = d / heads;
        double[] tok = w.load("embeddings.token_embedding.weight");
        double[] pos = w.load("embeddings.position_embedding.weight");
        Layer[] layers = new Layer[w.count("encoder.layers.")];
        for (int i = 0; i < layers.length; i++) layers[i] = new Layer(w, "encoder.layers." + i + ".");
        double[] lnW = w.load("final_layer_norm.weight"), lnB = w.load("final_layer_norm.bias");
        int run = layers.length - (clipSkip - 1);

        double[] out = new double[batch * nTokens * d];
        for (int b = 0; b < batch; b++) {
            double[] x = new double[nTokens * d];
            for (int t = 0; t < nTokens; t++) {
                int id = tokens[b * nTokens + t];
                double[] given = rows == null ? null : rows[b * nTokens + t];
                for (int i = 0; i < d; i++) x[t * d + i] = (given != null ? given[i] : tok[id * d + i]) + pos[t * d + i];
            }
            for (int l = 0; l < run; l++) {
                Layer L = layers[l];
                double[] h = Ops.layerNorm(x, nTokens, d, EPS, L.ln1w, L.ln1b);
                double[] q = Ops.linear(h, nTokens, d, L.qw, L.qb, d);
                double[] k = Ops.linear(h, nTokens, d, L.kw, L.kb, d);
                double[] v = Ops.linear(h, nTokens, d, L.vw, L.vb, d);
                double[] a = Ops.attention(q, k, v, nTokens, nTokens, heads, dh, true);
                x = Ops.add(x, Ops.linear(a, nTokens, d, L.ow, L.ob, d));

                h = Ops.layerNorm(x, nTokens, d, EPS, L.ln2w, L.ln2b);
                h = Ops.linear(h, nTokens, d, L.fc1w, L.fc1b, f);
                for (int i = 0; i < h.length; i++) {
                    h[i] = quickGelu ? Ops.quickGelu(h[i]) : Ops.gelu(h[i]);
                }
                x = Ops.add(x, Ops.linear(h, nTokens, f, L.fc2w, L.fc2b, d));
            }
            System.arraycopy(finalNorm ? Ops.layerNorm(x, nTokens, d, EPS, lnW, lnB) : x, 0, out, b * nTokens * d, nTokens * d);
        }
        return out;
    }

    /**
     * OpenCLIP's pooled text output ({@code FrozenOpenCLIPEmbedder2.pool}): the final-normed LAST layer at
     * {@code text.argmax(dim=-1)} (the first position of each row's largest id: its end-of-text token),
     * times {@code text_projection}. The weights hold the projection in Hugging Face's orientation
     * [proj, hidden], i.e. OpenCLIP's matrix transposed: {@code x @ P = x W^T}. -> [batch, proj].
     */
    public static double[] pooled(StateDict weights, TextEncoderConfig c, int[] tokens, int batch, int nTokens) {
        return pooled(weights, c, tokens, batch, nTokens, null);
    }

    /** As {@link #pooled(StateDict, TextEncoderConfig, int[], int, int)}, with the input rows of some slots given (textual inversion, id 0 there). */
    public static double[] pooled(StateDict weights, TextEncoderConfig c, int[] tokens, int batch, int nTokens, double[][] rows) {
        int d = c.hiddenSize(), proj = c.projectionDim();
        double[] last = encode(weights, c.numHeads(), c.activation() == TextEncoderConfig.Activation.QUICK_GELU, tokens, batch, nTokens, 1, rows, true);
        double[] w = Ops.load(weights, NetworkLayout.TEXT_ROOT + NetworkLayout.PROJECTION);
        double[] out = new double[batch * proj];
        for (int b = 0; b < batch; b++) {
            int eot = 0;
            for (int t = 1; t < nTokens; t++) if (tokens[b * nTokens + t] > tokens[b * nTokens + eot]) eot = t;
            double[] row = java.util.Arrays.copyOfRange(last, (b * nTokens + eot) * d, (b * nTokens + eot + 1) * d);
            System.arraycopy(Ops.linear(row, 1, d, w, null, proj), 0, out, b * proj, proj);
        }
        return out;
    }

    private static final class Layer {
        final double[] qw, qb, kw, kb, vw, vb, ow, ob, ln1w, ln1b, fc1w, fc1b, fc2w, fc2b, ln2w, ln2b;

        Layer(LdmTensors w, String p) {
            String a = p + "self_attn.";
            qw = w.load(a + "q_proj.weight");
            qb = w.load(a + "q_proj.bias");
            kw = w.load(a + "k_proj.weight");
            kb = w.load(a + "k_proj.bias");
            vw = w.load(a + "v_proj.weight");
            vb = w.load(a + "v_proj.bias");
            ow = w.load(a + "out_proj.weight");
            ob = w.load(a + "out_proj.bias");
            ln1w = w.load(p + "layer_norm1.weight");
            ln1b = w.load(p + "layer_norm1.bias");
            fc1w = w.load(p + "mlp.fc1.weight");
            fc1b = w.load(p + "mlp.fc1.bias");
            fc2w = w.load(p + "mlp.fc2.weight");
            fc2b = w.load(p + "mlp.fc2.bias");
            ln2w = w.load(p + "layer_norm2.weight");
            ln2b = w.load(p + "layer_norm2.bias");
        }
    }
}
