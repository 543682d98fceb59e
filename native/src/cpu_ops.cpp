#include "cpu_ops.h"

#include "ggml-cpu.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace ember {

namespace {

// A custom op's parameters travel in its userdata pointer itself: graphs are cached and re-run, so a
// pointer to separate storage would need an owner for as long as the graph lives; these few small
// integers fit in the pointer's bits instead.
struct band_params {
    int k, stride, pad;
    int64_t n, r0;
};

static_assert(sizeof(void *) >= 8, "im2col_rows packs its parameters into a 64-bit userdata pointer");

void * pack(const band_params & p) {
    GGML_ASSERT(p.k > 0 && p.k < 16 && p.stride > 0 && p.stride < 16 && p.pad >= 0 && p.pad < 16);
    GGML_ASSERT(p.n >= 0 && p.n < (1 << 16) && p.r0 >= 0 && p.r0 < (int64_t(1) << 24));
    uint64_t v = (uint64_t) p.k | (uint64_t) p.stride << 4 | (uint64_t) p.pad << 8 | (uint64_t) p.n << 12 | (uint64_t) p.r0 << 28;
    return reinterpret_cast<void *>((uintptr_t) v);
}

band_params unpack(void * userdata) {
    uint64_t v = (uint64_t) reinterpret_cast<uintptr_t>(userdata);
    return {(int) (v & 15), (int) (v >> 4 & 15), (int) (v >> 8 & 15), (int64_t) (v >> 12 & 0xffff), (int64_t) (v >> 28 & 0xffffff)};
}

// One output row's run of pixels [ox0, ox1), written to out (the first pixel's K-float row). Loops run
// channel, kernel row, then pixel: the source row is found once per (channel, kernel row) and read
// forward, and the strided stores revisit the same few hundred cache lines (L1-resident) until each
// is full.
void im2col_run(const ggml_tensor * x, const char * image, const band_params & p, int64_t oy, int64_t ox0, int64_t ox1, float * out,
                int64_t K) {
    const int64_t W = x->ne[0], H = x->ne[1], C = x->ne[2];
    const int k = p.k;
    // Pixels whose k columns all lie inside the image: [in0, in1) (clamped to the run).
    const int64_t first_inside = (p.pad + p.stride - 1) / p.stride;          // smallest ox with ox*s - pad >= 0
    // Largest ox with ox*s - pad + k <= W; none when even ox = 0 reaches past the image (C++ division
    // truncates toward zero, so a negative numerator must not be divided).
    const int64_t last_inside = W - k + p.pad >= 0 ? (W - k + p.pad) / p.stride : -1;
    const int64_t in0 = std::max(ox0, first_inside), in1 = std::max(in0, std::min(ox1, last_inside + 1));
    for (int64_t c = 0; c < C; c++) {
        const char * plane = image + c * x->nb[2];
        for (int ky = 0; ky < k; ky++) {
            float * o = out + c * k * k + ky * k;
            const int64_t iy = oy * p.stride - p.pad + ky;
            if (iy < 0 || iy >= H) {
                for (int64_t ox = ox0; ox < ox1; ox++) std::memset(o + (ox - ox0) * K, 0, sizeof(float) * k);
                continue;
            }
            const float * row = (const float *) (plane + iy * x->nb[1]);
            auto edge = [&](int64_t ox) {
                float * d = o + (ox - ox0) * K;
                for (int kx = 0; kx < k; kx++) {
                    const int64_t ix = ox * p.stride - p.pad + kx;
                    d[kx] = ix >= 0 && ix < W ? row[ix] : 0.0f;
                }
            };
            for (int64_t ox = ox0; ox < in0; ox++) edge(ox);
            if (k == 3) {
                for (int64_t ox = in0; ox < in1; ox++) {
                    const float * src = row + ox * p.stride - p.pad;
                    float * d = o + (ox - ox0) * K;
                    d[0] = src[0];
                    d[1] = src[1];
                    d[2] = src[2];
                }
            } else {
                for (int64_t ox = in0; ox < in1; ox++) std::memcpy(o + (ox - ox0) * K, row + ox * p.stride - p.pad, sizeof(float) * k);
            }
            for (int64_t ox = in1; ox < ox1; ox++) edge(ox);
        }
    }
}

void im2col_kernel(ggml_tensor * dst, int ith, int nth, void * userdata) {
    const band_params p = unpack(userdata);
    const ggml_tensor * x = dst->src[0];
    const int64_t K = dst->ne[0], OW = dst->ne[1], rows = dst->ne[2], per_image = OW * rows;
    const int64_t pixels = per_image * dst->ne[3];
    const int64_t begin = pixels * ith / nth, end = pixels * (ith + 1) / nth;
    const bool f16 = dst->type == GGML_TYPE_F16 || dst->type == GGML_TYPE_BF16;
    // f16 and bf16: each piece is gathered in f32 here, then converted in one vectorised pass while still in cache.
    constexpr int64_t F16_PIECE = 16;
    thread_local std::vector<float> scratch;
    if (f16) scratch.resize((size_t) (F16_PIECE * K));
    // This thread's contiguous run of pixels, one output row (and for f16 one piece) at a time.
    for (int64_t i = begin; i < end;) {
        const int64_t image = p.n + i / per_image, row = i % per_image / OW, ox0 = i % OW;
        int64_t ox1 = std::min(OW, ox0 + (end - i));
        if (f16) ox1 = std::min(ox1, ox0 + F16_PIECE);
        const char * source = (const char *) x->data + image * x->nb[3];
        if (f16) {
            im2col_run(x, source, p, p.r0 + row, ox0, ox1, scratch.data(), K);
            void * out = (char *) dst->data + i * dst->nb[1];
            if (dst->type == GGML_TYPE_F16) {
                ggml_cpu_fp32_to_fp16(scratch.data(), (ggml_fp16_t *) out, (ox1 - ox0) * K);
            } else {
                ggml_cpu_fp32_to_bf16(scratch.data(), (ggml_bf16_t *) out, (ox1 - ox0) * K);
            }
        } else {
            im2col_run(x, source, p, p.r0 + row, ox0, ox1, (float *) ((char *) dst->data + i * dst->nb[1]), K);
        }
        i += ox1 - ox0;
    }
}

void broadcast_planes_kernel(ggml_tensor * dst, int ith, int nth, void *) {
    const float * bias = (const float *) dst->src[0]->data;
    const int64_t plane = dst->ne[0] * dst->ne[1], C = dst->ne[2], planes = C * dst->ne[3];
    for (int64_t i = planes * ith / nth; i < planes * (ith + 1) / nth; i++) {
        float * out = (float *) ((char *) dst->data + (i % C) * dst->nb[2] + (i / C) * dst->nb[3]);
        std::fill(out, out + plane, bias[i % C]);
    }
}

}  // namespace

ggml_tensor * im2col_rows(ggml_context * g, ggml_tensor * x, int k, int stride, int pad, int64_t n0, int64_t count, int64_t r0,
                          int64_t rows, ggml_type type) {
    GGML_ASSERT(x->type == GGML_TYPE_F32 && ggml_is_contiguous(x));
    GGML_ASSERT(type == GGML_TYPE_F32 || type == GGML_TYPE_F16 || type == GGML_TYPE_BF16);
    GGML_ASSERT(n0 >= 0 && count > 0 && n0 + count <= x->ne[3] && rows > 0);
    const int64_t OW = (x->ne[0] + 2 * pad - k) / stride + 1;
    ggml_tensor * args[] = {x};
    return ggml_custom_4d(g, type, (int64_t) k * k * x->ne[2], OW, rows, count, args, 1, im2col_kernel, GGML_N_TASKS_MAX,
                          pack({k, stride, pad, n0, r0}));
}

ggml_tensor * broadcast_planes(ggml_context * g, ggml_tensor * bias, int64_t W, int64_t H, int64_t N) {
    GGML_ASSERT(bias->type == GGML_TYPE_F32 && ggml_is_contiguous(bias));
    ggml_tensor * args[] = {bias};
    return ggml_custom_4d(g, GGML_TYPE_F32, W, H, ggml_nelements(bias), N, args, 1, broadcast_planes_kernel, GGML_N_TASKS_MAX, nullptr);
}

}  // namespace ember
