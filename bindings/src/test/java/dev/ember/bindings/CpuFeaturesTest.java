package dev.ember.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class CpuFeaturesTest {
    /** Two processors as Linux lists them; only the first block counts (a hybrid CPU lists the same flags on every core). */
    private static final String CPUINFO = """
            processor\t: 0
            vendor_id\t: AuthenticAMD
            model name\t: AMD EPYC 9454 48-Core Processor
            flags\t\t: fpu sse sse2 sse4_1 sse4_2 avx f16c fma bmi2 avx2 avx512f avx512dq avx512bw avx512vl avx512cd avx512_bf16
            bugs\t\t: sysret_ss_attrs

            processor\t: 1
            model name\t: Something Else
            flags\t\t: fpu sse sse2
            """;

    @Test
    void readsTheFirstProcessorsModelAndFlags() {
        CpuFeatures cpu = CpuFeatures.parse(CPUINFO);
        assertEquals("AMD EPYC 9454 48-Core Processor", cpu.model());
        assertTrue(cpu.flags().contains("avx512_bf16"));
        assertTrue(cpu.hasAll(List.of("avx2", "avx512f", "sse4_2")));
        assertFalse(cpu.hasAll(List.of("avx2", "avx512vbmi")));
        assertEquals("avx512vbmi avx512_vnni", cpu.missing(List.of("avx2", "avx512vbmi", "avx512_vnni")));
        // Sorted, whatever the order given: the remembered choice is keyed by this listing, in every JVM.
        List<String> listed = List.copyOf(cpu.flags());
        assertEquals(listed.stream().sorted().toList(), listed);
    }

    @Test
    void aTextWithoutFlagsIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> CpuFeatures.parse("processor : 0\nmodel name : x\n"));
    }

    @Test
    void thisMachineIsReadOnLinux() {
        if (!System.getProperty("os.name").toLowerCase().contains("linux")) return;
        CpuFeatures cpu = CpuFeatures.ofThisMachine().orElseThrow();
        assertTrue(cpu.flags().contains("sse2"), "every x86-64 CPU has SSE2: " + cpu.flags());
    }
}
