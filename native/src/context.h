// Internal: the context every component points to. Not part of the public API.
#pragma once

#include "ember.h"
#include "ggml-backend.h"

#include <string>

struct ember_context {
    ember_context_params params{};
    ggml_backend_dev_t device = nullptr;
    ggml_backend_t backend = nullptr;      // the compute backend of `device`
    ggml_backend_t cpu_backend = nullptr;  // == backend on the CPU; a second one for GPU fallbacks
    std::string last_error;

    // Records a failure and returns its status, so call sites read `return ctx->fail(...)`.
    int32_t fail(int32_t status, const std::string & message) {
        last_error = message;
        return status;
    }
    // Threads go to every CPU backend before each compute (cheap, and a set_threads may come between).
    void apply_threads();
};
