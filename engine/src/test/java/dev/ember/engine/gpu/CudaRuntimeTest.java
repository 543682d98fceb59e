package dev.ember.engine.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.ValueLayout;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The CUDA runtime's loader on any machine: absent is an answer, not an error. Where a runtime is
 * found (a toolkit without a GPU, as on the CI machine), it must answer without a driver too.
 */
class CudaRuntimeTest {
    @Test
    void absentRuntimeIsReportedWithEveryPlaceLookedAt() {
        CudaRuntime.Probe probe = CudaRuntime.search(List.of("/nonexistent/cuda/lib64/libcudart.so.13", "libcudart-ember-test.so.99"));
        assertFalse(probe.present());
        assertTrue(probe.runtime().isEmpty());
        assertEquals(2, probe.tried().size());
        assertTrue(probe.tried().get(0).contains("/nonexistent/cuda/lib64/libcudart.so.13 (no such file)"), probe.tried().toString());
        assertTrue(probe.tried().get(1).contains("libcudart-ember-test.so.99 (not found by the system loader)"), probe.tried().toString());
        assertEquals("libcudart not found", probe.reason());
        String line = probe.describe();
        assertTrue(line.startsWith("no CUDA runtime: libcudart not found (looked at: "), line);
        assertTrue(line.contains("libcudart-ember-test.so.99"), line);
    }

    @Test
    void aLibraryWithoutTheRuntimeFunctionsIsSkippedWithTheReason() {
        // libc loads but has no cudaGetDeviceCount.
        CudaRuntime.Probe probe = CudaRuntime.search(List.of("libc.so.6"));
        assertFalse(probe.present());
        assertTrue(probe.tried().getFirst().contains("has no cudaGetDeviceCount"), probe.tried().toString());
    }

    @Test
    void defaultSearchNeverThrowsAndIsDoneOnce() {
        CudaRuntime.Probe probe = CudaRuntime.probe();
        assertSame(probe, CudaRuntime.probe());
        assertFalse(probe.tried().isEmpty() && probe.reason().isEmpty(), "a probe says where it looked or why it did not");
        System.out.println("CudaRuntimeTest: " + probe.describe());
        probe.runtime().ifPresent(rt -> {
            assertTrue(rt.runtimeVersion() >= 11000, "runtime version " + rt.runtimeVersion());
            assertTrue(rt.driverVersion() >= 0);
            int n = rt.deviceCount();
            assertTrue(n >= 0);
            assertEquals(n, rt.devices().size());
            System.out.println("CudaRuntimeTest: " + rt + ", devices " + rt.devices() + ", status " + rt.deviceStatus());
        });
    }

    @Test
    void candidatesStartWithTheSonames() {
        List<String> c = CudaRuntime.defaultCandidates();
        assertEquals(CudaRuntime.SONAMES, c.subList(0, CudaRuntime.SONAMES.size()));
    }

    @Test
    void versionsPrintAsMajorMinor() {
        assertEquals("13.0", CudaRuntime.versionString(13000));
        assertEquals("12.4", CudaRuntime.versionString(12040));
        assertEquals("none", CudaRuntime.versionString(0));
    }

    @Test
    void hostBufferWorksPinnedOrNot() {
        for (boolean pin : new boolean[] {false, true}) {
            HostBuffer b = HostBuffer.allocate(4096, pin);
            if (!pin) assertFalse(b.pinned());
            assertEquals(4096, b.segment().byteSize());
            assertEquals(0f, b.segment().getAtIndex(ValueLayout.JAVA_FLOAT, 1023));
            b.segment().setAtIndex(ValueLayout.JAVA_FLOAT, 1023, 2.5f);
            assertEquals(2.5f, b.segment().getAtIndex(ValueLayout.JAVA_FLOAT, 1023));
            b.close();
            b.close();
            assertThrows(IllegalStateException.class, () -> b.segment().get(ValueLayout.JAVA_BYTE, 0));
        }
        assertThrows(IllegalArgumentException.class, () -> HostBuffer.allocate(0, false));
    }
}
