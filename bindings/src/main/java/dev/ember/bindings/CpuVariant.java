package dev.ember.bindings;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * One instruction-set variant of libember (cmake/EmberCpuVariants.cmake): its name, its library file and
 * the {@code /proc/cpuinfo} flags a CPU must have to run it. The build lists them, narrowest first, in
 * the manifest {@value #MANIFEST} next to the libraries (and in the jar).
 *
 * @param name          "sse42", "haswell", "skylakex", "zen4", ...
 * @param fileName      the library, e.g. {@code libember-haswell.so}
 * @param requiredFlags what the CPU must list, in the manifest's order
 */
public record CpuVariant(String name, String fileName, List<String> requiredFlags) {
    public static final String MANIFEST = "libember-variants.txt";

    public CpuVariant {
        if (name == null || !name.matches("[A-Za-z0-9_.-]+")) throw new IllegalArgumentException("bad CPU variant name '" + name + "'");
        if (fileName == null || !fileName.matches("[A-Za-z0-9_][A-Za-z0-9_.-]*")) {
            throw new IllegalArgumentException("bad library file name '" + fileName + "' for CPU variant " + name);
        }
        requiredFlags = List.copyOf(requiredFlags);
    }

    /** Whether a CPU with these features can run this variant. */
    public boolean runsOn(CpuFeatures cpu) {
        return cpu.hasAll(requiredFlags);
    }

    /**
     * The variants of a manifest, in its order: one per line, "name file flag...", {@code #} starts a
     * comment line. A malformed line or a repeated name fails naming the line.
     */
    public static List<CpuVariant> parseManifest(String text) {
        List<CpuVariant> out = new ArrayList<>();
        Set<String> names = new LinkedHashSet<>();
        String[] lines = text.split("\n");
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].strip();
            if (line.isEmpty() || line.startsWith("#")) continue;
            String[] parts = line.split("\\s+");
            if (parts.length < 2) throw new IllegalArgumentException(MANIFEST + " line " + (i + 1) + ": expected 'name file flags...', got '" + line + "'");
            CpuVariant v;
            try {
                v = new CpuVariant(parts[0], parts[1], List.of(parts).subList(2, parts.length));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(MANIFEST + " line " + (i + 1) + ": " + e.getMessage(), e);
            }
            if (!names.add(v.name())) throw new IllegalArgumentException(MANIFEST + " line " + (i + 1) + ": CPU variant " + v.name() + " listed twice");
            out.add(v);
        }
        if (out.isEmpty()) throw new IllegalArgumentException(MANIFEST + " lists no CPU variant");
        return List.copyOf(out);
    }
}
