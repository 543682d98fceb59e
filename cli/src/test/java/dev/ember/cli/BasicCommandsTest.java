package dev.ember.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class BasicCommandsTest {
    @Test
    void versionNamesEmberAndGgml() {
        CliRunner r = CliRunner.run("--version");
        assertEquals(0, r.exitCode());
        assertTrue(r.out().contains("ember 0.3.0"), r.out());
        assertTrue(r.out().contains("ggml 0."), r.out());
    }

    @Test
    void devicesListsTheCpuWithMemory() {
        CliRunner r = CliRunner.run("devices");
        assertEquals(0, r.exitCode(), r.err());
        String cpuLine = r.out().lines().filter(l -> l.matches("\\d+\\s+CPU .*")).findFirst().orElseThrow();
        assertTrue(cpuLine.matches("\\d+\\s+CPU\\s+CPU\\s+[0-9.]+ GiB\\s+[0-9.]+ GiB.*--device cpu\\)"), cpuLine);
    }

    @Test
    void unknownOptionIsUsageErrorWithExitCode2() {
        CliRunner r = CliRunner.run("--no-such-option");
        assertEquals(2, r.exitCode());
        assertTrue(r.err().contains("Unknown option: '--no-such-option'"), r.err());
        assertTrue(r.err().contains("Usage: ember"), r.err());
    }
}
