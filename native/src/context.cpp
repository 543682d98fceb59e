// Library identity, device listing and the context object.
#include "context.h"

#include "ggml.h"
#include "ggml-cpu.h"

#include <cstring>
#include <new>
#include <thread>

#ifndef EMBER_VERSION_STRING
#define EMBER_VERSION_STRING "0.0.0"
#endif

extern "C" {

const char * ember_version(void) { return EMBER_VERSION_STRING; }

const char * ember_ggml_version(void) {
    // Both strings are static in ggml; concatenated once into a function-local constant.
    static const std::string version = std::string(ggml_version()) + " (" + ggml_commit() + ")";
    return version.c_str();
}

const char * ember_status_name(int32_t status) {
    switch (status) {
        case EMBER_OK: return "ok";
        case EMBER_ERROR_INVALID_ARGUMENT: return "invalid argument";
        case EMBER_ERROR_OUT_OF_MEMORY: return "out of memory";
        case EMBER_ERROR_BACKEND: return "backend error";
        case EMBER_ERROR_MODEL: return "model error";
        case EMBER_ERROR_UNSUPPORTED: return "unsupported";
        case EMBER_ERROR_INTERNAL: return "internal error";
        default: return "unknown status";
    }
}

int32_t ember_device_count(void) { return (int32_t) ggml_backend_dev_count(); }

int32_t ember_device_get_info(int32_t index, ember_device_info * info) {
    if (info == nullptr || index < 0 || (size_t) index >= ggml_backend_dev_count()) {
        return EMBER_ERROR_INVALID_ARGUMENT;
    }
    ggml_backend_dev_t dev = ggml_backend_dev_get((size_t) index);
    std::memset(info, 0, sizeof(*info));
    std::strncpy(info->name, ggml_backend_dev_name(dev), sizeof(info->name) - 1);
    std::strncpy(info->description, ggml_backend_dev_description(dev), sizeof(info->description) - 1);
    switch (ggml_backend_dev_type(dev)) {
        case GGML_BACKEND_DEVICE_TYPE_CPU: info->type = EMBER_DEVICE_CPU; break;
        case GGML_BACKEND_DEVICE_TYPE_GPU: info->type = EMBER_DEVICE_GPU; break;
        case GGML_BACKEND_DEVICE_TYPE_IGPU: info->type = EMBER_DEVICE_IGPU; break;
        default: info->type = EMBER_DEVICE_ACCEL; break;
    }
    info->index = index;
    size_t free_bytes = 0, total_bytes = 0;
    ggml_backend_dev_memory(dev, &free_bytes, &total_bytes);
    info->memory_free = free_bytes;
    info->memory_total = total_bytes;
    return EMBER_OK;
}

void ember_context_params_init(ember_context_params * params) {
    if (params == nullptr) return;
    std::memset(params, 0, sizeof(*params));
    params->n_threads = 0;
    params->device = -1;
    // Fused attention is faster per UNet step on the CPU at 256 and 512 and needs a fifth of the compute
    // memory at 512 (docs/performance.md); networks with f32 weights keep the exact path.
    params->flash_attention = EMBER_FLASH_ATTENTION_AUTO;
    // Off by default: OpenBLAS splits work by thread count, so its sums (and the images) would change
    // with --threads. Determinism across thread counts is a promise; BLAS speed is an opt-in.
    params->use_blas = 0;
    params->low_memory = 0;
    params->weights_in_place = 0;  // callers opt in: it ties the weights' lifetime to their memory
}

int32_t ember_context_create(const ember_context_params * params, ember_context ** out) {
    if (out == nullptr) return EMBER_ERROR_INVALID_ARGUMENT;
    *out = nullptr;
    ember_context_params p;
    ember_context_params_init(&p);
    if (params != nullptr) p = *params;
    if (p.n_threads < 0) return EMBER_ERROR_INVALID_ARGUMENT;
    if (p.flash_attention < EMBER_FLASH_ATTENTION_AUTO || p.flash_attention > 1) return EMBER_ERROR_INVALID_ARGUMENT;
    if (p.n_threads == 0) p.n_threads = (int32_t) std::max(1u, std::thread::hardware_concurrency());

    ggml_backend_dev_t dev = nullptr;
    if (p.device < 0) {
        dev = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
    } else if ((size_t) p.device < ggml_backend_dev_count()) {
        dev = ggml_backend_dev_get((size_t) p.device);
    } else {
        return EMBER_ERROR_INVALID_ARGUMENT;
    }
    if (dev == nullptr) return EMBER_ERROR_BACKEND;

    auto * ctx = new (std::nothrow) ember_context();
    if (ctx == nullptr) return EMBER_ERROR_OUT_OF_MEMORY;
    ctx->params = p;
    ctx->device = dev;
    ctx->backend = ggml_backend_dev_init(dev, nullptr);
    if (ctx->backend == nullptr) {
        delete ctx;
        return EMBER_ERROR_BACKEND;
    }
    if (ggml_backend_dev_type(dev) == GGML_BACKEND_DEVICE_TYPE_CPU) {
        ctx->cpu_backend = ctx->backend;
    } else {
        ctx->cpu_backend = ggml_backend_cpu_init();
    }
    if (p.use_blas && ctx->backend == ctx->cpu_backend) {
        ggml_backend_reg_t blas = ggml_backend_reg_by_name("BLAS");
        if (blas != nullptr && ggml_backend_reg_dev_count(blas) > 0) {
            ctx->blas_backend = ggml_backend_dev_init(ggml_backend_reg_dev_get(blas, 0), nullptr);
        }
    }
    ctx->apply_threads();
    *out = ctx;
    return EMBER_OK;
}

void ember_context_free(ember_context * ctx) {
    if (ctx == nullptr) return;
    if (ctx->blas_backend != nullptr) ggml_backend_free(ctx->blas_backend);
    if (ctx->cpu_backend != nullptr && ctx->cpu_backend != ctx->backend) ggml_backend_free(ctx->cpu_backend);
    if (ctx->backend != nullptr) ggml_backend_free(ctx->backend);
    delete ctx;
}

const char * ember_context_last_error(const ember_context * ctx) {
    if (ctx == nullptr) return "no context";
    return ctx->last_error.c_str();
}

int32_t ember_context_get_params(const ember_context * ctx, ember_context_params * out) {
    if (ctx == nullptr || out == nullptr) return EMBER_ERROR_INVALID_ARGUMENT;
    *out = ctx->params;
    return EMBER_OK;
}

int32_t ember_context_set_threads(ember_context * ctx, int32_t n_threads) {
    if (ctx == nullptr) return EMBER_ERROR_INVALID_ARGUMENT;
    if (n_threads <= 0) return ctx->fail(EMBER_ERROR_INVALID_ARGUMENT, "thread count must be positive");
    ctx->params.n_threads = n_threads;
    ctx->apply_threads();
    return EMBER_OK;
}

}  // extern "C"

void ember_context::apply_threads() {
    for (ggml_backend_t b : {backend, cpu_backend, blas_backend}) {
        if (b == nullptr) continue;
        ggml_backend_dev_t dev = ggml_backend_get_device(b);
        ggml_backend_reg_t reg = dev ? ggml_backend_dev_backend_reg(dev) : nullptr;
        auto set_threads = reg ? (ggml_backend_set_n_threads_t) ggml_backend_reg_get_proc_address(reg, "ggml_backend_set_n_threads")
                               : nullptr;
        if (set_threads != nullptr) set_threads(b, params.n_threads);
    }
}

std::vector<ggml_backend_t> ember_context::compute_backends() const {
    std::vector<ggml_backend_t> out;
    if (backend != cpu_backend) out.push_back(backend);
    if (blas_backend != nullptr) out.push_back(blas_backend);
    out.push_back(cpu_backend);
    return out;
}
