// Internal: Ember's fused attention for the CPU, a ggml custom op (CPU backend only).
#pragma once

#include "ggml.h"

namespace ember {

// softmax(q k^T / sqrt(D)) v per head, for q [D*heads, Tq, N] and k, v [D*heads, Tk, N] (f32, each row
// contiguous; D = ne[0] / heads, any D) -> [D*heads, Tq, N] f32, the layout the output projection takes.
//
// Why not ggml_flash_attn_ext: ggml's CPU kernel takes its tiled (GEMM-like) path only when the head
// size is a multiple of the vector width, so with AVX-512 (16 floats) SD 1.5's 40-wide heads fall back
// to one query row at a time whose f16 dot products and accumulations are scalar for all 40 elements
// (docs/performance.md, "Why the widest kernels lost"). It also needs K and V rounded to f16 and
// permuted copies of Q, K and V. This kernel works on tiles of 64 queries x 64 keys in f32 whatever
// D is: both products are register-blocked 8-wide FMA loops over packed tiles that stay in L1/L2,
// the softmax is online (running max and sum per query, as in FlashAttention), and it reads q, k, v
// and writes the output in the networks' own layout. The same source serves every CPU variant.
ggml_tensor * attention_fused_cpu(ggml_context * g, ggml_tensor * q, ggml_tensor * k, ggml_tensor * v, int heads);

}  // namespace ember
