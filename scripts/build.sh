#!/usr/bin/env bash
# Builds everything (ggml and libember through CMake, then the Java modules) without running tests.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
JAVA_HOME=$("$root/scripts/find-jdk.sh")
export JAVA_HOME
cd "$root"
mvn -q -DskipTests package "$@"
echo "built $root/cli/target/ember.jar (run ./ember --help)"
