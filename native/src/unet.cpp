// Placeholder: reports EMBER_ERROR_UNSUPPORTED until the ggml graph lands in this file.
#include "context.h"

extern "C" {

#define EMBER_NOT_YET(ctx, what) ((ctx) ? (ctx)->fail(EMBER_ERROR_UNSUPPORTED, what " is not implemented yet") : EMBER_ERROR_INVALID_ARGUMENT)

struct ember_unet { ember_context * ctx; };

int32_t ember_unet_create(ember_context * ctx, const ember_unet_config *, const ember_tensor *, int32_t, int32_t, ember_unet ** out) {
    if (out) *out = nullptr;
    return EMBER_NOT_YET(ctx, "UNet");
}
void ember_unet_free(ember_unet * model) { delete model; }
int32_t ember_unet_forward(ember_unet * model, const float *, int32_t, int32_t, int32_t, const float *, const float *, int32_t, float *) {
    return model ? EMBER_NOT_YET(model->ctx, "UNet") : EMBER_ERROR_INVALID_ARGUMENT;
}
int32_t ember_unet_stats(const ember_unet *, ember_model_stats *) { return EMBER_ERROR_UNSUPPORTED; }

}  // extern "C"
