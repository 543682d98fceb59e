#include "cpu_attention.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

// The vector helpers below are inline and internal, so the SSE4.2 variant's note that 32-byte vectors
// would be passed differently without AVX concerns no interface.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace ember {

namespace {

// The vector type: 8 floats with AVX (the AVX2 and AVX-512 variants compile it to 256-bit FMAs, as wide
// as Zen 4's AVX-512 units really are, and never a partial vector for D = 40), 4 with SSE only (a wider
// generic vector would live on the stack there).
#if defined(__AVX__)
constexpr int LANES = 8;
#else
constexpr int LANES = 4;
#endif
typedef float vfloat __attribute__((vector_size(LANES * sizeof(float))));
typedef int32_t vint __attribute__((vector_size(LANES * sizeof(int32_t))));
constexpr int64_t Q_TILE = 96;   // queries per tile: their running max, sum and output stay in L1/L2
constexpr int64_t KV_TILE = 64;  // keys per tile (a multiple of LANES)
// Register blocks of ROWS rows x WIDE vectors: 12 accumulators of the 16 AVX registers, 8 of the 16 SSE ones.
#if defined(__AVX__)
constexpr int ROWS = 6, WIDE = 2;
#else
constexpr int ROWS = 4, WIDE = 2;
#endif
static_assert(Q_TILE % ROWS == 0, "query tiles are whole register blocks");

inline vfloat load(const float * p) {
    vfloat v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

inline void store(float * p, vfloat v) { std::memcpy(p, &v, sizeof v); }

inline vfloat splat(float x) { return vfloat{} + x; }

// e^x for x <= 0 (scores minus their running maximum), relative error ~1e-7: Cephes' expf (range
// reduction by n ln 2, degree-6 polynomial, 2^n built in the exponent bits). Below -87 it returns
// e^-87 (~1.6e-38, still a normal float), which no softmax weight can tell from 0.
inline vfloat exp_nonpositive(vfloat x) {
    const vfloat lo = splat(-87.0f);
    x = x < lo ? lo : x;
    const vfloat magic = splat(12582912.0f);  // 1.5 * 2^23: adding and subtracting it rounds to an integer
    const vfloat n = (x * splat(1.44269504088896341f) + magic) - magic;
    const vfloat r = x - n * splat(0.693359375f) - n * splat(-2.12194440e-4f);
    vfloat p = splat(1.9875691500e-4f);
    p = p * r + splat(1.3981999507e-3f);
    p = p * r + splat(8.3334519073e-3f);
    p = p * r + splat(4.1665795894e-2f);
    p = p * r + splat(1.6666665459e-1f);
    p = p * r + splat(5.0000001201e-1f);
    p = p * r * r + r + splat(1.0f);
    const vint e = (__builtin_convertvector(n, vint) + 127) << 23;
    return p * (vfloat) e;
}

// C[R x 8*V] (=, or += with ACC) A[R x K] * B[K x 8*V]: one register block, row strides lda, ldb, ldc.
template <int R, int V, bool ACC>
inline void block(const float * a, int64_t lda, const float * b, int64_t ldb, float * c, int64_t ldc, int64_t K) {
    vfloat acc[R][V];
    for (int i = 0; i < R; i++) {
        for (int j = 0; j < V; j++) acc[i][j] = ACC ? load(c + i * ldc + j * LANES) : splat(0.0f);
    }
    for (int64_t kk = 0; kk < K; kk++) {
        vfloat bv[V];
        for (int j = 0; j < V; j++) bv[j] = load(b + kk * ldb + j * LANES);
        for (int i = 0; i < R; i++) {
            const vfloat av = splat(a[i * lda + kk]);
            for (int j = 0; j < V; j++) acc[i][j] += av * bv[j];
        }
    }
    for (int i = 0; i < R; i++) {
        for (int j = 0; j < V; j++) store(c + i * ldc + j * LANES, acc[i][j]);
    }
}

// C[rows x cols] (=, or += with ACC) A[rows x K] * B[K x cols], rows a multiple of ROWS, cols of LANES.
template <bool ACC>
void product(const float * a, int64_t lda, const float * b, int64_t ldb, float * c, int64_t ldc, int64_t rows, int64_t cols,
             int64_t K) {
    for (int64_t i = 0; i < rows; i += ROWS) {
        int64_t j = 0;
        for (; j + WIDE * LANES <= cols; j += WIDE * LANES) block<ROWS, WIDE, ACC>(a + i * lda, lda, b + j, ldb, c + i * ldc + j, ldc, K);
        for (; j < cols; j += LANES) block<ROWS, 1, ACC>(a + i * lda, lda, b + j, ldb, c + i * ldc + j, ldc, K);
    }
}

// Keys and values packed for the products, per (image, head) and per tile of KV_TILE keys: K^T [D x KV_TILE]
// then V [KV_TILE x Dp] (rows padded with zeros to Dp), keys past the end zero. Every query tile of the
// head then streams the same compact tiles, in order, instead of gathering D-float pieces of wide rows.
struct packing {
    int64_t D, Dp, tiles;
    int64_t tile_floats() const { return D * KV_TILE + KV_TILE * Dp; }
};

packing packing_of(int64_t width, int64_t heads, int64_t Tk) {
    const int64_t D = width / heads;
    return {D, (D + LANES - 1) / LANES * LANES, (Tk + KV_TILE - 1) / KV_TILE};
}

// A custom op's few integers travel in its userdata pointer (graphs are cached and re-run, so separate
// storage would need an owner as long as the graph lives): heads below 2^16, keys below 2^40.
void * pack_userdata(int64_t heads, int64_t Tk) {
    GGML_ASSERT(heads > 0 && heads < (1 << 16) && Tk > 0 && Tk < (int64_t(1) << 40));
    return reinterpret_cast<void *>((uintptr_t) ((uint64_t) heads | (uint64_t) Tk << 16));
}

void unpack_userdata(void * userdata, int64_t & heads, int64_t & Tk) {
    const uint64_t v = (uint64_t) reinterpret_cast<uintptr_t>(userdata);
    heads = (int64_t) (v & 0xffff);
    Tk = (int64_t) (v >> 16);
}

const float * row_of(const ggml_tensor * t, int64_t row, int64_t n, int64_t offset) {
    return (const float *) ((const char *) t->data + row * t->nb[1] + n * t->nb[2]) + offset;
}

void pack_kernel(ggml_tensor * dst, int ith, int nth, void * userdata) {
    int64_t heads, Tk;
    unpack_userdata(userdata, heads, Tk);
    const ggml_tensor * k = dst->src[0];
    const ggml_tensor * v = dst->src[1];
    const packing p = packing_of(k->ne[0], heads, Tk);
    const int64_t N = k->ne[2], units = N * heads * p.tiles;
    for (int64_t u = units * ith / nth; u < units * (ith + 1) / nth; u++) {
        const int64_t n = u / (heads * p.tiles), h = u / p.tiles % heads, tile = u % p.tiles;
        float * kt = (float *) ((char *) dst->data + tile * dst->nb[1] + h * dst->nb[2] + n * dst->nb[3]);
        float * vp = kt + p.D * KV_TILE;
        for (int64_t j = 0; j < KV_TILE; j++) {
            const int64_t key = tile * KV_TILE + j;
            float * vj = vp + j * p.Dp;
            if (key < Tk) {
                const float * kj = row_of(k, key, n, h * p.D);
                for (int64_t d = 0; d < p.D; d++) kt[d * KV_TILE + j] = kj[d];
                std::memcpy(vj, row_of(v, key, n, h * p.D), sizeof(float) * p.D);
                std::fill(vj + p.D, vj + p.Dp, 0.0f);
            } else {
                for (int64_t d = 0; d < p.D; d++) kt[d * KV_TILE + j] = 0.0f;
                std::fill(vj, vj + p.Dp, 0.0f);
            }
        }
    }
}

// One thread's scratch: the query tile and its running state.
struct query_tile {
    std::vector<float> memory;
    float *q, *s, *o, *max, *sum;

    void prepare(int64_t D, int64_t Dp) {
        const size_t need = (size_t) (Q_TILE * D + Q_TILE * KV_TILE + Q_TILE * Dp + 2 * Q_TILE);
        if (memory.size() < need) memory.resize(need);
        q = memory.data();         // [Q_TILE x D] the queries, scaled by 1/sqrt(D)
        s = q + Q_TILE * D;        // [Q_TILE x KV_TILE] scores, then softmax weights
        o = s + Q_TILE * KV_TILE;  // [Q_TILE x Dp] the unnormalised output
        max = o + Q_TILE * Dp;     // [Q_TILE] running maximum score
        sum = max + Q_TILE;        // [Q_TILE] running sum of e^(score - max)
    }
};

inline float horizontal_max(vfloat x) {
    float m = x[0];
    for (int l = 1; l < LANES; l++) m = std::max(m, x[l]);
    return m;
}

inline float horizontal_sum(vfloat x) {
    float s = 0.0f;
    for (int l = 0; l < LANES; l++) s += x[l];
    return s;
}

void attention_kernel(ggml_tensor * dst, int ith, int nth, void * userdata) {
    int64_t heads, Tk;
    unpack_userdata(userdata, heads, Tk);
    const ggml_tensor * q = dst->src[0];
    const ggml_tensor * kv = dst->src[1];
    const int64_t width = q->ne[0], Tq = q->ne[1], N = q->ne[2];
    const packing p = packing_of(width, heads, Tk);
    const int64_t D = p.D, Dp = p.Dp;
    const float scale = 1.0f / std::sqrt((float) D);
    const vfloat minus_infinity = splat(-std::numeric_limits<float>::infinity());
    const int64_t q_tiles = (Tq + Q_TILE - 1) / Q_TILE;
    const int64_t items = N * heads * q_tiles;
    thread_local query_tile t;
    t.prepare(D, Dp);

    // Contiguous runs of (image, head, query tile): a thread keeps one head's packed tiles warm.
    for (int64_t item = items * ith / nth; item < items * (ith + 1) / nth; item++) {
        const int64_t n = item / (heads * q_tiles), h = item / q_tiles % heads, q0 = item % q_tiles * Q_TILE;
        const int64_t rows = std::min(Q_TILE, Tq - q0), rows_p = (rows + ROWS - 1) / ROWS * ROWS;
        for (int64_t i = 0; i < rows_p; i++) {
            float * qi = t.q + i * D;
            if (i < rows) {
                const float * src = row_of(q, q0 + i, n, h * D);
                for (int64_t d = 0; d < D; d++) qi[d] = src[d] * scale;
            } else {
                std::fill(qi, qi + D, 0.0f);
            }
            t.max[i] = -std::numeric_limits<float>::infinity();
            t.sum[i] = 0.0f;
        }
        std::fill(t.o, t.o + rows_p * Dp, 0.0f);

        const char * head = (const char *) kv->data + h * kv->nb[2] + n * kv->nb[3];
        for (int64_t tile = 0; tile < p.tiles; tile++) {
            const float * kt = (const float *) (head + tile * kv->nb[1]);
            const float * vp = kt + D * KV_TILE;
            const int64_t cols = std::min(KV_TILE, Tk - tile * KV_TILE);
            product<false>(t.q, D, kt, KV_TILE, t.s, KV_TILE, rows_p, KV_TILE, D);

            // Online softmax: rescale what was accumulated under the old maximum, weights for this tile.
            for (int64_t i = 0; i < rows_p; i++) {
                float * si = t.s + i * KV_TILE;
                for (int64_t j = cols; j < KV_TILE; j++) si[j] = -std::numeric_limits<float>::infinity();  // keys past the end
                vfloat m = minus_infinity;
                for (int64_t j = 0; j < KV_TILE; j += LANES) {
                    const vfloat x = load(si + j);
                    m = x > m ? x : m;
                }
                const float new_max = std::max(t.max[i], horizontal_max(m));
                const float rescale = std::exp(t.max[i] - new_max);  // 0 for the first tile (e^-inf)
                vfloat total = splat(0.0f);
                for (int64_t j = 0; j < KV_TILE; j += LANES) {
                    const vfloat e = exp_nonpositive(load(si + j) - splat(new_max));
                    store(si + j, e);
                    total += e;
                }
                float tile_sum = horizontal_sum(total);
                for (int64_t j = cols; j < KV_TILE; j++) {  // keys past the end weigh exactly nothing
                    tile_sum -= si[j];
                    si[j] = 0.0f;
                }
                t.sum[i] = t.sum[i] * rescale + tile_sum;
                t.max[i] = new_max;
                if (rescale != 1.0f) {
                    float * oi = t.o + i * Dp;
                    for (int64_t d = 0; d < Dp; d += LANES) store(oi + d, load(oi + d) * splat(rescale));
                }
            }
            product<true>(t.s, KV_TILE, vp, Dp, t.o, Dp, rows_p, Dp, cols);
        }

        for (int64_t i = 0; i < rows; i++) {
            float * out = (float *) ((char *) dst->data + (q0 + i) * dst->nb[1] + n * dst->nb[2]) + h * D;
            const float inv = 1.0f / t.sum[i];
            const float * oi = t.o + i * Dp;
            for (int64_t d = 0; d < D; d++) out[d] = oi[d] * inv;
        }
    }
}

}  // namespace

ggml_tensor * attention_fused_cpu(ggml_context * g, ggml_tensor * q, ggml_tensor * k, ggml_tensor * v, int heads) {
    GGML_ASSERT(heads > 0 && q->ne[0] % heads == 0);
    GGML_ASSERT(k->ne[0] == q->ne[0] && v->ne[0] == q->ne[0] && k->ne[1] == v->ne[1]);
    GGML_ASSERT(k->ne[2] == q->ne[2] && v->ne[2] == q->ne[2] && q->ne[3] == 1 && k->ne[3] == 1 && v->ne[3] == 1);
    auto f32_rows = [g](ggml_tensor * t) {
        if (t->type != GGML_TYPE_F32) t = ggml_cast(g, t, GGML_TYPE_F32);
        return t->nb[0] == sizeof(float) ? t : ggml_cont(g, t);  // rows must be contiguous; any row stride will do
    };
    const int64_t Tk = k->ne[1], N = q->ne[2];
    const packing p = packing_of(q->ne[0], heads, Tk);
    void * userdata = pack_userdata(heads, Tk);
    ggml_tensor * kv_args[] = {f32_rows(k), f32_rows(v)};
    ggml_tensor * packed = ggml_custom_4d(g, GGML_TYPE_F32, p.tile_floats(), p.tiles, heads, N, kv_args, 2, pack_kernel, GGML_N_TASKS_MAX,
                                          userdata);
    ggml_tensor * args[] = {f32_rows(q), packed};
    return ggml_custom_4d(g, GGML_TYPE_F32, q->ne[0], q->ne[1], N, 1, args, 2, attention_kernel, GGML_N_TASKS_MAX, userdata);
}

}  // namespace ember
