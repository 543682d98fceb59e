package dev.ember.bindings;

import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.function.Consumer;

/**
 * Chooses which CPU variant of libember to load ({@link CpuVariant}), by measuring, not by the widest
 * instruction set: on an AVX-512 EPYC the AVX-512 build ran the UNet 2.7-6.8x slower than the AVX2 one
 * (issue #14, docs/performance.md). In order:
 * <ol>
 *   <li>only variants this CPU can run are considered ({@link CpuFeatures}; where the CPU cannot be
 *       read, only the narrowest);</li>
 *   <li>{@value #VARIANT_PROPERTY} / {@value #VARIANT_ENV} names one to use (an error if unknown or if
 *       this CPU cannot run it);</li>
 *   <li>a choice remembered for this CPU model, flag set and these exact libraries (by their SHA-256) in
 *       {@code <Ember cache>/cpu-variant/};</li>
 *   <li>otherwise each runnable variant is timed on {@link CpuVariantTiming}'s workloads, widest first (a
 *       few seconds, said once on stderr; one whose products alone are far slower than the best so far is
 *       not timed further), and the one with the lowest estimated UNet step time is remembered; a wider
 *       variant must beat a narrower one by {@value #WIDER_MARGIN_PERCENT}% to be chosen, so that noise
 *       does not pick a wider one.</li>
 * </ol>
 */
public final class CpuVariants {
    public static final String VARIANT_ENV = "EMBER_CPU_VARIANT";
    public static final String VARIANT_PROPERTY = "ember.cpu.variant";
    static final int WIDER_MARGIN_PERCENT = 3;
    private static final String RECORD_FOLDER = "cpu-variant";

    private CpuVariants() {}

    /** A set of variants: the manifest's list, and each library's bytes (for the key) and a file to load. */
    interface Library {
        List<CpuVariant> variants();

        byte[] bytes(CpuVariant variant) throws IOException;

        Path file(CpuVariant variant) throws IOException;
    }

    /** How the variant in use was picked. */
    public enum How {
        /** named by {@value #VARIANT_PROPERTY} or {@value #VARIANT_ENV} */
        FORCED,
        /** the only variant this CPU can run */
        ONLY_ONE,
        /** measured earlier on this CPU with these libraries */
        REMEMBERED,
        /** measured now */
        MEASURED,
        /** nothing could be measured: the narrowest runnable variant */
        FALLBACK
    }

    /**
     * The variant chosen and why.
     *
     * @param timings what was measured now (empty unless {@code how} is MEASURED or FALLBACK)
     * @param record  the file that remembers the choice (null if none)
     */
    public record Choice(CpuVariant variant, How how, List<CpuVariantTiming> timings, Path record) {
        public Choice {
            timings = List.copyOf(timings);
        }
    }

    /**
     * Picks a variant of {@code library} for this CPU (see the class comment).
     *
     * @param cpu       this CPU's features, empty where unknown
     * @param forced    a variant name to use, or null/blank
     * @param cacheRoot the Ember cache (choices are remembered under it)
     * @param remeasure measure even when a choice is remembered (ember bench --calibrate)
     * @param threads   threads for the measurement (0 = all cores)
     * @param say       where the one-line notices go (stderr in use)
     * @throws UnsatisfiedLinkError when no variant can run here, or {@code forced} cannot be used
     */
    static Choice choose(Library library, Optional<CpuFeatures> cpu, String forced, Path cacheRoot, boolean remeasure, int threads,
                         Consumer<String> say) {
        List<CpuVariant> all = library.variants();
        List<CpuVariant> runnable = cpu.map(c -> all.stream().filter(v -> v.runsOn(c)).toList()).orElse(List.of(all.getFirst()));
        String model = cpu.map(CpuFeatures::model).orElse("an unknown CPU");
        if (runnable.isEmpty()) {
            CpuVariant narrowest = all.getFirst();
            throw new UnsatisfiedLinkError("this CPU (" + model + ") cannot run any libember variant: even " + narrowest.name()
                    + " needs " + cpu.get().missing(narrowest.requiredFlags()));
        }
        if (forced != null && !forced.isBlank()) {
            String name = forced.strip();
            CpuVariant v = all.stream().filter(x -> x.name().equals(name)).findFirst().orElseThrow(() -> new UnsatisfiedLinkError(
                    VARIANT_ENV + "=" + name + ": no such CPU variant; this build has " + names(all)));
            if (!runnable.contains(v)) {
                throw new UnsatisfiedLinkError(VARIANT_ENV + "=" + name + ": this CPU (" + model + ") cannot run it"
                        + cpu.map(c -> " (it lacks " + c.missing(v.requiredFlags()) + ")").orElse(" (its features are unknown)")
                        + "; it can run " + names(runnable));
            }
            return new Choice(v, How.FORCED, List.of(), null);
        }
        if (runnable.size() == 1 && !remeasure) return new Choice(runnable.getFirst(), How.ONLY_ONE, List.of(), null);

        Path record = cacheRoot.resolve(RECORD_FOLDER).resolve(key(library, runnable, cpu) + ".properties");
        if (!remeasure) {
            Optional<CpuVariant> remembered = remembered(record, runnable);
            if (remembered.isPresent()) return new Choice(remembered.get(), How.REMEMBERED, List.of(), record);
        }

        say.accept("ember: timing this CPU's kernel variants (" + names(runnable) + ") to use the fastest; once, a few seconds");
        // Widest first: the likely winner sets the bar early, so clearly slower ones are cut short.
        CpuVariantTiming[] measured = new CpuVariantTiming[runnable.size()];
        double best = Double.POSITIVE_INFINITY;
        for (int i = runnable.size() - 1; i >= 0; i--) {
            CpuVariant v = runnable.get(i);
            try {
                measured[i] = VariantTimer.time(v, library.file(v), threads, best);
            } catch (IOException e) {
                measured[i] = CpuVariantTiming.failed(v.name(), "cannot extract: " + e.getMessage());
            }
            best = Math.min(best, measured[i].estimatedStepSeconds());
        }
        List<CpuVariantTiming> timings = List.of(measured);
        int chosenIndex = pick(timings);
        if (chosenIndex < 0) {
            say.accept("ember: no variant could be measured (" + timings.getFirst().error() + "); using " + runnable.getFirst().name());
            return new Choice(runnable.getFirst(), How.FALLBACK, timings, null);
        }
        CpuVariant chosen = runnable.get(chosenIndex);
        try {
            remember(record, chosen, model, timings);
            say.accept("ember: using the " + chosen.name() + " kernels (remembered in " + record + "; ember bench --calibrate measures again)");
        } catch (IOException e) {
            say.accept("ember: using the " + chosen.name() + " kernels (could not remember the choice: " + e.getMessage() + ")");
            record = null;
        }
        return new Choice(chosen, How.MEASURED, timings, record);
    }

    /**
     * The index of the timing to choose (timings narrowest first): the lowest estimated step time, where a
     * wider variant must beat the best narrower one by {@value #WIDER_MARGIN_PERCENT}%; -1 if none was measured.
     */
    static int pick(List<CpuVariantTiming> timings) {
        int best = -1;
        for (int i = 0; i < timings.size(); i++) {
            CpuVariantTiming t = timings.get(i);
            if (!t.measured()) continue;
            if (best < 0 || t.estimatedStepSeconds() < timings.get(best).estimatedStepSeconds() * (1 - WIDER_MARGIN_PERCENT / 100.0)) best = i;
        }
        return best;
    }

    private static String names(List<CpuVariant> variants) {
        return String.join(", ", variants.stream().map(CpuVariant::name).toList());
    }

    /** A hex key of the CPU (model and flags) and the exact runnable libraries (names and SHA-256 of their bytes). */
    static String key(Library library, List<CpuVariant> runnable, Optional<CpuFeatures> cpu) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            cpu.ifPresent(c -> sha.update((c.model() + "\n" + String.join(" ", c.flags()) + "\n").getBytes(StandardCharsets.UTF_8)));
            for (CpuVariant v : runnable) {
                sha.update((v.name() + " " + v.fileName() + "\n").getBytes(StandardCharsets.UTF_8));
                sha.update(MessageDigest.getInstance("SHA-256").digest(library.bytes(v)));
            }
            return HexFormat.of().formatHex(sha.digest(), 0, 16);
        } catch (NoSuchAlgorithmException | IOException e) {
            throw new IllegalStateException("cannot key the CPU variant choice: " + e.getMessage(), e);
        }
    }

    private static Optional<CpuVariant> remembered(Path record, List<CpuVariant> runnable) {
        if (!Files.isRegularFile(record)) return Optional.empty();
        Properties p = new Properties();
        try (Reader in = Files.newBufferedReader(record, StandardCharsets.UTF_8)) {
            p.load(in);
        } catch (IOException | IllegalArgumentException e) {
            return Optional.empty();  // unreadable: measure again (and overwrite it)
        }
        String name = p.getProperty("variant", "");
        return runnable.stream().filter(v -> v.name().equals(name)).findFirst();
    }

    private static void remember(Path record, CpuVariant chosen, String model, List<CpuVariantTiming> timings) throws IOException {
        Properties p = new Properties();
        p.setProperty("variant", chosen.name());
        p.setProperty("cpu", model);
        for (CpuVariantTiming t : timings) p.setProperty("measured." + t.variant(), t.describe().substring(t.variant().length()).strip());
        Files.createDirectories(record.getParent());
        Path partial = Files.createTempFile(record.getParent(), record.getFileName().toString(), ".part");
        try {
            try (Writer out = Files.newBufferedWriter(partial, StandardCharsets.UTF_8)) {
                p.store(out, "Ember's CPU variant for this CPU and these libraries (ember bench --calibrate measures again)");
            }
            Files.move(partial, record, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(partial);
        }
    }
}
