// The GPU check's view of vae.cpp's tensor list: this translation unit is vae.cpp plus one function
// that hands the file-local spec lists out (see gpu_check_unet.cpp).
#include "vae.cpp"

std::vector<ember::tensor_spec> ember_check_vae_specs(const ember_vae_config & config) {
    spec_builder b;
    if (config.parts & EMBER_VAE_ENCODER) encoder_specs(config, b);
    if (config.parts & EMBER_VAE_DECODER) decoder_specs(config, b);
    return b.specs;
}
