// ember_cpu_variant: which instruction-set variant of libember this is (cmake/EmberCpuVariants.cmake).
// Compiled with the variant's own flags, like Ember's other CPU kernels.
#include "ember.h"

#ifndef EMBER_CPU_VARIANT_NAME
#define EMBER_CPU_VARIANT_NAME "default"
#endif

extern "C" const char * ember_cpu_variant(void) { return EMBER_CPU_VARIANT_NAME; }
