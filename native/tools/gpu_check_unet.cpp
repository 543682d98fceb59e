// The GPU check's view of unet.cpp's tensor list. This translation unit *is* unet.cpp (so the check
// builds the UNet exactly as libember does, from the same spec code, with no copy to drift) plus one
// function that hands the file-local spec list out. Only the ember-gpu-check target compiles it;
// libember itself never sees this file.
#include "unet.cpp"

std::vector<ember::tensor_spec> ember_check_unet_specs(const ember_unet_config & config) {
    return unet_specs(config);
}
