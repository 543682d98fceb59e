#!/usr/bin/env bash
# Prints the path of a ggml source folder, fetching it once into a cache if needed.
#
# Order: $EMBER_GGML_DIR (a user's own ggml checkout), then the pinned copy in the cache
# ($EMBER_CACHE, default ~/.cache/ember). The pinned copy comes from the npm package
# node-llama-cpp, which ships llama.cpp as a git bundle; we clone it and use its ggml/ folder.
# The cache lives outside target/ so `mvn clean` never triggers a re-fetch or a ggml rebuild.
set -euo pipefail

NODE_LLAMA_CPP_VERSION=3.21.1
PINNED_COMMIT=80fb11ac73e66d89eae2c6a91d8a77428fa733ed

if [[ -n "${EMBER_GGML_DIR:-}" ]]; then
  if [[ ! -f "$EMBER_GGML_DIR/CMakeLists.txt" || ! -d "$EMBER_GGML_DIR/include" ]]; then
    echo "fetch-ggml: EMBER_GGML_DIR=$EMBER_GGML_DIR is not a ggml source folder (no CMakeLists.txt/include)" >&2
    exit 1
  fi
  echo "$EMBER_GGML_DIR"
  exit 0
fi

cache="${EMBER_CACHE:-$HOME/.cache/ember}/ggml/node-llama-cpp-$NODE_LLAMA_CPP_VERSION"
src="$cache/llama.cpp"
if [[ -f "$src/ggml/CMakeLists.txt" && -f "$cache/.complete" ]]; then
  echo "$src/ggml"
  exit 0
fi

command -v npm >/dev/null || { echo "fetch-ggml: npm is required to fetch ggml (or set EMBER_GGML_DIR)" >&2; exit 1; }
command -v git >/dev/null || { echo "fetch-ggml: git is required to fetch ggml" >&2; exit 1; }

rm -rf "$cache"
mkdir -p "$cache"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "fetch-ggml: fetching node-llama-cpp@$NODE_LLAMA_CPP_VERSION from npm (once; cached in $cache)" >&2
(cd "$work" && npm pack --silent "node-llama-cpp@$NODE_LLAMA_CPP_VERSION" >/dev/null)
tar -xzf "$work/node-llama-cpp-$NODE_LLAMA_CPP_VERSION.tgz" -C "$work" package/llama/gitRelease.bundle
git clone --quiet "$work/package/llama/gitRelease.bundle" "$src" 2>/dev/null
actual=$(git -C "$src" rev-parse HEAD)
if [[ "$actual" != "$PINNED_COMMIT" ]]; then
  echo "fetch-ggml: expected llama.cpp commit $PINNED_COMMIT, got $actual" >&2
  rm -rf "$cache"
  exit 1
fi
touch "$cache/.complete"
echo "$src/ggml"
