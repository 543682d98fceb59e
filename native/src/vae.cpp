// Placeholder: reports EMBER_ERROR_UNSUPPORTED until the ggml graph lands in this file.
#include "context.h"

extern "C" {

#define EMBER_NOT_YET(ctx, what) ((ctx) ? (ctx)->fail(EMBER_ERROR_UNSUPPORTED, what " is not implemented yet") : EMBER_ERROR_INVALID_ARGUMENT)

struct ember_vae { ember_context * ctx; };

int32_t ember_vae_create(ember_context * ctx, const ember_vae_config *, const ember_tensor *, int32_t, int32_t, ember_vae ** out) {
    if (out) *out = nullptr;
    return EMBER_NOT_YET(ctx, "VAE");
}
void ember_vae_free(ember_vae * model) { delete model; }
int32_t ember_vae_encode(ember_vae * model, const float *, int32_t, int32_t, int32_t, float *) {
    return model ? EMBER_NOT_YET(model->ctx, "VAE") : EMBER_ERROR_INVALID_ARGUMENT;
}
int32_t ember_vae_decode(ember_vae * model, const float *, int32_t, int32_t, int32_t, float *) {
    return model ? EMBER_NOT_YET(model->ctx, "VAE") : EMBER_ERROR_INVALID_ARGUMENT;
}
int32_t ember_vae_stats(const ember_vae *, ember_model_stats *) { return EMBER_ERROR_UNSUPPORTED; }

}  // extern "C"
