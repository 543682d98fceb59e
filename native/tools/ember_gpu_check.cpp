// ember-gpu-check: SD-shaped networks with generated weights, on the CPU and on a GPU, without Java.
//
// What it does (scripts/gpu-check.sh builds and runs it; docs/gpu.md explains the numbers):
//  1. generates f16 weights for the UNet (and the VAE decoder) of the chosen preset, from a fixed
//     seed, for exactly the tensors libember's unet.cpp / vae.cpp ask for (their own spec code);
//  2. runs one UNet call (batch 2, as a CFG step does) on the CPU and on the GPU and prints the
//     relative L2 difference, which must be <= --tolerance (1e-2: both sides use f16 weights, the
//     GPU also f16 products);
//  3. times UNet calls on the GPU (= CFG steps/s), without and with flash attention;
//  4. times a VAE decode (and checks it against the CPU at a smaller size);
//  5. reports device memory: weights + compute buffers from ember_*_stats, and the drop of the
//     device's free memory (cudaMemGetInfo through ggml) over the whole UNet run.
// --cpu-only runs the same code path with the CPU standing in for the GPU (with flash attention on
// its side), so the harness itself can be tested on a machine without one.
//
// Exit status: 0 all checks passed, 1 a check failed, 2 it could not run (no GPU, bad arguments).
#include "ember.h"
#include "model_common.h"

#include "ggml.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

std::vector<ember::tensor_spec> ember_check_unet_specs(const ember_unet_config & config);
std::vector<ember::tensor_spec> ember_check_vae_specs(const ember_vae_config & config);

namespace {

struct options {
    std::string preset = "sd15";
    bool cpu_only = false;
    int device = -2;  // -2: the first GPU in ggml's list
    int size = 0;     // image pixels; 0 = the preset's
    int steps = 20;
    int warmup = 3;
    int threads = 0;
    int vae_runs = 3;
    int vae_check_size = 0;  // pixels of the VAE's CPU/GPU comparison; 0 = the preset's choice
    double tolerance = 1e-2;
    double target = 0;  // steps/s to require (0: report only)
    bool vae = true;
    bool flash_too = true;
    bool reference = true;
    uint64_t seed = 1234;
};

struct preset {
    ember_unet_config unet;
    ember_vae_config vae;
    int size;          // default image size in pixels
    int vae_check;     // VAE comparison size in pixels
    int tokens;
};

preset make_preset(const std::string & name) {
    preset p{};
    if (name == "sd15") {
        p.unet = {4, 4, 320, 2, 4, {1, 2, 4, 4, 0, 0}, 0x7, 8, 0, 1, 768, 0, 32};
        p.vae = {3, 4, 128, 4, {1, 2, 4, 4, 0, 0}, 2, 32, EMBER_VAE_DECODER};
        p.size = 512;
        p.vae_check = 256;
        p.tokens = 77;
    } else if (name == "tiny") {  // UnetConfig.TINY / VaeConfig.TINY on the Java side
        p.unet = {4, 4, 32, 1, 3, {1, 2, 2, 0, 0, 0}, 0x3, 2, 0, 1, 32, 0, 32};
        p.vae = {3, 4, 32, 4, {1, 1, 2, 2, 0, 0}, 1, 32, EMBER_VAE_DECODER};
        p.size = 128;
        p.vae_check = 128;
        p.tokens = 77;
    } else {
        std::fprintf(stderr, "unknown preset '%s' (sd15 | tiny)\n", name.c_str());
        std::exit(2);
    }
    return p;
}

// ---- deterministic data ---------------------------------------------------------------------------

uint64_t hash_name(const std::string & s, uint64_t seed) {
    uint64_t h = 1469598103934665603ull ^ seed;
    for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
    return h;
}

struct rng {
    uint64_t s;
    explicit rng(uint64_t seed) : s(seed ? seed : 0x9e3779b97f4a7c15ull) {}
    uint64_t next() {  // xorshift64*
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        return s * 2685821657736338717ull;
    }
    float uniform() { return (float) ((next() >> 40) * (1.0 / 16777216.0)) * 2.0f - 1.0f; }  // [-1, 1)
    float normal() {                                                                          // Box-Muller
        double u1 = ((next() >> 11) + 1.0) * (1.0 / 9007199254740993.0), u2 = (next() >> 11) * (1.0 / 9007199254740992.0);
        return (float) (std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
    }
};

// Weights with unit-variance outputs: matrices uniform with variance 1/fan_in, norm scales 1 +- 0.1,
// biases +- 0.1. Each tensor's values depend only on its name and the seed. All handed in as f16.
struct weights {
    std::vector<std::string> names;
    std::vector<std::vector<ggml_fp16_t>> data;
    std::vector<ember_tensor> tensors;
    int64_t parameters = 0;

    void generate(const std::vector<ember::tensor_spec> & specs, uint64_t seed) {
        names.clear();
        data.clear();
        tensors.clear();
        names.reserve(specs.size());
        data.resize(specs.size());
        std::vector<float> f32;
        for (size_t i = 0; i < specs.size(); i++) {
            const ember::tensor_spec & spec = specs[i];
            int64_t n = 1, fan_in = 1;
            for (size_t d = 0; d < spec.shape.size(); d++) {
                n *= spec.shape[d];
                if (d > 0) fan_in *= spec.shape[d];
            }
            const bool is_weight = spec.name.size() > 7 && spec.name.compare(spec.name.size() - 7, 7, ".weight") == 0;
            const bool matrix = spec.role == ember::tensor_role::matrix || spec.role == ember::tensor_role::attention_matrix;
            const float scale = matrix ? (float) std::sqrt(3.0 / (double) fan_in) : 0.1f;
            const float offset = !matrix && is_weight ? 1.0f : 0.0f;
            rng r(hash_name(spec.name, seed));
            f32.resize((size_t) n);
            for (int64_t k = 0; k < n; k++) f32[(size_t) k] = offset + scale * r.uniform();
            data[i].resize((size_t) n);
            ggml_fp32_to_fp16_row(f32.data(), data[i].data(), n);
            names.push_back(spec.name);
            parameters += n;
        }
        for (size_t i = 0; i < specs.size(); i++) {
            ember_tensor t{};
            t.name = names[i].c_str();
            t.data = data[i].data();
            t.n_dims = (int32_t) specs[i].shape.size();
            for (int d = 0; d < 4; d++) t.shape[d] = d < t.n_dims ? specs[i].shape[(size_t) d] : 1;
            t.dtype = EMBER_DTYPE_F16;
            tensors.push_back(t);
        }
    }
};

std::vector<float> normal_vector(size_t n, uint64_t seed, float scale = 1.0f) {
    rng r(seed);
    std::vector<float> v(n);
    for (float & x : v) x = scale * r.normal();
    return v;
}

double rel_l2(const std::vector<float> & ref, const std::vector<float> & out) {
    double num = 0, den = 0;
    for (size_t i = 0; i < ref.size(); i++) {
        const double d = (double) out[i] - ref[i];
        num += d * d;
        den += (double) ref[i] * ref[i];
    }
    return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

double rms(const std::vector<float> & v) {
    double s = 0;
    for (float x : v) s += (double) x * x;
    return v.empty() ? 0 : std::sqrt(s / v.size());
}

bool all_finite(const std::vector<float> & v) {
    for (float x : v) {
        if (!std::isfinite(x)) return false;
    }
    return true;
}

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double mib(uint64_t bytes) { return bytes / (1024.0 * 1024.0); }

// ---- native helpers -------------------------------------------------------------------------------

[[noreturn]] void die(const char * what, int32_t status, const ember_context * ctx) {
    std::fprintf(stderr, "FAIL: %s: %s: %s\n", what, ember_status_name(status), ctx ? ember_context_last_error(ctx) : "");
    std::exit(2);
}

ember_context * make_context(int device, int threads, bool flash) {
    ember_context_params p;
    ember_context_params_init(&p);
    p.device = device;
    p.n_threads = threads;
    p.flash_attention = flash ? 1 : 0;
    ember_context * ctx = nullptr;
    int32_t status = ember_context_create(&p, &ctx);
    if (status != EMBER_OK) die("creating a context", status, nullptr);
    return ctx;
}

void device_memory(int device, uint64_t * free_bytes, uint64_t * total_bytes) {
    ember_device_info info;
    *free_bytes = *total_bytes = 0;
    if (device >= 0 && ember_device_get_info(device, &info) == EMBER_OK) {
        *free_bytes = info.memory_free;
        *total_bytes = info.memory_total;
    }
}

struct unet_inputs {
    int batch, h, w, tokens;
    std::vector<float> latent, timesteps, context;
};

std::vector<float> unet_run(ember_context * ctx, ember_unet * unet, const unet_inputs & in, const ember_unet_config & c) {
    std::vector<float> out((size_t) in.batch * c.out_channels * in.h * in.w);
    int32_t status = ember_unet_forward(unet, in.latent.data(), in.batch, in.h, in.w, in.timesteps.data(), in.context.data(), in.tokens,
                                        out.data());
    if (status != EMBER_OK) die("UNet forward", status, ctx);
    return out;
}

ember_unet * unet_load(ember_context * ctx, const ember_unet_config & c, const weights & w) {
    ember_unet * unet = nullptr;
    int32_t status = ember_unet_create(ctx, &c, w.tensors.data(), (int32_t) w.tensors.size(), EMBER_WEIGHT_F16, &unet);
    if (status != EMBER_OK) die("loading the UNet", status, ctx);
    return unet;
}

ember_vae * vae_load(ember_context * ctx, const ember_vae_config & c, const weights & w) {
    ember_vae * vae = nullptr;
    int32_t status = ember_vae_create(ctx, &c, w.tensors.data(), (int32_t) w.tensors.size(), EMBER_WEIGHT_F16, &vae);
    if (status != EMBER_OK) die("loading the VAE", status, ctx);
    return vae;
}

std::vector<float> vae_decode(ember_context * ctx, ember_vae * vae, const ember_vae_config & c, const std::vector<float> & latent, int h,
                              int w) {
    const int f = 1 << (c.num_levels - 1);
    std::vector<float> image((size_t) c.image_channels * h * f * w * f);
    int32_t status = ember_vae_decode(vae, latent.data(), 1, h, w, image.data());
    if (status != EMBER_OK) die("VAE decode", status, ctx);
    return image;
}

void usage() {
    std::printf(
        "usage: ember-gpu-check [options]\n"
        "  --preset sd15|tiny     network shapes (default sd15: SD 1.5 UNet and VAE decoder)\n"
        "  --size N               image size in pixels (default 512 for sd15; latent = N/8)\n"
        "  --device N             ggml device index to test (default: the first GPU)\n"
        "  --cpu-only             test the harness without a GPU: the CPU (flash attention on) stands in for it\n"
        "  --steps N              timed UNet calls (default 20), after --warmup N (default 3)\n"
        "  --threads N            CPU threads (default: all cores)\n"
        "  --tolerance X          largest relative L2 difference CPU vs GPU (default 1e-2)\n"
        "  --target X             fail unless the GPU makes X CFG steps/s (default: report only)\n"
        "  --no-reference         skip the CPU reference (timing only)\n"
        "  --no-flash             skip the flash-attention run\n"
        "  --no-vae               skip the VAE decode\n"
        "  --vae-check-size N     pixels of the VAE's CPU comparison (default 256 for sd15)\n"
        "  --seed N               weight and input seed (default 1234)\n");
}

}  // namespace

int main(int argc, char ** argv) {
    options o;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--preset") o.preset = value();
        else if (a == "--size") o.size = std::atoi(value().c_str());
        else if (a == "--device") o.device = std::atoi(value().c_str());
        else if (a == "--cpu-only") o.cpu_only = true;
        else if (a == "--steps") o.steps = std::atoi(value().c_str());
        else if (a == "--warmup") o.warmup = std::atoi(value().c_str());
        else if (a == "--threads") o.threads = std::atoi(value().c_str());
        else if (a == "--tolerance") o.tolerance = std::atof(value().c_str());
        else if (a == "--target") o.target = std::atof(value().c_str());
        else if (a == "--no-reference") o.reference = false;
        else if (a == "--no-flash") o.flash_too = false;
        else if (a == "--no-vae") o.vae = false;
        else if (a == "--vae-check-size") o.vae_check_size = std::atoi(value().c_str());
        else if (a == "--seed") o.seed = std::strtoull(value().c_str(), nullptr, 10);
        else if (a == "-h" || a == "--help") {
            usage();
            return 0;
        } else {
            std::fprintf(stderr, "unknown option %s\n", a.c_str());
            usage();
            return 2;
        }
    }
    const preset p = make_preset(o.preset);
    const int size = o.size > 0 ? o.size : p.size;
    const int f = 1 << (p.vae.num_levels - 1);
    const int multiple = f * (1 << (p.unet.num_levels - 1));
    if (size % multiple != 0 || o.steps <= 0 || o.warmup < 0) {
        std::fprintf(stderr, "size must be a multiple of %d, steps positive\n", multiple);
        return 2;
    }
    const int threads = o.threads > 0 ? o.threads : (int) std::max(1u, std::thread::hardware_concurrency());

    std::printf("ember %s, ggml %s\n", ember_version(), ember_ggml_version());
    int gpu = -1;
    for (int i = 0; i < ember_device_count(); i++) {
        ember_device_info info;
        if (ember_device_get_info(i, &info) != EMBER_OK) continue;
        std::printf("device %d: %-8s %s, %.0f / %.0f MiB free\n", i, info.name, info.description, mib(info.memory_free),
                    mib(info.memory_total));
        if (gpu < 0 && (info.type == EMBER_DEVICE_GPU || info.type == EMBER_DEVICE_IGPU)) gpu = i;
    }
    if (o.device >= 0) gpu = o.device;
    if (o.cpu_only) {
        gpu = -1;
    } else if (gpu < 0) {
        std::printf("FAIL: no GPU in ggml's device list (was libember built with -DEMBER_CUDA=ON? is the driver visible?)\n");
        return 2;
    }
    const char * target_name = o.cpu_only ? "CPU (standing in for a GPU)" : "GPU";

    bool ok = true;
    auto check = [&](bool pass, const char * what, const std::string & detail) {
        std::printf("%s: %s %s\n", pass ? "PASS" : "FAIL", what, detail.c_str());
        if (!pass) ok = false;
    };
    char line[256];

    // ---- UNet ------------------------------------------------------------------------------------
    const int lh = size / f, lw = size / f;
    unet_inputs in{2, lh, lw, p.tokens, {}, {}, {}};
    in.latent = normal_vector((size_t) 2 * p.unet.in_channels * lh * lw, o.seed + 1);
    in.timesteps = {500.0f, 500.0f};
    in.context = normal_vector((size_t) 2 * p.tokens * p.unet.context_dim, o.seed + 2);

    double t0 = now_s();
    weights uw;
    uw.generate(ember_check_unet_specs(p.unet), o.seed);
    std::printf("UNet %s: %zu tensors, %.1f M parameters (f16), generated in %.1f s; input latent 2x%dx%dx%d, %d tokens\n", o.preset.c_str(),
                uw.tensors.size(), uw.parameters / 1e6, now_s() - t0, p.unet.in_channels, lh, lw, in.tokens);

    std::vector<float> ref;
    if (o.reference) {
        ember_context * cpu = make_context(-1, threads, false);
        ember_unet * unet = unet_load(cpu, p.unet, uw);
        t0 = now_s();
        ref = unet_run(cpu, unet, in, p.unet);
        std::printf("CPU reference: one UNet call (batch 2) in %.2f s on %d threads, output RMS %.3g\n", now_s() - t0, threads, rms(ref));
        ember_unet_free(unet);
        ember_context_free(cpu);
        check(all_finite(ref), "CPU UNet output is finite", "");
    }

    uint64_t free_before = 0, total = 0;
    device_memory(gpu, &free_before, &total);
    double best_steps = 0;
    for (int flash = 0; flash <= (o.flash_too || o.cpu_only ? 1 : 0); flash++) {
        if (o.cpu_only && flash == 0) continue;  // the CPU without flash attention is the reference itself
        ember_context * ctx = make_context(gpu, threads, flash != 0);
        t0 = now_s();
        ember_unet * unet = unet_load(ctx, p.unet, uw);
        const double load_s = now_s() - t0;
        t0 = now_s();
        std::vector<float> out = unet_run(ctx, unet, in, p.unet);
        const double first_s = now_s() - t0;
        std::printf("%s, flash attention %s: UNet loaded in %.2f s, first call (graph build + reserve) %.2f s\n", target_name,
                    flash ? "on" : "off", load_s, first_s);
        if (o.reference) {
            const double err = rel_l2(ref, out);
            std::snprintf(line, sizeof line, "(flash %s): relative L2 %.3e, limit %.0e", flash ? "on" : "off", err, o.tolerance);
            check(all_finite(out) && err <= o.tolerance, "UNet CPU vs target", line);
        }
        for (int i = 0; i < o.warmup; i++) unet_run(ctx, unet, in, p.unet);
        t0 = now_s();
        for (int i = 0; i < o.steps; i++) unet_run(ctx, unet, in, p.unet);
        const double per_step = (now_s() - t0) / o.steps;
        best_steps = std::max(best_steps, 1.0 / per_step);
        ember_model_stats st;
        ember_unet_stats(unet, &st);
        uint64_t free_after = 0;
        device_memory(gpu, &free_after, &total);
        std::printf("RESULT unet flash=%d size=%d batch=2 steps_per_s=%.2f ms_per_step=%.2f weights_mib=%.0f compute_mib=%.0f",
                    flash, size, 1.0 / per_step, per_step * 1e3, mib(st.weight_bytes), mib(st.compute_bytes));
        if (gpu >= 0 && free_before >= free_after) std::printf(" device_used_mib=%.0f", mib(free_before - free_after));
        std::printf("\n");
        ember_unet_free(unet);
        ember_context_free(ctx);
    }
    uw = weights();  // frees the host copy
    if (o.target > 0) {
        std::snprintf(line, sizeof line, "%.2f CFG steps/s at %dx%d, target %.1f", best_steps, size, size, o.target);
        check(best_steps >= o.target, "UNet speed", line);
    } else {
        std::printf("UNet: best %.2f CFG steps/s at %dx%d (batch 2)\n", best_steps, size, size);
    }

    // ---- VAE decoder -----------------------------------------------------------------------------
    if (o.vae) {
        weights vw;
        vw.generate(ember_check_vae_specs(p.vae), o.seed + 10);
        std::printf("VAE decoder: %zu tensors, %.1f M parameters (f16)\n", vw.tensors.size(), vw.parameters / 1e6);
        const int check_size = o.vae_check_size > 0 ? o.vae_check_size : p.vae_check;
        const int ch = check_size / f;
        std::vector<float> small = normal_vector((size_t) p.vae.latent_channels * ch * ch, o.seed + 3);
        std::vector<float> vref;
        if (o.reference) {
            ember_context * cpu = make_context(-1, threads, false);
            ember_vae * vae = vae_load(cpu, p.vae, vw);
            t0 = now_s();
            vref = vae_decode(cpu, vae, p.vae, small, ch, ch);
            std::printf("CPU reference: VAE decode %dx%d in %.2f s\n", check_size, check_size, now_s() - t0);
            ember_vae_free(vae);
            ember_context_free(cpu);
        }
        ember_context * ctx = make_context(gpu, threads, o.cpu_only);
        ember_vae * vae = vae_load(ctx, p.vae, vw);
        if (o.reference) {
            std::vector<float> out = vae_decode(ctx, vae, p.vae, small, ch, ch);
            const double err = rel_l2(vref, out);
            std::snprintf(line, sizeof line, "at %dx%d: relative L2 %.3e, limit %.0e", check_size, check_size, err, o.tolerance);
            check(all_finite(out) && err <= o.tolerance, "VAE decode CPU vs target", line);
        }
        std::vector<float> latent = normal_vector((size_t) p.vae.latent_channels * lh * lw, o.seed + 4);
        t0 = now_s();
        vae_decode(ctx, vae, p.vae, latent, lh, lw);  // warm-up: graph build and reserve
        const double first_s = now_s() - t0;
        t0 = now_s();
        for (int i = 0; i < o.vae_runs; i++) vae_decode(ctx, vae, p.vae, latent, lh, lw);
        const double per = (now_s() - t0) / o.vae_runs;
        ember_model_stats st;
        ember_vae_stats(vae, &st);
        std::printf("RESULT vae_decode size=%d first_s=%.3f ms=%.1f weights_mib=%.0f compute_mib=%.0f\n", size, first_s, per * 1e3,
                    mib(st.weight_bytes), mib(st.compute_bytes));
        ember_vae_free(vae);
        ember_context_free(ctx);
    }

    std::printf("%s\n", ok ? "ALL CHECKS PASSED" : "SOME CHECKS FAILED");
    return ok ? 0 : 1;
}
