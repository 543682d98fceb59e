#!/usr/bin/env bash
# Throughput of `ember batch` on local Spark against the command line run once per prompt: 16 prompts,
# 256x256, 4 steps (lms, cfg 7.5), the synthetic SD 1.5 f16 checkpoint of `ember bench`. Three runs:
#   A  ember batch --master local[2] --threads 1   (two tasks of one thread, sharing the JVM's model)
#   B  ember batch --master local[1] --threads 2   (one task of two threads)
#   C  ember txt2img --threads 2, once per prompt  (16 JVMs, each loading the model)
# C is the reference; the run prints each wall time and its ratio to C. Another model: its path as the
# argument (e.g. ~/.cache/ember/models/tiny.safetensors, ~1/4 of the work). A full-size model: run it as
#   flock /tmp/ember-bench.lock spark/bench-throughput.sh [MODEL]
# Needs the spark module built (scripts/build.sh -Pspark). Keeps its work folder and prints its path.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ember="$root/ember"
model="${1:-${EMBER_CACHE:-$HOME/.cache/ember}/models/sd15-f16.safetensors}"
if [[ $# -gt 0 && ! -f "$model" ]]; then
  echo "bench-throughput.sh: model $model not found" >&2
  exit 1
elif [[ ! -f "$model" ]]; then
  mkdir -p "$(dirname "$model")"
  "$ember" make-model --preset sd15 --dtype f16 --out "$model.tmp.safetensors"
  mv "$model.tmp.safetensors" "$model"
fi
work=$(mktemp -d /tmp/ember-spark-bench.XXXXXX)
prompts=(lighthouse fox "bowl of fruit" mountains city ship forest desert
         castle harbour garden bridge river tower meadow glacier)
for i in "${!prompts[@]}"; do
  printf '{"prompt": "a %s, oil painting", "seed": %d}\n' "${prompts[$i]}" $((i + 1))
done > "$work/prompts.jsonl"
common=(-s 4 -W 256 -H 256 --model "$model")

now() { date +%s.%N; }
load() { echo "$1 $(date +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$work/load.log"; }
load A; t0=$(now); "$ember" batch --master 'local[2]' --threads 1 --input "$work/prompts.jsonl" --out "$work/a" "${common[@]}" | tee "$work/a.log"
load B; t1=$(now); "$ember" batch --master 'local[1]' --threads 2 --input "$work/prompts.jsonl" --out "$work/b" "${common[@]}" | tee "$work/b.log"
load C; t2=$(now)
for i in "${!prompts[@]}"; do
  "$ember" txt2img -p "a ${prompts[$i]}, oil painting" -S $((i + 1)) --threads 2 --out "$work/c" --json "${common[@]}" > "$work/c-$i.json"
done
t3=$(now); load end

python3 - "$work" "$t0" "$t1" "$t2" "$t3" <<'EOF'
import glob, json, os, re, struct, sys, zlib
work, t0, t1, t2, t3 = sys.argv[1], *map(float, sys.argv[2:])
a, b, c = t1 - t0, t2 - t1, t3 - t2
runs = [json.load(open(f)) for f in glob.glob(work + "/c-*.json")]
load = sum(r["timings"]["loadSeconds"] for r in runs)
gen = sum(r["timings"]["generateSeconds"] for r in runs)
job = lambda log: float(re.search(r"wrote \d+ pictures .* in ([\d.]+) s", open(log).read()).group(1))
print(f"A local[2] x 1 thread  : {a:7.1f} s  {a / c:5.2f} x C   (Spark job {job(work + '/a.log'):.1f} s)")
print(f"B local[1] x 2 threads : {b:7.1f} s  {b / c:5.2f} x C   (Spark job {job(work + '/b.log'):.1f} s)")
print(f"C CLI one after another: {c:7.1f} s  (model loads {load:.1f} s, generation {gen:.1f} s, {len(runs)} runs)")

def pixels(path):  # the PNG's decompressed image data (the metadata chunks differ: threads)
    data, out, i = open(path, "rb").read(), b"", 8
    while i < len(data):
        n, kind = struct.unpack(">I4s", data[i:i + 8])
        if kind == b"IDAT": out += data[i + 8:i + 8 + n]
        i += 12 + n
    return zlib.decompress(out)
same = 0
for i in range(len(runs)):
    seed = i + 1
    pa = pixels(f"{work}/a/{i + 1:06d}.{seed}.png")
    pb = pixels(f"{work}/b/{i + 1:06d}.{seed}.png")
    pc = pixels(glob.glob(f"{work}/c/*.{seed}.png")[0])
    same += pa == pb == pc
print(f"same pixels in A, B and C: {same} of {len(runs)} prompts")
print("work folder: " + work)
EOF
