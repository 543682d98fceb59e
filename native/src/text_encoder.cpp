// Placeholder: reports EMBER_ERROR_UNSUPPORTED until the ggml graph lands in this file.
#include "context.h"

extern "C" {

#define EMBER_NOT_YET(ctx, what) ((ctx) ? (ctx)->fail(EMBER_ERROR_UNSUPPORTED, what " is not implemented yet") : EMBER_ERROR_INVALID_ARGUMENT)

struct ember_text_encoder { ember_context * ctx; };

int32_t ember_text_encoder_create(ember_context * ctx, const ember_text_config *, const ember_tensor *, int32_t, int32_t, ember_text_encoder ** out) {
    if (out) *out = nullptr;
    return EMBER_NOT_YET(ctx, "text encoder");
}
void ember_text_encoder_free(ember_text_encoder * model) { delete model; }
int32_t ember_text_encoder_encode(ember_text_encoder * model, const int32_t *, int32_t, int32_t, int32_t, float *) {
    return model ? EMBER_NOT_YET(model->ctx, "text encoder") : EMBER_ERROR_INVALID_ARGUMENT;
}
int32_t ember_text_encoder_stats(const ember_text_encoder *, ember_model_stats *) { return EMBER_ERROR_UNSUPPORTED; }

}  // extern "C"
