#include "model_common.h"

#include "cpu_attention.h"
#include "cpu_ops.h"
#include "quantize.h"

#include "ggml-cpu.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#if defined(__linux__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace ember {

namespace {

std::string shape_string(const int64_t * shape, int n) {
    std::ostringstream s;
    s << "[";
    for (int i = 0; i < n; i++) s << (i ? ", " : "") << shape[i];
    s << "]";
    return s.str();
}

// EMBER_DTYPE_* of a tensor handed in -> its ggml type; GGML_TYPE_COUNT for an unknown code.
ggml_type source_type(int32_t dtype) {
    switch (dtype) {
        case EMBER_DTYPE_F32: return GGML_TYPE_F32;
        case EMBER_DTYPE_F16: return GGML_TYPE_F16;
        case EMBER_DTYPE_BF16: return GGML_TYPE_BF16;
        case EMBER_DTYPE_Q4_0: return GGML_TYPE_Q4_0;
        case EMBER_DTYPE_Q4_1: return GGML_TYPE_Q4_1;
        case EMBER_DTYPE_Q5_0: return GGML_TYPE_Q5_0;
        case EMBER_DTYPE_Q5_1: return GGML_TYPE_Q5_1;
        case EMBER_DTYPE_Q8_0: return GGML_TYPE_Q8_0;
        case EMBER_DTYPE_Q2_K: return GGML_TYPE_Q2_K;
        case EMBER_DTYPE_Q3_K: return GGML_TYPE_Q3_K;
        case EMBER_DTYPE_Q4_K: return GGML_TYPE_Q4_K;
        case EMBER_DTYPE_Q5_K: return GGML_TYPE_Q5_K;
        case EMBER_DTYPE_Q6_K: return GGML_TYPE_Q6_K;
        default: return GGML_TYPE_COUNT;
    }
}

// EMBER_WEIGHT_* (not AUTO) -> the ggml type it stores matrix weights in.
ggml_type weight_ggml_type(int32_t weight_type) {
    switch (weight_type) {
        case EMBER_WEIGHT_F32: return GGML_TYPE_F32;
        case EMBER_WEIGHT_F16: return GGML_TYPE_F16;
        case EMBER_WEIGHT_Q8_0: return GGML_TYPE_Q8_0;
        case EMBER_WEIGHT_Q4_0: return GGML_TYPE_Q4_0;
        case EMBER_WEIGHT_Q4_1: return GGML_TYPE_Q4_1;
        case EMBER_WEIGHT_Q5_0: return GGML_TYPE_Q5_0;
        case EMBER_WEIGHT_Q5_1: return GGML_TYPE_Q5_1;
        case EMBER_WEIGHT_Q2_K: return GGML_TYPE_Q2_K;
        case EMBER_WEIGHT_Q3_K: return GGML_TYPE_Q3_K;
        case EMBER_WEIGHT_Q4_K: return GGML_TYPE_Q4_K;
        case EMBER_WEIGHT_Q5_K: return GGML_TYPE_Q5_K;
        case EMBER_WEIGHT_Q6_K: return GGML_TYPE_Q6_K;
        case EMBER_WEIGHT_BF16: return GGML_TYPE_BF16;
        default: return GGML_TYPE_COUNT;
    }
}

// Source data as f32 (the one format every conversion below starts from); block types through ggml's
// own dequantisation, over the flattened elements.
void to_f32(const ember_tensor & t, int64_t n, std::vector<float> & out) {
    out.resize((size_t) n);
    const ggml_type type = source_type(t.dtype);
    switch (type) {
        case GGML_TYPE_F32: std::memcpy(out.data(), t.data, (size_t) n * sizeof(float)); break;
        case GGML_TYPE_F16: ggml_fp16_to_fp32_row((const ggml_fp16_t *) t.data, out.data(), n); break;
        case GGML_TYPE_BF16: ggml_bf16_to_fp32_row((const ggml_bf16_t *) t.data, out.data(), n); break;
        default: ggml_get_type_traits(type)->to_float(t.data, out.data(), n); break;
    }
}

// A matrix weight's stored type. AUTO keeps a block-quantised source as it is (when its rows split into
// whole blocks) and f32 or f16 otherwise; an explicit type applies where rows split into its blocks. The
// few rows that do not split stay f16.
ggml_type matrix_type_for(int32_t weight_type, ggml_type src, int64_t row_length) {
    ggml_type type;
    if (weight_type == EMBER_WEIGHT_AUTO) type = ggml_is_quantized(src) ? src : src == GGML_TYPE_F32 ? GGML_TYPE_F32 : GGML_TYPE_F16;
    else type = weight_ggml_type(weight_type);
    if (ggml_is_quantized(type) && row_length % ggml_blck_size(type) != 0) return GGML_TYPE_F16;
    return type;
}

// A lookup table's type (see tensor_spec): f32 only when the weights are f32.
ggml_type lookup_type_for(int32_t weight_type, ggml_type src) {
    if (weight_type == EMBER_WEIGHT_F32) return GGML_TYPE_F32;
    if (weight_type == EMBER_WEIGHT_AUTO && src == GGML_TYPE_F32) return GGML_TYPE_F32;
    return GGML_TYPE_F16;
}

// Low-memory mode: drop the pages of a source tensor from this process once it is copied. MADV_PAGEOUT
// keeps the contents (clean file pages are re-read on access, anonymous ones stay without swap), so
// it is safe on any memory the caller hands in; a mapped checkpoint then never becomes resident as a
// whole next to its copy. Only whole pages inside the tensor are touched.
void release_source(const void * data, size_t bytes) {
#if defined(__linux__) && defined(MADV_PAGEOUT)
    static const uintptr_t page = (uintptr_t) sysconf(_SC_PAGESIZE);
    uintptr_t begin = ((uintptr_t) data + page - 1) / page * page;
    uintptr_t end = ((uintptr_t) data + bytes) / page * page;
    if (end > begin) madvise((void *) begin, end - begin, MADV_PAGEOUT);  // advice only: failures change nothing
#else
    (void) data;
    (void) bytes;
#endif
}

// Whether a tensor can be used where the caller's data lies: same type as stored (f32, f16, bf16 or a
// block type), and aligned for the values read from it (ggml's CPU kernels load vectors unaligned but read
// scalars as typed values: floats, halves, and a block's f16 scales).
bool usable_in_place(const ember_tensor & src, const ggml_tensor * dst) {
    const ggml_type type = source_type(src.dtype);
    if (type != dst->type || (type != GGML_TYPE_F32 && type != GGML_TYPE_F16 && type != GGML_TYPE_BF16 && !ggml_is_quantized(type))) {
        return false;
    }
    const uintptr_t alignment = ggml_is_quantized(type) ? 2 : ggml_type_size(type);
    return (uintptr_t) src.data % alignment == 0;
}

// Writes `src` into `dst` converted to dst's type: the one conversion every stored weight goes through
// (load and replace), so a value becomes the same stored bits whichever way it arrives. `release`
// pages the source out afterwards (low-memory mode); f32 / bytes are scratch reused across calls.
void store_converted(ember_context * ctx, const ember_tensor & src, ggml_tensor * dst, bool release, std::vector<float> & f32,
                     std::vector<uint8_t> & converted) {
    const int64_t n = ggml_nelements(dst);
    const ggml_type src_type = source_type(src.dtype);
    const size_t src_bytes = ggml_row_size(src_type, n);
    if (dst->type == src_type) {
        // The same type: copied as it is. For a block type the rows hold whole blocks here (matrix_type_for),
        // so ggml's row layout is the flattened blocks handed in.
        ggml_backend_tensor_set(dst, src.data, 0, ggml_nbytes(dst));
    } else {
        to_f32(src, n, f32);
        if (dst->type == GGML_TYPE_F32) {
            ggml_backend_tensor_set(dst, f32.data(), 0, ggml_nbytes(dst));
        } else if (dst->type == GGML_TYPE_F16) {
            converted.resize(ggml_nbytes(dst));
            ggml_fp32_to_fp16_row(f32.data(), (ggml_fp16_t *) converted.data(), n);
            ggml_backend_tensor_set(dst, converted.data(), 0, ggml_nbytes(dst));
        } else if (dst->type == GGML_TYPE_BF16) {
            converted.resize(ggml_nbytes(dst));
            ggml_fp32_to_bf16_row_ref(f32.data(), (ggml_bf16_t *) converted.data(), n);  // round to nearest even
            ggml_backend_tensor_set(dst, converted.data(), 0, ggml_nbytes(dst));
        } else {
            converted.resize(ggml_nbytes(dst));
            if (dst->type == GGML_TYPE_Q8_0) {
                quantize_q8_0_searched(f32.data(), converted.data(), n / ggml_blck_size(GGML_TYPE_Q8_0), ctx->params.n_threads);
            } else {
                int64_t per_row = dst->ne[0];
                ggml_quantize_chunk(dst->type, f32.data(), converted.data(), 0, n / per_row, per_row, nullptr);
            }
            ggml_backend_tensor_set(dst, converted.data(), 0, ggml_nbytes(dst));
        }
    }
    if (release) release_source(src.data, src_bytes);
}

// Checks one source against the tensor it is meant for (shape in PyTorch order, dtype, data); on a
// mismatch records it on the context and returns its status (a wrong shape is the model's fault).
int32_t check_source(ember_context * ctx, const ember_tensor & t, const std::string & name, const int64_t * shape, int n_dims) {
    bool same = t.n_dims == n_dims;
    for (int d = 0; same && d < n_dims; d++) same = t.shape[d] == shape[d];
    if (!same) {
        return ctx->fail(EMBER_ERROR_MODEL, "tensor " + name + " has shape " + shape_string(t.shape, t.n_dims) + ", expected " +
                                                shape_string(shape, n_dims));
    }
    if (source_type(t.dtype) == GGML_TYPE_COUNT) {
        return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "tensor " + name + " has unknown dtype " + std::to_string(t.dtype));
    }
    if (t.data == nullptr) return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "tensor " + name + " has no data");
    return EMBER_OK;
}

}  // namespace

weight_store::~weight_store() {
    for (auto & [tensor, single] : singles_) {
        // Low-memory mode: the caller's pages this network read in place leave the process with it (a
        // network loaded per use would otherwise keep its file pages resident after it is freed).
        if (single.in_place && release_in_place_on_free_) {
            release_source(ggml_backend_buffer_get_base(single.buffer), ggml_backend_buffer_get_size(single.buffer));
        }
        ggml_backend_buffer_free(single.buffer);  // in place: frees the struct, not the memory
    }
    if (buffer_ != nullptr) ggml_backend_buffer_free(buffer_);
    if (meta_ != nullptr) ggml_free(meta_);
}

int32_t weight_store::place(ember_context * ctx, const ember_tensor & src, ggml_tensor * dst) {
    // A buffer over the caller's memory from the 32-byte aligned address at or below the data (ggml's
    // rule for a buffer's base) to its end; the tensor itself may start anywhere inside.
    constexpr uintptr_t base_alignment = 32;  // ggml's TENSOR_ALIGNMENT
    const uintptr_t data = (uintptr_t) src.data;
    const uintptr_t base = data / base_alignment * base_alignment;
    ggml_backend_buffer_t b = ggml_backend_cpu_buffer_from_ptr((void *) base, data - base + ggml_nbytes(dst));
    if (b == nullptr) return ctx->fail(EMBER_ERROR_OUT_OF_MEMORY, "cannot describe the weight " + std::string(dst->name));
    ggml_backend_buffer_set_usage(b, GGML_BACKEND_BUFFER_USAGE_WEIGHTS);
    auto old = singles_.find(dst);
    if (old != singles_.end()) {
        ggml_backend_buffer_free(old->second.buffer);
        singles_.erase(old);
    }
    dst->buffer = nullptr;
    dst->data = nullptr;
    singles_[dst] = {b, true};
    if (ggml_backend_tensor_alloc(b, dst, (void *) data) != GGML_STATUS_SUCCESS) {
        return ctx->fail(EMBER_ERROR_INTERNAL, "cannot place the weight " + std::string(dst->name));
    }
    return EMBER_OK;
}

int32_t weight_store::load(ember_context * ctx, const std::vector<tensor_spec> & specs, const ember_tensor * tensors,
                           int32_t n_tensors, int32_t weight_type) {
    if (weight_type != EMBER_WEIGHT_AUTO && weight_ggml_type(weight_type) == GGML_TYPE_COUNT) {
        return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "unknown weight type " + std::to_string(weight_type));
    }
    if (weight_type == EMBER_WEIGHT_BF16 && ctx->backend != ctx->cpu_backend) {
        // The convolutions' im2col has a bf16 output only in Ember's CPU kernel (cpu_ops.h).
        return ctx->fail(EMBER_ERROR_UNSUPPORTED, "bf16 weights run on the CPU only");
    }
    if (tensors == nullptr && n_tensors > 0) return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "tensor list is null");
    std::unordered_map<std::string, const ember_tensor *> by_name;
    for (int32_t i = 0; i < n_tensors; i++) {
        if (tensors[i].name == nullptr) return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "tensor " + std::to_string(i) + " has no name");
        by_name[tensors[i].name] = &tensors[i];
    }

    ggml_init_params params = {ggml_tensor_overhead() * (specs.size() + 1), nullptr, true};
    meta_ = ggml_init(params);
    if (meta_ == nullptr) return ctx->fail(EMBER_ERROR_OUT_OF_MEMORY, "cannot allocate weight metadata");

    std::vector<std::pair<const ember_tensor *, ggml_tensor *>> todo;
    for (const tensor_spec & spec : specs) {
        auto it = by_name.find(spec.name);
        if (it == by_name.end()) return ctx->fail(EMBER_ERROR_MODEL, "missing tensor " + spec.name);
        const ember_tensor & t = *it->second;
        int32_t checked = check_source(ctx, t, spec.name, spec.shape.data(), (int) spec.shape.size());
        if (checked != EMBER_OK) return checked;
        const ggml_type src = source_type(t.dtype);
        int64_t ne[4] = {1, 1, 1, 1};
        int n = (int) spec.shape.size();
        for (int d = 0; d < n; d++) ne[d] = spec.shape[n - 1 - d];  // ggml is innermost-first
        if ((ne[0] * ne[1] * ne[2] * ne[3]) % ggml_blck_size(src) != 0) {
            return ctx->fail(EMBER_ERROR_MODEL, "tensor " + spec.name + " has " + std::to_string(ne[0] * ne[1] * ne[2] * ne[3]) +
                                                    " elements, not a whole number of " + ggml_type_name(src) + " blocks");
        }
        const bool matrix = spec.role == tensor_role::matrix || spec.role == tensor_role::attention_matrix;
        // A convolution kernel is multiplied as rows of KW*KH*IC; ne[0] (KW: 1 or 3) never holds whole blocks,
        // and the convolution reads f32 or f16 only: quantised kernels (handed in or asked for) become f16.
        ggml_type type = matrix                                 ? matrix_type_for(weight_type, src, ne[0])
                         : spec.role == tensor_role::lookup_table ? lookup_type_for(weight_type, src)
                                                                  : GGML_TYPE_F32;
        if (matrix && n == 4 && ggml_is_quantized(type)) type = GGML_TYPE_F16;
        // Ember never block-quantises an attention projection itself (see tensor_role); one handed in
        // quantised (AUTO, or the very type asked for) is kept as it is.
        if (spec.role == tensor_role::attention_matrix && ggml_is_quantized(type) && type != src) type = GGML_TYPE_F16;
        ggml_tensor * w = ggml_new_tensor(meta_, type, n, ne);
        ggml_set_name(w, spec.name.c_str());
        tensors_[spec.name] = w;
        todo.emplace_back(&t, w);
        n_parameters_ += ggml_nelements(w);
    }
    matrix_type_ = weight_type == EMBER_WEIGHT_AUTO ? -1 : weight_type;

    // In place (CPU only): each such tensor gets a buffer over the caller's memory (place()). Those
    // tensors then have data, so the allocation below skips them.
    in_place_ = ctx->params.weights_in_place != 0 && ctx->backend == ctx->cpu_backend;
    release_in_place_on_free_ = in_place_ && ctx->params.low_memory != 0;
    size_t n_copied = 0;
    std::vector<bool> placed(todo.size(), false);
    for (size_t i = 0; i < todo.size(); i++) {
        const ember_tensor * src = todo[i].first;
        ggml_tensor * dst = todo[i].second;
        bytes_ += ggml_nbytes(dst);
        if (!in_place_ || !usable_in_place(*src, dst)) {
            n_copied++;
            continue;
        }
        placed[i] = true;
        int32_t status = place(ctx, *src, dst);
        if (status != EMBER_OK) return status;
    }
    if (n_copied > 0) {
        buffer_ = ggml_backend_alloc_ctx_tensors(meta_, ctx->backend);
        if (buffer_ == nullptr) return ctx->fail(EMBER_ERROR_OUT_OF_MEMORY, "cannot allocate weight buffer on the device");
        ggml_backend_buffer_set_usage(buffer_, GGML_BACKEND_BUFFER_USAGE_WEIGHTS);
    }

    std::vector<float> f32;
    std::vector<uint8_t> converted;
    const bool release = ctx->params.low_memory != 0;
    for (size_t i = 0; i < todo.size(); i++) {
        if (placed[i]) continue;  // used in place: nothing to copy, and never paged out
        store_converted(ctx, *todo[i].first, todo[i].second, release, f32, converted);
    }
    if (release) {
        // The conversion scratch can be as large as the token embedding in f32: give it back now.
        std::vector<float>().swap(f32);
        std::vector<uint8_t>().swap(converted);
    }
    if (matrix_type_ < 0) {
        // AUTO: report what the matrix weights became: the first block-quantised one (a quantised file's
        // rows that do not split into its blocks, and all conv kernels, are f16), else the first one.
        matrix_type_ = -1;
        for (const tensor_spec & spec : specs) {
            const bool matrix = spec.role == tensor_role::matrix || spec.role == tensor_role::attention_matrix;
            if (matrix && ggml_is_quantized(tensors_[spec.name]->type)) {
                matrix_type_ = weight_code(tensors_[spec.name]->type);
                break;
            }
        }
        for (const tensor_spec & spec : specs) {
            if (matrix_type_ < 0 && spec.role == tensor_role::matrix) matrix_type_ = weight_code(tensors_[spec.name]->type);
        }
        if (matrix_type_ < 0) matrix_type_ = EMBER_WEIGHT_F32;
    }
    return EMBER_OK;
}

int32_t weight_code(ggml_type type) {
    for (int32_t code = EMBER_WEIGHT_F32; code <= EMBER_WEIGHT_BF16; code++) {
        if (weight_ggml_type(code) == type) return code;
    }
    return -1;
}

int32_t weight_store::replace(ember_context * ctx, const ember_tensor * tensors, int32_t n_tensors) {
    if (n_tensors < 0 || (tensors == nullptr && n_tensors > 0)) return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "bad tensor list");
    std::vector<ggml_tensor *> targets((size_t) n_tensors);
    for (int32_t i = 0; i < n_tensors; i++) {
        const ember_tensor & t = tensors[i];
        if (t.name == nullptr) return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "tensor " + std::to_string(i) + " has no name");
        ggml_tensor * dst = get(t.name);
        if (dst == nullptr) return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, std::string("no weight ") + t.name + " to replace");
        int64_t shape[4];
        const int n = ggml_n_dims(dst) < t.n_dims ? t.n_dims : ggml_n_dims(dst);  // trailing 1s: use the source's rank
        for (int d = 0; d < n && d < 4; d++) shape[d] = dst->ne[n - 1 - d];
        int32_t checked = check_source(ctx, t, t.name, shape, n);
        if (checked != EMBER_OK) return checked;
        targets[(size_t) i] = dst;
    }
    std::vector<float> f32;
    std::vector<uint8_t> converted;
    const bool release = ctx->params.low_memory != 0;
    for (int32_t i = 0; i < n_tensors; i++) {
        const ember_tensor & src = tensors[i];
        ggml_tensor * dst = targets[(size_t) i];
        auto single = singles_.find(dst);
        if (single == singles_.end()) {
            // In the shared buffer of copies: write over it (also when the new source could be used in place).
            store_converted(ctx, src, dst, release, f32, converted);
            continue;
        }
        if (in_place_ && usable_in_place(src, dst)) {
            int32_t status = place(ctx, src, dst);
            if (status != EMBER_OK) return status;
            continue;
        }
        if (single->second.in_place) {
            // Used in place until now: give it memory of its own to hold the converted values.
            ggml_backend_buffer_t own = ggml_backend_alloc_buffer(ctx->backend, ggml_nbytes(dst));
            if (own == nullptr) return ctx->fail(EMBER_ERROR_OUT_OF_MEMORY, "cannot allocate memory for the weight " + std::string(dst->name));
            ggml_backend_buffer_set_usage(own, GGML_BACKEND_BUFFER_USAGE_WEIGHTS);
            ggml_backend_buffer_free(single->second.buffer);
            single->second = {own, false};
            dst->buffer = nullptr;
            dst->data = nullptr;
            if (ggml_backend_tensor_alloc(own, dst, ggml_backend_buffer_get_base(own)) != GGML_STATUS_SUCCESS) {
                return ctx->fail(EMBER_ERROR_INTERNAL, "cannot place the weight " + std::string(dst->name));
            }
        }
        store_converted(ctx, src, dst, release, f32, converted);
    }
    return EMBER_OK;
}

ggml_tensor * weight_store::get(const std::string & name) const {
    auto it = tensors_.find(name);
    return it == tensors_.end() ? nullptr : it->second;
}

ggml_tensor * weight_store::require(const std::string & name) const {
    ggml_tensor * t = get(name);
    if (t == nullptr) GGML_ABORT("ember: graph asks for tensor %s that the network's spec list lacks", name.c_str());
    return t;
}

// ---- graphs -----------------------------------------------------------------------------------------

namespace {

// EMBER_PROFILE=1: time every node of every graph run (node by node, so a little slower than a normal
// run) and print a summary per op kind to stderr. A development aid for `ember bench`; off by default.
struct op_profile {
    struct entry {
        double seconds = 0;
        double flops = 0;
        int64_t count = 0;
    };
    std::map<std::string, entry> by_kind;
    std::chrono::steady_clock::time_point last;

    static std::string kind(const ggml_tensor * t) {
        std::string k = ggml_op_desc(t);
        if (t->op == GGML_OP_MUL_MAT && t->src[0] && t->src[1]) {
            k += std::string(" ") + ggml_type_name(t->src[0]->type) + "x" + ggml_type_name(t->src[1]->type);
        }
        return k;
    }

    static bool callback(ggml_tensor * t, bool ask, void * user) {
        auto * p = (op_profile *) user;
        if (ask) return true;  // observe every node
        auto now = std::chrono::steady_clock::now();
        entry & e = p->by_kind[kind(t)];
        e.seconds += std::chrono::duration<double>(now - p->last).count();
        e.count++;
        if (t->op == GGML_OP_MUL_MAT) e.flops += 2.0 * (double) t->src[0]->ne[0] * (double) ggml_nelements(t);
        p->last = std::chrono::steady_clock::now();
        return true;
    }

    void print() const {
        std::vector<std::pair<std::string, entry>> rows(by_kind.begin(), by_kind.end());
        std::sort(rows.begin(), rows.end(), [](const auto & a, const auto & b) { return a.second.seconds > b.second.seconds; });
        double total = 0;
        for (const auto & r : rows) total += r.second.seconds;
        std::fprintf(stderr, "ember profile: %.3f s in %zu op kinds\n", total, rows.size());
        for (const auto & [k, e] : rows) {
            if (e.seconds < 0.001 * total) continue;
            std::fprintf(stderr, "  %-28s %8.3f s %5.1f%% %6lld calls", k.c_str(), e.seconds, 100 * e.seconds / total, (long long) e.count);
            if (e.flops > 0) std::fprintf(stderr, " %8.1f GFLOP %7.1f GFLOP/s", e.flops / 1e9, e.flops / e.seconds / 1e9);
            std::fprintf(stderr, "\n");
        }
    }
};

// ggml's BLAS backend takes every large product whose activations are f32, and converts an f16 weight
// to f32 on every call: for the UNet's and text encoder's f16 weights that costs more than the product
// (UNet step at 256 x 256: 7.9-8.6 s with, 4.7-4.8 s without; docs/performance.md). The scheduler
// moves products to the higher-priority BLAS backend whatever node assignment we make, so instead the
// activations of f16-weight products are cast to f16 in the graph: BLAS declines those (it needs f32
// activations) and the CPU backend runs them with llamafile's f16 kernel, exactly as it would have
// (ggml's f16 product rounds the activations to f16 itself). BLAS keeps the f32 x f32 products.
void route_f16_products_to_cpu(ggml_context * g, ggml_tensor * root) {
    std::vector<ggml_tensor *> stack = {root};
    std::unordered_map<ggml_tensor *, bool> seen;
    while (!stack.empty()) {
        ggml_tensor * t = stack.back();
        stack.pop_back();
        if (t == nullptr || seen[t]) continue;
        seen[t] = true;
        const ggml_type weight = t->op == GGML_OP_MUL_MAT ? t->src[0]->type : GGML_TYPE_F32;
        if ((weight == GGML_TYPE_F16 || weight == GGML_TYPE_BF16) && t->src[1]->type == GGML_TYPE_F32) {
            t->src[1] = ggml_cast(g, t->src[1], weight);
        }
        for (ggml_tensor * src : t->src) {
            if (src != nullptr) stack.push_back(src);
        }
        if (t->view_src != nullptr) stack.push_back(t->view_src);
    }
}

// EMBER_CPU_ATTENTION=ggml: fused attention on the CPU through ggml_flash_attn_ext instead of Ember's kernel
// (a diagnostic, for measuring one against the other; docs/performance.md).
bool ggml_attention_on_cpu() {
    static const bool on = [] {
        const char * v = std::getenv("EMBER_CPU_ATTENTION");
        return v != nullptr && std::strcmp(v, "ggml") == 0;
    }();
    return on;
}

bool profiling() {
    static const bool on = [] {
        const char * v = std::getenv("EMBER_PROFILE");
        return v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0;
    }();
    return on;
}

}  // namespace

built_graph::~built_graph() {
    if (ctx != nullptr) ggml_free(ctx);
}

graph_runner::~graph_runner() {
    graphs_.clear();
    if (sched_ != nullptr) ggml_backend_sched_free(sched_);
}

int32_t graph_runner::ensure_sched() {
    if (sched_ != nullptr) return EMBER_OK;
    std::vector<ggml_backend_t> backends = ctx_->compute_backends();
    sched_ = ggml_backend_sched_new(backends.data(), nullptr, (int) backends.size(), MAX_GRAPH_NODES, false, true);
    if (sched_ == nullptr) return ctx_->fail(EMBER_ERROR_BACKEND, "cannot create the graph scheduler");
    return EMBER_OK;
}

int32_t graph_runner::prepare(const std::vector<int64_t> & key, const builder & build, built_graph ** out) {
    *out = nullptr;
    auto it = graphs_.find(key);
    if (it != graphs_.end()) {
        *out = it->second.get();
        return EMBER_OK;
    }
    int32_t status = ensure_sched();
    if (status != EMBER_OK) return status;
    auto g = std::make_unique<built_graph>();
    ggml_init_params params = {ggml_tensor_overhead() * MAX_GRAPH_NODES + ggml_graph_overhead_custom(MAX_GRAPH_NODES, false),
                               nullptr, true};
    g->ctx = ggml_init(params);
    if (g->ctx == nullptr) return ctx_->fail(EMBER_ERROR_OUT_OF_MEMORY, "cannot allocate graph metadata");
    g->graph = ggml_new_graph_custom(g->ctx, MAX_GRAPH_NODES, false);
    build(g->ctx, *g);
    if (g->output == nullptr) return ctx_->fail(EMBER_ERROR_INTERNAL, "graph builder set no output");
    if (g->output->type != GGML_TYPE_F32 || !ggml_is_contiguous(g->output)) {
        g->output = ggml_cont(g->ctx, ggml_cast(g->ctx, g->output, GGML_TYPE_F32));
    }
    if (ctx_->blas_backend != nullptr) route_f16_products_to_cpu(g->ctx, g->output);
    ggml_set_output(g->output);
    ggml_build_forward_expand(g->graph, g->output);
    ggml_backend_sched_reset(sched_);
    if (!ggml_backend_sched_reserve(sched_, g->graph)) {
        return ctx_->fail(EMBER_ERROR_OUT_OF_MEMORY, "cannot reserve compute memory for the graph");
    }
    uint64_t total = 0;
    for (ggml_backend_t b : ctx_->compute_backends()) total += ggml_backend_sched_get_buffer_size(sched_, b);
    if (total > max_compute_bytes_) max_compute_bytes_ = total;
    *out = g.get();
    graphs_.emplace(key, std::move(g));
    return EMBER_OK;
}

int32_t graph_runner::run(built_graph & g, const std::vector<std::pair<std::string, const void *>> & inputs, float * out) {
    // A cached graph keeps the addresses its last allocation gave its tensors, and ggml's allocator
    // leaves tensors that already have an address alone. Once another graph ran on this scheduler
    // its compute buffer may have been reallocated, so those addresses can dangle: forget them all
    // (weights live in their own context and are not touched).
    for (ggml_tensor * t = ggml_get_first_tensor(g.ctx); t != nullptr; t = ggml_get_next_tensor(g.ctx, t)) {
        t->data = nullptr;
        t->buffer = nullptr;
    }
    int32_t ready = ensure_sched();  // low-memory mode frees it after every run
    if (ready != EMBER_OK) return ready;
    ggml_backend_sched_reset(sched_);
    if (!ggml_backend_sched_alloc_graph(sched_, g.graph)) {
        return ctx_->fail(EMBER_ERROR_OUT_OF_MEMORY, "cannot allocate the graph's compute memory");
    }
    for (const auto & [name, data] : inputs) {
        auto it = g.inputs.find(name);
        if (it == g.inputs.end()) return ctx_->fail(EMBER_ERROR_INTERNAL, "graph has no input " + name);
        ggml_tensor * t = it->second;
        if (t->buffer == nullptr) continue;  // an input the graph does not use
        ggml_backend_tensor_set(t, data, 0, ggml_nbytes(t));
    }
    ctx_->apply_threads();
    op_profile profile;
    if (profiling()) {
        profile.last = std::chrono::steady_clock::now();
        ggml_backend_sched_set_eval_callback(sched_, op_profile::callback, &profile);
    }
    ggml_status status = ggml_backend_sched_graph_compute(sched_, g.graph);
    if (profiling()) {
        ggml_backend_sched_set_eval_callback(sched_, nullptr, nullptr);
        profile.print();
    }
    if (status != GGML_STATUS_SUCCESS) {
        return ctx_->fail(EMBER_ERROR_BACKEND, std::string("graph compute failed: ") + ggml_status_to_string(status));
    }
    ggml_backend_tensor_get(g.output, out, 0, ggml_nbytes(g.output));
    if (ctx_->params.low_memory) {
        // Give the compute buffers back; the next run makes a new scheduler (graphs stay built).
        ggml_backend_sched_free(sched_);
        sched_ = nullptr;
    }
    return EMBER_OK;
}

uint64_t graph_runner::compute_bytes() const { return max_compute_bytes_; }

void fill_stats(const weight_store & weights, const graph_runner & runner, int32_t weight_type, ember_model_stats * out) {
    out->weight_bytes = weights.bytes();
    out->compute_bytes = runner.compute_bytes();
    out->n_parameters = weights.n_parameters();
    out->weight_type = weight_type;
    out->n_graphs = runner.n_graphs();
}

int32_t check_image_call(ember_context * ctx, const char * network, bool encode, bool has_part, const float * in, const float * out,
                         int32_t batch, int32_t height, int32_t width, int64_t factor) {
    const std::string what = encode ? "encode" : "decode";
    if (!has_part) {
        return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "cannot " + what + ": this " + network + " was created without its " +
                                                           (encode ? "encoder" : "decoder"));
    }
    if (in == nullptr || out == nullptr) return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, what + ": null buffer");
    if (batch <= 0 || height <= 0 || width <= 0) {
        return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, what + ": batch, height and width must be positive, got " + std::to_string(batch) +
                                                           " x " + std::to_string(height) + " x " + std::to_string(width));
    }
    if (encode && (height % factor != 0 || width % factor != 0)) {
        return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, what + ": image size " + std::to_string(height) + " x " + std::to_string(width) +
                                                           " is not a multiple of the " + network + "'s downscale factor " +
                                                           std::to_string(factor));
    }
    if (!encode && ((int64_t) height * factor > (1 << 20) || (int64_t) width * factor > (1 << 20))) {
        return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, what + ": latent size too large");
    }
    return EMBER_OK;
}

// ---- layers -----------------------------------------------------------------------------------------

ggml_tensor * linear(ggml_context * g, ggml_tensor * x, ggml_tensor * w, ggml_tensor * b) {
    ggml_tensor * y = ggml_mul_mat(g, w, x);
    return b != nullptr ? ggml_add(g, y, b) : y;
}

bool use_flash_attention(const ember_context * ctx, int32_t matrix_weight_type) {
    const int32_t setting = ctx->params.flash_attention;
    return setting == EMBER_FLASH_ATTENTION_AUTO ? matrix_weight_type != EMBER_WEIGHT_F32 : setting != 0;
}

ggml_tensor * conv2d(ggml_context * g, ggml_tensor * x, ggml_tensor * w, ggml_tensor * b, int stride, int pad, bool cpu_ops) {
    const int64_t kw = w->ne[0], kh = w->ne[1], ic = w->ne[2], oc = w->ne[3];
    const int64_t n = x->ne[3];
    // The im2col is the first operand and the kernel the second, so the product comes out as
    // [OW*OH*N, OC]: the image layout, no transposing copy. The im2col's element type is the one the
    // CPU product would convert it to anyway (f16 for an f16 kernel, whose product rounds activations
    // to f16; f32 otherwise), so no element is rounded twice and there is no conversion pass.
    // bf16 kernels (CPU only, weight_store::load) take a bf16 im2col the same way.
    GGML_ASSERT(w->type == GGML_TYPE_F32 || w->type == GGML_TYPE_F16 || (w->type == GGML_TYPE_BF16 && cpu_ops && kw == kh));
    const ggml_type cols_type = w->type;
    ggml_tensor * cols;  // [KW*KH*IC, OW, OH, N]
    if (cpu_ops && kw == kh) {
        const int64_t out_h = (x->ne[1] + 2 * pad - kh) / stride + 1;
        cols = im2col_rows(g, ggml_is_contiguous(x) ? x : ggml_cont(g, x), (int) kw, stride, pad, 0, n, 0, out_h, cols_type);
    } else {
        cols = ggml_im2col(g, w, x, stride, stride, pad, pad, 1, 1, true, cols_type);
    }
    const int64_t ow = cols->ne[1], oh = cols->ne[2];
    ggml_tensor * cols2d = ggml_reshape_2d(g, cols, cols->ne[0], ow * oh * n);
    ggml_tensor * w2d = ggml_reshape_2d(g, w, kw * kh * ic, oc);
    ggml_tensor * y = ggml_mul_mat(g, cols2d, w2d);  // [OW*OH*N, OC]
    // [OW, OH, N, OC] -> [OW, OH, OC, N]: a view for N > 1; the bias add (or cont) writes it densely.
    y = n == 1 ? ggml_reshape_4d(g, y, ow, oh, oc, 1) : ggml_permute(g, ggml_reshape_4d(g, y, ow, oh, n, oc), 0, 1, 3, 2);
    if (b != nullptr) return ggml_add(g, y, ggml_reshape_4d(g, b, 1, 1, oc, 1));
    return n == 1 ? y : ggml_cont(g, y);
}

ggml_tensor * group_norm(ggml_context * g, ggml_tensor * x, int groups, float eps, ggml_tensor * w, ggml_tensor * b) {
    ggml_tensor * y = ggml_group_norm(g, x, groups, eps);
    const int64_t c = x->ne[2];
    if (w != nullptr) y = ggml_mul(g, y, ggml_reshape_4d(g, w, 1, 1, c, 1));
    if (b != nullptr) y = ggml_add(g, y, ggml_reshape_4d(g, b, 1, 1, c, 1));
    return y;
}

ggml_tensor * layer_norm(ggml_context * g, ggml_tensor * x, float eps, ggml_tensor * w, ggml_tensor * b) {
    ggml_tensor * y = ggml_norm(g, x, eps);
    if (w != nullptr) y = ggml_mul(g, y, w);
    if (b != nullptr) y = ggml_add(g, y, b);
    return y;
}

ggml_tensor * gelu(ggml_context * g, ggml_tensor * x) { return ggml_gelu_erf(g, x); }

ggml_tensor * quick_gelu(ggml_context * g, ggml_tensor * x) {
    return ggml_mul(g, x, ggml_sigmoid(g, ggml_scale(g, x, 1.702f)));
}

ggml_tensor * attention(ggml_context * g, ggml_tensor * q, ggml_tensor * k, ggml_tensor * v, int heads, bool causal,
                        bool flash, bool cpu_ops) {
    if (flash && !causal && cpu_ops && !ggml_attention_on_cpu()) return attention_fused_cpu(g, q, k, v, heads);
    const int64_t width = q->ne[0], tq = q->ne[1], tk = k->ne[1], n = q->ne[2];
    const int64_t d = width / heads;
    const float scale = 1.0f / std::sqrt((float) d);
    ggml_tensor * qh = ggml_permute(g, ggml_reshape_4d(g, q, d, heads, tq, n), 0, 2, 1, 3);  // [d, Tq, H, N]
    ggml_tensor * kh = ggml_permute(g, ggml_reshape_4d(g, k, d, heads, tk, n), 0, 2, 1, 3);  // [d, Tk, H, N]
    if (flash && !causal) {
        ggml_tensor * vh = ggml_permute(g, ggml_reshape_4d(g, v, d, heads, tk, n), 0, 2, 1, 3);
        ggml_tensor * o = ggml_flash_attn_ext(g, qh, ggml_cast(g, kh, GGML_TYPE_F16), ggml_cast(g, vh, GGML_TYPE_F16),
                                              nullptr, scale, 0.0f, 0.0f);
        ggml_flash_attn_ext_set_prec(o, GGML_PREC_F32);
        return ggml_reshape_3d(g, o, width, tq, n);  // result is [d, H, Tq, N]
    }
    // A contiguous q lets ggml's CPU product take its blocked (llamafile) kernel; on a strided view it
    // falls back to one dot product per output (~10x slower). k may stay a view: only rows must be dense.
    ggml_tensor * kq = ggml_mul_mat(g, kh, ggml_cont(g, qh));  // [Tk, Tq, H, N]
    if (causal) {
        kq = ggml_diag_mask_inf(g, ggml_scale(g, kq, scale), 0);
        kq = ggml_soft_max(g, kq);
    } else {
        kq = ggml_soft_max_ext(g, kq, nullptr, scale, 0.0f);  // softmax(scale * kq), one pass
    }
    ggml_tensor * vt = ggml_cont(g, ggml_permute(g, ggml_reshape_4d(g, v, d, heads, tk, n), 1, 2, 0, 3));  // [Tk, d, H, N]
    ggml_tensor * o = ggml_mul_mat(g, vt, kq);                                                              // [d, Tq, H, N]
    o = ggml_cont(g, ggml_permute(g, o, 0, 2, 1, 3));                                                       // [d, H, Tq, N]
    return ggml_reshape_3d(g, o, width, tq, n);
}

}  // namespace ember
