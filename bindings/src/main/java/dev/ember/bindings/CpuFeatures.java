package dev.ember.bindings;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * This CPU's model name and instruction-set flags, as Linux lists them in {@code /proc/cpuinfo} (the
 * kernel drops the flags of features the operating system has not enabled, e.g. AVX-512 without its
 * register state). Read before any libember variant is loaded, so that none is loaded that the CPU
 * cannot run: a library built for AVX-512 would stop the JVM with an illegal instruction.
 *
 * @param model the first processor's "model name"
 * @param flags the first processor's "flags", iterated in sorted order
 */
public record CpuFeatures(String model, Set<String> flags) {
    public CpuFeatures {
        model = model == null ? "" : model.strip();
        flags = Collections.unmodifiableSortedSet(new TreeSet<>(flags));  // sorted: the variant choice's key lists them
    }

    /** This machine's features, or empty where there is no {@code /proc/cpuinfo} (not Linux). */
    public static Optional<CpuFeatures> ofThisMachine() {
        Path cpuinfo = Path.of("/proc/cpuinfo");
        if (!Files.isReadable(cpuinfo)) return Optional.empty();
        try {
            return Optional.of(parse(Files.readString(cpuinfo)));
        } catch (IOException | IllegalArgumentException e) {
            return Optional.empty();
        }
    }

    /** The first processor's block of a {@code /proc/cpuinfo} text; it must have a "flags" line. */
    static CpuFeatures parse(String cpuinfo) {
        String model = null;
        String flags = null;
        for (String line : cpuinfo.split("\n")) {
            if (line.isBlank() && flags != null) break;  // the end of the first processor's block
            int colon = line.indexOf(':');
            if (colon < 0) continue;
            String key = line.substring(0, colon).strip();
            String value = line.substring(colon + 1).strip();
            if (key.equals("model name") && model == null) model = value;
            if (key.equals("flags") && flags == null) flags = value;
        }
        if (flags == null) throw new IllegalArgumentException("no 'flags' line in /proc/cpuinfo");
        return new CpuFeatures(model, Set.copyOf(Arrays.asList(flags.isEmpty() ? new String[0] : flags.split("\\s+"))));
    }

    /** Whether every one of {@code needed} is among the flags. */
    public boolean hasAll(Collection<String> needed) {
        return flags.containsAll(needed);
    }

    /** The flags of {@code needed} this CPU lacks, in order. */
    public String missing(Collection<String> needed) {
        return String.join(" ", needed.stream().filter(f -> !flags.contains(f)).toList());
    }
}
