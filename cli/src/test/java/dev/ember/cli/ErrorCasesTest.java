package dev.ember.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.engine.image.RgbImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input exits 1, bad usage exits 2; either way one line on stderr (no stack trace without
 * --verbose), nothing on stdout, and no output folder or file.
 */
class ErrorCasesTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void cache() {
        TestModels.useTemporaryCache();
    }

    private Path out() {
        return dir.resolve("out");
    }

    /** Runs {@code command} with a small valid base (which later options override) and checks the failure. */
    private void fails(int code, String message, String command, String... args) {
        List<String> all = new ArrayList<>(List.of(command, "-p", "x", "-S", "1", "-W", "64", "-H", "64", "-s", "2", "--threads", "1",
                "--model", TestModels.tiny().toString(), "--out", out().toString(), "--intermediates", dir.resolve("steps").toString()));
        all.addAll(List.of(args));
        CliRunner r = CliRunner.run(all.toArray(String[]::new));
        assertEquals(code, r.exitCode(), r.err());
        String first = r.err().lines().findFirst().orElse("");
        assertEquals("ember: " + message, first);
        if (code == 1) assertEquals(1, r.err().strip().lines().count(), r.err());
        assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
        assertEquals("", r.out());
        assertFalse(Files.exists(out()), "no output folder");
        assertFalse(Files.exists(dir.resolve("steps")), "no intermediates folder");
    }

    private Path init() throws IOException {
        Path init = dir.resolve("init.png");
        if (!Files.exists(init)) new RgbImage(64, 64, new byte[64 * 64 * 3]).writePng(init);
        return init;
    }

    @Test
    void strengthOutOfRange() throws IOException {
        fails(1, "strength must be between 0 and 1, got 1.5", "img2img", "-I", init().toString(), "-f", "1.5");
        fails(1, "strength must be between 0 and 1, got -0.1", "img2img", "-I", init().toString(), "--strength", "-0.1");
        fails(2, "unknown init latent 'median'; valid: mean, sample", "img2img", "-I", init().toString(), "--init-latent", "median");
    }

    @Test
    void stepsOutOfRange() {
        fails(1, "steps must be between 1 and 1000, got 0", "txt2img", "-s", "0");
        fails(1, "steps must be between 1 and 1000, got 5000", "txt2img", "--steps", "5000");
    }

    @Test
    void cfgOutOfRange() {
        fails(1, "cfg scale must be between 1 and 30.0, got 0.5", "txt2img", "-C", "0.5");
        fails(1, "cfg scale must be between 1 and 30.0, got 31.0", "txt2img", "--cfg", "31");
    }

    @Test
    void sizeNotAMultipleOf8OrAbsurd() {
        fails(1, "width must be a multiple of 8, got 100", "txt2img", "-W", "100");
        fails(1, "height must be between 64 and 2048 pixels, got 100000", "txt2img", "-H", "100000");
    }

    @Test
    void unknownNamesAreUsageErrors() {
        fails(2, "unknown sampler 'k_nope'; valid: lms/k_lms, euler/k_euler, euler_a/k_euler_a/euler_ancestral, heun/k_heun, "
                + "dpm2/k_dpm_2/dpm_2, dpmpp_2m/k_dpmpp_2m/dpm++_2m, dpmpp_2s_a/k_dpmpp_2s_a/dpmpp_2s_ancestral/dpm++_2s_a, "
                + "dpmpp_sde/k_dpmpp_sde/dpm++_sde, lcm, ddim", "txt2img", "-A", "k_nope");
        fails(2, "unknown schedule 'linear'; valid: discrete/normal/default, karras, exponential, sgm_uniform, simple, trailing", "txt2img", "--schedule", "linear");
        fails(2, "unknown preview 'fast'; valid: proj, vae, taesd", "txt2img", "--preview", "fast");
    }

    @Test
    void missingOrUnreadableModel() throws IOException {
        Path missing = dir.resolve("nope.safetensors");
        fails(1, missing.toAbsolutePath() + ": no such file or folder", "txt2img", "--model", missing.toString());
        Path garbage = Files.write(dir.resolve("garbage.safetensors"), new byte[] {1, 2, 3});
        fails(1, garbage.toAbsolutePath() + ": truncated: 3 bytes, too short for a safetensors header", "txt2img", "--model", garbage.toString());
    }

    @Test
    void missingOrUnreadableInitImage() throws IOException {
        Path missing = dir.resolve("missing.png");
        fails(1, "init image " + missing + " not found", "img2img", "-I", missing.toString());
        Path text = Files.writeString(dir.resolve("notes.png"), "not an image");
        fails(1, "init image " + text + " is not an image Ember can read (PNG, JPEG, BMP, GIF)", "img2img", "--init", text.toString());
    }

    @Test
    void img2imgWithoutInitAndMissingPromptAreUsageErrors() {
        fails(2, "img2img needs a starting picture: --init IMAGE (-I)", "img2img");
        CliRunner r = CliRunner.run("txt2img", "-W", "64", "-H", "64", "--out", out().toString());
        assertEquals(2, r.exitCode());
        assertEquals("ember: missing --prompt (-p): what should the picture show?", r.err().strip());
        assertFalse(Files.exists(out()));
    }

    @Test
    void fromImageWithoutEmberMetadata() throws IOException {
        Path plain = dir.resolve("plain.png");
        new RgbImage(8, 8, new byte[8 * 8 * 3]).writePng(plain);
        fails(1, plain + ": no Ember generation parameters in this image", "txt2img", "--from-image", plain.toString());
    }

    @Test
    void verboseAddsTheStackTrace() {
        CliRunner r = CliRunner.run("--verbose", "txt2img", "-p", "x", "-s", "0", "--out", out().toString());
        assertEquals(1, r.exitCode());
        assertTrue(r.err().startsWith("ember: steps must be between 1 and 1000, got 0"), r.err());
        assertTrue(r.err().contains("\tat "), r.err());
    }
}
