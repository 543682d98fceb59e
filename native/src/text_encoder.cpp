// The CLIP text transformer (SD 1.x: OpenAI CLIP ViT-L/14's text tower; SD 2.x: OpenCLIP ViT-H/14's)
// as a ggml graph.
//
// Structure (Hugging Face CLIPTextModel, which OpenCLIP's TextTransformer matches once its names are
// mapped to the canonical ones by the Java readers):
//
//   x = token_embedding[ids] + position_embedding[0 .. T-1]                 [B, T, D]
//   for each layer that runs (pre-LN residual blocks):
//     x = x + out_proj(attention(q_proj(h), k_proj(h), v_proj(h)))  with h = layer_norm1(x)
//         (num_heads heads, scale head_dim^-0.5, causal: position i sees keys 0..i)
//     x = x + fc2(act(fc1(layer_norm2(x))))
//         (act = quick-GELU x*sigmoid(1.702x) for OpenAI CLIP, exact erf GELU for OpenCLIP)
//   out = final_layer_norm(x)                                              (all LayerNorms: eps 1e-5)
//
// clip_skip = k runs the first num_layers - (k - 1) layers and applies final_layer_norm to that
// output. This is what both reference behaviours compute: A1111's "clip skip" takes
// hidden_states[-k] of CLIPTextModel and passes it through final_layer_norm, and LDM's
// FrozenOpenCLIPEmbedder(layer="penultimate") stops the resblocks one early and applies ln_final.
// Layers after the one taken are not computed at all, unless the pooled output is asked for.
//
// SDXL (sgm's FrozenCLIPEmbedder layer "hidden" 11 and FrozenOpenCLIPEmbedder2 "penultimate") takes the
// penultimate layer WITHOUT the final layer norm (final_norm = 0). Its OpenCLIP bigG also gives a
// pooled output: final_layer_norm(last layer) at the end-of-text token (OpenCLIP's text.argmax(-1), the
// first position of the row's largest id), times text_projection ([hidden, proj] in OpenCLIP, used as
// x @ P; here in Hugging Face's orientation [proj, hidden], y = x W^T). Hidden states and pooled rows
// leave the graph as one flat output ([B*T*D | B*P]) that the host splits.
//
// Extra token embeddings (textual inversion, ember_text_encoder_encode_extra): ids from vocab_size on
// take rows of a caller's f32 table instead. The graph gathers both tables and keeps each token's row
// with 0/1 masks (x*1 and x+0 are exact), so a token's input is exactly its row either way; the table's
// capacity is a power of two so that a few graphs serve any number of extra vectors.
//
// In ggml terms activations are [D, T, B] (ne[0] innermost), which is row-major [B, T, D]: the output
// needs no permutation. Token ids arrive as one I32 vector of B*T ids (ggml_get_rows takes a 1-D
// index here), checked against the vocabulary on the host before any compute. One graph is built per
// (batch, n_tokens, clip_skip) and cached by the shared graph_runner; weights live in a weight_store
// (matrix weights in the chosen type, the token embedding in f16 unless weights are f32, position
// embedding / norms / biases in f32).
#include "model_common.h"

#include <algorithm>
#include <cstddef>
#include <new>
#include <string>
#include <vector>

namespace {

constexpr float LN_EPS = 1e-5f;
const std::string PREFIX = "cond_stage_model.transformer.text_model.";
const std::string PROJECTION = "cond_stage_model.transformer.text_projection.weight";

// A linear layer whose activations stay f32. For block-quantised weights ggml's CPU matrix product
// would quantise the activations to q8_0 as well, which on its own costs about 1e-2 relative error at
// the output (measured on the tiny preset: as much as quantising the weights). The text encoder runs
// once per prompt, so its quantised weights are dequantised to f32 inside the graph instead: q8_0 /
// q4_0 then save memory, not time. f16 weights are multiplied directly (f16 activations: ~4e-4).
ggml_tensor * lin(ggml_context * g, ggml_tensor * x, ggml_tensor * w, ggml_tensor * b) {
    if (ggml_is_quantized(w->type)) w = ggml_cast(g, w, GGML_TYPE_F32);
    return ember::linear(g, x, w, b);
}

std::string layer_prefix(int i) { return PREFIX + "encoder.layers." + std::to_string(i) + "."; }

std::vector<ember::tensor_spec> text_specs(const ember_text_config & c) {
    using ember::tensor_role;
    using ember::tensor_spec;
    const int64_t d = c.hidden_size, f = c.intermediate_size;
    std::vector<tensor_spec> s;
    s.push_back({PREFIX + "embeddings.token_embedding.weight", {c.vocab_size, d}, tensor_role::lookup_table});
    s.push_back({PREFIX + "embeddings.position_embedding.weight", {c.max_positions, d}});
    for (int i = 0; i < c.num_layers; i++) {
        const std::string l = layer_prefix(i);
        for (const char * p : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
            s.push_back({l + "self_attn." + p + ".weight", {d, d}, tensor_role::attention_matrix});
            s.push_back({l + "self_attn." + p + ".bias", {d}});
        }
        s.push_back({l + "layer_norm1.weight", {d}});
        s.push_back({l + "layer_norm1.bias", {d}});
        s.push_back({l + "mlp.fc1.weight", {f, d}, tensor_role::matrix});
        s.push_back({l + "mlp.fc1.bias", {f}});
        s.push_back({l + "mlp.fc2.weight", {d, f}, tensor_role::matrix});
        s.push_back({l + "mlp.fc2.bias", {d}});
        s.push_back({l + "layer_norm2.weight", {d}});
        s.push_back({l + "layer_norm2.bias", {d}});
    }
    s.push_back({PREFIX + "final_layer_norm.weight", {d}});
    s.push_back({PREFIX + "final_layer_norm.bias", {d}});
    // The projection makes the pooled vector, which reaches every UNet ResBlock through label_emb: it
    // stays f16 under block quantisation, like the attention projections (1.6 M weights in SDXL's bigG).
    if (c.projection_dim > 0) s.push_back({PROJECTION, {c.projection_dim, d}, tensor_role::attention_matrix});
    return s;
}

std::string check_config(const ember_text_config & c) {
    auto positive = [](const char * what, int32_t v) -> std::string {
        return v > 0 ? "" : std::string("text encoder config: ") + what + " must be positive, got " + std::to_string(v);
    };
    for (auto msg : {positive("vocab_size", c.vocab_size), positive("max_positions", c.max_positions),
                     positive("hidden_size", c.hidden_size), positive("intermediate_size", c.intermediate_size),
                     positive("num_layers", c.num_layers), positive("num_heads", c.num_heads)}) {
        if (!msg.empty()) return msg;
    }
    if (c.hidden_size % c.num_heads != 0) {
        return "text encoder config: hidden_size " + std::to_string(c.hidden_size) + " is not divisible by num_heads " +
               std::to_string(c.num_heads);
    }
    if (c.activation != EMBER_ACT_QUICK_GELU && c.activation != EMBER_ACT_GELU) {
        return "text encoder config: unknown activation " + std::to_string(c.activation);
    }
    if (c.projection_dim < 0) return "text encoder config: projection_dim must not be negative, got " + std::to_string(c.projection_dim);
    return "";
}

}  // namespace

struct ember_text_encoder {
    ember_context * ctx;
    ember_text_config config;
    ember::weight_store weights;
    ember::graph_runner runner;

    ember_text_encoder(ember_context * c, const ember_text_config & cfg) : ctx(c), config(cfg), runner(c) {}

    // The graph for one (batch, n_tokens, clip_skip, final_norm, pooled, extra_capacity). With pooled, the
    // output is the hidden states followed by the pooled rows, flat; "pool_rows" then holds each row's
    // end-of-text index. With an extra-embedding table of `extra_capacity` rows (0: none), "extra" rows
    // replace the token embedding where "take" is 1 (textual inversion).
    void build(ggml_context * g, ember::built_graph & out, int32_t batch, int32_t n_tokens, int32_t clip_skip, bool final_norm,
               bool pooled, int32_t extra_capacity) const {
        using namespace ember;
        const int64_t d = config.hidden_size;
        const int n_taken = config.num_layers - (clip_skip - 1);
        const int n_run = pooled ? config.num_layers : n_taken;
        const bool flash = ember::use_flash_attention(ctx, weights.matrix_type());

        ggml_tensor * ids = ggml_new_tensor_1d(g, GGML_TYPE_I32, (int64_t) batch * n_tokens);
        ggml_set_name(ids, "tokens");
        ggml_set_input(ids);
        out.inputs["tokens"] = ids;

        ggml_tensor * tok = weights(PREFIX + "embeddings.token_embedding.weight");   // [D, V]
        ggml_tensor * pos = weights(PREFIX + "embeddings.position_embedding.weight"); // [D, P]
        ggml_tensor * x = ggml_get_rows(g, tok, ids);                                  // [D, B*T]
        if (extra_capacity > 0) {
            auto input = [&](const char * name, ggml_type type, int64_t ne0, int64_t ne1) {
                ggml_tensor * t = ggml_new_tensor_2d(g, type, ne0, ne1);
                ggml_set_name(t, name);
                ggml_set_input(t);
                out.inputs[name] = t;
                return t;
            };
            ggml_tensor * table = input("extra", GGML_TYPE_F32, d, extra_capacity);
            ggml_tensor * rows = input("extra_rows", GGML_TYPE_I32, (int64_t) batch * n_tokens, 1);
            ggml_tensor * keep = input("keep", GGML_TYPE_F32, 1, (int64_t) batch * n_tokens);     // 1: vocabulary token
            ggml_tensor * take = input("take", GGML_TYPE_F32, 1, (int64_t) batch * n_tokens);     // 1: extra row
            ggml_tensor * extra = ggml_get_rows(g, table, ggml_reshape_1d(g, rows, (int64_t) batch * n_tokens));
            x = ggml_add(g, ggml_mul(g, x, keep), ggml_mul(g, extra, take));
        }
        x = ggml_reshape_3d(g, x, d, n_tokens, batch);                                 // [D, T, B]
        x = ggml_add(g, x, ggml_view_2d(g, pos, d, n_tokens, pos->nb[1], 0));         // broadcast over B

        auto final_layer_norm = [&](ggml_tensor * t) {
            return layer_norm(g, t, LN_EPS, weights(PREFIX + "final_layer_norm.weight"), weights(PREFIX + "final_layer_norm.bias"));
        };
        ggml_tensor * hidden = nullptr;
        for (int i = 0; i < n_run; i++) {
            const std::string l = layer_prefix(i);
            const std::string a = l + "self_attn.";
            ggml_tensor * h = layer_norm(g, x, LN_EPS, weights(l + "layer_norm1.weight"), weights(l + "layer_norm1.bias"));
            ggml_tensor * q = lin(g, h, weights(a + "q_proj.weight"), weights(a + "q_proj.bias"));
            ggml_tensor * k = lin(g, h, weights(a + "k_proj.weight"), weights(a + "k_proj.bias"));
            ggml_tensor * v = lin(g, h, weights(a + "v_proj.weight"), weights(a + "v_proj.bias"));
            h = attention(g, q, k, v, config.num_heads, /*causal=*/true, flash);
            x = ggml_add(g, x, lin(g, h, weights(a + "out_proj.weight"), weights(a + "out_proj.bias")));

            h = layer_norm(g, x, LN_EPS, weights(l + "layer_norm2.weight"), weights(l + "layer_norm2.bias"));
            h = lin(g, h, weights(l + "mlp.fc1.weight"), weights(l + "mlp.fc1.bias"));
            h = config.activation == EMBER_ACT_GELU ? gelu(g, h) : quick_gelu(g, h);
            x = ggml_add(g, x, lin(g, h, weights(l + "mlp.fc2.weight"), weights(l + "mlp.fc2.bias")));
            if (i == n_taken - 1) hidden = final_norm ? final_layer_norm(x) : x;
        }
        if (!pooled) {
            out.output = hidden;
            return;
        }
        ggml_tensor * rows = ggml_new_tensor_1d(g, GGML_TYPE_I32, batch);
        ggml_set_name(rows, "pool_rows");
        ggml_set_input(rows);
        out.inputs["pool_rows"] = rows;
        ggml_tensor * last = ggml_reshape_2d(g, final_layer_norm(x), d, (int64_t) n_tokens * batch);  // [D, T*B]
        ggml_tensor * eot = ggml_get_rows(g, last, rows);                                             // [D, B]
        ggml_tensor * p = lin(g, eot, weights(PROJECTION), nullptr);                                  // [P, B]
        out.output = ggml_concat(g, ggml_reshape_1d(g, hidden, ggml_nelements(hidden)), ggml_reshape_1d(g, p, ggml_nelements(p)), 0);
    }
};

namespace {

// The one encode every entry point goes through: final_norm, pooled output and extra embeddings are independent.
int32_t encode(ember_text_encoder * model, const int32_t * tokens, int32_t batch, int32_t n_tokens, int32_t clip_skip,
               int32_t final_norm, const float * extra, int32_t n_extra, float * out_hidden, float * out_pooled) {
    if (model == nullptr) return EMBER_ERROR_INVALID_ARGUMENT;
    ember_context * ctx = model->ctx;
    const ember_text_config & c = model->config;
    if (tokens == nullptr || out_hidden == nullptr) {
        return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "text encoder: tokens and output must not be null");
    }
    if (out_pooled != nullptr && c.projection_dim <= 0) {
        return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "text encoder: this encoder has no text_projection, so no pooled output");
    }
    if (batch <= 0) return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "text encoder: batch must be positive, got " + std::to_string(batch));
    if (n_tokens <= 0 || n_tokens > c.max_positions) {
        return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "text encoder: n_tokens must be in [1, " + std::to_string(c.max_positions) +
                                                           "], got " + std::to_string(n_tokens));
    }
    if (clip_skip < 1 || clip_skip > c.num_layers) {
        return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "text encoder: clip_skip must be in [1, " + std::to_string(c.num_layers) +
                                                           "], got " + std::to_string(clip_skip));
    }
    const int64_t n = (int64_t) batch * n_tokens;
    if (n_extra < 0 || n_extra > n || (n_extra > 0 && extra == nullptr)) {
        return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "text encoder: " + std::to_string(n_extra) + " extra embeddings for " +
                                                           std::to_string(n) + " tokens (or a null table)");
    }
    for (int64_t i = 0; i < n; i++) {
        if (tokens[i] < 0 || tokens[i] >= (int64_t) c.vocab_size + n_extra) {
            return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT,
                             "text encoder: token id " + std::to_string(tokens[i]) + " at batch " + std::to_string(i / n_tokens) +
                                 ", position " + std::to_string(i % n_tokens) + " is outside the vocabulary [0, " +
                                 std::to_string(c.vocab_size) + ")" + (n_extra > 0 ? " and the " + std::to_string(n_extra) + " extra embeddings" : ""));
        }
    }
    int32_t capacity = 0;
    if (n_extra > 0) for (capacity = 8; capacity < n_extra; capacity *= 2) {}

    const bool norm = final_norm != 0, pooled = out_pooled != nullptr;
    ember::built_graph * g = nullptr;
    int32_t status = model->runner.prepare(
        {batch, n_tokens, clip_skip, norm ? 1 : 0, pooled ? 1 : 0, capacity},
        [&](ggml_context * gctx, ember::built_graph & bg) { model->build(gctx, bg, batch, n_tokens, clip_skip, norm, pooled, capacity); },
        &g);
    if (status != EMBER_OK) return status;

    // Vocabulary ids go to the token table (extra ones read row 0 there, then masked out), extra ones to the table.
    std::vector<int32_t> ids(tokens, tokens + n), extra_rows((size_t) n, 0);
    std::vector<float> keep((size_t) n, 1.0f), take((size_t) n, 0.0f), table((size_t) capacity * c.hidden_size, 0.0f);
    std::vector<std::pair<std::string, const void *>> inputs;
    if (capacity > 0) {
        for (int64_t i = 0; i < n; i++) {
            if (tokens[i] < c.vocab_size) continue;
            extra_rows[(size_t) i] = tokens[i] - c.vocab_size;
            ids[(size_t) i] = 0;
            keep[(size_t) i] = 0.0f;
            take[(size_t) i] = 1.0f;
        }
        std::copy(extra, extra + (size_t) n_extra * c.hidden_size, table.begin());
    }
    if (!pooled) {
        if (capacity == 0) return model->runner.run(*g, {{"tokens", tokens}}, out_hidden);
        return model->runner.run(*g, {{"tokens", ids.data()}, {"extra", table.data()}, {"extra_rows", extra_rows.data()},
                                      {"keep", keep.data()}, {"take", take.data()}},
                                 out_hidden);
    }
    // Each row's end-of-text token: the first position of its largest vocabulary id, as an index into the [T*B] rows.
    std::vector<int32_t> rows((size_t) batch);
    for (int32_t b = 0; b < batch; b++) {
        const int32_t * row = tokens + (int64_t) b * n_tokens;
        int32_t best = 0;
        for (int32_t t = 1; t < n_tokens; t++) {
            if (row[t] < c.vocab_size && (row[best] >= c.vocab_size || row[t] > row[best])) best = t;
        }
        rows[(size_t) b] = b * n_tokens + best;
    }
    const size_t n_hidden = (size_t) n * c.hidden_size, n_pooled = (size_t) batch * c.projection_dim;
    std::vector<float> flat(n_hidden + n_pooled);
    if (capacity == 0) {
        status = model->runner.run(*g, {{"tokens", tokens}, {"pool_rows", rows.data()}}, flat.data());
    } else {
        status = model->runner.run(*g, {{"tokens", ids.data()}, {"extra", table.data()}, {"extra_rows", extra_rows.data()},
                                        {"keep", keep.data()}, {"take", take.data()}, {"pool_rows", rows.data()}},
                                   flat.data());
    }
    if (status != EMBER_OK) return status;
    std::copy(flat.begin(), flat.begin() + (std::ptrdiff_t) n_hidden, out_hidden);
    std::copy(flat.begin() + (std::ptrdiff_t) n_hidden, flat.end(), out_pooled);
    return EMBER_OK;
}

}  // namespace

extern "C" {

int32_t ember_text_encoder_create(ember_context * ctx, const ember_text_config * config, const ember_tensor * tensors,
                                  int32_t n_tensors, int32_t weight_type, ember_text_encoder ** out) {
    if (out != nullptr) *out = nullptr;
    if (ctx == nullptr) return EMBER_ERROR_INVALID_ARGUMENT;
    if (config == nullptr || out == nullptr) {
        return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "text encoder: config and out must not be null");
    }
    if (n_tensors < 0) return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "text encoder: negative tensor count");
    std::string bad = check_config(*config);
    if (!bad.empty()) return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, bad);

    ember_text_encoder * model = new (std::nothrow) ember_text_encoder(ctx, *config);
    if (model == nullptr) return ctx->fail(EMBER_ERROR_OUT_OF_MEMORY, "text encoder: out of host memory");
    int32_t status = model->weights.load(ctx, text_specs(*config), tensors, n_tensors, weight_type);
    if (status != EMBER_OK) {
        ctx->last_error = "text encoder: " + ctx->last_error;
        delete model;
        return status;
    }
    *out = model;
    return EMBER_OK;
}

void ember_text_encoder_free(ember_text_encoder * model) { delete model; }

int32_t ember_text_encoder_encode(ember_text_encoder * model, const int32_t * tokens, int32_t batch, int32_t n_tokens,
                                  int32_t clip_skip, float * out_hidden) {
    return encode(model, tokens, batch, n_tokens, clip_skip, 1, nullptr, 0, out_hidden, nullptr);
}

int32_t ember_text_encoder_encode_ex(ember_text_encoder * model, const int32_t * tokens, int32_t batch, int32_t n_tokens,
                                     int32_t clip_skip, int32_t final_norm, const float * extra, int32_t n_extra, float * out_hidden,
                                     float * out_pooled) {
    return encode(model, tokens, batch, n_tokens, clip_skip, final_norm, extra, n_extra, out_hidden, out_pooled);
}

int32_t ember_text_encoder_encode_extra(ember_text_encoder * model, const int32_t * tokens, int32_t batch, int32_t n_tokens,
                                        int32_t clip_skip, const float * extra, int32_t n_extra, float * out_hidden) {
    return encode(model, tokens, batch, n_tokens, clip_skip, 1, extra, n_extra, out_hidden, nullptr);
}

int32_t ember_text_encoder_set_weights(ember_text_encoder * model, const ember_tensor * tensors, int32_t n_tensors) {
    if (model == nullptr) return EMBER_ERROR_INVALID_ARGUMENT;
    int32_t status = model->weights.replace(model->ctx, tensors, n_tensors);
    if (status != EMBER_OK) model->ctx->last_error = "text encoder: " + model->ctx->last_error;
    return status;
}

int32_t ember_text_encoder_stats(const ember_text_encoder * model, ember_model_stats * out) {
    if (model == nullptr || out == nullptr) return EMBER_ERROR_INVALID_ARGUMENT;
    ember::fill_stats(model->weights, model->runner, model->weights.matrix_type(), out);
    return EMBER_OK;
}

}  // extern "C"
