#!/usr/bin/env bash
# Builds libember (and ggml inside it) with CMake, then copies it to $1 if given.
#
# The build folder is build/native at the repository root, outside every target/, so `mvn clean`
# keeps the compiled ggml. Extra CMake flags come from $EMBER_CMAKE_FLAGS (e.g. -DEMBER_CUDA=ON).
# On x86-64 Linux without a GPU backend the build makes one library per CPU variant
# (libember-sse42.so, -haswell, -skylakex, -zen4) and their manifest libember-variants.txt; they are
# copied together, replacing any libember* copied there before (cmake/EmberCpuVariants.cmake).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="${EMBER_BUILD_DIR:-$root/build/native}"
dest="${1:-}"
mkdir -p "$(dirname "$build")"

for tool in cmake git; do
  command -v "$tool" >/dev/null || { echo "build-native: $tool is required" >&2; exit 1; }
done
generator=()
command -v ninja >/dev/null && [[ ! -f "$build/CMakeCache.txt" || -f "$build/build.ninja" ]] && generator=(-G Ninja)

# shellcheck disable=SC2086
cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release ${EMBER_CMAKE_FLAGS:-} >"$build.configure.log" 2>&1 \
  || { cat "$build.configure.log" >&2; echo "build-native: CMake configure failed" >&2; exit 1; }
cmake --build "$build" --target ember-libraries --parallel "$(nproc 2>/dev/null || echo 2)" >"$build.build.log" 2>&1 \
  || { cat "$build.build.log" >&2; echo "build-native: build failed" >&2; exit 1; }

if [[ -f "$build/libember-variants.txt" ]]; then
  # The manifest names the variant files: all of them must be there.
  files=("$build/libember-variants.txt")
  while read -r _ file _; do
    [[ -f "$build/$file" ]] || { echo "build-native: $file (in libember-variants.txt) was not built in $build" >&2; exit 1; }
    files+=("$build/$file")
  done < <(grep -v '^#' "$build/libember-variants.txt")
else
  lib=$(ls "$build"/libember.so "$build"/libember.dylib "$build"/ember.dll 2>/dev/null | head -n1 || true)
  [[ -n "$lib" ]] || { echo "build-native: no libember found in $build" >&2; exit 1; }
  files=("$lib")
fi
if [[ -n "$dest" ]]; then
  mkdir -p "$dest"
  rm -f "$dest"/libember*.so "$dest"/libember*.dylib "$dest"/ember*.dll "$dest/libember-variants.txt"
  cp "${files[@]}" "$dest/"
fi
