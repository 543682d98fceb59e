#!/usr/bin/env bash
# Checks Ember as a dependency, as an application sees it: installs the artifacts (ember-bom, ember-engine,
# ember-native:<platform>, ember-server, with sources and javadoc jars) into a throw-away local Maven
# repository, builds examples/embed against them alone, and runs it on the class path and on the module
# path: each run must make its picture and strip, print only the example's own line, and write nothing to
# stderr (no warning, no stack trace). A run without the native jar must name the missing artifact.
#
# Nothing is downloaded: the throw-away repository takes plugins and libraries from the user's own local
# repository ($EMBER_M2_REPO, default ~/.m2/repository, read only) through a file:// mirror, so run the
# main build (scripts/build.sh or scripts/test.sh) first. scripts/test.sh runs this after `mvn verify`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
JAVA_HOME=$("$root/scripts/find-jdk.sh")
export JAVA_HOME
java="$JAVA_HOME/bin/java"
seed_repo="${EMBER_M2_REPO:-$HOME/.m2/repository}"
[[ -d "$seed_repo" ]] || { echo "test-embed: no local Maven repository at $seed_repo (set EMBER_M2_REPO)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/ember-embed.XXXXXX")
trap 'rm -rf "$work"' EXIT
cat > "$work/settings.xml" <<XML
<settings>
  <mirrors>
    <mirror><id>local-seed</id><mirrorOf>*</mirrorOf><url>file://$seed_repo</url></mirror>
  </mirrors>
</settings>
XML
mvn_tmp=(mvn -q -B -s "$work/settings.xml" -Dmaven.repo.local="$work/repo")
started=$SECONDS

echo "test-embed: installing Ember into $work/repo"
# After scripts/test.sh's `mvn verify` (EMBER_EMBED_PREBUILT=1) the classes are fresh: package them as they
# are instead of compiling everything again against the throw-away repository's paths.
prebuilt=()
[[ "${EMBER_EMBED_PREBUILT:-}" == 1 ]] && prebuilt=(-Dmaven.main.skip -Dmaven.test.skip=true)
(cd "$root" && "${mvn_tmp[@]}" install -DskipTests "${prebuilt[@]}" -pl '!cli' >"$work/install.log") \
  || { cat "$work/install.log" >&2; echo "test-embed: FAIL: mvn install" >&2; exit 1; }
echo "test-embed: installed in $((SECONDS - started)) s"
version=$(sed -n 's|.*<version>\(.*\)</version>.*|\1|p' "$root/pom.xml" | head -n1)
for f in ember-bom/$version/ember-bom-$version.pom \
         ember-engine/$version/ember-engine-$version.jar ember-engine/$version/ember-engine-$version-sources.jar \
         ember-engine/$version/ember-engine-$version-javadoc.jar \
         ember-server/$version/ember-server-$version.jar ember-server/$version/ember-server-$version-javadoc.jar; do
  [[ -f "$work/repo/dev/ember/$f" ]] || { echo "test-embed: FAIL: mvn install did not install dev/ember/$f" >&2; exit 1; }
done
native_jar=$(ls "$work"/repo/dev/ember/ember-native/"$version"/ember-native-"$version"-*.jar | head -n1)
[[ -f "$native_jar" ]] || { echo "test-embed: FAIL: no ember-native jar installed" >&2; exit 1; }
platform=${native_jar##*/ember-native-$version-}
platform=${platform%.jar}

example="$work/embed"
cp -r "$root/examples/embed" "$example"
rm -rf "$example/target"
(cd "$example" && "${mvn_tmp[@]}" package)

# "WIDTH HEIGHT" of a PNG: its IHDR chunk's two big-endian 32-bit numbers at byte 16.
png_size() {
  od -An -tu1 -j16 -N8 "$1" | awk '{print $1*16777216 + $2*65536 + $3*256 + $4, $5*16777216 + $6*65536 + $7*256 + $8}'
}

# One run: $1 = label, then the java arguments. Checks exit code, stdout and stderr, and the two PNGs.
run_example() {
  local label=$1; shift
  local out="$work/out-$label"
  if ! (cd "$example" && "$java" "$@" "$out" >"$work/$label.stdout" 2>"$work/$label.stderr"); then
    echo "test-embed: FAIL ($label): the example failed:" >&2; cat "$work/$label.stderr" >&2; exit 1
  fi
  [[ ! -s "$work/$label.stderr" ]] || { echo "test-embed: FAIL ($label): stderr is not empty:" >&2; cat "$work/$label.stderr" >&2; exit 1; }
  grep -qx "wrote $out/picture.png (64x64) and $out/steps.png (9 previews)" "$work/$label.stdout" && [[ $(wc -l <"$work/$label.stdout") -eq 1 ]] \
    || { echo "test-embed: FAIL ($label): stdout is not just the example's line:" >&2; cat "$work/$label.stdout" >&2; exit 1; }
  # PNG width and height (IHDR, big-endian at byte 16): the strip is 9 previews of 64 pixels side by side.
  local size
  size=$(png_size "$out/steps.png")
  [[ "$size" == "576 64" ]] || { echo "test-embed: FAIL ($label): steps.png is $size, not 576 64" >&2; exit 1; }
  size=$(png_size "$out/picture.png")
  [[ "$size" == "64 64" ]] || { echo "test-embed: FAIL ($label): picture.png is $size, not 64 64" >&2; exit 1; }
  echo "test-embed: $label: ok ($(cat "$work/$label.stdout"))"
}

# A cache of its own: the library is extracted there, the tiny model written there.
cache=(-Dember.cache="$work/cache")
run_example class-path --enable-native-access=ALL-UNNAMED "${cache[@]}" -cp "target/classes:target/lib/*" dev.ember.example.Embed
run_example module-path --enable-native-access=dev.ember.engine "${cache[@]}" -p target/classes:target/lib -m dev.ember.example/dev.ember.example.Embed

# Without the native jar the loader must say which artifact is missing (and the example fail).
mkdir "$work/lib-no-native"
find "$example/target/lib" -name '*.jar' ! -name 'ember-native-*' -exec cp {} "$work/lib-no-native/" \;
if (cd "$example" && env -u EMBER_LIBRARY "$java" --enable-native-access=ALL-UNNAMED "${cache[@]}" -cp "target/classes:$work/lib-no-native/*" \
      dev.ember.example.Embed "$work/out-missing" >"$work/missing.stdout" 2>"$work/missing.stderr"); then
  echo "test-embed: FAIL: the example ran without the native jar" >&2; exit 1
fi
grep -q "add dev.ember:ember-native:$version:$platform" "$work/missing.stderr" \
  || { echo "test-embed: FAIL: the error without the native jar does not name it:" >&2; cat "$work/missing.stderr" >&2; exit 1; }
echo "test-embed: without the native jar: ok (the error names dev.ember:ember-native:$version:$platform)"
echo "test-embed: passed in $((SECONDS - started)) s"
