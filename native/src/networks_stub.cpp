// Placeholder implementations of the network entry points, so the library links before the
// ggml graphs exist. Each reports EMBER_ERROR_UNSUPPORTED with a message; replaced file by file.
#include "context.h"

extern "C" {

#define EMBER_NOT_YET(ctx, what) ((ctx) ? (ctx)->fail(EMBER_ERROR_UNSUPPORTED, what " is not implemented yet") : EMBER_ERROR_INVALID_ARGUMENT)

struct ember_text_encoder { ember_context * ctx; };
struct ember_unet { ember_context * ctx; };
struct ember_vae { ember_context * ctx; };

int32_t ember_text_encoder_create(ember_context * ctx, const ember_text_config *, const ember_tensor *, int32_t, int32_t, ember_text_encoder ** out) {
    if (out) *out = nullptr;
    return EMBER_NOT_YET(ctx, "text encoder");
}
void ember_text_encoder_free(ember_text_encoder * model) { delete model; }
int32_t ember_text_encoder_encode(ember_text_encoder * model, const int32_t *, int32_t, int32_t, int32_t, float *) {
    return model ? EMBER_NOT_YET(model->ctx, "text encoder") : EMBER_ERROR_INVALID_ARGUMENT;
}
int32_t ember_text_encoder_stats(const ember_text_encoder *, ember_model_stats *) { return EMBER_ERROR_UNSUPPORTED; }

int32_t ember_unet_create(ember_context * ctx, const ember_unet_config *, const ember_tensor *, int32_t, int32_t, ember_unet ** out) {
    if (out) *out = nullptr;
    return EMBER_NOT_YET(ctx, "UNet");
}
void ember_unet_free(ember_unet * model) { delete model; }
int32_t ember_unet_forward(ember_unet * model, const float *, int32_t, int32_t, int32_t, const float *, const float *, int32_t, float *) {
    return model ? EMBER_NOT_YET(model->ctx, "UNet") : EMBER_ERROR_INVALID_ARGUMENT;
}
int32_t ember_unet_stats(const ember_unet *, ember_model_stats *) { return EMBER_ERROR_UNSUPPORTED; }

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
