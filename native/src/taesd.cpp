// TAESD, the tiny autoencoder (madebyollin/taesd; diffusers AutoencoderTiny), as ggml graphs: a cheap
// stand-in for the SD VAE, for step previews and fast final decodes.
//
// Structure (names are diffusers AutoencoderTiny's, "encoder.layers.<i>." / "decoder.layers.<i>.";
// C = channels, 64 in every released TAESD; all convolutions 3x3 with padding 1):
//
//   Block(C): h = conv.4(ReLU(conv.2(ReLU(conv.0(x))))); return ReLU(h + x)    (skip is the identity at C -> C)
//
//   encode: image [W, H, 3, N] in [0, 1]
//     0 conv(3 -> C), 1 Block,
//     2 conv stride 2 (no bias), 3-5 Block x3,  6 conv stride 2 (no bias), 7-9 Block x3,
//     10 conv stride 2 (no bias), 11-13 Block x3,
//     14 conv(C -> latent)                      -> latent [W/8, H/8, z, N] in the UNet's (scaled) latent space
//
//   decode: latent [w, h, z, N]
//     x = tanh(x / 3) * 3,
//     0 conv(z -> C), 1 ReLU, 2-4 Block x3, 5 Upsample 2x (nearest), 6 conv (no bias),
//     7-9 Block x3, 10 Upsample, 11 conv (no bias), 12-14 Block x3, 15 Upsample, 16 conv (no bias),
//     17 Block, 18 conv(C -> 3)                  -> image [8w, 8h, 3, N], roughly [0, 1], not clamped
//
// madebyollin's own files number the decoder from its Clamp module (one more: "1.weight" is layer 0's);
// the Java reader maps them. Weights: kernels are model_common's matrices (f32 or f16; q8_0/q4_0 leave
// 3x3 kernels in f16, since a row of 3 does not hold a quantisation block), biases f32. Convolutions
// are model_common's conv2d (im2col x kernel; f16 im2col for f16 kernels, as the UNet's). Memory grows
// with the image (the full-resolution layers hold 64 channels): large images go through the Java
// tiler, which TAESD's bounded receptive field makes seamless.
#include "context.h"
#include "model_common.h"

#include <cmath>
#include <new>
#include <string>
#include <vector>

using namespace ember;

namespace {

constexpr int DOWNSCALE = 8;

struct layer_list {
    std::vector<tensor_spec> specs;
    void conv(const std::string & name, int64_t out, int64_t in, bool bias) {
        specs.push_back({name + ".weight", {out, in, 3, 3}, tensor_role::matrix});
        if (bias) specs.push_back({name + ".bias", {out}});
    }
    void block(const std::string & name, int64_t ch) {
        for (const char * i : {".conv.0", ".conv.2", ".conv.4"}) conv(name + i, ch, ch, true);
    }
};

std::string enc(int i) { return "encoder.layers." + std::to_string(i); }
std::string dec(int i) { return "decoder.layers." + std::to_string(i); }

// The encoder's layer list: a strided conv opens each of the three lower levels.
void encoder_specs(const ember_taesd_config & c, layer_list & l) {
    l.conv(enc(0), c.channels, c.image_channels, true);
    l.block(enc(1), c.channels);
    for (int level = 0; level < 3; level++) {
        const int first = 2 + 4 * level;
        l.conv(enc(first), c.channels, c.channels, false);
        for (int b = 1; b <= 3; b++) l.block(enc(first + b), c.channels);
    }
    l.conv(enc(14), c.latent_channels, c.channels, true);
}

void decoder_specs(const ember_taesd_config & c, layer_list & l) {
    l.conv(dec(0), c.channels, c.latent_channels, true);
    for (int level = 0; level < 3; level++) {
        const int first = 2 + 5 * level;
        for (int b = 0; b < 3; b++) l.block(dec(first + b), c.channels);
        l.conv(dec(first + 4), c.channels, c.channels, false);  // after the upsample at first + 3
    }
    l.block(dec(17), c.channels);
    l.conv(dec(18), c.image_channels, c.channels, true);
}

std::string check_config(const ember_taesd_config & c) {
    if (c.image_channels <= 0 || c.latent_channels <= 0 || c.channels <= 0) return "channel counts must be positive";
    if (c.parts <= 0 || (c.parts & ~(EMBER_VAE_ENCODER | EMBER_VAE_DECODER)) != 0) {
        return "parts must be EMBER_VAE_ENCODER, EMBER_VAE_DECODER or both, got " + std::to_string(c.parts);
    }
    return "";
}

struct taesd_builder {
    ggml_context * g;
    const weight_store & w;
    bool cpu_ops;

    ggml_tensor * conv(ggml_tensor * x, const std::string & name, int stride = 1) const {
        return conv2d(g, x, w(name + ".weight"), w.get(name + ".bias"), stride, 1, cpu_ops);
    }

    ggml_tensor * block(ggml_tensor * x, const std::string & name) const {
        ggml_tensor * h = ggml_relu(g, conv(x, name + ".conv.0"));
        h = ggml_relu(g, conv(h, name + ".conv.2"));
        h = conv(h, name + ".conv.4");
        return ggml_relu(g, ggml_add(g, h, x));
    }

    ggml_tensor * encode(ggml_tensor * x) const {
        x = block(conv(x, enc(0)), enc(1));
        for (int level = 0; level < 3; level++) {
            const int first = 2 + 4 * level;
            x = conv(x, enc(first), 2);
            for (int b = 1; b <= 3; b++) x = block(x, enc(first + b));
        }
        return conv(x, enc(14));
    }

    ggml_tensor * decode(ggml_tensor * x) const {
        x = ggml_scale(g, ggml_tanh(g, ggml_scale(g, x, 1.0f / 3.0f)), 3.0f);
        x = ggml_relu(g, conv(x, dec(0)));
        for (int level = 0; level < 3; level++) {
            const int first = 2 + 5 * level;
            for (int b = 0; b < 3; b++) x = block(x, dec(first + b));
            x = conv(ggml_upscale(g, x, 2, GGML_SCALE_MODE_NEAREST), dec(first + 4));
        }
        return conv(block(x, dec(17)), dec(18));
    }
};

}  // namespace

struct ember_taesd {
    ember_context * ctx;
    ember_taesd_config config{};
    weight_store weights;
    graph_runner runner;
    explicit ember_taesd(ember_context * c) : ctx(c), runner(c) {}
};

namespace {

enum direction : int64_t { ENCODE = 0, DECODE = 1 };

int32_t run(ember_taesd * m, direction dir, const float * in, int32_t batch, int32_t height, int32_t width, float * out) {
    ember_context * ctx = m->ctx;
    const int part = dir == ENCODE ? EMBER_VAE_ENCODER : EMBER_VAE_DECODER;
    int32_t checked = check_image_call(ctx, "TAESD", dir == ENCODE, (m->config.parts & part) != 0, in, out, batch, height, width, DOWNSCALE);
    if (checked != EMBER_OK) return checked;
    const int64_t in_ch = dir == ENCODE ? m->config.image_channels : m->config.latent_channels;
    const weight_store & w = m->weights;
    built_graph * g = nullptr;
    int32_t status = m->runner.prepare({dir, batch, height, width}, [&](ggml_context * gc, built_graph & bg) {
        ggml_tensor * x = ggml_new_tensor_4d(gc, GGML_TYPE_F32, width, height, in_ch, batch);
        ggml_set_name(x, "input");
        ggml_set_input(x);
        bg.inputs["input"] = x;
        taesd_builder b{gc, w, ctx->backend == ctx->cpu_backend};
        bg.output = dir == ENCODE ? b.encode(x) : b.decode(x);
    }, &g);
    if (status != EMBER_OK) return status;
    return m->runner.run(*g, {{"input", in}}, out);
}

}  // namespace

extern "C" {

int32_t ember_taesd_create(ember_context * ctx, const ember_taesd_config * config, const ember_tensor * tensors, int32_t n_tensors,
                           int32_t weight_type, ember_taesd ** out) {
    if (out != nullptr) *out = nullptr;
    if (ctx == nullptr) return EMBER_ERROR_INVALID_ARGUMENT;
    if (out == nullptr || config == nullptr) return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "TAESD: null config or output pointer");
    if (n_tensors < 0) return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "TAESD: negative tensor count");
    std::string problem = check_config(*config);
    if (!problem.empty()) return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "TAESD config: " + problem);

    layer_list layers;
    if (config->parts & EMBER_VAE_ENCODER) encoder_specs(*config, layers);
    if (config->parts & EMBER_VAE_DECODER) decoder_specs(*config, layers);
    auto * m = new (std::nothrow) ember_taesd(ctx);
    if (m == nullptr) return ctx->fail(EMBER_ERROR_OUT_OF_MEMORY, "TAESD: out of host memory");
    m->config = *config;
    // bf16 is for the UNet's and text encoder's products; a decoder keeps f16, as the VAE does.
    if (weight_type == EMBER_WEIGHT_BF16) weight_type = EMBER_WEIGHT_F16;
    int32_t status = m->weights.load(ctx, layers.specs, tensors, n_tensors, weight_type);
    if (status != EMBER_OK) {
        ctx->last_error = "TAESD: " + ctx->last_error;
        delete m;
        return status;
    }
    *out = m;
    return EMBER_OK;
}

void ember_taesd_free(ember_taesd * model) { delete model; }

int32_t ember_taesd_encode(ember_taesd * model, const float * image, int32_t batch, int32_t height, int32_t width, float * out_latent) {
    if (model == nullptr) return EMBER_ERROR_INVALID_ARGUMENT;
    return run(model, ENCODE, image, batch, height, width, out_latent);
}

int32_t ember_taesd_decode(ember_taesd * model, const float * latent, int32_t batch, int32_t height, int32_t width, float * out_image) {
    if (model == nullptr) return EMBER_ERROR_INVALID_ARGUMENT;
    return run(model, DECODE, latent, batch, height, width, out_image);
}

int32_t ember_taesd_stats(const ember_taesd * model, ember_model_stats * out) {
    if (model == nullptr || out == nullptr) return EMBER_ERROR_INVALID_ARGUMENT;
    // Kernels are f32 or f16 whatever was asked (see the file comment): report what they became.
    const ggml_tensor * k = model->weights.get(model->config.parts & EMBER_VAE_DECODER ? dec(0) + ".weight" : enc(0) + ".weight");
    const int32_t type = k != nullptr && k->type == GGML_TYPE_F16 ? EMBER_WEIGHT_F16 : EMBER_WEIGHT_F32;
    ember::fill_stats(model->weights, model->runner, type, out);
    return EMBER_OK;
}

}  // extern "C"
