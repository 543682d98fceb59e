package dev.ember.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link CpuVariants}' choice without loading anything: a library set whose files must never be asked for. */
class CpuVariantsTest {
    private static final CpuFeatures AVX2_CPU = new CpuFeatures("Test CPU", Set.of("sse4_2", "avx", "f16c", "fma", "bmi2", "avx2"));
    private static final CpuFeatures OLD_CPU = new CpuFeatures("Old CPU", Set.of("sse2", "sse3"));

    @TempDir
    Path cache;

    /** The manifest's variants; bytes are the name unless changed; asking for a file fails the test. */
    static final class FakeLibrary implements CpuVariants.Library {
        final List<CpuVariant> variants = CpuVariant.parseManifest(CpuVariantTest.MANIFEST);
        final Map<String, byte[]> bytes = new HashMap<>();

        @Override
        public List<CpuVariant> variants() {
            return variants;
        }

        @Override
        public byte[] bytes(CpuVariant v) {
            return bytes.getOrDefault(v.name(), v.name().getBytes(StandardCharsets.UTF_8));
        }

        @Override
        public Path file(CpuVariant v) throws IOException {
            throw new AssertionError("no variant may be loaded here, asked for " + v.name());
        }
    }

    private CpuVariants.Choice choose(FakeLibrary lib, Optional<CpuFeatures> cpu, String forced, List<String> said) {
        return CpuVariants.choose(lib, cpu, forced, cache, false, 1, said::add);
    }

    @Test
    void aCpuThatRunsNoVariantIsAnErrorNamingWhatItLacks() {
        UnsatisfiedLinkError e = assertThrows(UnsatisfiedLinkError.class, () -> choose(new FakeLibrary(), Optional.of(OLD_CPU), null, new ArrayList<>()));
        assertTrue(e.getMessage().contains("Old CPU") && e.getMessage().contains("sse4_2"), e.getMessage());
    }

    @Test
    void aForcedVariantMustExistAndRunHere() {
        FakeLibrary lib = new FakeLibrary();
        UnsatisfiedLinkError unknown = assertThrows(UnsatisfiedLinkError.class, () -> choose(lib, Optional.of(AVX2_CPU), "zen9", new ArrayList<>()));
        assertTrue(unknown.getMessage().contains("EMBER_CPU_VARIANT=zen9") && unknown.getMessage().contains("sse42, haswell, skylakex"),
                unknown.getMessage());
        UnsatisfiedLinkError cannot = assertThrows(UnsatisfiedLinkError.class, () -> choose(lib, Optional.of(AVX2_CPU), "skylakex", new ArrayList<>()));
        assertTrue(cannot.getMessage().contains("lacks avx512f avx512cd avx512vl avx512dq avx512bw"), cannot.getMessage());
        CpuVariants.Choice forced = choose(lib, Optional.of(AVX2_CPU), " sse42 ", new ArrayList<>());
        assertEquals("sse42", forced.variant().name());
        assertEquals(CpuVariants.How.FORCED, forced.how());
    }

    @Test
    void withUnknownFeaturesOnlyTheNarrowestIsUsed() {
        List<String> said = new ArrayList<>();
        CpuVariants.Choice c = choose(new FakeLibrary(), Optional.empty(), null, said);
        assertEquals("sse42", c.variant().name());
        assertEquals(CpuVariants.How.ONLY_ONE, c.how());
        assertTrue(said.isEmpty(), "nothing measured, nothing said: " + said);
    }

    @Test
    void aRememberedChoiceIsUsedWithoutMeasuring() throws IOException {
        FakeLibrary lib = new FakeLibrary();
        List<CpuVariant> runnable = lib.variants.subList(0, 2);
        Path record = cache.resolve("cpu-variant").resolve(CpuVariants.key(lib, runnable, Optional.of(AVX2_CPU)) + ".properties");
        Files.createDirectories(record.getParent());
        Files.writeString(record, "variant=haswell\n");
        List<String> said = new ArrayList<>();
        CpuVariants.Choice c = choose(lib, Optional.of(AVX2_CPU), null, said);
        assertEquals("haswell", c.variant().name());
        assertEquals(CpuVariants.How.REMEMBERED, c.how());
        assertEquals(record, c.record());
        assertTrue(said.isEmpty(), String.valueOf(said));
        // A record naming a variant this CPU cannot run is not trusted: it measures (and here asks for a file).
        Files.writeString(record, "variant=skylakex\n");
        assertThrows(AssertionError.class, () -> choose(lib, Optional.of(AVX2_CPU), null, new ArrayList<>()));
    }

    @Test
    void theKeyChangesWithTheCpuAndTheLibraryBytes() {
        FakeLibrary lib = new FakeLibrary();
        List<CpuVariant> runnable = lib.variants.subList(0, 2);
        String key = CpuVariants.key(lib, runnable, Optional.of(AVX2_CPU));
        assertEquals(key, CpuVariants.key(lib, runnable, Optional.of(AVX2_CPU)));
        assertNotEquals(key, CpuVariants.key(lib, runnable, Optional.of(new CpuFeatures("Other CPU", AVX2_CPU.flags()))));
        lib.bytes.put("haswell", new byte[] {1, 2, 3});
        assertNotEquals(key, CpuVariants.key(lib, runnable, Optional.of(AVX2_CPU)));
    }

    @Test
    void aWiderVariantMustBeClearlyFasterToBeChosen() {
        CpuVariantTiming narrow = timing("sse42", 1.0);
        assertEquals(0, CpuVariants.pick(List.of(narrow, timing("haswell", 0.98))), "2% faster is noise");
        assertEquals(1, CpuVariants.pick(List.of(narrow, timing("haswell", 0.9))));
        assertEquals(1, CpuVariants.pick(List.of(CpuVariantTiming.failed("sse42", "x"), timing("haswell", 5.0))));
        assertEquals(1, CpuVariants.pick(List.of(narrow, timing("haswell", 0.5), timing("skylakex", 0.49))), "the best so far is the bar");
        assertEquals(-1, CpuVariants.pick(List.of(CpuVariantTiming.failed("sse42", "x"))));
    }

    /** A timing whose product and attention both run `scale` times as long as a reference. */
    private static CpuVariantTiming timing(String name, double scale) {
        return new CpuVariantTiming(name, 0.01 * scale, 0.05 * scale, 0.1 * scale, null);
    }
}
