#!/usr/bin/env bash
# Runs every test: builds libember, checks the bindings against the header, runs the engine, CLI and
# Spark suites (-Pspark: the spark module, left out of scripts/build.sh). This is the command the README
# names and .ci/run calls.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
JAVA_HOME=$("$root/scripts/find-jdk.sh")
export JAVA_HOME
cd "$root"
mvn verify -Pspark "$@"
