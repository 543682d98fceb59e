#!/usr/bin/env bash
# Runs the packaged jars the way users run them, through the launcher: `ember txt2img` (cli/target/ember.jar)
# and `ember batch` (spark/target/ember-spark.jar with its Spark class path), each on the tiny synthetic model.
# The module suites run the same code in-process from target/classes, so they cannot see a jar that lacks
# something at run time (libember, a service file); this can. scripts/test.sh runs it after `mvn verify -Pspark`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/ember-jars.XXXXXX")
trap 'rm -rf "$work"' EXIT
started=$SECONDS
fail() { echo "test-jars: $1" >&2; [[ -f "$work/log" ]] && tail -20 "$work/log" >&2; exit 1; }

"$root/ember" txt2img -p "a lighthouse" -W 64 -H 64 -s 2 -S 7 --threads 1 --out "$work/cli" > "$work/log" 2>&1 \
  || fail "ember txt2img (cli/target/ember.jar) failed"
[[ $(find "$work/cli" -name '*.png' | wc -l) -eq 1 ]] || fail "ember txt2img wrote no picture"
echo "test-jars: ember txt2img: ok"

if [[ -f "$root/spark/target/ember-spark.jar" ]]; then
  printf '{"prompt":"a lighthouse","seed":1}\n{"prompt":"a harbour","seed":2}\n' > "$work/prompts.jsonl"
  "$root/ember" batch --input "$work/prompts.jsonl" --out "$work/batch" -W 64 -H 64 -s 2 --master 'local[1]' --threads 1 \
    > "$work/log" 2>&1 || fail "ember batch (spark/target/ember-spark.jar) failed"
  [[ $(find "$work/batch" -name '*.png' | wc -l) -eq 2 ]] || fail "ember batch did not write its 2 pictures"
  echo "test-jars: ember batch: ok"
else
  echo "test-jars: ember batch: skipped (no spark/target/ember-spark.jar: build with -Pspark)"
fi
echo "test-jars: passed in $((SECONDS - started)) s"
