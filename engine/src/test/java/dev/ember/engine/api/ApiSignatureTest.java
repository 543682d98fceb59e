package dev.ember.engine.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.ember.bindings.NativeLibrary;
import dev.ember.engine.StableDiffusion;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * The engine's public API ({@link ApiListing}) against the listing recorded in {@code engine/api/ember-engine.api},
 * whose first line names the version it belongs to. A change of a public signature fails unless the version
 * says so (docs/embedding.md): additions need at least a patch release, a removed or changed signature a
 * minor release before 1.0 and a major one after. Once the version is bumped, re-record with
 * {@code mvn -o verify -pl engine -am -Dtest=ApiSignatureTest -Dsurefire.failIfNoSpecifiedTests=false -Dember.api.record=true};
 * recording refuses a change the version does not allow.
 */
class ApiSignatureTest {
    private static final Path RECORDED = Path.of("api", "ember-engine.api");
    private static final String HEADER = "# ember-engine public API, version ";

    @Test
    void publicSignaturesChangeOnlyWithTheVersion() throws Exception {
        String version = NativeLibrary.version();
        List<String> now = ApiListing.of(classes(), StableDiffusion.class.getClassLoader());
        boolean record = Boolean.getBoolean("ember.api.record");
        if (record && !Files.exists(RECORDED)) {
            write(version, now);
            return;
        }
        List<String> file = Files.readAllLines(RECORDED, StandardCharsets.UTF_8);
        assertTrue(!file.isEmpty() && file.getFirst().startsWith(HEADER), RECORDED + " must start with '" + HEADER + "<version>'");
        String recordedVersion = file.getFirst().substring(HEADER.length()).strip();
        List<String> recorded = file.subList(1, file.size());

        Set<String> removed = new TreeSet<>(recorded);
        now.forEach(removed::remove);
        Set<String> added = new TreeSet<>(now);
        recorded.forEach(added::remove);
        String verdict = allowed(recordedVersion, version, !added.isEmpty(), !removed.isEmpty());

        if (record) {
            if (verdict != null) fail(verdict + diff(added, removed));
            write(version, now);
            return;
        }
        if (verdict != null) fail(verdict + diff(added, removed));
        assertEquals(recordedVersion, version, "the version changed: re-record " + RECORDED + " (-Dember.api.record=true)" + diff(added, removed));
        assertEquals(recorded, now, "the API listing is out of order or changed" + diff(added, removed));
    }

    private static void write(String version, List<String> listing) throws IOException {
        List<String> out = new ArrayList<>();
        out.add(HEADER + version);
        out.addAll(listing);
        Files.write(RECORDED, out, StandardCharsets.UTF_8);
    }

    /** The BOM names the same version as the build, and every native jar the loader may ask for. */
    @Test
    void theBomNamesThisVersion() throws IOException {
        Path bom = Path.of(System.getProperty("ember.root", "..")).resolve("bom/pom.xml");
        String text = Files.readString(bom);
        assertTrue(text.contains("<ember.version>" + NativeLibrary.version() + "</ember.version>"), bom + " must say <ember.version>" + NativeLibrary.version());
        for (String platform : NativeLibrary.PUBLISHED_PLATFORMS) {
            assertTrue(text.contains("<classifier>" + platform + "</classifier>"), bom + " must manage ember-native:" + platform);
        }
    }

    /** Members clients cannot use (their types live in packages the module does not export): none. */
    @Test
    void noMemberExposesInternalTypes() throws Exception {
        Path classes = classes();
        Set<String> exported = ApiListing.exportedPackages(classes);
        Set<String> leaks = new LinkedHashSet<>();
        for (String line : ApiListing.of(classes, StableDiffusion.class.getClassLoader())) {
            if (ApiListing.mentionsInternalType(line, exported)) leaks.add(line.replaceFirst(" # .*\\.([A-Za-z0-9_]+)\\(.*", " # $1"));
        }
        // Ember's own tools reach the internals through dev.ember.engine.pipeline.ModelInternals: no exceptions.
        Set<String> unexpected = new TreeSet<>(leaks);
        assertTrue(unexpected.isEmpty(), "public members with types of unexported packages (export the package, or keep the member internal): " + unexpected);
    }

    /**
     * Null when going from {@code from} to {@code to} allows the change, else why not. Before 1.0 the minor
     * number is the breaking one (0.1.x to 0.2.0), as Cargo and npm read 0.x versions.
     */
    static String allowed(String from, String to, boolean added, boolean removed) {
        if (!added && !removed) return null;
        int[] a = parse(from), b = parse(to);
        int breaking = a[0] == 0 ? 1 : 0;
        boolean bumpedBreaking = b[breaking] > a[breaking] || (breaking == 1 && b[0] > a[0]);
        boolean bumpedAny = compare(b, a) > 0;
        if (removed && !bumpedBreaking) {
            return "public signatures were removed or changed, but the version went from " + from + " to " + to + ": that needs "
                    + (breaking == 1 ? "a new minor version before 1.0 (0." + (a[1] + 1) + ".0)" : "a new major version (" + (a[0] + 1) + ".0.0)");
        }
        if (added && !bumpedAny) return "public signatures were added, but the version is still " + from + ": bump it (at least the patch number)";
        return null;
    }

    private static int[] parse(String v) {
        String[] p = v.replaceFirst("-.*", "").split("\\.");
        int[] out = new int[3];
        for (int i = 0; i < 3 && i < p.length; i++) out[i] = Integer.parseInt(p[i]);
        return out;
    }

    private static int compare(int[] a, int[] b) {
        for (int i = 0; i < 3; i++) if (a[i] != b[i]) return Integer.compare(a[i], b[i]);
        return 0;
    }

    private static String diff(Set<String> added, Set<String> removed) {
        StringBuilder s = new StringBuilder();
        for (String r : removed) s.append("\n  - ").append(r);
        for (String a : added) s.append("\n  + ").append(a);
        return s.toString();
    }

    private static Path classes() throws URISyntaxException {
        return Path.of(StableDiffusion.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    }

    @Test
    void versionRules() {
        assertEquals(null, allowed("0.1.0", "0.1.0", false, false));
        assertTrue(allowed("0.1.0", "0.1.0", true, false) != null, "an addition needs a bump");
        assertEquals(null, allowed("0.1.0", "0.1.1", true, false));
        assertTrue(allowed("0.1.0", "0.1.1", false, true) != null, "a removal before 1.0 needs a minor bump");
        assertEquals(null, allowed("0.1.3", "0.2.0", true, true));
        assertTrue(allowed("1.2.0", "1.3.0", false, true) != null, "a removal after 1.0 needs a major bump");
        assertEquals(null, allowed("1.2.0", "2.0.0", false, true));
    }
}
