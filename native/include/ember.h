/*
 * ember.h: the whole C API of libember, the native half of Ember.
 *
 * Java drives the denoising loop; this library only runs the networks (CLIP text encoder, UNet,
 * VAE encoder/decoder) as ggml graphs on buffers the caller owns. Nothing here calls back into
 * the caller.
 *
 * Conventions (the Java bindings and their test rely on them, keep them):
 *  - one declaration per line, every function is "EMBER_API <type> <name>(<params>);"
 *  - only int32_t, int64_t, uint64_t, float, char arrays, structs declared here and pointers
 *  - functions that can fail return an ember_status (int32_t); the message is then available
 *    from ember_context_last_error() on the context involved
 *  - no process-wide mutable state: everything lives in an ember_context
 *  - tensor shapes are given outermost dimension first (PyTorch order), data row-major
 */
#ifndef EMBER_H
#define EMBER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define EMBER_API __declspec(dllexport)
#else
#define EMBER_API __attribute__((visibility("default")))
#endif

/* ---- status codes ---------------------------------------------------------------------------- */
#define EMBER_OK 0
#define EMBER_ERROR_INVALID_ARGUMENT 1
#define EMBER_ERROR_OUT_OF_MEMORY 2
#define EMBER_ERROR_BACKEND 3
#define EMBER_ERROR_MODEL 4
#define EMBER_ERROR_UNSUPPORTED 5
#define EMBER_ERROR_INTERNAL 6

/* ---- device types (ember_device_info.type) ---------------------------------------------------- */
#define EMBER_DEVICE_CPU 0
#define EMBER_DEVICE_GPU 1
#define EMBER_DEVICE_IGPU 2
#define EMBER_DEVICE_ACCEL 3

/* ---- element types of tensors handed in (ember_tensor.dtype) --------------------------------- */
/* The Q* types are ggml's block-quantised types as gguf files store them: the tensor's elements, in
 * row-major order, as consecutive blocks of 32 (Q4_0 .. Q8_0) or 256 (the K types) elements, each in
 * ggml's block_q* layout. The element count must be a whole number of blocks; blocks may span rows. */
#define EMBER_DTYPE_F32 0
#define EMBER_DTYPE_F16 1
#define EMBER_DTYPE_BF16 2
#define EMBER_DTYPE_Q4_0 3
#define EMBER_DTYPE_Q4_1 4
#define EMBER_DTYPE_Q5_0 5
#define EMBER_DTYPE_Q5_1 6
#define EMBER_DTYPE_Q8_0 7
#define EMBER_DTYPE_Q2_K 8
#define EMBER_DTYPE_Q3_K 9
#define EMBER_DTYPE_Q4_K 10
#define EMBER_DTYPE_Q5_K 11
#define EMBER_DTYPE_Q6_K 12

/* ---- weight types a model is stored in on the device ------------------------------------------ */
/* AUTO keeps f32 files in f32 and stores f16/bf16 files' matrix weights as f16; matrix weights handed
 * in block-quantised are kept exactly as they are where their rows split into whole blocks (linear
 * layers, attention projections included), else dequantised to f16 (convolution kernels, and rows that
 * blocks span). Norms, biases and position embeddings always stay f32; the token embedding is f16
 * unless the weights are f32. A quantised type applies to matrix weights whose rows split into its
 * blocks (32 elements, 256 for the K types), except the attention projections, which stay f16
 * (docs/design.md, "Weight types"); a weight handed in with that very type is kept as it is, others
 * are quantised by ggml's routines (q8_0's block scales by Ember's search for the least squared error).
 * ember_model_stats.weight_type reports the type the (first) matrix weights were stored in. */
#define EMBER_WEIGHT_AUTO 0
#define EMBER_WEIGHT_F32 1
#define EMBER_WEIGHT_F16 2
#define EMBER_WEIGHT_Q8_0 3
#define EMBER_WEIGHT_Q4_0 4
#define EMBER_WEIGHT_Q4_1 5
#define EMBER_WEIGHT_Q5_0 6
#define EMBER_WEIGHT_Q5_1 7
#define EMBER_WEIGHT_Q2_K 8
#define EMBER_WEIGHT_Q3_K 9
#define EMBER_WEIGHT_Q4_K 10
#define EMBER_WEIGHT_Q5_K 11
#define EMBER_WEIGHT_Q6_K 12

/* ---- text encoder activations ----------------------------------------------------------------- */
#define EMBER_ACT_QUICK_GELU 0
#define EMBER_ACT_GELU 1

/* ---- VAE parts to load ------------------------------------------------------------------------ */
#define EMBER_VAE_ENCODER 1
#define EMBER_VAE_DECODER 2

/* ---- library ---------------------------------------------------------------------------------- */
EMBER_API const char * ember_version(void);
EMBER_API const char * ember_ggml_version(void);
EMBER_API const char * ember_status_name(int32_t status);

/* ---- devices ---------------------------------------------------------------------------------- */
typedef struct ember_device_info {
    char name[128];
    char description[256];
    int32_t type;
    int32_t index;
    uint64_t memory_free;
    uint64_t memory_total;
} ember_device_info;

EMBER_API int32_t ember_device_count(void);
EMBER_API int32_t ember_device_get_info(int32_t index, ember_device_info * info);

/* ---- context ---------------------------------------------------------------------------------- */
#define EMBER_FLASH_ATTENTION_AUTO -1

typedef struct ember_context ember_context;

typedef struct ember_context_params {
    int32_t n_threads;       /* CPU threads for compute; 0 = number of cores */
    int32_t device;          /* index in the device list; -1 = the CPU device */
    int32_t flash_attention; /* fused attention (ggml_flash_attn_ext; K and V rounded to f16): 1 = on, 0 = off,
                              * EMBER_FLASH_ATTENTION_AUTO (the default) = on for networks whose matrix
                              * weights are not f32 (f32 weights keep every product exact) */
    int32_t use_blas;        /* 1 = let ggml's BLAS backend take matrix products on the CPU, if built in
                                (default 0: results then depend on the thread count) */
    int32_t low_memory;      /* 1 = smallest resident memory: weight sources are paged out of this process
                              * as they are copied (madvise MADV_PAGEOUT; non-destructive, so any memory may be
                              * handed in), and compute buffers are freed after every call (re-allocated on
                              * the next one); 0 = keep them for speed */
    int32_t weights_in_place; /* 1 = on the CPU device, networks use a caller's tensor data in place (no copy)
                               * when it already has the type they store that tensor in (f16 matrix weights
                               * from an f16 file, anything f32 from an f32 file) and is aligned to its
                               * element size; the caller must then keep that memory valid and unchanged
                               * until the network's *_free. Ignored on other devices. Default 0 */
} ember_context_params;

EMBER_API void ember_context_params_init(ember_context_params * params);
EMBER_API int32_t ember_context_create(const ember_context_params * params, ember_context ** out);
EMBER_API void ember_context_free(ember_context * ctx);
EMBER_API const char * ember_context_last_error(const ember_context * ctx);
EMBER_API int32_t ember_context_get_params(const ember_context * ctx, ember_context_params * out);
EMBER_API int32_t ember_context_set_threads(ember_context * ctx, int32_t n_threads);

/* ---- weights handed in ------------------------------------------------------------------------ */
/* Canonical names: LDM single-file names for the UNet ("model.diffusion_model.") and the VAE
 * ("first_stage_model."), Hugging Face CLIP names for the text encoder
 * ("cond_stage_model.transformer.text_model."). By default the data is only read during *_create
 * and may be released after it returns. Exception: with ember_context_params.weights_in_place on
 * a CPU context, a tensor whose data already has its stored type is used where it lies, so all
 * the data handed in must then stay valid and unchanged until the network's *_free. */
typedef struct ember_tensor {
    const char * name;
    const void * data;
    int64_t shape[4];
    int32_t n_dims;
    int32_t dtype;
} ember_tensor;

typedef struct ember_model_stats {
    uint64_t weight_bytes;  /* bytes of the stored weights (with weights_in_place, those used in place live in
                             * the caller's memory and the rest in device memory) */
    uint64_t compute_bytes; /* device memory reserved for the largest graph run so far */
    int64_t n_parameters;
    int32_t weight_type;    /* EMBER_WEIGHT_* actually used for matrix weights */
    int32_t n_graphs;       /* distinct graph shapes built so far */
} ember_model_stats;

/* ---- text encoder (CLIP ViT-L/14 for SD 1.x, OpenCLIP ViT-H/14 for SD 2.x, both SDXL encoders) */
typedef struct ember_text_config {
    int32_t vocab_size;        /* 49408 */
    int32_t max_positions;     /* 77 */
    int32_t hidden_size;       /* 768 | 1024 */
    int32_t intermediate_size; /* 3072 | 4096 */
    int32_t num_layers;        /* 12 | 24 (layers in the file) */
    int32_t num_heads;         /* 12 | 16 */
    int32_t activation;        /* EMBER_ACT_QUICK_GELU (SD 1.x) | EMBER_ACT_GELU (SD 2.x) */
    int32_t projection_dim;    /* 0, or the width of the pooled output (SDXL's OpenCLIP bigG: 1280); then the
                                * tensor "cond_stage_model.transformer.text_projection.weight" [projection_dim,
                                * hidden_size] (Hugging Face's orientation, y = x W^T) is required */
} ember_text_config;

typedef struct ember_text_encoder ember_text_encoder;

EMBER_API int32_t ember_text_encoder_create(ember_context * ctx, const ember_text_config * config, const ember_tensor * tensors, int32_t n_tensors, int32_t weight_type, ember_text_encoder ** out);
EMBER_API void ember_text_encoder_free(ember_text_encoder * model);
/* tokens [batch, n_tokens] -> hidden [batch, n_tokens, hidden_size]. clip_skip = 1 returns the last
 * layer, 2 the one before it, ...; the final layer norm is applied to whichever layer is taken. */
EMBER_API int32_t ember_text_encoder_encode(ember_text_encoder * model, const int32_t * tokens, int32_t batch, int32_t n_tokens, int32_t clip_skip, float * out_hidden);
/* As ember_text_encoder_encode, with final_norm = 0 returning the selected layer without the final layer
 * norm (SDXL takes both encoders' penultimate layer so), extra token embeddings as in
 * ember_text_encoder_encode_extra (extra may be null when n_extra is 0), and, when out_pooled is not null,
 * the pooled output [batch, projection_dim]: final_layer_norm(last layer) at each row's end-of-text token
 * (the position of the row's largest vocabulary id, its first occurrence), times text_projection. */
EMBER_API int32_t ember_text_encoder_encode_ex(ember_text_encoder * model, const int32_t * tokens, int32_t batch, int32_t n_tokens, int32_t clip_skip, int32_t final_norm, const float * extra, int32_t n_extra, float * out_hidden, float * out_pooled);
/* As ember_text_encoder_encode, with extra token embeddings (textual inversion): a token id v >= vocab_size
 * takes row v - vocab_size of extra [n_extra, hidden_size] (f32, used exactly as given) instead of a row of
 * the token embedding; the position embedding is added as for any token. n_extra may be 0 (extra unused). */
EMBER_API int32_t ember_text_encoder_encode_extra(ember_text_encoder * model, const int32_t * tokens, int32_t batch, int32_t n_tokens, int32_t clip_skip, const float * extra, int32_t n_extra, float * out_hidden);
/* Replaces some of the encoder's weights (e.g. by LoRA-merged values, or the originals back); see
 * ember_unet_set_weights. */
EMBER_API int32_t ember_text_encoder_set_weights(ember_text_encoder * model, const ember_tensor * tensors, int32_t n_tensors);
EMBER_API int32_t ember_text_encoder_stats(const ember_text_encoder * model, ember_model_stats * out);

/* ---- UNet (LDM UNetModel, SD 1.x / 2.x / SDXL) ------------------------------------------------ */
typedef struct ember_unet_config {
    int32_t in_channels;       /* 4 */
    int32_t out_channels;      /* 4 */
    int32_t model_channels;    /* 320 */
    int32_t num_res_blocks;    /* 2 */
    int32_t num_levels;        /* length of channel_mult, at most 6 */
    int32_t channel_mult[6];   /* 1 2 4 4 */
    int32_t attention_levels;  /* bit i set: level i has transformer blocks (SD: 0x7). The middle block always has one. */
    int32_t num_heads;         /* SD 1.x: 8; 0 when head_dim is used */
    int32_t head_dim;          /* SD 2.x: 64; 0 when num_heads is used */
    int32_t transformer_depth; /* 1 */
    int32_t context_dim;       /* 768 | 1024 */
    int32_t linear_projection; /* 1: proj_in/proj_out are linear layers (SD 2.x), 0: 1x1 convolutions */
    int32_t norm_groups;       /* 32 */
    int32_t transformer_depths[6];   /* transformer blocks per SpatialTransformer at each attention level;
                                      * 0 = transformer_depth (SDXL: 0 2 10) */
    int32_t transformer_depth_middle; /* the middle block's; 0 = transformer_depth (SDXL: 10) */
    int32_t adm_in_channels;         /* 0, or the width of the vector conditioning y (SDXL: 2816); then
                                      * label_emb.0.0 [4*model_channels, adm_in_channels] and label_emb.0.2
                                      * are required and emb = time_embed(t) + label_emb(y) */
} ember_unet_config;

typedef struct ember_unet ember_unet;

EMBER_API int32_t ember_unet_create(ember_context * ctx, const ember_unet_config * config, const ember_tensor * tensors, int32_t n_tensors, int32_t weight_type, ember_unet ** out);
EMBER_API void ember_unet_free(ember_unet * model);
/* latent [batch, in_channels, height, width], timesteps [batch], context [batch, n_context, context_dim]
 * -> out [batch, out_channels, height, width] (eps or v, whatever the weights predict). */
EMBER_API int32_t ember_unet_forward(ember_unet * model, const float * latent, int32_t batch, int32_t height, int32_t width, const float * timesteps, const float * context, int32_t n_context, float * out);
/* As ember_unet_forward, with the vector conditioning y [batch, adm_in_channels] that a UNet with
 * adm_in_channels > 0 requires (null otherwise). */
EMBER_API int32_t ember_unet_forward_ex(ember_unet * model, const float * latent, int32_t batch, int32_t height, int32_t width, const float * timesteps, const float * context, int32_t n_context, const float * vector, float * out);
EMBER_API int32_t ember_unet_stats(const ember_unet * model, ember_model_stats * out);
/* Replaces some of a loaded network's weights (e.g. by LoRA-merged values, or the originals back). Each
 * tensor must be one the network loaded, with its shape; its values are stored in that tensor's type
 * exactly as *_create stores them (same rounding, same q8_0/q4_0 quantisation), so the network then
 * computes what one created from these values would. The data follows ember_tensor's rules: copied, or
 * with weights_in_place used where it lies until that tensor is replaced again or the network is freed.
 * Nothing changes when an entry is refused. Not while the network computes (the caller serializes). */
EMBER_API int32_t ember_unet_set_weights(ember_unet * model, const ember_tensor * tensors, int32_t n_tensors);

/* ---- VAE (LDM AutoencoderKL) ------------------------------------------------------------------- */
typedef struct ember_vae_config {
    int32_t image_channels;  /* 3 */
    int32_t latent_channels; /* 4 */
    int32_t base_channels;   /* 128 */
    int32_t num_levels;      /* length of channel_mult, at most 6; downscale factor 2^(num_levels-1) */
    int32_t channel_mult[6]; /* 1 2 4 4 */
    int32_t num_res_blocks;  /* 2 */
    int32_t norm_groups;     /* 32 */
    int32_t parts;           /* EMBER_VAE_ENCODER | EMBER_VAE_DECODER */
} ember_vae_config;

typedef struct ember_vae ember_vae;

EMBER_API int32_t ember_vae_create(ember_context * ctx, const ember_vae_config * config, const ember_tensor * tensors, int32_t n_tensors, int32_t weight_type, ember_vae ** out);
EMBER_API void ember_vae_free(ember_vae * model);
/* image [batch, image_channels, height, width] in [-1, 1] -> moments [batch, 2*latent_channels, height/f, width/f]
 * (mean then log-variance, after quant_conv; unscaled). */
EMBER_API int32_t ember_vae_encode(ember_vae * model, const float * image, int32_t batch, int32_t height, int32_t width, float * out_moments);
/* latent [batch, latent_channels, height, width] (already divided by the scale factor)
 * -> image [batch, image_channels, height*f, width*f], roughly in [-1, 1], not clamped. */
EMBER_API int32_t ember_vae_decode(ember_vae * model, const float * latent, int32_t batch, int32_t height, int32_t width, float * out_image);
EMBER_API int32_t ember_vae_stats(const ember_vae * model, ember_model_stats * out);
/* Shared GroupNorm statistics, for pictures decoded or encoded in tiles (batch 1): GroupNorm normalises
 * with statistics of its whole input, so tiles run on their own normalise differently and drift apart in
 * colour. Record the statistics of a pass over a small version of the whole picture, then run every tile
 * with them. The record holds, for each GroupNorm in graph order, norm_groups means then norm_groups
 * variances; encode = 1 for the encoder's, 0 for the decoder's. */
EMBER_API int32_t ember_vae_group_stats_size(const ember_vae * model, int32_t encode, int32_t * out_values);
/* input as ember_vae_encode / ember_vae_decode take it (batch 1) -> out_stats [group_stats_size] */
EMBER_API int32_t ember_vae_record_group_stats(ember_vae * model, int32_t encode, const float * input, int32_t height, int32_t width, float * out_stats);
/* As ember_vae_encode / ember_vae_decode (batch 1), every GroupNorm using the recorded statistics. */
EMBER_API int32_t ember_vae_run_with_group_stats(ember_vae * model, int32_t encode, const float * input, int32_t height, int32_t width, const float * stats, float * out);

/* ---- TAESD (the tiny autoencoder: madebyollin/taesd, diffusers AutoencoderTiny) ---------------- */
/* Canonical names are diffusers AutoencoderTiny's: "encoder.layers.<i>." and "decoder.layers.<i>."
 * (the Java reader maps madebyollin's taesd_encoder / taesd_decoder files onto them). */
typedef struct ember_taesd_config {
    int32_t image_channels;  /* 3 */
    int32_t latent_channels; /* 4 */
    int32_t channels;        /* 64 */
    int32_t parts;           /* EMBER_VAE_ENCODER | EMBER_VAE_DECODER */
} ember_taesd_config;

typedef struct ember_taesd ember_taesd;

EMBER_API int32_t ember_taesd_create(ember_context * ctx, const ember_taesd_config * config, const ember_tensor * tensors, int32_t n_tensors, int32_t weight_type, ember_taesd ** out);
EMBER_API void ember_taesd_free(ember_taesd * model);
/* image [batch, image_channels, height, width] in [0, 1] (height, width multiples of 8)
 * -> latent [batch, latent_channels, height/8, width/8] in the UNet's (scaled) latent space. */
EMBER_API int32_t ember_taesd_encode(ember_taesd * model, const float * image, int32_t batch, int32_t height, int32_t width, float * out_latent);
/* latent [batch, latent_channels, height, width] in the UNet's (scaled) latent space
 * -> image [batch, image_channels, height*8, width*8], roughly in [0, 1], not clamped. */
EMBER_API int32_t ember_taesd_decode(ember_taesd * model, const float * latent, int32_t batch, int32_t height, int32_t width, float * out_image);
EMBER_API int32_t ember_taesd_stats(const ember_taesd * model, ember_model_stats * out);

/* ---- measurement ------------------------------------------------------------------------------- */
/* Times an f32 matrix product [m x k] * [k x n] on the context's device the way the networks run
 * theirs (same backends, threads, BLAS if used): the best of `repeats` runs, in seconds. Benchmarks
 * divide network FLOP rates by 2*m*n*k / seconds to get a fraction of this machine's peak. */
EMBER_API int32_t ember_benchmark_matmul(ember_context * ctx, int32_t m, int32_t n, int32_t k, int32_t repeats, double * out_seconds);

#ifdef __cplusplus
}
#endif

#endif /* EMBER_H */
