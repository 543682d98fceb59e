#!/usr/bin/env bash
# Throughput of `ember serve` (1 and 8 clients, --max-batch 1/4/8) next to the CLI making the same pictures one
# after another, in one run (docs/performance.md, "Serving"). Full-size models: run it under
#   flock /tmp/ember-bench.lock scripts/bench-serve.sh MODEL SIZE STEPS REQUESTS [THREADS]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
model=${1:?model file} size=${2:-256} steps=${3:-4} n=${4:-8} threads=${5:-0}
ember="$root/ember"
out=$(mktemp -d /tmp/ember-bench-serve.XXXXXX)
common=(-p "a lighthouse at dusk" -W "$size" -H "$size" -s "$steps" -C 7 -S 1000)
echo "model $model, ${size}x${size}, $steps steps, $n images per run, threads $threads; work in $out"

"$ember" txt2img --model "$model" "${common[@]}" -A euler -n "$n" --threads "$threads" --out "$out/cli" --json > "$out/cli.json" 2> "$out/cli.err"
python3 - "$out/cli.json" "$n" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["timings"]["generateSeconds"]; n = int(sys.argv[2])
print(f"cli, one after another: {n} images in {t:.1f} s: {60 * n / t:.2f} images/min ({t / n:.2f} s per image)")
PY

run_server() { # batch clients...
  local batch=$1; shift
  "$ember" serve --model "$model" --port 0 --max-batch "$batch" --threads "$threads" --outputs "$out/saved" > "$out/serve-$batch.out" 2>&1 &
  local pid=$! url=""
  for _ in $(seq 1 600); do
    url=$(grep -o 'at http://127.0.0.1:[0-9]*' "$out/serve-$batch.out" | head -1 | cut -c4- || true)
    [[ -n "$url" ]] && break
    kill -0 "$pid" 2>/dev/null || { cat "$out/serve-$batch.out"; exit 1; }
    sleep 1
  done
  for clients in "$@"; do
    printf 'serve --max-batch %s, %s client(s): ' "$batch" "$clients"
    "$ember" bench-serve --url "$url" --clients "$clients" --requests "$n" -W "$size" -H "$size" -s "$steps" -A Euler -C 7 -S 1000 \
      -p "a lighthouse at dusk"
  done
  curl -s "$url/health"; echo
  kill "$pid"; wait "$pid" || true
}
# --max-batch 1 with 1 and 8 clients (queue, no batching), then the larger batches (BATCHES="4 8") with 8 clients.
run_server 1 1 8
for batch in ${BATCHES:-4 8}; do run_server "$batch" 8; done
