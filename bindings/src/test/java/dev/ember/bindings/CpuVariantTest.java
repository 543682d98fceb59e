package dev.ember.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class CpuVariantTest {
    static final String MANIFEST = """
            # libember CPU variants: name, file, /proc/cpuinfo flags needed; narrowest first
            sse42 libember-sse42.so sse4_2
            haswell libember-haswell.so sse4_2 avx f16c fma bmi2 avx2

            skylakex libember-skylakex.so sse4_2 avx f16c fma bmi2 avx2 avx512f avx512cd avx512vl avx512dq avx512bw
            """;

    @Test
    void manifestListsVariantsInOrder() {
        List<CpuVariant> variants = CpuVariant.parseManifest(MANIFEST);
        assertEquals(List.of("sse42", "haswell", "skylakex"), variants.stream().map(CpuVariant::name).toList());
        assertEquals("libember-haswell.so", variants.get(1).fileName());
        assertEquals(List.of("sse4_2", "avx", "f16c", "fma", "bmi2", "avx2"), variants.get(1).requiredFlags());
    }

    @Test
    void aVariantRunsOnlyWhereEveryFlagIsPresent() {
        List<CpuVariant> variants = CpuVariant.parseManifest(MANIFEST);
        CpuFeatures avx2 = new CpuFeatures("zen3", Set.of("sse4_2", "avx", "f16c", "fma", "bmi2", "avx2"));
        assertTrue(variants.get(0).runsOn(avx2));
        assertTrue(variants.get(1).runsOn(avx2));
        assertFalse(variants.get(2).runsOn(avx2));
        CpuFeatures noBmi2 = new CpuFeatures("old", Set.of("sse4_2", "avx", "f16c", "fma", "avx2"));
        assertFalse(variants.get(1).runsOn(noBmi2));
    }

    @Test
    void malformedManifestsNameTheLine() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CpuVariant.parseManifest("sse42 libember-sse42.so sse4_2\nhaswell\n"));
        assertTrue(e.getMessage().contains("line 2"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> CpuVariant.parseManifest("a libember-a.so\na libember-b.so\n"));
        assertTrue(e.getMessage().contains("line 2") && e.getMessage().contains("twice"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> CpuVariant.parseManifest("a ../../evil.so\n"));
        assertTrue(e.getMessage().contains("line 1"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> CpuVariant.parseManifest("# nothing\n"));
    }
}
