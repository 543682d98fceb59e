package dev.ember.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.engine.SizeConditioning;
import dev.ember.engine.image.RgbImage;
import dev.ember.engine.metadata.PngMetadata;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SDXL through the command line on the tiny SDXL preset: make-model, model info, txt2img, img2img, re-runs. */
class SdxlCommandsTest {
    @TempDir
    static Path shared;

    private static Path model;

    @TempDir
    Path dir;

    @BeforeAll
    static void makeModel() {
        TestModels.useTemporaryCache();
        model = shared.resolve("tiny-xl.safetensors");
        CliRunner make = CliRunner.run("make-model", "--preset", "sdxl-tiny", "--out", model.toString(), "--seed", "5");
        assertEquals(0, make.exitCode(), make.err());
    }

    private static CliRunner run(String command, String... args) {
        List<String> all = new ArrayList<>(List.of(command, "-W", "64", "-H", "64", "--threads", "1", "--model", model.toString()));
        all.addAll(List.of(args));
        return CliRunner.run(all.toArray(String[]::new));
    }

    @Test
    void modelInfoReportsSdxlWithEachNetwork() {
        CliRunner info = CliRunner.run("model", "info", model.toString());
        assertEquals(0, info.exitCode(), info.err());
        assertTrue(info.out().contains("architecture: SDXL"), info.out());
        assertTrue(info.out().contains("text encoder 2:"), info.out());
        assertTrue(info.out().contains("vector=88"), info.out());
        assertTrue(info.out().contains("scale=0.13025"), info.out());
        assertTrue(info.out().contains("missing:      none"), info.out());
    }

    @Test
    void turboStyleTxt2imgAndImg2imgWithSizeConditioningReRun() throws IOException {
        Path out = dir.resolve("out");
        CliRunner r = run("txt2img", "-p", "a lighthouse", "-S", "4", "-s", "1", "-C", "1", "-A", "euler_a", "--schedule", "trailing",
                "--original-size", "128x96", "--out", out.toString());
        assertEquals(0, r.exitCode(), r.err());
        Path png = out.resolve("000001.4.png");
        PngMetadata.Found found = PngMetadata.read(png);
        assertTrue(found.parameters().contains("Sampler: Euler a, Schedule type: Trailing, CFG scale: 1.0"), found.parameters());
        assertEquals(new SizeConditioning(128, 96, 0, 0, 64, 64), found.ember().sizeConditioning());
        // The recorded size conditioning is used again: the same pixels.
        Path again = dir.resolve("again");
        CliRunner re = CliRunner.run("txt2img", "--from-image", png.toString(), "--threads", "1", "--out", again.toString());
        assertEquals(0, re.exitCode(), re.err());
        assertArrayEquals(RgbImage.read(png).rgb(), RgbImage.read(again.resolve("000001.4.png")).rgb());

        CliRunner i2i = run("img2img", "-I", png.toString(), "-p", "a lighthouse", "-S", "4", "-s", "2", "-f", "0.5", "-C", "1",
                "-A", "lcm", "--schedule", "sgm_uniform", "--out", out.toString());
        assertEquals(0, i2i.exitCode(), i2i.err());
        assertTrue(i2i.out().contains("1 steps each"), i2i.out());
        assertTrue(PngMetadata.read(out.resolve("000002.4.png")).parameters().contains("Sampler: LCM, Schedule type: SGM Uniform"));
    }

    @Test
    void badSizeConditioningIsUsageAndSd1RefusesIt() {
        CliRunner bad = run("txt2img", "-p", "x", "--original-size", "wide");
        assertEquals(2, bad.exitCode());
        assertTrue(bad.err().contains("--original-size must be two whole numbers"), bad.err());
        CliRunner sd1 = CliRunner.run("txt2img", "-p", "x", "-W", "64", "-H", "64", "-s", "1", "--threads", "1", "--model",
                TestModels.tiny().toString(), "--crop-top-left", "8,8", "--out", dir.toString());
        assertEquals(1, sd1.exitCode(), sd1.err());
        assertTrue(sd1.err().contains("size conditioning (original size, crop, target size) is for SDXL models"), sd1.err());
    }
}
