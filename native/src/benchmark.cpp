// ember_benchmark_matmul: the reference rate that `ember bench` compares the networks against.
#include "model_common.h"

#include <chrono>
#include <random>

extern "C" int32_t ember_benchmark_matmul(ember_context * ctx, int32_t m, int32_t n, int32_t k, int32_t repeats,
                                          double * out_seconds) {
    if (ctx == nullptr) return EMBER_ERROR_INVALID_ARGUMENT;
    if (m <= 0 || n <= 0 || k <= 0 || repeats <= 0 || out_seconds == nullptr) {
        return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "matmul benchmark needs positive sizes and repeats");
    }
    ember::graph_runner runner(ctx);
    ember::built_graph * g = nullptr;
    int32_t status = runner.prepare({m, n, k}, [&](ggml_context * gc, ember::built_graph & bg) {
        ggml_tensor * a = ggml_new_tensor_2d(gc, GGML_TYPE_F32, k, m);
        ggml_tensor * b = ggml_new_tensor_2d(gc, GGML_TYPE_F32, k, n);
        ggml_set_input(a);
        ggml_set_input(b);
        bg.inputs["a"] = a;
        bg.inputs["b"] = b;
        bg.output = ggml_mul_mat(gc, a, b);  // [m, n]
    }, &g);
    if (status != EMBER_OK) return status;

    std::mt19937 rng(1234);
    std::normal_distribution<float> normal;
    std::vector<float> a((size_t) m * k), b((size_t) n * k), out((size_t) m * n);
    for (float & v : a) v = normal(rng);
    for (float & v : b) v = normal(rng);
    double best = 1e300;
    for (int32_t r = 0; r <= repeats; r++) {  // the first run warms caches and threads, and is not counted
        auto start = std::chrono::steady_clock::now();
        status = runner.run(*g, {{"a", a.data()}, {"b", b.data()}}, out.data());
        if (status != EMBER_OK) return status;
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (r > 0 && seconds < best) best = seconds;
    }
    *out_seconds = best;
    return EMBER_OK;
}
