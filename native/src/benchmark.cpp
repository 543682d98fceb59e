// ember_benchmark_*: the reference rate that `ember bench` compares the networks against, and the
// representative workloads Ember times to choose the fastest CPU variant on a machine (bindings'
// CpuVariants): a convolution-shaped f16 product and the attention of a transformer block.
#include "model_common.h"

#include <chrono>
#include <cstring>
#include <random>

namespace {

// Runs `g` repeats + 1 times (the first warms caches and threads, and is not counted): the best, in seconds.
int32_t best_of(ember::graph_runner & runner, ember::built_graph & g, const std::vector<std::pair<std::string, const void *>> & inputs,
                std::vector<float> & out, int32_t repeats, double * out_seconds) {
    double best = 1e300;
    for (int32_t r = 0; r <= repeats; r++) {
        auto start = std::chrono::steady_clock::now();
        int32_t status = runner.run(g, inputs, out.data());
        if (status != EMBER_OK) return status;
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (r > 0 && seconds < best) best = seconds;
    }
    *out_seconds = best;
    return EMBER_OK;
}

// n normal values, in the bytes of `type` (f32, f16 or bf16).
std::vector<uint8_t> normal_values(std::mt19937 & rng, int64_t n, ggml_type type) {
    std::normal_distribution<float> normal;
    std::vector<float> f((size_t) n);
    for (float & v : f) v = normal(rng);
    std::vector<uint8_t> bytes((size_t) n * ggml_type_size(type));
    switch (type) {
        case GGML_TYPE_F16: ggml_fp32_to_fp16_row(f.data(), (ggml_fp16_t *) bytes.data(), n); break;
        case GGML_TYPE_BF16: ggml_fp32_to_bf16_row(f.data(), (ggml_bf16_t *) bytes.data(), n); break;
        default: std::memcpy(bytes.data(), f.data(), bytes.size()); break;
    }
    return bytes;
}

}  // namespace

extern "C" int32_t ember_benchmark_matmul(ember_context * ctx, int32_t m, int32_t n, int32_t k, int32_t repeats,
                                          double * out_seconds) {
    return ember_benchmark_matmul_typed(ctx, EMBER_DTYPE_F32, m, n, k, repeats, out_seconds);
}

extern "C" int32_t ember_benchmark_matmul_typed(ember_context * ctx, int32_t dtype, int32_t m, int32_t n, int32_t k, int32_t repeats,
                                                double * out_seconds) {
    if (ctx == nullptr) return EMBER_ERROR_INVALID_ARGUMENT;
    if (m <= 0 || n <= 0 || k <= 0 || repeats <= 0 || out_seconds == nullptr) {
        return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "matmul benchmark needs positive sizes and repeats");
    }
    ggml_type type;
    switch (dtype) {
        case EMBER_DTYPE_F32: type = GGML_TYPE_F32; break;
        case EMBER_DTYPE_F16: type = GGML_TYPE_F16; break;
        case EMBER_DTYPE_BF16: type = GGML_TYPE_BF16; break;
        default: return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "matmul benchmark: unknown dtype " + std::to_string(dtype));
    }
    ember::graph_runner runner(ctx);
    ember::built_graph * g = nullptr;
    // The operands in a convolution's orientation (model_common conv2d): a is the im2col [k, m] (m output
    // pixels), b the kernel [k, n] (n output channels); the product [m, n] is the image layout.
    int32_t status = runner.prepare({m, n, k, dtype}, [&](ggml_context * gc, ember::built_graph & bg) {
        ggml_tensor * a = ggml_new_tensor_2d(gc, type, k, m);
        ggml_tensor * b = ggml_new_tensor_2d(gc, type, k, n);
        ggml_set_input(a);
        ggml_set_input(b);
        bg.inputs["a"] = a;
        bg.inputs["b"] = b;
        bg.output = ggml_mul_mat(gc, a, b);  // [m, n]
    }, &g);
    if (status != EMBER_OK) return status;

    std::mt19937 rng(1234);
    std::vector<uint8_t> a = normal_values(rng, (int64_t) m * k, type), b = normal_values(rng, (int64_t) n * k, type);
    std::vector<float> out((size_t) m * n);
    return best_of(runner, *g, {{"a", a.data()}, {"b", b.data()}}, out, repeats, out_seconds);
}

extern "C" int32_t ember_benchmark_attention(ember_context * ctx, int32_t n_queries, int32_t n_keys, int32_t heads, int32_t head_dim,
                                             int32_t flash, int32_t repeats, double * out_seconds) {
    if (ctx == nullptr) return EMBER_ERROR_INVALID_ARGUMENT;
    if (n_queries <= 0 || n_keys <= 0 || heads <= 0 || head_dim <= 0 || repeats <= 0 || out_seconds == nullptr) {
        return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "attention benchmark needs positive sizes and repeats");
    }
    if (flash < 0 || flash > 2) return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "attention benchmark: flash must be 0, 1 or 2");
    const int64_t width = (int64_t) heads * head_dim;
    ember::graph_runner runner(ctx);
    ember::built_graph * g = nullptr;
    const bool cpu = ctx->backend == ctx->cpu_backend;
    int32_t status = runner.prepare({n_queries, n_keys, heads, head_dim, flash}, [&](ggml_context * gc, ember::built_graph & bg) {
        ggml_tensor * q = ggml_new_tensor_3d(gc, GGML_TYPE_F32, width, n_queries, 1);
        ggml_tensor * k = ggml_new_tensor_3d(gc, GGML_TYPE_F32, width, n_keys, 1);
        ggml_tensor * v = ggml_new_tensor_3d(gc, GGML_TYPE_F32, width, n_keys, 1);
        for (ggml_tensor * t : {q, k, v}) ggml_set_input(t);
        bg.inputs["q"] = q;
        bg.inputs["k"] = k;
        bg.inputs["v"] = v;
        // flash 2: ggml's fused kernel even on the CPU, for comparison with Ember's.
        bg.output = ember::attention(gc, q, k, v, heads, false, flash != 0, cpu && flash == 1);
    }, &g);
    if (status != EMBER_OK) return status;

    std::mt19937 rng(1234);
    std::vector<uint8_t> q = normal_values(rng, width * n_queries, GGML_TYPE_F32);
    std::vector<uint8_t> k = normal_values(rng, width * n_keys, GGML_TYPE_F32);
    std::vector<uint8_t> v = normal_values(rng, width * n_keys, GGML_TYPE_F32);
    std::vector<float> out((size_t) (width * n_queries));
    return best_of(runner, *g, {{"q", q.data()}, {"k", k.data()}, {"v", v.data()}}, out, repeats, out_seconds);
}
