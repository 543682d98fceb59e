#!/usr/bin/env bash
# Runs every test: builds libember, checks the bindings against the header, runs the engine, CLI, server
# and Spark suites (-Pspark: the spark module, left out of scripts/build.sh), then checks Ember as a
# dependency (scripts/test-embed.sh: mvn install into a throw-away repository, examples/embed on the class
# path and the module path) and the packaged jars through the launcher (scripts/test-jars.sh). This is the
# command the README names and .ci/run calls. Arguments go to `mvn verify`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
JAVA_HOME=$("$root/scripts/find-jdk.sh")
export JAVA_HOME
cd "$root"
mvn verify -Pspark -Dmaven.source.skip -Dmaven.javadoc.skip "$@"
[[ "${EMBER_SKIP_EMBED:-}" == 1 ]] || EMBER_EMBED_PREBUILT=1 "$root/scripts/test-embed.sh"   # EMBER_SKIP_EMBED=1 skips it
[[ "${EMBER_SKIP_JARS:-}" == 1 ]] || "$root/scripts/test-jars.sh"   # EMBER_SKIP_JARS=1 skips it
