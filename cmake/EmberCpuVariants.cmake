# CPU variants of libember: one complete library per x86-64 instruction-set level, from one configure.
#
# Why: ggml's CPU kernels are chosen at compile time, and the widest instruction set is not the fastest
# everywhere (issue #14: on an AVX-512 EPYC the -march=native build ran the UNet 2.7-6.8x slower than an
# AVX2 build on the same CPU). So the build makes several libraries and Ember picks one at run time by
# measuring (bindings' CpuVariants). Each library is self-contained like the single build (ggml static
# and hidden inside), so a process may load several while calibrating without their symbols meeting.
#
# What is compiled once: ggml-base, ggml's backend registry and libember's graph code (not hot; no
# instruction-set flags). What is compiled per variant: ggml's CPU backend (a copy of ggml's own
# `ggml-cpu` target with the variant's flags, made by ember_add_ggml_cpu_variant) and libember's own
# kernels (EMBER_KERNEL_SOURCES). That keeps a clean build of four variants near two single builds.

# ggml's x86 feature names -> compiler flags, ggml's definitions, and the /proc/cpuinfo flags a CPU must
# list to run code built with them (the flag mapping is ggml's own, ggml/src/ggml-cpu/CMakeLists.txt,
# non-native GCC/Clang branch).
set(EMBER_X86_FEATURE_SSE42       "-msse4.2"   "GGML_SSE42"  "sse4_2")
set(EMBER_X86_FEATURE_AVX         "-mavx"      "GGML_AVX"    "avx")
set(EMBER_X86_FEATURE_F16C        "-mf16c"     "GGML_F16C"   "f16c")
set(EMBER_X86_FEATURE_FMA         "-mfma"      "GGML_FMA"    "fma")
set(EMBER_X86_FEATURE_BMI2        "-mbmi2"     "GGML_BMI2"   "bmi2")
set(EMBER_X86_FEATURE_AVX2        "-mavx2"     "GGML_AVX2"   "avx2")
set(EMBER_X86_FEATURE_AVX512      "-mavx512f;-mavx512cd;-mavx512vl;-mavx512dq;-mavx512bw" "GGML_AVX512"
                                  "avx512f;avx512cd;avx512vl;avx512dq;avx512bw")
set(EMBER_X86_FEATURE_AVX512_VBMI "-mavx512vbmi" "GGML_AVX512_VBMI" "avx512vbmi")
set(EMBER_X86_FEATURE_AVX512_VNNI "-mavx512vnni" "GGML_AVX512_VNNI" "avx512_vnni")
set(EMBER_X86_FEATURE_AVX512_BF16 "-mavx512bf16" "GGML_AVX512_BF16" "avx512_bf16")

# The variants Ember builds by default, narrowest first (ggml's names for the same feature sets):
#   sse42     x86-64 with SSE4.2 (every x86-64 CPU since ~2009): the fallback
#   haswell   AVX2 + FMA + F16C + BMI2 (Intel since 2013, AMD since Zen)
#   skylakex  + AVX-512 F/CD/VL/DQ/BW (Intel Skylake-SP and later servers, Ice Lake)
#   zen4      + AVX-512 VBMI/VNNI/BF16 (AMD Zen 4/5, Intel Sapphire Rapids and later)
set(EMBER_CPU_VARIANT_sse42    SSE42)
set(EMBER_CPU_VARIANT_haswell  SSE42 AVX F16C FMA BMI2 AVX2)
set(EMBER_CPU_VARIANT_skylakex SSE42 AVX F16C FMA BMI2 AVX2 AVX512)
set(EMBER_CPU_VARIANT_zen4     SSE42 AVX F16C FMA BMI2 AVX2 AVX512 AVX512_VBMI AVX512_VNNI AVX512_BF16)
set(EMBER_CPU_VARIANTS_KNOWN sse42 haswell skylakex zen4)

# ember_cpu_variant_flags(<variant> <flags-var> <definitions-var> <cpuinfo-var>)
function(ember_cpu_variant_flags variant flags_var defs_var cpuinfo_var)
  if(NOT DEFINED EMBER_CPU_VARIANT_${variant})
    message(FATAL_ERROR "Unknown CPU variant '${variant}' (known: ${EMBER_CPU_VARIANTS_KNOWN})")
  endif()
  set(flags "")
  set(defs "")
  set(cpuinfo "")
  foreach(feature IN LISTS EMBER_CPU_VARIANT_${variant})
    set(entry ${EMBER_X86_FEATURE_${feature}})
    # entry = flags...;definition;cpuinfo flags... : the definition is the one element starting GGML_.
    set(part flags)
    foreach(item IN LISTS entry)
      if(item MATCHES "^GGML_")
        list(APPEND defs ${item})
        set(part cpuinfo)
      elseif(part STREQUAL "flags")
        list(APPEND flags ${item})
      else()
        list(APPEND cpuinfo ${item})
      endif()
    endforeach()
  endforeach()
  set(${flags_var} ${flags} PARENT_SCOPE)
  set(${defs_var} ${defs} PARENT_SCOPE)
  set(${cpuinfo_var} ${cpuinfo} PARENT_SCOPE)
endfunction()

# ember_add_ggml_cpu_variant(<variant> <ggml-source-dir>): target ggml-cpu-<variant>, a static copy of
# ggml's `ggml-cpu` target (same sources, include folders, definitions, options, links, and the
# folder-level definitions and options ggml sets for its sources) compiled with the variant's flags.
# ggml must have been configured with GGML_NATIVE=OFF and every x86 feature OFF, so that `ggml-cpu`
# itself carries no instruction-set flags to copy.
function(ember_add_ggml_cpu_variant variant ggml_dir)
  ember_cpu_variant_flags(${variant} flags defs cpuinfo)
  set(target ggml-cpu-${variant})
  get_target_property(sources ggml-cpu SOURCES)
  get_target_property(source_dir ggml-cpu SOURCE_DIR)
  set(absolute_sources "")
  foreach(s IN LISTS sources)
    if(NOT IS_ABSOLUTE "${s}")
      set(s "${source_dir}/${s}")
    endif()
    list(APPEND absolute_sources "${s}")
  endforeach()
  # ggml links OpenMP's imported targets, which exist only in ggml's folder: find them here too.
  get_target_property(links ggml-cpu LINK_LIBRARIES)
  if("${links}" MATCHES "OpenMP::" AND NOT TARGET OpenMP::OpenMP_C)
    find_package(OpenMP REQUIRED)
  endif()
  add_library(${target} STATIC EXCLUDE_FROM_ALL ${absolute_sources})
  foreach(property IN ITEMS INCLUDE_DIRECTORIES COMPILE_DEFINITIONS COMPILE_OPTIONS COMPILE_FEATURES LINK_LIBRARIES
                            C_STANDARD CXX_STANDARD C_EXTENSIONS CXX_EXTENSIONS)
    get_target_property(value ggml-cpu ${property})
    if(value)
      set_property(TARGET ${target} PROPERTY ${property} "${value}")
    endif()
  endforeach()
  get_directory_property(dir_defs DIRECTORY "${source_dir}" COMPILE_DEFINITIONS)
  get_directory_property(dir_options DIRECTORY "${source_dir}" COMPILE_OPTIONS)
  target_compile_definitions(${target} PRIVATE ${dir_defs} ${defs})
  target_compile_options(${target} PRIVATE ${dir_options} ${flags})
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()
