package dev.ember.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The variants packed in this build, really measured on this machine: the calibration a user's first run
 * does (x86-64 Linux builds pack variants; elsewhere there is one library and nothing to choose).
 */
class CpuVariantsMeasureTest {
    @TempDir
    Path dir;

    @Test
    void measuresThePackedVariantsAndRemembersTheFastest() throws Exception {
        Optional<VariantSet> packed = VariantSet.inJar("/dev/ember/native/" + NativeLibrary.platform(), (bytes, name) -> {
            Path file = dir.resolve("lib").resolve(name);
            Files.createDirectories(file.getParent());
            return Files.write(file, bytes);
        });
        assumeTrue(packed.isPresent(), "this build packs one library, no CPU variants");
        VariantSet set = packed.get();
        CpuFeatures cpu = CpuFeatures.ofThisMachine().orElseThrow();
        List<String> runnable = set.variants().stream().filter(v -> v.runsOn(cpu)).map(CpuVariant::name).toList();
        List<String> said = new ArrayList<>();
        Path cache = dir.resolve("cache");

        CpuVariants.Choice measured = CpuVariants.choose(set, Optional.of(cpu), null, cache, true, 2, said::add);
        assertEquals(CpuVariants.How.MEASURED, measured.how());
        assertTrue(runnable.contains(measured.variant().name()), measured.variant().name() + " must be one this CPU runs: " + runnable);
        assertEquals(runnable, measured.timings().stream().map(CpuVariantTiming::variant).toList(), "every runnable variant, narrowest first");
        CpuVariantTiming chosen = measured.timings().get(runnable.indexOf(measured.variant().name()));
        assertTrue(chosen.measured() && chosen.productSeconds() > 0 && chosen.attentionSeconds() > 0 && chosen.exactAttentionSeconds() > 0,
                chosen.describe());
        for (CpuVariantTiming t : measured.timings()) {
            if (t.measured()) assertTrue(t.estimatedStepSeconds() >= chosen.estimatedStepSeconds() * 0.97, "chosen " + chosen.describe() + ", but " + t.describe());
        }
        assertTrue(Files.isRegularFile(measured.record()), "the choice is remembered");
        assertTrue(said.size() == 2 && said.getFirst().contains("once, a few seconds"), String.valueOf(said));

        // The next run finds it without measuring and without a word.
        said.clear();
        CpuVariants.Choice next = CpuVariants.choose(set, Optional.of(cpu), null, cache, false, 2, said::add);
        assertEquals(CpuVariants.How.REMEMBERED, next.how());
        assertEquals(measured.variant(), next.variant());
        assertTrue(said.isEmpty(), String.valueOf(said));
    }
}
