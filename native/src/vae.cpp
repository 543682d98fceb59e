// The SD VAE: LDM's AutoencoderKL as ggml graphs.
//
// Structure (names are the canonical LDM ones under "first_stage_model.", see NetworkLayout.java):
//
//   encode: image [W, H, 3, N]
//     encoder.conv_in (3x3)
//     for level in 0..L-1: num_res_blocks x ResnetBlock (encoder.down.<level>.block.<i>),
//                          then, except on the last level, Downsample: zero pad one column on the right
//                          and one row at the bottom, 3x3 conv with stride 2 and no padding
//     mid: block_1, attn_1, block_2
//     norm_out -> SiLU -> conv_out (3x3, to 2z channels) -> quant_conv (1x1)
//     -> moments [W/f, H/f, 2z, N]: mean then log-variance, unscaled
//
//   decode: latent [w, h, z, N] (already divided by the scale factor)
//     post_quant_conv (1x1) -> decoder.conv_in (3x3)
//     mid: block_1, attn_1, block_2
//     for level in L-1..0: num_res_blocks+1 x ResnetBlock (decoder.up.<level>.block.<i>),
//                          then, except on level 0, Upsample: nearest 2x, 3x3 conv
//     norm_out -> SiLU -> conv_out (3x3, to 3 channels) -> image [w*f, h*f, 3, N], not clamped
//
//   ResnetBlock(in -> out): h = conv1(SiLU(norm1(x))); h = conv2(SiLU(norm2(h))); dropout is the
//     identity; x = nin_shortcut(x) (1x1) when in != out; return x + h.
//   AttnBlock(C): h = norm(x); q, k, v = 1x1 convs; single-head attention over the h*w positions with
//     scale C^-0.5; proj_out (1x1); return x + h. The 1x1 convs are run as matrix products on the
//     channel-innermost view [C, h*w, N] so the attention needs no im2col.
//   Normalize = GroupNorm(norm_groups, eps 1e-6, affine); f = 2^(num_levels-1).
//
// ggml images are [W, H, C, N], the same memory as the C API's row-major [N, C, H, W], so inputs and
// outputs are copied straight in and out.
//
// Convolutions (vae_builder::conv) are an im2col times the kernel, with the im2col as the first operand
// of ggml_mul_mat: the product then comes out as [OW*OH, OC], the image layout, with no transpose. The
// im2col has the kernel's type: f32 kernels keep every activation f32 (~5e-7 from the float64
// reference); f16 kernels take an f16 im2col, as the UNet's convolutions do (~1e-3, within the f16
// bound; the f16 product runs ~1.4x the f32 one here and the im2col is half the bytes). An earlier
// version converted f16 kernels to f32 instead: exact, but the decode then ran at the f32 GEMM's
// rate (docs/performance.md). The im2col buffer is K*K*C times the activation (2.4 GB in f32 for
// one 256-channel 3x3 convolution at 512 x 512); above IM2COL_BAND_BYTES a convolution is cut into
// bands of output rows per batch element, each with its own im2col and product added into its rows of
// the output (which starts as the broadcast bias), so the allocator reuses one band's buffer for the
// next. On the CPU the bands' im2col and the bias fill are cpu_ops.h's kernels (bands read the
// unpadded input directly); other devices use ggml_im2col on a padded copy and ggml_repeat. The
// attention's 1x1 convolutions are plain products on [C, h*w, N] with f32 kernels too.
//
// Weight types: 4-D kernels are stored as model_common's weight_store decides (f32 or f16; its
// quantised types need KW to be a multiple of the block, so q8_0/q4_0 leave every VAE kernel in f16).
//
// Graphs are built once per (direction, batch, height, width, GroupNorm mode) and kept by the graph_runner.
// Only the tensors of the parts asked for at creation (config->parts) are required and loaded.
//
// Shared GroupNorm statistics (tiling): GroupNorm normalises with statistics of the whole input, so a
// picture decoded tile by tile would normalise each tile differently and the tiles would differ in colour
// and brightness. ember_vae_record_group_stats runs a pass that outputs, for every GroupNorm in graph order,
// its groups' means and variances (computed as ggml_group_norm computes them: mean, then the mean square
// deviation); ember_vae_run_with_group_stats runs a pass whose GroupNorms use given statistics instead of
// their own. Recording on a small picture of the whole (the latent or image scaled down) and running every
// tile with that record makes all tiles normalise alike, as the Tiled VAE of multidiffusion-upscaler does.
#include "context.h"
#include "cpu_ops.h"
#include "model_common.h"

#include <algorithm>
#include <cmath>
#include <new>
#include <string>
#include <vector>

using namespace ember;

namespace {

const std::string PREFIX = "first_stage_model.";
constexpr float NORM_EPS = 1e-6f;
// Largest im2col buffer of one convolution piece; bigger convolutions are cut into bands of output rows.
// Small enough that the im2col of SD-size convolutions (2.4 GB unbanded for 256 channels at 512 x 512)
// never dominates the compute memory; large enough that each band is still a big matrix product.
constexpr int64_t IM2COL_BAND_BYTES = int64_t(4) << 20;
// At most this many pieces per convolution over the whole batch (keeps the graph well under
// MAX_GRAPH_NODES for large images and batches; the bands then grow instead). Low-memory mode takes
// the most pieces (smallest bands); otherwise a few large bands: small band products run far below
// the GEMM rate and each piece adds three ops (im2col, product, accumulate). Measured at 256 x 256
// (docs/performance.md): 64 pieces 17.7 s per decode, 16 pieces 14.8 s, 4 pieces 11.8 s (compute
// buffer 0.28 -> 0.42 GiB). Five keeps VaeTest's banded case (five 3.6 MiB bands) as it was.
constexpr int64_t MAX_PIECES_LOW_MEMORY = 64;
constexpr int64_t MAX_PIECES = 5;

std::vector<int> level_channels(const ember_vae_config & c) {
    std::vector<int> ch;
    for (int i = 0; i < c.num_levels; i++) ch.push_back(c.base_channels * c.channel_mult[i]);
    return ch;
}

// The tensor list of NetworkLayout.vaeEncoder / vaeDecoder.
struct spec_builder {
    std::vector<tensor_spec> specs;
    void conv(const std::string & name, int64_t out, int64_t in, int64_t k) {
        specs.push_back({PREFIX + name + ".weight", {out, in, k, k}, tensor_role::matrix});
        specs.push_back({PREFIX + name + ".bias", {out}});
    }
    void norm(const std::string & name, int64_t ch) {
        specs.push_back({PREFIX + name + ".weight", {ch}});
        specs.push_back({PREFIX + name + ".bias", {ch}});
    }
    void resnet(const std::string & p, int64_t in, int64_t out) {
        norm(p + "norm1", in);
        conv(p + "conv1", out, in, 3);
        norm(p + "norm2", out);
        conv(p + "conv2", out, out, 3);
        if (in != out) conv(p + "nin_shortcut", out, in, 1);
    }
    void mid(const std::string & p, int64_t ch) {
        resnet(p + "block_1.", ch, ch);
        norm(p + "attn_1.norm", ch);
        for (const char * x : {"q", "k", "v", "proj_out"}) conv(p + "attn_1." + x, ch, ch, 1);
        resnet(p + "block_2.", ch, ch);
    }
};

void encoder_specs(const ember_vae_config & c, spec_builder & b) {
    std::vector<int> chs = level_channels(c);
    int64_t ch = c.base_channels, z = c.latent_channels;
    b.conv("encoder.conv_in", ch, c.image_channels, 3);
    for (int level = 0; level < c.num_levels; level++) {
        for (int i = 0; i < c.num_res_blocks; i++) {
            b.resnet("encoder.down." + std::to_string(level) + ".block." + std::to_string(i) + ".", ch, chs[level]);
            ch = chs[level];
        }
        if (level != c.num_levels - 1) b.conv("encoder.down." + std::to_string(level) + ".downsample.conv", ch, ch, 3);
    }
    b.mid("encoder.mid.", ch);
    b.norm("encoder.norm_out", ch);
    b.conv("encoder.conv_out", 2 * z, ch, 3);
    b.conv("quant_conv", 2 * z, 2 * z, 1);
}

void decoder_specs(const ember_vae_config & c, spec_builder & b) {
    std::vector<int> chs = level_channels(c);
    int64_t z = c.latent_channels, ch = chs[c.num_levels - 1];
    b.conv("post_quant_conv", z, z, 1);
    b.conv("decoder.conv_in", ch, z, 3);
    b.mid("decoder.mid.", ch);
    for (int level = c.num_levels - 1; level >= 0; level--) {
        for (int i = 0; i <= c.num_res_blocks; i++) {
            b.resnet("decoder.up." + std::to_string(level) + ".block." + std::to_string(i) + ".", ch, chs[level]);
            ch = chs[level];
        }
        if (level != 0) b.conv("decoder.up." + std::to_string(level) + ".upsample.conv", ch, ch, 3);
    }
    b.norm("decoder.norm_out", ch);
    b.conv("decoder.conv_out", c.image_channels, ch, 3);
}

std::string check_config(const ember_vae_config & c) {
    if (c.image_channels <= 0 || c.latent_channels <= 0 || c.base_channels <= 0) return "channel counts must be positive";
    if (c.num_levels < 1 || c.num_levels > 6) return "num_levels must be 1 to 6, got " + std::to_string(c.num_levels);
    if (c.num_res_blocks <= 0) return "num_res_blocks must be positive";
    if (c.norm_groups <= 0) return "norm_groups must be positive";
    for (int i = 0; i < c.num_levels; i++) {
        if (c.channel_mult[i] <= 0) return "channel_mult[" + std::to_string(i) + "] must be positive";
        if ((int64_t) c.base_channels * c.channel_mult[i] % c.norm_groups != 0) {
            return "level " + std::to_string(i) + " has " + std::to_string(c.base_channels * c.channel_mult[i]) +
                   " channels, not a multiple of " + std::to_string(c.norm_groups) + " groups";
        }
    }
    if (c.parts <= 0 || (c.parts & ~(EMBER_VAE_ENCODER | EMBER_VAE_DECODER)) != 0) {
        return "parts must be EMBER_VAE_ENCODER, EMBER_VAE_DECODER or both, got " + std::to_string(c.parts);
    }
    return "";
}

// Where a graph's GroupNorms take their statistics from (see the file comment).
enum class norm_mode : int64_t { own = 0, record = 1, given = 2 };

// GroupNorm layers of one direction, in graph order: every ResnetBlock has two, the mid block's attention one,
// and norm_out one.
int group_norm_layers(const ember_vae_config & c, bool encode) {
    const int resnets = encode ? c.num_levels * c.num_res_blocks : c.num_levels * (c.num_res_blocks + 1);
    return 2 * resnets + 5 + 1;
}

// Builds one direction's graph. Shapes are ggml's: images [W, H, C, N].
struct vae_builder {
    ggml_context * g;
    ggml_cgraph * graph;
    const weight_store & w;
    const ember_vae_config & c;
    bool flash;
    int64_t max_pieces;
    bool cpu_ops;  // the device is the CPU: bands use cpu_ops.h's im2col and bias fill (see there)
    norm_mode mode = norm_mode::own;
    ggml_tensor * given = nullptr;                  // given mode: [G, 2L], per layer G means then G 1/sqrt(var + eps)
    mutable std::vector<ggml_tensor *> recorded;    // record mode: per layer [G, 2], means then variances
    mutable int layer = 0;                          // GroupNorms built so far

    ggml_tensor * weight(const std::string & name) const { return w(PREFIX + name + ".weight"); }
    ggml_tensor * bias(const std::string & name) const { return w(PREFIX + name + ".bias"); }

    // Square-kernel convolution x [W, H, C, N] -> [OW, OH, OC, N] with bias, as im2col pieces times the
    // kernel (see the file comment): f32 for f32 kernels, f16 for f16 ones. Each piece is one batch
    // element's band of output rows, or the whole batch when its im2col fits IM2COL_BAND_BYTES.
    ggml_tensor * conv(ggml_tensor * x, const std::string & name, int stride, int pad) const {
        ggml_tensor * k = weight(name);
        ggml_tensor * b = bias(name);
        const int64_t kw = k->ne[0], kh = k->ne[1], ic = k->ne[2], oc = k->ne[3];
        const int64_t W = x->ne[0], H = x->ne[1], N = x->ne[3];
        GGML_ASSERT(x->ne[2] == ic && kw == kh);
        const int64_t ow = (W + 2 * pad - kw) / stride + 1, oh = (H + 2 * pad - kh) / stride + 1;
        const int64_t kk = kw * kh * ic;
        // The kernel as a [KW*KH*IC, OC] matrix: im2col rows are the first operand, so the product comes
        // out as [OW*OH, OC], already the image layout. An f16 kernel takes an f16 im2col (activations
        // rounded to f16, f32 accumulation: the f16 product runs ~1.4x the f32 one and the im2col is
        // half the bytes); an f32 kernel keeps everything f32.
        GGML_ASSERT(k->type == GGML_TYPE_F32 || k->type == GGML_TYPE_F16);
        const ggml_type cols_type = k->type;
        ggml_tensor * k2d = ggml_reshape_2d(g, k, kk, oc);
        ggml_tensor * b4d = ggml_reshape_4d(g, b, 1, 1, oc, 1);

        const int64_t row_bytes = kk * ow * (int64_t) ggml_type_size(cols_type);  // im2col bytes per output row and image
        if (row_bytes * oh * N <= IM2COL_BAND_BYTES) {
            ggml_tensor * cols = ggml_im2col(g, k, x, stride, stride, pad, pad, 1, 1, true, cols_type);
            ggml_tensor * y = ggml_mul_mat(g, ggml_reshape_2d(g, cols, kk, ow * oh * N), k2d);  // [OW*OH*N, OC]
            // [OW, OH, N, OC] -> [OW, OH, OC, N]: a view; the bias add writes it contiguously.
            y = N == 1 ? ggml_reshape_4d(g, y, ow, oh, oc, 1) : ggml_permute(g, ggml_reshape_4d(g, y, ow, oh, N, oc), 0, 1, 3, 2);
            return ggml_add(g, y, b4d);
        }

        // Bands: the output starts as the broadcast bias and each band's product is added into its rows.
        int64_t bands = (row_bytes * oh + IM2COL_BAND_BYTES - 1) / IM2COL_BAND_BYTES;
        bands = std::min(std::max<int64_t>(bands, 1), std::min<int64_t>(oh, std::max<int64_t>(1, max_pieces / N)));
        const int64_t rows = (oh + bands - 1) / bands;
        if (cpu_ops) {
            ggml_tensor * xc = ggml_is_contiguous(x) ? x : ggml_cont(g, x);
            ggml_tensor * out = broadcast_planes(g, b, ow, oh, N);
            for (int64_t n = 0; n < N; n++) {
                for (int64_t r0 = 0; r0 < oh; r0 += rows) {
                    const int64_t r1 = std::min(oh, r0 + rows);
                    ggml_tensor * cols = im2col_rows(g, xc, (int) kw, stride, pad, n, 1, r0, r1 - r0, cols_type);
                    ggml_tensor * y = ggml_mul_mat(g, ggml_reshape_2d(g, cols, kk, ow * (r1 - r0)), k2d);  // [OW*rows, OC]
                    y = ggml_reshape_4d(g, y, ow, r1 - r0, oc, 1);
                    out = ggml_acc_inplace(g, out, y, out->nb[1], out->nb[2], out->nb[3], n * out->nb[3] + r0 * out->nb[1]);
                }
            }
            return out;
        }
        // Other devices: padding in H is done once up front, so every band is a plain view of input
        // rows; W padding stays inside im2col.
        ggml_tensor * xp = pad > 0 ? ggml_pad_ext(g, x, 0, 0, pad, pad, 0, 0, 0, 0) : x;
        ggml_tensor * out = ggml_repeat_4d(g, b4d, ow, oh, oc, N);
        for (int64_t n = 0; n < N; n++) {
            for (int64_t r0 = 0; r0 < oh; r0 += rows) {
                const int64_t r1 = std::min(oh, r0 + rows);
                const int64_t in_rows = (r1 - 1 - r0) * stride + kh;
                ggml_tensor * band = ggml_view_4d(g, xp, xp->ne[0], in_rows, ic, 1, xp->nb[1], xp->nb[2], xp->nb[3],
                                                  n * xp->nb[3] + r0 * stride * xp->nb[1]);
                ggml_tensor * cols = ggml_im2col(g, k, band, stride, stride, pad, 0, 1, 1, true, cols_type);
                ggml_tensor * y = ggml_mul_mat(g, ggml_reshape_2d(g, cols, kk, ow * (r1 - r0)), k2d);  // [OW*rows, OC]
                y = ggml_reshape_4d(g, y, ow, r1 - r0, oc, 1);
                out = ggml_acc_inplace(g, out, y, out->nb[1], out->nb[2], out->nb[3], n * out->nb[3] + r0 * out->nb[1]);
            }
        }
        return out;
    }

    ggml_tensor * norm(ggml_tensor * x, const std::string & name) const {
        if (mode == norm_mode::own) return group_norm(g, x, c.norm_groups, NORM_EPS, weight(name), bias(name));
        const int64_t W = x->ne[0], H = x->ne[1], C = x->ne[2], N = x->ne[3], G = c.norm_groups;
        // One row per group: channels are the third dimension, so a group's values are contiguous.
        ggml_tensor * rows = ggml_reshape_3d(g, ggml_is_contiguous(x) ? x : ggml_cont(g, x), W * H * (C / G), G, N);
        const int l = layer++;
        if (mode == norm_mode::record) {
            ggml_tensor * mean = ggml_mean(g, rows);                                    // [1, G, N]
            ggml_tensor * var = ggml_mean(g, ggml_sqr(g, ggml_sub(g, rows, mean)));     // [1, G, N]
            recorded.push_back(ggml_concat(g, ggml_reshape_2d(g, mean, G, 1), ggml_reshape_2d(g, var, G, 1), 1));
            return group_norm(g, x, c.norm_groups, NORM_EPS, weight(name), bias(name));
        }
        const size_t row = (size_t) G * sizeof(float);
        ggml_tensor * mean = ggml_cont(g, ggml_view_2d(g, given, 1, G, sizeof(float), (size_t) (2 * l) * row));
        ggml_tensor * inv = ggml_cont(g, ggml_view_2d(g, given, 1, G, sizeof(float), (size_t) (2 * l + 1) * row));
        ggml_tensor * y = ggml_reshape_4d(g, ggml_mul(g, ggml_sub(g, rows, mean), inv), W, H, C, N);
        y = ggml_mul(g, y, ggml_reshape_4d(g, weight(name), 1, 1, C, 1));
        return ggml_add(g, y, ggml_reshape_4d(g, bias(name), 1, 1, C, 1));
    }

    ggml_tensor * norm_silu(ggml_tensor * x, const std::string & name) const { return ggml_silu(g, norm(x, name)); }

    ggml_tensor * resnet(ggml_tensor * x, const std::string & p) const {
        ggml_tensor * h = conv(norm_silu(x, p + "norm1"), p + "conv1", 1, 1);
        h = conv(norm_silu(h, p + "norm2"), p + "conv2", 1, 1);
        if (w.has(PREFIX + p + "nin_shortcut.weight")) x = conv(x, p + "nin_shortcut", 1, 0);
        return ggml_add(g, x, h);
    }

    // A 1x1 convolution on channel-innermost tokens [C, T, N] -> [OC, T, N].
    ggml_tensor * pointwise(ggml_tensor * tokens, const std::string & name) const {
        ggml_tensor * k = weight(name);
        if (k->type != GGML_TYPE_F32) k = ggml_cast(g, k, GGML_TYPE_F32);  // f32: a small share of the work
        return linear(g, tokens, ggml_reshape_2d(g, k, k->ne[2], k->ne[3]), bias(name));
    }

    ggml_tensor * attn(ggml_tensor * x, const std::string & p) const {
        const int64_t W = x->ne[0], H = x->ne[1], C = x->ne[2], N = x->ne[3];
        ggml_tensor * h = norm(x, p + "norm");
        ggml_tensor * t = ggml_cont(g, ggml_transpose(g, ggml_reshape_3d(g, h, W * H, C, N)));  // [C, HW, N]
        ggml_tensor * q = pointwise(t, p + "q");
        ggml_tensor * k = pointwise(t, p + "k");
        ggml_tensor * v = pointwise(t, p + "v");
        ggml_tensor * o = attention(g, q, k, v, 1, false, flash, cpu_ops);                      // [C, HW, N]
        o = pointwise(o, p + "proj_out");
        o = ggml_cont(g, ggml_transpose(g, o));                                                  // [HW, C, N]
        return ggml_add(g, x, ggml_reshape_4d(g, o, W, H, C, N));
    }

    ggml_tensor * mid(ggml_tensor * x, const std::string & p) const {
        x = resnet(x, p + "block_1.");
        x = attn(x, p + "attn_1.");
        return resnet(x, p + "block_2.");
    }

    ggml_tensor * encode(ggml_tensor * x) const {
        x = conv(x, "encoder.conv_in", 1, 1);
        for (int level = 0; level < c.num_levels; level++) {
            const std::string lp = "encoder.down." + std::to_string(level) + ".";
            for (int i = 0; i < c.num_res_blocks; i++) x = resnet(x, lp + "block." + std::to_string(i) + ".");
            if (level != c.num_levels - 1) {
                x = ggml_pad_ext(g, x, 0, 1, 0, 1, 0, 0, 0, 0);  // right and bottom only, as torch's pad (0, 1, 0, 1)
                x = conv(x, lp + "downsample.conv", 2, 0);
            }
        }
        x = mid(x, "encoder.mid.");
        x = conv(norm_silu(x, "encoder.norm_out"), "encoder.conv_out", 1, 1);
        return conv(x, "quant_conv", 1, 0);
    }

    ggml_tensor * decode(ggml_tensor * x) const {
        x = conv(x, "post_quant_conv", 1, 0);
        x = conv(x, "decoder.conv_in", 1, 1);
        x = mid(x, "decoder.mid.");
        for (int level = c.num_levels - 1; level >= 0; level--) {
            const std::string lp = "decoder.up." + std::to_string(level) + ".";
            for (int i = 0; i <= c.num_res_blocks; i++) x = resnet(x, lp + "block." + std::to_string(i) + ".");
            if (level != 0) {
                x = ggml_upscale(g, x, 2, GGML_SCALE_MODE_NEAREST);
                x = conv(x, lp + "upsample.conv", 1, 1);
            }
        }
        return conv(norm_silu(x, "decoder.norm_out"), "decoder.conv_out", 1, 1);
    }
};

}  // namespace

struct ember_vae {
    ember_context * ctx;
    ember_vae_config config{};
    weight_store weights;
    graph_runner runner;
    int32_t weight_type = EMBER_WEIGHT_F32;  // what the matrix weights actually became (see ember_vae_create)
    explicit ember_vae(ember_context * c) : ctx(c), runner(c) {}
};

namespace {

enum direction : int64_t { ENCODE = 0, DECODE = 1 };

// One pass. `mode` record: `out` gets the GroupNorm statistics instead of the picture; given: `stats` holds
// them (means and variances per layer, as recorded). Both need batch 1.
int32_t run(ember_vae * m, direction dir, const float * in, int32_t batch, int32_t height, int32_t width, float * out,
             norm_mode mode = norm_mode::own, const float * stats = nullptr) {
    ember_context * ctx = m->ctx;
    const int part = dir == ENCODE ? EMBER_VAE_ENCODER : EMBER_VAE_DECODER;
    const int64_t f = int64_t(1) << (m->config.num_levels - 1);
    int32_t checked = check_image_call(ctx, "VAE", dir == ENCODE, (m->config.parts & part) != 0, in, out, batch, height, width, f);
    if (checked != EMBER_OK) return checked;
    if (mode != norm_mode::own && batch != 1) return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "group statistics: batch must be 1");
    if (mode == norm_mode::given && stats == nullptr) return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "group statistics: null stats");
    const int64_t in_ch = dir == ENCODE ? m->config.image_channels : m->config.latent_channels;
    const bool flash = use_flash_attention(ctx, m->weight_type);
    const ember_vae_config & cfg = m->config;
    const weight_store & w = m->weights;
    const int layers = group_norm_layers(cfg, dir == ENCODE);
    built_graph * g = nullptr;
    int32_t status = m->runner.prepare({dir, batch, height, width, (int64_t) mode}, [&](ggml_context * gc, built_graph & bg) {
        ggml_tensor * x = ggml_new_tensor_4d(gc, GGML_TYPE_F32, width, height, in_ch, batch);
        ggml_set_name(x, "input");
        ggml_set_input(x);
        bg.inputs["input"] = x;
        vae_builder b{gc, bg.graph, w, cfg, flash, ctx->params.low_memory ? MAX_PIECES_LOW_MEMORY : MAX_PIECES,
                      ctx->backend == ctx->cpu_backend};
        b.mode = mode;
        if (mode == norm_mode::given) {
            b.given = ggml_new_tensor_2d(gc, GGML_TYPE_F32, cfg.norm_groups, 2 * layers);
            ggml_set_name(b.given, "stats");
            ggml_set_input(b.given);
            bg.inputs["stats"] = b.given;
        }
        bg.output = dir == ENCODE ? b.encode(x) : b.decode(x);
        GGML_ASSERT(mode == norm_mode::own || b.layer == layers);
        if (mode == norm_mode::record) {
            ggml_tensor * all = b.recorded[0];
            for (size_t i = 1; i < b.recorded.size(); i++) all = ggml_concat(gc, all, b.recorded[i], 1);
            bg.output = all;  // [G, 2L]: the picture's last layers are not needed
        }
    }, &g);
    if (status != EMBER_OK) return status;
    if (mode != norm_mode::given) return m->runner.run(*g, {{"input", in}}, out);
    // The graph multiplies by 1/sqrt(var + eps) (as ggml_group_norm does): convert the variances here.
    std::vector<float> given(stats, stats + (size_t) 2 * layers * cfg.norm_groups);
    for (int l = 0; l < layers; l++) {
        for (int i = 0; i < cfg.norm_groups; i++) {
            float & v = given[(size_t) (2 * l + 1) * cfg.norm_groups + i];
            if (!(v >= 0)) return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "group statistics: negative or NaN variance");
            v = 1.0f / std::sqrt(v + NORM_EPS);
        }
    }
    return m->runner.run(*g, {{"input", in}, {"stats", given.data()}}, out);
}

}  // namespace

extern "C" {

int32_t ember_vae_create(ember_context * ctx, const ember_vae_config * config, const ember_tensor * tensors, int32_t n_tensors,
                         int32_t weight_type, ember_vae ** out) {
    if (out != nullptr) *out = nullptr;
    if (ctx == nullptr) return EMBER_ERROR_INVALID_ARGUMENT;
    if (out == nullptr || config == nullptr) return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "VAE: null config or output pointer");
    if (n_tensors < 0) return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "VAE: negative tensor count");
    std::string problem = check_config(*config);
    if (!problem.empty()) return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "VAE config: " + problem);

    spec_builder specs;
    if (config->parts & EMBER_VAE_ENCODER) encoder_specs(*config, specs);
    if (config->parts & EMBER_VAE_DECODER) decoder_specs(*config, specs);

    auto * m = new (std::nothrow) ember_vae(ctx);
    if (m == nullptr) return ctx->fail(EMBER_ERROR_OUT_OF_MEMORY, "VAE: out of host memory");
    m->config = *config;
    // bf16 is for the UNet's and text encoder's products; the VAE keeps f16 (its small convolutions use
    // ggml's im2col, which has no bf16 output, and an image shows its rounding most directly).
    if (weight_type == EMBER_WEIGHT_BF16) weight_type = EMBER_WEIGHT_F16;
    int32_t status = m->weights.load(ctx, specs.specs, tensors, n_tensors, weight_type);
    if (status != EMBER_OK) {
        ctx->last_error = "VAE: " + ctx->last_error;
        delete m;
        return status;
    }
    // weight_store reports the requested type; the kernels may have stayed f16 (see the file comment).
    // Report the quantised type only if some kernel really has it, else the type of the kernels.
    int32_t actual = -1;
    for (const tensor_spec & spec : specs.specs) {
        if (spec.role != tensor_role::matrix) continue;
        ggml_type t = m->weights.get(spec.name)->type;
        int32_t code = weight_code(t);
        if (actual < 0 || (code == weight_type && ggml_is_quantized(t))) actual = code;
    }
    m->weight_type = actual < 0 ? m->weights.matrix_type() : actual;
    *out = m;
    return EMBER_OK;
}

void ember_vae_free(ember_vae * model) { delete model; }

int32_t ember_vae_encode(ember_vae * model, const float * image, int32_t batch, int32_t height, int32_t width, float * out_moments) {
    if (model == nullptr) return EMBER_ERROR_INVALID_ARGUMENT;
    return run(model, ENCODE, image, batch, height, width, out_moments);
}

int32_t ember_vae_decode(ember_vae * model, const float * latent, int32_t batch, int32_t height, int32_t width, float * out_image) {
    if (model == nullptr) return EMBER_ERROR_INVALID_ARGUMENT;
    return run(model, DECODE, latent, batch, height, width, out_image);
}

int32_t ember_vae_group_stats_size(const ember_vae * model, int32_t encode, int32_t * out_values) {
    if (model == nullptr || out_values == nullptr) return EMBER_ERROR_INVALID_ARGUMENT;
    *out_values = 2 * group_norm_layers(model->config, encode != 0) * model->config.norm_groups;
    return EMBER_OK;
}

int32_t ember_vae_record_group_stats(ember_vae * model, int32_t encode, const float * input, int32_t height, int32_t width, float * out_stats) {
    if (model == nullptr) return EMBER_ERROR_INVALID_ARGUMENT;
    return run(model, encode ? ENCODE : DECODE, input, 1, height, width, out_stats, norm_mode::record);
}

int32_t ember_vae_run_with_group_stats(ember_vae * model, int32_t encode, const float * input, int32_t height, int32_t width,
                                       const float * stats, float * out) {
    if (model == nullptr) return EMBER_ERROR_INVALID_ARGUMENT;
    return run(model, encode ? ENCODE : DECODE, input, 1, height, width, out, norm_mode::given, stats);
}

int32_t ember_vae_stats(const ember_vae * model, ember_model_stats * out) {
    if (model == nullptr || out == nullptr) return EMBER_ERROR_INVALID_ARGUMENT;
    ember::fill_stats(model->weights, model->runner, model->weight_type, out);
    return EMBER_OK;
}

}  // extern "C"
