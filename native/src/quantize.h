// Internal: weight quantisation done by Ember rather than ggml's reference routines.
#pragma once

#include <cstdint>

namespace ember {

// Rounds `n_blocks` blocks of 32 floats to q8_0 (per block: one f16 scale d, 32 int8 values q,
// weight = q * d), writing ggml's block_q8_0 layout to `out`. Unlike ggml's reference rounding, which
// always takes d = max|x| / 127, each block's scale is searched: d = max|x| / c for c = 124, 124.25,
// ..., 128 (c = 127 is ggml's choice), each rounded to f16 as stored, q = rint(x / d) clamped to
// [-128, 127], and the candidate with the least squared error (summed in double, first one on a tie)
// is kept. Same format and same reader; on Gaussian-like weights about 10% less rounding error.
// Runs the blocks on `n_threads` threads; the result does not depend on the thread count.
void quantize_q8_0_searched(const float * x, void * out, int64_t n_blocks, int n_threads);

}  // namespace ember
