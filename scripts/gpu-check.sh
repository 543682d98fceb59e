#!/usr/bin/env bash
# The prepared GPU check (docs/gpu.md): builds libember with CUDA for this machine's GPU, then runs
# native/tools/ember_gpu_check.cpp: SD 1.5-shaped UNet and VAE with generated f16 weights, CPU vs GPU
# (relative L2 <= 1e-2), UNet CFG steps/s at 512x512 (batch 2), VAE decode time, device memory.
#
#   scripts/gpu-check.sh --prepare      on a machine with network: copy the pinned ggml into ./.ggml
#                                       (gitignored) so that it can travel to a machine without network
#   scripts/gpu-check.sh                build (build/native-cuda) + check; exit 0 only if every check passed
#   scripts/gpu-check.sh --build-only   only the CUDA build (a second call continues an interrupted one)
#   scripts/gpu-check.sh --run-only     only the check, on an existing build
#   ... -- ARGS                         extra arguments for ember-gpu-check (e.g. -- --target 40)
#
# Environment: EMBER_GGML_DIR (ggml source; default ./.ggml, else the cache), EMBER_CUDA_ARCHITECTURES
# (default: nvidia-smi's compute capability), CUDA_HOME/CUDAToolkit_ROOT (default: nvcc's toolkit),
# EMBER_GPU_CHECK_JOBS (default: all cores). When $OUT is set (the device tool), logs are copied there.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$root/build/native-cuda"
mode=all
harness_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --prepare) mode=prepare ;;
    --build-only) mode=build ;;
    --run-only) mode=run ;;
    --) shift; harness_args=("$@"); break ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "gpu-check: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

started=$(date +%s)
elapsed() { echo $(( $(date +%s) - started )); }
say() { echo "[gpu-check $(elapsed)s] $*"; }
log_dir="${OUT:-$build}"
mkdir -p "$log_dir" "$build"

if [[ $mode == prepare ]]; then
  src=$("$root/scripts/fetch-ggml.sh") || { echo "gpu-check: could not fetch ggml" >&2; exit 1; }
  rm -rf "$root/.ggml"
  cp -a "$src" "$root/.ggml"
  say "copied $src to $root/.ggml ($(du -sh "$root/.ggml" | cut -f1)); it is gitignored and travels with"
  say "the device tool's carry: [\".ggml\"] (see docs/gpu.md)"
  exit 0
fi

# ---- the machine ---------------------------------------------------------------------------------
summary=()
if command -v nvidia-smi >/dev/null; then
  gpu_line=$(nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total --format=csv,noheader 2>/dev/null | head -n1)
  say "GPU: ${gpu_line:-nvidia-smi found no GPU}"
  summary+=("gpu: ${gpu_line:-none}")
else
  say "nvidia-smi not found"
fi

nvcc=$(command -v nvcc || true)
if [[ -z "$nvcc" ]]; then
  for c in "${CUDA_HOME:-}" "${CUDAToolkit_ROOT:-}" /usr/local/cuda $(ls -d /usr/local/cuda-* 2>/dev/null | sort -rV); do
    [[ -n "$c" && -x "$c/bin/nvcc" ]] && { nvcc="$c/bin/nvcc"; break; }
  done
fi
if [[ $mode != run ]]; then
  [[ -n "$nvcc" ]] || { say "FAIL: no nvcc (put it on PATH or set CUDA_HOME)"; exit 2; }
  toolkit=${CUDAToolkit_ROOT:-${CUDA_HOME:-$(cd "$(dirname "$(readlink -f "$nvcc")")/.." && pwd)}}
  say "nvcc: $nvcc ($("$nvcc" --version | grep -o 'release [0-9.]*' | head -n1)), toolkit $toolkit, $(nproc) cores"
fi

# ---- build ---------------------------------------------------------------------------------------
if [[ $mode == all || $mode == build ]]; then
  ggml="${EMBER_GGML_DIR:-}"
  [[ -z "$ggml" && -f "$root/.ggml/CMakeLists.txt" ]] && ggml="$root/.ggml"
  if [[ -z "$ggml" ]]; then
    ggml=$("$root/scripts/fetch-ggml.sh") || { say "FAIL: no ggml: carry .ggml (scripts/gpu-check.sh --prepare) or set EMBER_GGML_DIR"; exit 2; }
  fi
  arch="${EMBER_CUDA_ARCHITECTURES:-}"
  if [[ -z "$arch" ]] && command -v nvidia-smi >/dev/null; then
    arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n1 | tr -d ' .')
  fi
  [[ -n "$arch" ]] || { arch="80;90"; say "no GPU to read the architecture from: building for $arch"; }

  flags=(-DEMBER_CUDA=ON "-DEMBER_CUDA_ARCHITECTURES=$arch" "-DEMBER_GGML_DIR=$ggml" "-DCMAKE_CUDA_COMPILER=$nvcc"
         "-DCUDAToolkit_ROOT=$toolkit" -DCMAKE_BUILD_TYPE=Release)
  # cuBLAS: the toolkit's, else a pip wheel's (nvidia-cublas: the PyTorch environment on the GPU machines).
  if ! ls "$toolkit"/lib64/libcublas.so "$toolkit"/lib/libcublas.so "$toolkit"/targets/*/lib/libcublas.so >/dev/null 2>&1; then
    say "no cuBLAS in $toolkit; looking in Python's nvidia packages"
    dirs=$(for py in python3 /opt/*/.venv/bin/python3; do
             command -v "$py" >/dev/null && "$py" -c 'import nvidia, sys; print("\n".join(nvidia.__path__))' 2>/dev/null
           done | sort -u)
    lib=$(for d in $dirs /usr/lib/x86_64-linux-gnu; do find "$d" -name 'libcublas.so*' 2>/dev/null; done | grep -v Lt | sort | head -n1)
    if [[ -n "$lib" ]]; then
      libdir=$(dirname "$lib")
      lt=$(ls "$libdir"/libcublasLt.so* 2>/dev/null | sort | head -n1)
      inc=$(for d in $dirs /usr/include; do find "$d" -name cublas_v2.h 2>/dev/null; done | head -n1)
      say "cuBLAS: $lib, $lt, header ${inc:-not found}"
      flags+=("-DCUDA_cublas_LIBRARY=$lib" "-DCUDA_cublasLt_LIBRARY=$lt")
      [[ -n "$inc" ]] && flags+=("-DEMBER_CUBLAS_INCLUDE_DIR=$(dirname "$inc")")
    else
      say "no cuBLAS found anywhere: the configure step will say what is missing"
    fi
  fi

  say "configure: ${flags[*]}"
  if ! cmake -S "$root" -B "$build" -G Ninja "${flags[@]}" >"$log_dir/cuda-configure.log" 2>&1; then
    tail -n 40 "$log_dir/cuda-configure.log"
    say "FAIL: CMake configure failed (log: $log_dir/cuda-configure.log)"
    exit 1
  fi
  grep -E "ember:|CUDA Toolkit|Using CMAKE_CUDA" "$log_dir/cuda-configure.log"
  jobs=${EMBER_GPU_CHECK_JOBS:-$(nproc)}
  build_start=$(date +%s)
  say "building libember + ember-gpu-check with $jobs jobs (ggml-cuda is ~140 CUDA files)"
  if ! cmake --build "$build" --target ember ember-gpu-check --parallel "$jobs" >"$log_dir/cuda-build.log" 2>&1; then
    grep -E "error|Error" "$log_dir/cuda-build.log" | head -n 30
    tail -n 20 "$log_dir/cuda-build.log"
    say "FAIL: build failed (log: $log_dir/cuda-build.log)"
    exit 1
  fi
  build_s=$(( $(date +%s) - build_start ))
  say "built in ${build_s}s"
  summary+=("cuda build: ${build_s}s with $jobs jobs for sm_$arch")
  say "libember's CUDA dependencies:"
  readelf -d "$build/libember.so" | grep -E "RUNPATH|RPATH" || true
  ldd "$build/libember.so" | grep -E "cuda|cublas|not found" || true
fi
[[ $mode == build ]] && exit 0

# ---- check ---------------------------------------------------------------------------------------
exe="$build/ember-gpu-check"
[[ -x "$exe" ]] || { say "FAIL: $exe is missing (run without --run-only first)"; exit 2; }
if ldd "$exe" | grep -q "not found"; then
  ldd "$exe" | grep "not found"
  say "FAIL: libraries missing at run time; add their folder to LD_LIBRARY_PATH"
  exit 2
fi
say "running ember-gpu-check ${harness_args[*]:-}"
set -o pipefail
"$exe" "${harness_args[@]}" 2>&1 | tee "$log_dir/gpu-check.log"
status=${PIPESTATUS[0]}
summary+=("$(grep -E '^(PASS|FAIL|RESULT)' "$log_dir/gpu-check.log")")

# The same timing without CUDA graphs, if there is time left (the device tool allows 600 s a call).
if [[ $status -eq 0 && $(elapsed) -lt 420 ]]; then
  say "timing again without CUDA graphs (GGML_CUDA_DISABLE_GRAPHS=1)"
  GGML_CUDA_DISABLE_GRAPHS=1 "$exe" --no-reference --no-vae "${harness_args[@]}" 2>&1 | tee "$log_dir/gpu-check-nographs.log" \
    | grep -E "^RESULT" | sed 's/^RESULT unet/RESULT unet cuda_graphs=0/' | tee -a "$log_dir/gpu-check.log" >/dev/null
  summary+=("$(grep -E '^RESULT' "$log_dir/gpu-check-nographs.log" | sed 's/^RESULT unet/RESULT unet cuda_graphs=0/')")
fi

# Java is usually absent on the GPU machine; where a JDK and a built CLI exist, the CLI sees the GPU too.
if jdk=$("$root/scripts/find-jdk.sh" 2>/dev/null) && [[ -n "$jdk" && -x "$root/ember" ]] && ls "$root"/cli/target/*.jar >/dev/null 2>&1; then
  say "JDK found: ./ember devices with the CUDA libember"
  EMBER_LIBRARY="$build/libember.so" JAVA_HOME="$jdk" "$root/ember" devices 2>&1 | tee -a "$log_dir/gpu-check.log" || true
  if EMBER_LIBRARY="$build/libember.so" JAVA_HOME="$jdk" "$root/ember" bench --help >/dev/null 2>&1; then
    EMBER_LIBRARY="$build/libember.so" JAVA_HOME="$jdk" timeout 120 "$root/ember" bench --device cuda:0 --size 512 2>&1 \
      | tee -a "$log_dir/gpu-check.log" || true
  fi
fi

echo
echo "==== gpu-check summary ($(elapsed)s) ===="
printf '%s\n' "${summary[@]}"
if [[ $status -eq 0 ]]; then echo "gpu-check: OK"; else echo "gpu-check: FAILED (ember-gpu-check exit $status)"; fi
exit "$status"
