#include "quantize.h"

#include "ggml.h"

#include <algorithm>
#include <cmath>
#include <thread>
#include <vector>

namespace ember {

namespace {

constexpr int BLOCK = 32;
constexpr int N_CANDIDATES = 17;  // divisors 124, 124.25, ..., 128

struct block_q8_0 {
    ggml_fp16_t d;
    int8_t qs[BLOCK];
};
static_assert(sizeof(block_q8_0) == 2 + BLOCK, "ggml's block_q8_0 is an f16 scale and 32 int8 values");

float quantised(float x, float inverse) {
    return std::min(127.0f, std::max(-128.0f, std::rint(x * inverse)));
}

void quantize_block(const float * x, block_q8_0 & out) {
    float amax = 0.0f;
    for (int j = 0; j < BLOCK; j++) amax = std::max(amax, std::fabs(x[j]));
    float scale[N_CANDIDATES];
    float inverse[N_CANDIDATES];
    double error[N_CANDIDATES] = {};
    for (int k = 0; k < N_CANDIDATES; k++) {
        // The f16-rounded scale is the one the reader multiplies by, so it is the one rounded against.
        scale[k] = ggml_fp16_to_fp32(ggml_fp32_to_fp16(amax / (124.0f + 0.25f * (float) k)));
        inverse[k] = scale[k] != 0.0f ? 1.0f / scale[k] : 0.0f;
    }
    // Element-major so the candidates form the vector lanes. Every term is exact in double (q * d has
    // at most 19 significant bits, so x - q * d is one rounded float and its square is exact), and
    // the sum runs in element order, so fused or separate multiply-adds give the same bits.
    for (int j = 0; j < BLOCK; j++) {
        for (int k = 0; k < N_CANDIDATES; k++) {
            float e = x[j] - quantised(x[j], inverse[k]) * scale[k];
            error[k] += (double) e * (double) e;
        }
    }
    int best = 0;
    for (int k = 1; k < N_CANDIDATES; k++) {
        if (error[k] < error[best]) best = k;
    }
    out.d = ggml_fp32_to_fp16(scale[best]);
    for (int j = 0; j < BLOCK; j++) out.qs[j] = (int8_t) quantised(x[j], inverse[best]);
}

}  // namespace

void quantize_q8_0_searched(const float * x, void * out, int64_t n_blocks, int n_threads) {
    auto * blocks = static_cast<block_q8_0 *>(out);
    auto run = [&](int64_t begin, int64_t end) {
        for (int64_t b = begin; b < end; b++) quantize_block(x + b * BLOCK, blocks[b]);
    };
    const int64_t per_thread_min = 4096;  // below this, starting threads costs more than it saves
    int workers = (int) std::max<int64_t>(1, std::min<int64_t>(n_threads, n_blocks / per_thread_min));
    if (workers == 1) {
        run(0, n_blocks);
        return;
    }
    std::vector<std::thread> threads;
    const int64_t chunk = (n_blocks + workers - 1) / workers;
    for (int t = 1; t < workers; t++) {
        threads.emplace_back(run, std::min(n_blocks, t * chunk), std::min(n_blocks, (t + 1) * chunk));
    }
    run(0, std::min(n_blocks, chunk));
    for (std::thread & t : threads) t.join();
}

}  // namespace ember
