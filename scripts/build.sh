#!/usr/bin/env bash
# Builds everything (ggml and libember through CMake, then the Java modules) without running tests.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
JAVA_HOME=$("$root/scripts/find-jdk.sh")
export JAVA_HOME
cd "$root"
# Sources and javadoc jars are for `mvn install` (docs/embedding.md); the launcher needs neither.
mvn -q -DskipTests -Dmaven.source.skip -Dmaven.javadoc.skip package "$@"
echo "built $root/cli/target/ember.jar (run ./ember --help)"
