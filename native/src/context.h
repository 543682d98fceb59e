// Internal: the context every component points to. Not part of the public API.
#pragma once

#include "ember.h"
#include "ggml-backend.h"

#include <string>
#include <vector>

struct ember_context {
    ember_context_params params{};
    ggml_backend_dev_t device = nullptr;
    ggml_backend_t backend = nullptr;      // the compute backend of `device`
    ggml_backend_t cpu_backend = nullptr;  // == backend on the CPU; a second one for GPU fallbacks
    ggml_backend_t blas_backend = nullptr; // ggml's BLAS backend when built in and asked for (CPU only)
    std::string last_error;

    // Records a failure and returns its status, so call sites read `return ctx->fail(...)`.
    int32_t fail(int32_t status, const std::string & message) {
        last_error = message;
        return status;
    }
    // Threads go to every backend that takes a thread count, before each compute (cheap, and a
    // set_threads may come between).
    void apply_threads();
    // The backends a graph scheduler gets, in priority order; the CPU backend is always last.
    std::vector<ggml_backend_t> compute_backends() const;
};
