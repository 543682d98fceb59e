// The SD UNet (LDM's UNetModel as SD 1.x / 2.x / SDXL configure it) as one ggml graph per input shape.
//
// Structure (names are LDM's, "model.diffusion_model." + ...):
//   temb   = time_embed.2(SiLU(time_embed.0(sinusoid(t))))      sinusoid: [cos | sin], computed on the
//                                                                host in double (exact), fed as an input
//            [+ label_emb.0.2(SiLU(label_emb.0.0(y)))]           SDXL: y is the vector conditioning
//                                                                (pooled text + size embeddings, 2816)
//   h      = input_blocks.0.0(x)                                 conv3x3; every input block's output is
//   input_blocks.k = ResBlock [+ SpatialTransformer] | Downsample      pushed on the skip stack
//   middle_block   = ResBlock, SpatialTransformer, ResBlock
//   output_blocks.k = concat(h, skip.pop()) -> ResBlock [+ SpatialTransformer] [+ Upsample]
//   out            = out.2(SiLU(GN(out.0)))
// ResBlock:   h = in_layers.2(SiLU(GN(x))) + emb_layers.1(SiLU(temb)); h = out_layers.3(SiLU(GN(h)));
//             return skip_connection(x) (1x1 conv when channels change) + h
// SpatialTransformer: GN (eps 1e-6) -> proj_in (1x1 conv, or linear on tokens for SD 2.x) -> tokens
//             [C, H*W, N] -> transformer_blocks (self-attn, cross-attn on the context, GEGLU MLP, all
//             pre-LayerNorm with residuals) -> proj_out -> back to [W, H, C, N] -> + input.
//             The number of transformer_blocks may differ per level and in the middle block (SDXL: 2 at
//             the 640-channel level, 10 at the 1280 one and in the middle; none at the first level).
// The 1x1 proj_in/proj_out convolutions are computed as linear layers on the tokens (the same sums).
// Precision: activations stay f32 throughout, except where ggml's CPU product rounds them to f16 for f16
// weights (~1e-3 relative on the tiny preset); block-quantised weights are dequantised to f32 before
// their products, so activations are never quantised (see builder::W).
// ggml layout: images [W, H, C, N] (= the caller's row-major [N, C, H, W]), tokens [C, T, N],
// context [D, T, N]. Graphs are cached per (batch, height, width, n_context) by graph_runner.
#include "model_common.h"

#include <cmath>
#include <new>
#include <string>
#include <vector>

using namespace ember;

namespace {

constexpr float GN_EPS = 1e-5f;           // GroupNorm32 in ResBlocks and the output
constexpr float TRANSFORMER_GN_EPS = 1e-6f;  // SpatialTransformer.norm
constexpr float LN_EPS = 1e-5f;            // nn.LayerNorm default

const std::string P = "model.diffusion_model.";

bool has_attention(const ember_unet_config & c, int level) { return (c.attention_levels >> level & 1) != 0; }

int heads_at(const ember_unet_config & c, int channels) { return c.num_heads != 0 ? c.num_heads : channels / c.head_dim; }

// Transformer blocks per SpatialTransformer at a level, and in the middle block (0 in the config: the common depth).
int depth_at(const ember_unet_config & c, int level) { return c.transformer_depths[level] > 0 ? c.transformer_depths[level] : c.transformer_depth; }
int depth_middle(const ember_unet_config & c) { return c.transformer_depth_middle > 0 ? c.transformer_depth_middle : c.transformer_depth; }

// ---- tensor list (mirrors NetworkLayout.unet on the Java side) ------------------------------------------

struct spec_builder {
    std::vector<tensor_spec> specs;
    void add(const std::string & name, std::vector<int64_t> shape, tensor_role role = tensor_role::plain) {
        specs.push_back({P + name, std::move(shape), role});
    }
    void linear(const std::string & n, int64_t out, int64_t in, bool bias, tensor_role role = tensor_role::matrix) {
        add(n + ".weight", {out, in}, role);
        if (bias) add(n + ".bias", {out});
    }
    void attention(const std::string & n, int64_t out, int64_t in, bool bias) { linear(n, out, in, bias, tensor_role::attention_matrix); }
    void conv(const std::string & n, int64_t out, int64_t in, int64_t k) {
        add(n + ".weight", {out, in, k, k}, tensor_role::matrix);
        add(n + ".bias", {out});
    }
    void norm(const std::string & n, int64_t ch) {
        add(n + ".weight", {ch});
        add(n + ".bias", {ch});
    }
    void res_block(const std::string & p, int64_t in, int64_t out, int64_t temb) {
        norm(p + "in_layers.0", in);
        conv(p + "in_layers.2", out, in, 3);
        linear(p + "emb_layers.1", out, temb, true);
        norm(p + "out_layers.0", out);
        conv(p + "out_layers.3", out, out, 3);
        if (in != out) conv(p + "skip_connection", out, in, 1);
    }
    void transformer(const std::string & p, int64_t ch, const ember_unet_config & c, int depth) {
        norm(p + "norm", ch);
        // Linear proj_in/proj_out (SD 2.x, SDXL) stay f16 under block quantisation, like the attention
        // projections: proj_in feeds every q/k/v of the transformer. On the tiny SDXL preset q8_0 on these
        // two alone cost 2.7e-2 relative error at the output (docs/design.md, "Weight types").
        if (c.linear_projection) linear(p + "proj_in", ch, ch, true, tensor_role::attention_matrix);
        else conv(p + "proj_in", ch, ch, 1);
        for (int d = 0; d < depth; d++) {
            std::string t = p + "transformer_blocks." + std::to_string(d) + ".";
            attention(t + "attn1.to_q", ch, ch, false);
            attention(t + "attn1.to_k", ch, ch, false);
            attention(t + "attn1.to_v", ch, ch, false);
            attention(t + "attn1.to_out.0", ch, ch, true);
            attention(t + "attn2.to_q", ch, ch, false);
            attention(t + "attn2.to_k", ch, c.context_dim, false);
            attention(t + "attn2.to_v", ch, c.context_dim, false);
            attention(t + "attn2.to_out.0", ch, ch, true);
            linear(t + "ff.net.0.proj", ch * 8, ch, true);
            linear(t + "ff.net.2", ch, ch * 4, true);
            norm(t + "norm1", ch);
            norm(t + "norm2", ch);
            norm(t + "norm3", ch);
        }
        if (c.linear_projection) linear(p + "proj_out", ch, ch, true, tensor_role::attention_matrix);
        else conv(p + "proj_out", ch, ch, 1);
    }
};

std::vector<tensor_spec> unet_specs(const ember_unet_config & c) {
    spec_builder b;
    const int64_t mc = c.model_channels, temb = 4 * (int64_t) c.model_channels;
    b.linear("time_embed.0", temb, mc, true);
    b.linear("time_embed.2", temb, temb, true);
    if (c.adm_in_channels > 0) {
        b.linear("label_emb.0.0", temb, c.adm_in_channels, true);
        b.linear("label_emb.0.2", temb, temb, true);
    }
    b.conv("input_blocks.0.0", mc, c.in_channels, 3);
    std::vector<int64_t> skips = {mc};
    int64_t ch = mc;
    int block = 1;
    for (int level = 0; level < c.num_levels; level++) {
        const int64_t out = mc * c.channel_mult[level];
        for (int i = 0; i < c.num_res_blocks; i++, block++) {
            std::string p = "input_blocks." + std::to_string(block) + ".";
            b.res_block(p + "0.", ch, out, temb);
            ch = out;
            if (has_attention(c, level)) b.transformer(p + "1.", ch, c, depth_at(c, level));
            skips.push_back(ch);
        }
        if (level != c.num_levels - 1) {
            b.conv("input_blocks." + std::to_string(block) + ".0.op", ch, ch, 3);
            skips.push_back(ch);
            block++;
        }
    }
    b.res_block("middle_block.0.", ch, ch, temb);
    b.transformer("middle_block.1.", ch, c, depth_middle(c));
    b.res_block("middle_block.2.", ch, ch, temb);
    block = 0;
    for (int level = c.num_levels - 1; level >= 0; level--) {
        const int64_t out = mc * c.channel_mult[level];
        for (int i = 0; i <= c.num_res_blocks; i++, block++) {
            const int64_t skip = skips.back();
            skips.pop_back();
            std::string p = "output_blocks." + std::to_string(block) + ".";
            b.res_block(p + "0.", ch + skip, out, temb);
            ch = out;
            int sub = 1;
            if (has_attention(c, level)) b.transformer(p + std::to_string(sub++) + ".", ch, c, depth_at(c, level));
            if (level != 0 && i == c.num_res_blocks) b.conv(p + std::to_string(sub) + ".conv", ch, ch, 3);
        }
    }
    b.norm("out.0", ch);
    b.conv("out.2", c.out_channels, ch, 3);
    return b.specs;
}

std::string check_config(const ember_unet_config & c) {
    if (c.in_channels <= 0 || c.out_channels <= 0 || c.model_channels <= 0) return "channel counts must be positive";
    if (c.num_res_blocks <= 0) return "num_res_blocks must be positive";
    if (c.num_levels < 1 || c.num_levels > 6) return "num_levels must be 1 to 6";
    if (c.transformer_depth <= 0) return "transformer_depth must be positive";
    if (c.transformer_depth_middle < 0) return "transformer_depth_middle must not be negative";
    if (c.adm_in_channels < 0) return "adm_in_channels must not be negative";
    if (c.context_dim <= 0) return "context_dim must be positive";
    if (c.norm_groups <= 0) return "norm_groups must be positive";
    if ((c.num_heads == 0) == (c.head_dim == 0)) return "exactly one of num_heads and head_dim must be set";
    if (c.num_heads < 0 || c.head_dim < 0) return "num_heads and head_dim must not be negative";
    for (int level = 0; level < c.num_levels; level++) {
        if (c.channel_mult[level] <= 0) return "channel_mult[" + std::to_string(level) + "] must be positive";
        if (c.transformer_depths[level] < 0) return "transformer_depths[" + std::to_string(level) + "] must not be negative";
        const int ch = c.model_channels * c.channel_mult[level];
        if (ch % c.norm_groups != 0) return "level " + std::to_string(level) + " has " + std::to_string(ch) + " channels, not a multiple of the norm groups";
        // Attention levels and the middle block (last level's width) need whole heads.
        if (has_attention(c, level) || level == c.num_levels - 1) {
            const int heads = heads_at(c, ch);
            if (heads <= 0 || ch % heads != 0) return "level " + std::to_string(level) + ": " + std::to_string(ch) + " channels do not split into heads";
        }
    }
    if (c.model_channels % c.norm_groups != 0) return "model_channels must be a multiple of the norm groups";
    return "";
}

// ---- graph ----------------------------------------------------------------------------------------------

struct builder {
    ggml_context * g;
    const weight_store & w;
    const ember_unet_config & c;
    bool flash;
    bool cpu_ops;                      // the device is the CPU (conv2d's im2col: cpu_ops.h)
    ggml_tensor * emb_silu = nullptr;  // SiLU(time embedding) [4*mc, N], shared by every ResBlock
    ggml_tensor * context = nullptr;   // [D, T, N]

    // A weight as the graph multiplies it. Block-quantised matrices are dequantised to f32 first:
    // ggml's own quantised product would re-quantise the activations to q8_0 (its vec_dot_type), which
    // on the tiny preset raises the error against the unquantised reference from ~0.9e-2 (weights
    // alone) to ~1.6e-2. The f32 copy lives in the compute buffer only for the duration of one product.
    ggml_tensor * W(const std::string & name) const {
        ggml_tensor * t = w(P + name);
        return ggml_is_quantized(t->type) ? ggml_cast(g, t, GGML_TYPE_F32) : t;
    }

    ggml_tensor * norm_silu(ggml_tensor * x, const std::string & n) {
        return ggml_silu(g, group_norm(g, x, c.norm_groups, GN_EPS, W(n + ".weight"), W(n + ".bias")));
    }

    ggml_tensor * conv(ggml_tensor * x, const std::string & n, int stride, int pad) {
        return conv2d(g, x, W(n + ".weight"), W(n + ".bias"), stride, pad, cpu_ops);
    }

    ggml_tensor * lin(ggml_tensor * x, const std::string & n, bool bias) {
        return linear(g, x, W(n + ".weight"), bias ? W(n + ".bias") : nullptr);
    }

    // Linear over tokens with a [C, C] (linear) or [C, C, 1, 1] (1x1 conv) weight.
    ggml_tensor * projection(ggml_tensor * x, const std::string & n) {
        ggml_tensor * wt = W(n + ".weight");
        if (ggml_n_dims(wt) > 2) wt = ggml_reshape_2d(g, wt, wt->ne[0] * wt->ne[1] * wt->ne[2], wt->ne[3]);
        return linear(g, x, wt, W(n + ".bias"));
    }

    ggml_tensor * res_block(ggml_tensor * x, const std::string & p, int out) {
        const int in = (int) x->ne[2];
        ggml_tensor * h = conv(norm_silu(x, p + "in_layers.0"), p + "in_layers.2", 1, 1);
        ggml_tensor * e = lin(emb_silu, p + "emb_layers.1", true);  // [out, N]
        h = ggml_add(g, h, ggml_reshape_4d(g, e, 1, 1, e->ne[0], e->ne[1]));
        h = conv(norm_silu(h, p + "out_layers.0"), p + "out_layers.3", 1, 1);
        ggml_tensor * skip = in != out ? conv(x, p + "skip_connection", 1, 0) : x;
        return ggml_add(g, skip, h);
    }

    ggml_tensor * attn(ggml_tensor * x, ggml_tensor * ctx, const std::string & p, int heads) {
        ggml_tensor * q = lin(x, p + "to_q", false);
        ggml_tensor * k = lin(ctx, p + "to_k", false);
        ggml_tensor * v = lin(ctx, p + "to_v", false);
        ggml_tensor * o = attention(g, q, k, v, heads, false, flash);
        return lin(o, p + "to_out.0", true);
    }

    ggml_tensor * transformer_block(ggml_tensor * x, const std::string & p, int heads) {
        auto ln = [&](ggml_tensor * t, const std::string & n) {
            return layer_norm(g, t, LN_EPS, W(p + n + ".weight"), W(p + n + ".bias"));
        };
        ggml_tensor * n1 = ln(x, "norm1");
        x = ggml_add(g, x, attn(n1, n1, p + "attn1.", heads));
        x = ggml_add(g, x, attn(ln(x, "norm2"), context, p + "attn2.", heads));
        // GEGLU: proj -> [value | gate]; value * GELU(gate) (exact erf GELU). ggml's swapped form applies
        // the GELU to the second half.
        ggml_tensor * ff = lin(ln(x, "norm3"), p + "ff.net.0.proj", true);
        ff = ggml_geglu_erf_swapped(g, ff);
        x = ggml_add(g, x, lin(ff, p + "ff.net.2", true));
        return x;
    }

    ggml_tensor * spatial_transformer(ggml_tensor * x, const std::string & p, int depth) {
        const int64_t wd = x->ne[0], ht = x->ne[1], ch = x->ne[2], n = x->ne[3];
        const int heads = heads_at(c, (int) ch);
        ggml_tensor * h = group_norm(g, x, c.norm_groups, TRANSFORMER_GN_EPS, W(p + "norm.weight"), W(p + "norm.bias"));
        // [W, H, C, N] -> tokens [C, W*H, N]
        h = ggml_cont(g, ggml_permute(g, ggml_reshape_3d(g, h, wd * ht, ch, n), 1, 0, 2, 3));
        h = projection(h, p + "proj_in");
        for (int d = 0; d < depth; d++) {
            h = transformer_block(h, p + "transformer_blocks." + std::to_string(d) + ".", heads);
        }
        h = projection(h, p + "proj_out");
        // tokens [C, W*H, N] -> [W, H, C, N]
        h = ggml_cont(g, ggml_permute(g, h, 1, 0, 2, 3));
        h = ggml_reshape_4d(g, h, wd, ht, ch, n);
        return ggml_add(g, h, x);
    }

    // y: the vector conditioning [adm_in_channels, N], or null when the UNet has none.
    ggml_tensor * build(ggml_tensor * x, ggml_tensor * t_sin, ggml_tensor * y) {
        ggml_tensor * emb = lin(t_sin, "time_embed.0", true);
        emb = lin(ggml_silu(g, emb), "time_embed.2", true);
        if (y != nullptr) emb = ggml_add(g, emb, lin(ggml_silu(g, lin(y, "label_emb.0.0", true)), "label_emb.0.2", true));
        emb_silu = ggml_silu(g, emb);

        const int mc = c.model_channels;
        std::vector<ggml_tensor *> skips;
        ggml_tensor * h = conv(x, "input_blocks.0.0", 1, 1);
        skips.push_back(h);
        int block = 1;
        for (int level = 0; level < c.num_levels; level++) {
            const int out = mc * c.channel_mult[level];
            for (int i = 0; i < c.num_res_blocks; i++, block++) {
                std::string p = "input_blocks." + std::to_string(block) + ".";
                h = res_block(h, p + "0.", out);
                if (has_attention(c, level)) h = spatial_transformer(h, p + "1.", depth_at(c, level));
                skips.push_back(h);
            }
            if (level != c.num_levels - 1) {
                h = conv(h, "input_blocks." + std::to_string(block) + ".0.op", 2, 1);
                skips.push_back(h);
                block++;
            }
        }
        h = res_block(h, "middle_block.0.", (int) h->ne[2]);
        h = spatial_transformer(h, "middle_block.1.", depth_middle(c));
        h = res_block(h, "middle_block.2.", (int) h->ne[2]);
        block = 0;
        for (int level = c.num_levels - 1; level >= 0; level--) {
            const int out = mc * c.channel_mult[level];
            for (int i = 0; i <= c.num_res_blocks; i++, block++) {
                std::string p = "output_blocks." + std::to_string(block) + ".";
                ggml_tensor * skip = skips.back();
                skips.pop_back();
                h = ggml_concat(g, h, skip, 2);
                h = res_block(h, p + "0.", out);
                int sub = 1;
                if (has_attention(c, level)) h = spatial_transformer(h, p + std::to_string(sub++) + ".", depth_at(c, level));
                if (level != 0 && i == c.num_res_blocks) {
                    // Upsample to the size of the skip it meets next, as diffusers does: equal to 2x
                    // when the latent halves evenly, one less when a stride-2 conv rounded an odd size up.
                    const ggml_tensor * next = skips.back();
                    h = ggml_interpolate(g, h, next->ne[0], next->ne[1], h->ne[2], h->ne[3], GGML_SCALE_MODE_NEAREST);
                    h = conv(h, p + std::to_string(sub) + ".conv", 1, 1);
                }
            }
        }
        h = conv(norm_silu(h, "out.0"), "out.2", 1, 1);
        return h;
    }
};

// LDM's timestep_embedding: half = dim/2, freqs_i = exp(-ln(10000) i / half), [cos(t f) | sin(t f)]
// (zero-padded for odd dim). Double precision, then rounded once.
void timestep_embedding(const float * t, int batch, int dim, std::vector<float> & out) {
    out.assign((size_t) batch * dim, 0.0f);
    const int half = dim / 2;
    for (int b = 0; b < batch; b++) {
        for (int i = 0; i < half; i++) {
            const double freq = std::exp(-std::log(10000.0) * i / half);
            const double arg = (double) t[b] * freq;
            out[(size_t) b * dim + i] = (float) std::cos(arg);
            out[(size_t) b * dim + half + i] = (float) std::sin(arg);
        }
    }
}

}  // namespace

struct ember_unet {
    ember_context * ctx;
    ember_unet_config config;
    weight_store weights;
    graph_runner runner;
    std::vector<float> t_emb;  // host buffer of the sinusoidal embedding

    ember_unet(ember_context * c, const ember_unet_config & cfg) : ctx(c), config(cfg), runner(c) {}
};

extern "C" {

int32_t ember_unet_create(ember_context * ctx, const ember_unet_config * config, const ember_tensor * tensors, int32_t n_tensors,
                          int32_t weight_type, ember_unet ** out) {
    if (out != nullptr) *out = nullptr;
    if (ctx == nullptr) return EMBER_ERROR_INVALID_ARGUMENT;
    if (config == nullptr || out == nullptr) return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "UNet config and output pointer are required");
    std::string problem = check_config(*config);
    if (!problem.empty()) return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "UNet config: " + problem);
    auto * model = new (std::nothrow) ember_unet(ctx, *config);
    if (model == nullptr) return ctx->fail(EMBER_ERROR_OUT_OF_MEMORY, "cannot allocate the UNet");
    int32_t status = model->weights.load(ctx, unet_specs(*config), tensors, n_tensors, weight_type);
    if (status != EMBER_OK) {
        std::string message = ctx->last_error;
        delete model;
        return ctx->fail(status, "UNet: " + message);
    }
    *out = model;
    return EMBER_OK;
}

void ember_unet_free(ember_unet * model) { delete model; }

int32_t ember_unet_forward(ember_unet * model, const float * latent, int32_t batch, int32_t height, int32_t width, const float * timesteps,
                           const float * context, int32_t n_context, float * out) {
    return ember_unet_forward_ex(model, latent, batch, height, width, timesteps, context, n_context, nullptr, out);
}

int32_t ember_unet_forward_ex(ember_unet * model, const float * latent, int32_t batch, int32_t height, int32_t width,
                              const float * timesteps, const float * context, int32_t n_context, const float * vector, float * out) {
    if (model == nullptr) return EMBER_ERROR_INVALID_ARGUMENT;
    ember_context * ctx = model->ctx;
    const ember_unet_config & c = model->config;
    if (latent == nullptr || timesteps == nullptr || context == nullptr || out == nullptr) {
        return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "UNet forward: latent, timesteps, context and out are required");
    }
    if (batch <= 0 || height <= 0 || width <= 0 || n_context <= 0) {
        return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "UNet forward: batch, height, width and n_context must be positive");
    }
    if ((vector != nullptr) != (c.adm_in_channels > 0)) {
        return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, c.adm_in_channels > 0
                ? "UNet forward: this UNet (adm_in_channels " + std::to_string(c.adm_in_channels) + ") needs the vector conditioning y"
                : std::string("UNet forward: this UNet takes no vector conditioning"));
    }
    const bool flash = use_flash_attention(ctx, model->weights.matrix_type());
    const weight_store & weights = model->weights;
    built_graph * g = nullptr;
    int32_t status = model->runner.prepare({batch, height, width, n_context}, [&](ggml_context * gc, built_graph & bg) {
        ggml_tensor * x = ggml_new_tensor_4d(gc, GGML_TYPE_F32, width, height, c.in_channels, batch);
        ggml_set_name(x, "latent");
        ggml_set_input(x);
        ggml_tensor * t = ggml_new_tensor_2d(gc, GGML_TYPE_F32, c.model_channels, batch);
        ggml_set_name(t, "t_emb");
        ggml_set_input(t);
        ggml_tensor * cx = ggml_new_tensor_3d(gc, GGML_TYPE_F32, c.context_dim, n_context, batch);
        ggml_set_name(cx, "context");
        ggml_set_input(cx);
        ggml_tensor * y = nullptr;
        bg.inputs = {{"latent", x}, {"t_emb", t}, {"context", cx}};
        if (c.adm_in_channels > 0) {
            y = ggml_new_tensor_2d(gc, GGML_TYPE_F32, c.adm_in_channels, batch);
            ggml_set_name(y, "vector");
            ggml_set_input(y);
            bg.inputs["vector"] = y;
        }
        builder b{gc, weights, c, flash, ctx->backend == ctx->cpu_backend};
        b.context = cx;
        bg.output = b.build(x, t, y);
    }, &g);
    if (status != EMBER_OK) return status;
    timestep_embedding(timesteps, batch, c.model_channels, model->t_emb);
    std::vector<std::pair<std::string, const void *>> inputs = {{"latent", latent}, {"t_emb", model->t_emb.data()}, {"context", context}};
    if (vector != nullptr) inputs.emplace_back("vector", vector);
    return model->runner.run(*g, inputs, out);
}

int32_t ember_unet_set_weights(ember_unet * model, const ember_tensor * tensors, int32_t n_tensors) {
    if (model == nullptr) return EMBER_ERROR_INVALID_ARGUMENT;
    int32_t status = model->weights.replace(model->ctx, tensors, n_tensors);
    if (status != EMBER_OK) model->ctx->last_error = "UNet: " + model->ctx->last_error;
    return status;
}

int32_t ember_unet_stats(const ember_unet * model, ember_model_stats * out) {
    if (model == nullptr || out == nullptr) return EMBER_ERROR_INVALID_ARGUMENT;
    ember::fill_stats(model->weights, model->runner, model->weights.matrix_type(), out);
    return EMBER_OK;
}

}  // extern "C"
