#!/usr/bin/env bash
# Sets Ember's Maven version everywhere it is written: every module's pom.xml (project and parent
# versions), the BOM's ember.version, the example's and libember's (CMakeLists.txt). Then re-record the API listing
# (docs/embedding.md, "API stability"); ApiSignatureTest checks that the new version allows the change.
# Usage: scripts/bump-version.sh NEW_VERSION     (e.g. 0.2.0)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
new=${1:?usage: scripts/bump-version.sh NEW_VERSION}
[[ "$new" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[A-Za-z0-9.]+)?$ ]] || { echo "bump-version: '$new' is not MAJOR.MINOR.PATCH[-QUALIFIER]" >&2; exit 2; }
old=$(sed -n 's|^  <version>\(.*\)</version>$|\1|p' "$root/pom.xml" | head -n1)
[[ -n "$old" ]] || { echo "bump-version: no <version> in $root/pom.xml" >&2; exit 1; }
esc=${old//./\\.}
for pom in "$root"/pom.xml "$root"/*/pom.xml; do
  sed -i "s|<version>$esc</version>|<version>$new</version>|g; s|<ember.version>$esc</ember.version>|<ember.version>$new</ember.version>|" "$pom"
done
sed -i "s|<ember.version>$esc</ember.version>|<ember.version>$new</ember.version>|" "$root/examples/embed/pom.xml"
# libember reports the same version (Ember.version(), the PNG metadata, ember --version).
sed -i "s|^project(ember VERSION $esc |project(ember VERSION ${new%%-*} |" "$root/CMakeLists.txt"
echo "bump-version: $old -> $new; now re-record the API listing:"
echo "  mvn -o verify -pl engine -am -Dtest=ApiSignatureTest -Dsurefire.failIfNoSpecifiedTests=false -Dember.api.record=true"
