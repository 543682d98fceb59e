// Internal: what every network shares. Weights loaded from the caller's ember_tensor list into a
// backend buffer (converted to the chosen weight type), a graph cache keyed by input shape run
// through a ggml_backend_sched, and the layer helpers the graphs are written with.
#pragma once

#include "context.h"

#include "ggml.h"
#include "ggml-alloc.h"
#include "ggml-backend.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace ember {

// ---- weights ---------------------------------------------------------------------------------------

// What a network expects of one tensor: name, PyTorch-order shape, and its role, which decides the
// type it is stored in (weight_store::load):
//   matrix            a linear or conv kernel: the chosen weight type.
//   attention_matrix  an attention projection (q, k, v, out): the chosen type, but f16 where that is
//                     a block-quantised one. Rounding these moves every softmax weight: on the tiny
//                     networks they carry two thirds of q8_0's output error (docs/design.md).
//   lookup_table      a token embedding, read by ggml_get_rows and never multiplied: f16 unless the
//                     weights are f32 (gathering f16 rows into f32 is exact; CLIP's table is 49408 x
//                     768, 152 MB in f32).
//   plain             biases, norms, small embeddings: f32.
enum class tensor_role { plain, matrix, attention_matrix, lookup_table };

struct tensor_spec {
    std::string name;
    std::vector<int64_t> shape;
    tensor_role role = tensor_role::plain;
};

class weight_store {
public:
    weight_store() = default;
    weight_store(const weight_store &) = delete;
    weight_store & operator=(const weight_store &) = delete;
    ~weight_store();

    // Copies every spec'd tensor out of `tensors` (matched by name, shape checked) into one buffer of
    // the context's device. Extra tensors in the list are ignored. Fails naming the first missing or
    // mis-shaped tensor. With the context's weights_in_place on the CPU, a tensor whose source data
    // already has its stored type (and is aligned to its element size) is not copied: it gets a
    // buffer of its own over the caller's memory, which must then outlive this store.
    int32_t load(ember_context * ctx, const std::vector<tensor_spec> & specs, const ember_tensor * tensors,
                 int32_t n_tensors, int32_t weight_type);

    // Replaces the values of loaded tensors (LoRA-merged weights, or the originals back): each must be
    // one of the specs, with its shape, and is converted to the type it is stored in exactly as load()
    // converts (same rounding, same quantisation), so replacing a tensor gives what loading those values
    // would have given. The sources follow load()'s rules: with weights in place on the CPU, one that
    // already has the stored type is used where it lies (valid until this tensor is replaced again or
    // the store ends); otherwise the values are copied into the store's memory. Checks every entry
    // before changing anything. Not thread-safe with a running graph (the caller serializes).
    int32_t replace(ember_context * ctx, const ember_tensor * tensors, int32_t n_tensors);

    // The loaded tensor, or nullptr if the name was not among the specs.
    ggml_tensor * get(const std::string & name) const;
    ggml_tensor * operator()(const std::string & name) const { return require(name); }
    ggml_tensor * require(const std::string & name) const;  // aborts the graph build if absent (a bug)
    bool has(const std::string & name) const { return tensors_.count(name) != 0; }

    // Bytes of all the stored weights, those used in place included (the same in both modes).
    uint64_t bytes() const { return bytes_; }
    int64_t n_parameters() const { return n_parameters_; }
    int32_t matrix_type() const { return matrix_type_; }

private:
    ggml_context * meta_ = nullptr;
    // A buffer of one tensor: over the caller's memory (used in place), or owned (a replaced tensor's copy).
    struct single_buffer {
        ggml_backend_buffer_t buffer = nullptr;
        bool in_place = false;
    };

    // Points `dst` at the caller's data (load()'s in-place rule); replaces its single buffer, if any.
    int32_t place(ember_context * ctx, const ember_tensor & src, ggml_tensor * dst);

    ggml_backend_buffer_t buffer_ = nullptr;                          // the copied tensors (null if none)
    std::unordered_map<ggml_tensor *, single_buffer> singles_;        // tensors with a buffer of their own
    bool in_place_ = false;                  // weights in place on the CPU (the context's setting)
    bool release_in_place_on_free_ = false;  // low-memory mode: page the caller's memory out when freed
    std::unordered_map<std::string, ggml_tensor *> tensors_;
    uint64_t bytes_ = 0;
    int64_t n_parameters_ = 0;
    int32_t matrix_type_ = EMBER_WEIGHT_F32;
};

// The EMBER_WEIGHT_* code of a stored type (f32, f16, a block type), or -1 if it has none.
int32_t weight_code(ggml_type type);

// ---- graphs ---------------------------------------------------------------------------------------

// One built graph: its own metadata context, the graph, and named inputs/output.
struct built_graph {
    ggml_context * ctx = nullptr;
    ggml_cgraph * graph = nullptr;
    std::unordered_map<std::string, ggml_tensor *> inputs;
    ggml_tensor * output = nullptr;
    ~built_graph();
};

// Builds graphs once per shape key and runs them. Threads and backends come from the context.
class graph_runner {
public:
    using builder = std::function<void(ggml_context *, built_graph &)>;

    explicit graph_runner(ember_context * ctx) : ctx_(ctx) {}
    graph_runner(const graph_runner &) = delete;
    graph_runner & operator=(const graph_runner &) = delete;
    ~graph_runner();

    // Finds or builds the graph for `key`, reserving compute memory the first time.
    int32_t prepare(const std::vector<int64_t> & key, const builder & build, built_graph ** out);
    // Allocates `g`, copies inputs (name -> host data), computes, copies the output to `out`.
    int32_t run(built_graph & g, const std::vector<std::pair<std::string, const void *>> & inputs, float * out);

    uint64_t compute_bytes() const;
    int32_t n_graphs() const { return (int32_t) graphs_.size(); }

private:
    int32_t ensure_sched();

    ember_context * ctx_;
    ggml_backend_sched_t sched_ = nullptr;
    std::map<std::vector<int64_t>, std::unique_ptr<built_graph>> graphs_;
    uint64_t max_compute_bytes_ = 0;
};

// The ember_*_stats answer every network gives: its weights, its runner, the weight type it reports.
void fill_stats(const weight_store & weights, const graph_runner & runner, int32_t weight_type, ember_model_stats * out);

// The checks an image network's encode / decode makes before building its graph: the half exists
// (`has_part`), buffers are there, sizes are positive, an image is a multiple of the downscale factor
// and a latent's image stays within 2^20 pixels a side. Records the failure on the context.
// `network` names it in messages ("VAE", "TAESD").
int32_t check_image_call(ember_context * ctx, const char * network, bool encode, bool has_part, const float * in, const float * out,
                         int32_t batch, int32_t height, int32_t width, int64_t factor);

// Graph size limit for one network's graph (UNet at SD size has ~10k nodes).
constexpr size_t MAX_GRAPH_NODES = 32768;

// ---- layers (shapes are ggml's: ne[0] innermost; images are [W, H, C, N]) ------------------------

// x [in, ...] -> [out, ...]; w [in, out] in ggml terms (PyTorch [out, in]); b may be null.
ggml_tensor * linear(ggml_context * g, ggml_tensor * x, ggml_tensor * w, ggml_tensor * b);
// 2-D convolution as im2col x kernel, the product landing in image layout (no transposing copy). The
// im2col is f32 for f32 kernels (exact; ggml_conv_2d's f16 im2col would cost ~1e-3 relative error) and
// f16 for f16 kernels (the values ggml's f16 product would round the activations to anyway).
// x [W, H, C, N], w [KW, KH, C, OC] (f32 or f16) -> [W', H', OC, N]; b [OC] may be null.
// Whether a network with these matrix weights (EMBER_WEIGHT_*) uses fused attention under the
// context's flash_attention setting (EMBER_FLASH_ATTENTION_AUTO: unless they are f32).
bool use_flash_attention(const ember_context * ctx, int32_t matrix_weight_type);

// cpu_ops: the device is the CPU, so the im2col is cpu_ops.h's (faster there; ggml's elsewhere).
ggml_tensor * conv2d(ggml_context * g, ggml_tensor * x, ggml_tensor * w, ggml_tensor * b, int stride, int pad, bool cpu_ops);
// GroupNorm over [W, H, C, N] with per-channel affine w, b [C].
ggml_tensor * group_norm(ggml_context * g, ggml_tensor * x, int groups, float eps, ggml_tensor * w, ggml_tensor * b);
// LayerNorm over ne[0] with affine w, b.
ggml_tensor * layer_norm(ggml_context * g, ggml_tensor * x, float eps, ggml_tensor * w, ggml_tensor * b);
// Exact GELU (erf) and quick-GELU (x * sigmoid(1.702 x)): ggml_gelu / ggml_gelu_quick use f16 tables.
ggml_tensor * gelu(ggml_context * g, ggml_tensor * x);
ggml_tensor * quick_gelu(ggml_context * g, ggml_tensor * x);
// Scaled dot-product attention. q [D*H, Tq, N], k/v [D*H, Tk, N] -> [D*H, Tq, N]; causal masks the future.
// flash: fused (no Tq x Tk score matrix in memory): on the CPU (cpu_ops) Ember's own f32 kernel
// (cpu_attention.h), elsewhere ggml_flash_attn_ext with K and V in f16.
ggml_tensor * attention(ggml_context * g, ggml_tensor * q, ggml_tensor * k, ggml_tensor * v, int heads, bool causal,
                        bool flash, bool cpu_ops = false);

// Convenience: "prefix" + "name".
inline std::string cat(const std::string & a, const std::string & b) { return a + b; }

}  // namespace ember
