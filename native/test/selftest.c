/* Exercises the C API without the JVM: version, devices, a context's life cycle. */
#include "ember.h"

#include <stdio.h>

int main(void) {
    printf("ember %s, ggml %s\n", ember_version(), ember_ggml_version());
    int32_t n = ember_device_count();
    for (int32_t i = 0; i < n; i++) {
        ember_device_info info;
        if (ember_device_get_info(i, &info) != EMBER_OK) return 1;
        printf("device %d: %s (%s) type=%d free=%llu total=%llu\n", i, info.name, info.description, info.type,
               (unsigned long long) info.memory_free, (unsigned long long) info.memory_total);
    }
    ember_context_params params;
    ember_context_params_init(&params);
    params.n_threads = 2;
    ember_context * ctx = NULL;
    int32_t status = ember_context_create(&params, &ctx);
    if (status != EMBER_OK) {
        printf("context_create failed: %s\n", ember_status_name(status));
        return 1;
    }
    ember_context_free(ctx);
    printf("ok\n");
    return 0;
}
