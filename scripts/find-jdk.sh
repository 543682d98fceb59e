#!/usr/bin/env bash
# Prints the home of a JDK >= 22 (the FFM API is final from 22 on), or fails saying where it looked.
# Order: $EMBER_JAVA_HOME, $JAVA_HOME, the `java` on PATH, then the usual install folders.
set -uo pipefail

feature_version() {  # prints the feature release (17, 22, 25, ...) of the java binary in $1/bin
  local out
  out=$("$1/bin/java" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2; exit}')
  [[ "$out" =~ ^[0-9]+$ ]] && echo "$out"
}

candidates=()
[[ -n "${EMBER_JAVA_HOME:-}" ]] && candidates+=("$EMBER_JAVA_HOME")
[[ -n "${JAVA_HOME:-}" ]] && candidates+=("$JAVA_HOME")
if command -v java >/dev/null 2>&1; then
  candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")")
fi
for dir in /usr/lib/jvm/* /opt/java/* /opt/jdk* /usr/local/lib/jvm/* "$HOME"/.sdkman/candidates/java/* "$HOME"/.jdks/* /Library/Java/JavaVirtualMachines/*/Contents/Home; do
  [[ -d "$dir" ]] && candidates+=("$dir")
done

best="" best_version=0
for home in "${candidates[@]}"; do
  [[ -x "$home/bin/java" && -x "$home/bin/javac" ]] || continue
  v=$(feature_version "$home") || continue
  if (( v >= 22 && v > best_version )); then best="$home" best_version=$v; fi
  # An explicit choice that qualifies wins over anything newer found later.
  if [[ -n "$best" && ( "$home" == "${EMBER_JAVA_HOME:-}" || "$home" == "${JAVA_HOME:-}" ) ]]; then break; fi
done

if [[ -z "$best" ]]; then
  echo "Ember needs a JDK >= 22 (for the FFM API). Looked at: ${candidates[*]:-nothing}. Set EMBER_JAVA_HOME." >&2
  exit 1
fi
echo "$best"
