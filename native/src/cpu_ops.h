// Internal: CPU kernels Ember adds to ggml's as custom ops, where ggml's own version is the bound.
// CPU backend only (custom ops run on the CPU); graphs for other devices use ggml's ops.
#pragma once

#include "ggml.h"

#include <cstdint>

namespace ember {

// The im2col of output rows [r0, r0 + rows) of batch elements [n0, n0 + count) of x [W, H, C, N] (f32,
// contiguous) for a square k x k kernel with the given stride and zero padding on every side: a tensor
// [k*k*C, OW, rows, count] of `type` (f32, or f16/bf16 rounded to nearest even as ggml rounds), each output
// pixel's row ordered channel, kernel row, kernel column (ggml's im2col order, so a kernel [k, k, C, OC]
// reshaped to [k*k*C, OC] multiplies it).
//
// Why not ggml_im2col: its CPU kernel hands the channels of each pixel to the threads in turn, so two
// threads keep writing the same cache lines, and it reads 9 scattered floats per channel; and banding
// it needs a padded copy of the input (ggml_pad_ext) for the rows above and below. Here each thread
// writes one contiguous run of output pixels, copies kernel rows as runs of k floats, and rows outside
// the image read as zeros, so bands are plain calls on the unpadded input. Measured in
// docs/performance.md (VAE decode at 256: im2col + pad + bias broadcast 3.6 s -> 1.3 s).
ggml_tensor * im2col_rows(ggml_context * g, ggml_tensor * x, int k, int stride, int pad, int64_t n0, int64_t count, int64_t r0,
                          int64_t rows, ggml_type type);

// [W, H, OC, N] f32 whose every (., ., c, .) plane holds bias[c] (bias: OC contiguous f32 values in any
// shape): the starting value that banded convolutions accumulate into. ggml_repeat's generic kernel
// runs at a fraction of memory speed; this fills whole planes.
ggml_tensor * broadcast_planes(ggml_context * g, ggml_tensor * bias, int64_t W, int64_t H, int64_t N);

}  // namespace ember
