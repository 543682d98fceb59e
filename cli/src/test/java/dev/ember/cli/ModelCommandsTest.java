package dev.ember.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelCommandsTest {
    @TempDir
    Path dir;

    @Test
    void makeModelThenInfoReportsTheTinyPreset() {
        for (String format : new String[] {"safetensors", "ckpt", "diffusers"}) {
            Path out = dir.resolve("tiny-" + format);
            CliRunner make = CliRunner.run("make-model", "--preset", "tiny", "--out", out.toString(), "--format", format, "--dtype", "f16", "--seed", "3");
            assertEquals(0, make.exitCode(), make.err());
            CliRunner info = CliRunner.run("model", "info", out.toString());
            assertEquals(0, info.exitCode(), info.err());
            assertTrue(info.out().contains("format:       " + format), info.out());
            assertTrue(info.out().contains("architecture: SD 1.x"), info.out());
            assertTrue(info.out().contains("prediction:   eps"), info.out());
            assertTrue(info.out().contains("UNet:         1,466,500 parameters in 324 tensors (f16)"), info.out());
            assertTrue(info.out().contains("missing:      none"), info.out());
        }
    }

    @Test
    void infoOnABadFileIsOneLineAndExitCode1() throws IOException {
        Path bad = Files.write(dir.resolve("bad.safetensors"), new byte[] {1, 2, 3});
        CliRunner r = CliRunner.run("model", "info", bad.toString());
        assertEquals(1, r.exitCode());
        assertEquals("ember: " + bad + ": truncated: 3 bytes, too short for a safetensors header", r.err().strip());
        assertEquals(1, r.err().strip().lines().count());
        assertEquals("", r.out());
    }

    @Test
    void infoOnAForbiddenPickleIsOneLine() throws IOException {
        Path bad = dir.resolve("evil.ckpt");
        try (var z = new java.util.zip.ZipOutputStream(Files.newOutputStream(bad))) {
            z.putNextEntry(new java.util.zip.ZipEntry("archive/data.pkl"));
            z.write("\u0080\u0002cposix\nsystem\n(X\u0002\u0000\u0000\u0000lstR.".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
        }
        CliRunner r = CliRunner.run("model", "info", bad.toString());
        assertEquals(1, r.exitCode());
        assertEquals("ember: " + bad + ": pickle refers to forbidden global posix.system (only tensors and dicts are allowed)", r.err().strip());
    }

    @Test
    void makeModelRejectsAnUnknownPreset() {
        CliRunner r = CliRunner.run("make-model", "--preset", "sd3", "--out", dir.resolve("x").toString());
        assertEquals(2, r.exitCode());
        assertTrue(r.err().contains("unknown preset 'sd3'"), r.err());
    }
}
