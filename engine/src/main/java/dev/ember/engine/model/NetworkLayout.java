package dev.ember.engine.model;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The canonical tensors each network needs for a given config: names, shapes, kinds. This is the one
 * place that knows LDM's naming, so readers (validation), synthetic checkpoints and the native
 * loader's tests all agree. For SD 1.5 the result equals {@code shared/reference/sd15-ldm-tensors.tsv}.
 */
public final class NetworkLayout {
    public static final String UNET_PREFIX = "model.diffusion_model.";
    public static final String VAE_PREFIX = "first_stage_model.";
    /** The root of the (first) text encoder's names: {@code text_model.*}, and {@code text_projection.weight} if it has one. */
    public static final String TEXT_ROOT = "cond_stage_model.transformer.";
    public static final String TEXT_PREFIX = TEXT_ROOT + "text_model.";
    /**
     * The root of SDXL's second text encoder (OpenCLIP bigG) in Hugging Face names: the same layout as
     * the first under another root, plus {@code text_projection.weight} [projection, hidden] (Hugging
     * Face's orientation; OpenCLIP stores its transpose).
     */
    public static final String TEXT2_ROOT = "conditioner.embedders.1.transformer.";
    public static final String TEXT2_PREFIX = TEXT2_ROOT + "text_model.";
    public static final String PROJECTION = "text_projection.weight";

    private NetworkLayout() {}

    /** CLIP text transformer, Hugging Face names, under {@link #TEXT_ROOT}. */
    public static List<TensorSpec> textEncoder(TextEncoderConfig c) {
        return textEncoder(c, TEXT_ROOT);
    }

    /** SDXL's second text encoder, under {@link #TEXT2_ROOT}. */
    public static List<TensorSpec> textEncoder2(TextEncoderConfig c) {
        return textEncoder(c, TEXT2_ROOT);
    }

    /** CLIP text transformer, Hugging Face names, under {@code root} ({@code root + "text_model."}, and the projection if any). */
    public static List<TensorSpec> textEncoder(TextEncoderConfig c, String root) {
        Builder b = new Builder(root + "text_model.");
        long d = c.hiddenSize();
        b.add("embeddings.token_embedding.weight", TensorSpec.Kind.EMBEDDING, c.vocabSize(), d);
        b.add("embeddings.position_embedding.weight", TensorSpec.Kind.EMBEDDING, c.maxPositions(), d);
        for (int i = 0; i < c.numLayers(); i++) {
            String l = "encoder.layers." + i + ".";
            for (String p : new String[] {"k_proj", "v_proj", "q_proj", "out_proj"}) b.linear(l + "self_attn." + p, d, d, true);
            b.norm(l + "layer_norm1", d);
            b.linear(l + "mlp.fc1", c.intermediateSize(), d, true);
            b.linear(l + "mlp.fc2", d, c.intermediateSize(), true);
            b.norm(l + "layer_norm2", d);
        }
        b.norm("final_layer_norm", d);
        if (c.projectionDim() > 0) b.add(new TensorSpec(root + PROJECTION, new long[] {c.projectionDim(), d}, TensorSpec.Kind.WEIGHT));
        return b.build();
    }

    /** LDM UNetModel. */
    public static List<TensorSpec> unet(UnetConfig c) {
        Builder b = new Builder(UNET_PREFIX);
        long mc = c.modelChannels(), temb = c.timeEmbedDim();
        b.linear("time_embed.0", temb, mc, true);
        b.linear("time_embed.2", temb, temb, true);
        if (c.hasVectorConditioning()) {
            b.linear("label_emb.0.0", temb, c.admInChannels(), true);
            b.linear("label_emb.0.2", temb, temb, true);
        }
        b.conv("input_blocks.0.0", mc, c.inChannels(), 3);

        List<Long> skips = new ArrayList<>();
        skips.add(mc);
        long ch = mc;
        int block = 1;
        for (int level = 0; level < c.numLevels(); level++) {
            long out = c.channels(level);
            for (int i = 0; i < c.numResBlocks(); i++, block++) {
                resBlock(b, "input_blocks." + block + ".0.", ch, out, temb);
                ch = out;
                if (c.hasAttention(level)) transformer(b, "input_blocks." + block + ".1.", ch, c, c.depthAt(level));
                skips.add(ch);
            }
            if (level != c.numLevels() - 1) {
                b.conv("input_blocks." + block + ".0.op", ch, ch, 3);
                skips.add(ch);
                block++;
            }
        }

        resBlock(b, "middle_block.0.", ch, ch, temb);
        transformer(b, "middle_block.1.", ch, c, c.middleDepth());
        resBlock(b, "middle_block.2.", ch, ch, temb);

        block = 0;
        for (int level = c.numLevels() - 1; level >= 0; level--) {
            long out = c.channels(level);
            for (int i = 0; i <= c.numResBlocks(); i++, block++) {
                long skip = skips.removeLast();
                resBlock(b, "output_blocks." + block + ".0.", ch + skip, out, temb);
                ch = out;
                int sub = 1;
                if (c.hasAttention(level)) transformer(b, "output_blocks." + block + "." + sub++ + ".", ch, c, c.depthAt(level));
                if (level != 0 && i == c.numResBlocks()) b.conv("output_blocks." + block + "." + sub + ".conv", ch, ch, 3);
            }
        }
        b.norm("out.0", ch);
        b.conv("out.2", c.outChannels(), ch, 3);
        return b.build();
    }

    /** LDM AutoencoderKL: encoder and quant_conv, post_quant_conv and decoder. */
    public static List<TensorSpec> vae(VaeConfig c) {
        List<TensorSpec> all = new ArrayList<>(vaeEncoder(c));
        all.addAll(vaeDecoder(c));
        return Collections.unmodifiableList(all);
    }

    public static List<TensorSpec> vaeEncoder(VaeConfig c) {
        Builder b = new Builder(VAE_PREFIX);
        long ch = c.channels(0), z = c.latentChannels();
        b.conv("encoder.conv_in", c.baseChannels(), c.imageChannels(), 3);
        ch = c.baseChannels();
        for (int level = 0; level < c.numLevels(); level++) {
            long out = c.channels(level);
            for (int i = 0; i < c.numResBlocks(); i++) {
                resnetBlock(b, "encoder.down." + level + ".block." + i + ".", ch, out);
                ch = out;
            }
            if (level != c.numLevels() - 1) b.conv("encoder.down." + level + ".downsample.conv", ch, ch, 3);
        }
        vaeMid(b, "encoder.mid.", ch);
        b.norm("encoder.norm_out", ch);
        b.conv("encoder.conv_out", 2 * z, ch, 3);
        b.conv("quant_conv", 2 * z, 2 * z, 1);
        return b.build();
    }

    public static List<TensorSpec> vaeDecoder(VaeConfig c) {
        Builder b = new Builder(VAE_PREFIX);
        long z = c.latentChannels();
        long ch = c.channels(c.numLevels() - 1);
        b.conv("post_quant_conv", z, z, 1);
        b.conv("decoder.conv_in", ch, z, 3);
        vaeMid(b, "decoder.mid.", ch);
        // LDM keeps the up blocks in a list indexed by level and runs it backwards; the names follow the index.
        List<List<TensorSpec>> levels = new ArrayList<>();
        for (int level = c.numLevels() - 1; level >= 0; level--) {
            Builder lb = new Builder(VAE_PREFIX);
            long out = c.channels(level);
            for (int i = 0; i <= c.numResBlocks(); i++) {
                resnetBlock(lb, "decoder.up." + level + ".block." + i + ".", ch, out);
                ch = out;
            }
            if (level != 0) lb.conv("decoder.up." + level + ".upsample.conv", ch, ch, 3);
            levels.add(lb.build());
        }
        for (List<TensorSpec> level : levels.reversed()) level.forEach(b::add);
        b.norm("decoder.norm_out", ch);
        b.conv("decoder.conv_out", c.imageChannels(), ch, 3);
        return b.build();
    }

    private static void resBlock(Builder b, String p, long in, long out, long temb) {
        b.norm(p + "in_layers.0", in);
        b.conv(p + "in_layers.2", out, in, 3);
        b.linear(p + "emb_layers.1", out, temb, true);
        b.norm(p + "out_layers.0", out);
        b.conv(p + "out_layers.3", out, out, 3);
        if (in != out) b.conv(p + "skip_connection", out, in, 1);
    }

    private static void transformer(Builder b, String p, long ch, UnetConfig c, int depth) {
        b.norm(p + "norm", ch);
        if (c.linearProjection()) b.linear(p + "proj_in", ch, ch, true);
        else b.conv(p + "proj_in", ch, ch, 1);
        for (int d = 0; d < depth; d++) {
            String t = p + "transformer_blocks." + d + ".";
            b.linear(t + "attn1.to_q", ch, ch, false);
            b.linear(t + "attn1.to_k", ch, ch, false);
            b.linear(t + "attn1.to_v", ch, ch, false);
            b.linear(t + "attn1.to_out.0", ch, ch, true);
            b.linear(t + "attn2.to_q", ch, ch, false);
            b.linear(t + "attn2.to_k", ch, c.contextDim(), false);
            b.linear(t + "attn2.to_v", ch, c.contextDim(), false);
            b.linear(t + "attn2.to_out.0", ch, ch, true);
            b.linear(t + "ff.net.0.proj", ch * 8, ch, true);
            b.linear(t + "ff.net.2", ch, ch * 4, true);
            b.norm(t + "norm1", ch);
            b.norm(t + "norm2", ch);
            b.norm(t + "norm3", ch);
        }
        if (c.linearProjection()) b.linear(p + "proj_out", ch, ch, true);
        else b.conv(p + "proj_out", ch, ch, 1);
    }

    private static void resnetBlock(Builder b, String p, long in, long out) {
        b.norm(p + "norm1", in);
        b.conv(p + "conv1", out, in, 3);
        b.norm(p + "norm2", out);
        b.conv(p + "conv2", out, out, 3);
        if (in != out) b.conv(p + "nin_shortcut", out, in, 1);
    }

    private static void vaeMid(Builder b, String p, long ch) {
        resnetBlock(b, p + "block_1.", ch, ch);
        b.norm(p + "attn_1.norm", ch);
        for (String x : new String[] {"q", "k", "v", "proj_out"}) b.conv(p + "attn_1." + x, ch, ch, 1);
        resnetBlock(b, p + "block_2.", ch, ch);
    }

    /** Appends specs under a prefix; keeps the order in which LDM's modules declare them. */
    private static final class Builder {
        private final String prefix;
        private final List<TensorSpec> specs = new ArrayList<>();

        Builder(String prefix) {
            this.prefix = prefix;
        }

        void add(String name, TensorSpec.Kind kind, long... shape) {
            specs.add(new TensorSpec(prefix + name, shape, kind));
        }

        void add(TensorSpec spec) {
            specs.add(spec);
        }

        void linear(String name, long out, long in, boolean bias) {
            add(name + ".weight", TensorSpec.Kind.WEIGHT, out, in);
            if (bias) add(name + ".bias", TensorSpec.Kind.BIAS, out);
        }

        void conv(String name, long out, long in, int k) {
            add(name + ".weight", TensorSpec.Kind.WEIGHT, out, in, k, k);
            add(name + ".bias", TensorSpec.Kind.BIAS, out);
        }

        void norm(String name, long ch) {
            add(name + ".weight", TensorSpec.Kind.NORM_WEIGHT, ch);
            add(name + ".bias", TensorSpec.Kind.NORM_BIAS, ch);
        }

        List<TensorSpec> build() {
            return Collections.unmodifiableList(specs);
        }
    }
}
