package dev.ember.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.ember.engine.image.RgbImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import dev.ember.engine.metadata.PngMetadata;
import dev.ember.engine.metadata.ImageParameters;

/** txt2img, img2img, info and demo end to end on the tiny model (64x64, a few steps, one thread). */
class GenerateCommandsTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void cache() {
        TestModels.useTemporaryCache();
    }

    static List<String> small(String... more) {
        List<String> args = new ArrayList<>(List.of("-W", "64", "-H", "64", "-s", "3", "--threads", "1", "--model", TestModels.tiny().toString()));
        args.addAll(List.of(more));
        return args;
    }

    static CliRunner run(String command, List<String> args) {
        List<String> all = new ArrayList<>(List.of(command));
        all.addAll(args);
        return CliRunner.run(all.toArray(String[]::new));
    }

    @Test
    void txt2imgWritesNumberedPngsWithBothMetadataChunks() throws IOException {
        Path out = dir.resolve("out");
        CliRunner r = run("txt2img", small("-p", "a red barn", "--negative", "fog", "-S", "7", "-C", "5", "-A", "k_euler", "--out", out.toString()));
        assertEquals(0, r.exitCode(), r.err());
        Path png = out.resolve("000001.7.png");
        assertTrue(r.out().contains("wrote " + png + " (seed 7)"), r.out());
        PngMetadata.Found found = PngMetadata.read(png);
        assertEquals("a red barn\nNegative prompt: fog\nSteps: 3, Sampler: Euler, CFG scale: 5.0, Seed: 7, Size: 64x64, Model: tiny, Version: ember 0.3.0",
                found.parameters());
        ImageParameters p = found.ember();
        assertEquals("txt2img", p.mode());
        assertEquals("euler", p.sampler());
        assertEquals("discrete", p.schedule());
        assertEquals("philox", p.noise());
        assertEquals(TestModels.tiny().toAbsolutePath().toString(), p.model());
        assertEquals(Files.size(TestModels.tiny()), p.modelSize());
        assertEquals(null, p.modelPreset());
        assertEquals("0.3.0", p.emberVersion());

        CliRunner again = run("txt2img", small("-p", "a red barn", "-S", "7", "--out", out.toString()));
        assertEquals(0, again.exitCode(), again.err());
        assertTrue(Files.exists(out.resolve("000002.7.png")), "the second run takes the next counter");
    }

    @Test
    void fromImageReproducesThePixelsAndOptionsOverride() throws IOException {
        Path out = dir.resolve("a");
        CliRunner r = run("txt2img", small("-p", "a lighthouse", "-n", "2", "--noise", "mt19937", "--schedule", "karras", "--out", out.toString()));
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.err().contains("(random; --seed "), r.err());
        List<Path> made = pngs(out);
        assertEquals(2, made.size());
        Path second = made.get(1);

        Path again = dir.resolve("b");
        CliRunner re = CliRunner.run("txt2img", "--from-image", second.toString(), "--threads", "1", "--out", again.toString());
        assertEquals(0, re.exitCode(), re.err());
        List<Path> remade = pngs(again);
        assertEquals(1, remade.size(), "a re-run makes the one recorded image");
        assertEquals(second.getFileName().toString().replaceFirst("^\\d+", ""), remade.getFirst().getFileName().toString().replaceFirst("^\\d+", ""));
        assertEquals(RgbImage.read(second), RgbImage.read(remade.getFirst()), "same pixels");
        assertEquals(PngMetadata.read(second).ember(), PngMetadata.read(remade.getFirst()).ember());

        CliRunner other = CliRunner.run("txt2img", "--from-image", second.toString(), "--threads", "1", "-S", "99", "--out", again.toString());
        assertEquals(0, other.exitCode(), other.err());
        Path changed = again.resolve("000002.99.png");
        assertNotEquals(RgbImage.read(second), RgbImage.read(changed));
        assertEquals("karras", PngMetadata.read(changed).ember().schedule(), "unchanged options stay as recorded");
    }

    @Test
    void noWeightsInPlaceGivesTheSamePixels() throws IOException {
        Path out = dir.resolve("wip");
        CliRunner placed = run("txt2img", small("-p", "a dam", "-S", "4", "--out", out.toString()));
        assertEquals(0, placed.exitCode(), placed.err());
        CliRunner copied = run("txt2img", small("-p", "a dam", "-S", "4", "--no-weights-in-place", "--out", out.toString()));
        assertEquals(0, copied.exitCode(), copied.err());
        assertEquals(RgbImage.read(out.resolve("000001.4.png")), RgbImage.read(out.resolve("000002.4.png")));
    }

    @Test
    void flashAttentionIsRecordedAndReused() throws IOException {
        Path out = dir.resolve("fa");
        CliRunner r = run("txt2img", small("-p", "a mill", "-S", "5", "--flash-attention", "--out", out.toString()));
        assertEquals(0, r.exitCode(), r.err());
        Path png = out.resolve("000001.5.png");
        assertTrue(PngMetadata.read(png).ember().flashAttention());
        CliRunner plain = run("txt2img", small("-p", "a mill", "-S", "5", "--out", out.toString()));
        assertEquals(0, plain.exitCode(), plain.err());
        assertFalse(PngMetadata.read(out.resolve("000002.5.png")).ember().flashAttention());

        // The re-run takes the recorded switch and so the same arithmetic: the same pixels.
        Path again = dir.resolve("fa-again");
        CliRunner re = CliRunner.run("txt2img", "--from-image", png.toString(), "--threads", "1", "--out", again.toString());
        assertEquals(0, re.exitCode(), re.err());
        assertEquals(RgbImage.read(png), RgbImage.read(again.resolve("000001.5.png")));
        assertTrue(PngMetadata.read(again.resolve("000001.5.png")).ember().flashAttention());
    }

    @Test
    void flashAttentionDefaultsToOnUnlessTheWeightsAreF32AndTheMetadataSaysWhatRan() throws IOException {
        // The tiny model is an f32 file: auto keeps the exact path. Stored as f16, auto takes the fused one.
        Path out = dir.resolve("fa-auto");
        CliRunner f32 = run("txt2img", small("-p", "a mill", "-S", "6", "--out", out.toString()));
        assertEquals(0, f32.exitCode(), f32.err());
        assertFalse(PngMetadata.read(out.resolve("000001.6.png")).ember().flashAttention());
        CliRunner f16 = run("txt2img", small("-p", "a mill", "-S", "6", "--weight-type", "f16", "--out", out.toString()));
        assertEquals(0, f16.exitCode(), f16.err());
        Path fused = out.resolve("000002.6.png");
        assertTrue(PngMetadata.read(fused).ember().flashAttention());
        CliRunner off = run("txt2img", small("-p", "a mill", "-S", "6", "--weight-type", "f16", "--no-flash-attention", "--out", out.toString()));
        assertEquals(0, off.exitCode(), off.err());
        Path exact = out.resolve("000003.6.png");
        assertFalse(PngMetadata.read(exact).ember().flashAttention());
        assertNotEquals(RgbImage.read(fused), RgbImage.read(exact), "the two attention paths round differently");

        // --from-image reuses what ran, not the default: the same pixels as each original.
        for (Path png : List.of(fused, exact)) {
            Path again = dir.resolve("fa-auto-again-" + png.getFileName());
            CliRunner re = CliRunner.run("txt2img", "--from-image", png.toString(), "--threads", "1", "--out", again.toString());
            assertEquals(0, re.exitCode(), re.err());
            assertEquals(RgbImage.read(png), RgbImage.read(again.resolve("000001.6.png")), png.toString());
        }
    }

    @Test
    void img2imgRecordsItsInitImageAndReRunsFromIt() throws IOException {
        Path init = dir.resolve("init.png");
        byte[] rgb = new byte[64 * 64 * 3];
        for (int i = 0; i < rgb.length; i++) rgb[i] = (byte) (i * 7);
        new RgbImage(64, 64, rgb).writePng(init);
        Path out = dir.resolve("out");
        CliRunner r = run("img2img", small("-I", init.toString(), "-p", "a boat", "-S", "3", "-f", "0.5", "-s", "4", "--init-latent", "sample",
                "--json", "--out", out.toString()));
        assertEquals(0, r.exitCode(), r.err());
        JsonNode json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.out());
        assertEquals(2, json.get("timings").get("stepsRun").asInt());
        Path png = Path.of(json.get("images").get(0).get("file").asText());
        ImageParameters p = PngMetadata.read(png).ember();
        assertEquals("sample", p.initLatent());
        assertEquals(init.toAbsolutePath().toString(), p.initImage());
        assertEquals(InitImage.sha256(Files.readAllBytes(init)), p.initImageSha256());
        assertEquals(0.5, p.strength());
        assertTrue(PngMetadata.read(png).parameters().contains("Denoising strength: 0.5"));

        Path again = dir.resolve("again");
        CliRunner re = CliRunner.run("img2img", "--from-image", png.toString(), "--threads", "1", "--out", again.toString());
        assertEquals(0, re.exitCode(), re.err());
        assertEquals(RgbImage.read(png), RgbImage.read(again.resolve("000001.3.png")));

        rgb[0] ^= 1;
        new RgbImage(64, 64, rgb).writePng(init);
        Path third = dir.resolve("third");
        CliRunner changed = CliRunner.run("img2img", "--from-image", png.toString(), "--threads", "1", "--out", third.toString());
        assertEquals(1, changed.exitCode());
        assertEquals("ember: init image " + init.toAbsolutePath() + " has changed since " + png
                + " was made (SHA-256 differs); pass --init to use it anyway", changed.err().strip());
        assertFalse(Files.exists(third));
    }

    @Test
    void stepsFromImageRunsExactlyThatMany() throws IOException {
        Path init = dir.resolve("init.png");
        new RgbImage(64, 64, new byte[64 * 64 * 3]).writePng(init);
        CliRunner r = CliRunner.run("img2img", "-I", init.toString(), "-p", "x", "--steps-from-image", "20", "-f", "0.4", "-W", "64", "-H", "64",
                "--threads", "1", "-S", "1", "-C", "1", "--model", TestModels.tiny().toString(), "--json", "--out", dir.resolve("o").toString());
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.err().contains("--steps-from-image 20 at strength 0.4: 50 steps in all, the last 20 of them run from the image"), r.err());
        JsonNode json = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.out());
        assertEquals(20, json.get("timings").get("stepsRun").asInt());
        assertEquals(50, json.get("parameters").get("steps").asInt());
    }

    @Test
    void intermediatesWriteEveryStepAndAStrip() throws IOException {
        Path steps = dir.resolve("steps");
        CliRunner r = run("txt2img", small("-p", "x", "-S", "1", "-s", "4", "--intermediates", steps.toString(), "--out", dir.resolve("o").toString()));
        assertEquals(0, r.exitCode(), r.err());
        assertEquals(List.of("step-00.png", "step-01.png", "step-02.png", "step-03.png", "step-04.png", "steps.png"), names(steps));
        RgbImage strip = RgbImage.read(steps.resolve("steps.png"));
        assertEquals(5 * 64 + 4 * StepStrip.GAP, strip.width());
        assertEquals(64, strip.height());
        assertEquals(RgbImage.read(steps.resolve("step-02.png")).pixel(10, 10), strip.pixel(2 * (64 + StepStrip.GAP) + 10, 10));

        // Thinned, VAE-decoded, in the same folder: the old frames go, step 0 and the last stay.
        CliRunner thin = run("txt2img", small("-p", "x", "-S", "1", "-s", "7", "--intermediates", steps.toString(), "--intermediates-every", "3",
                "--preview", "vae", "--out", dir.resolve("o").toString()));
        assertEquals(0, thin.exitCode(), thin.err());
        assertEquals(List.of("step-00.png", "step-03.png", "step-06.png", "step-07.png", "steps.png"), names(steps));
        // The VAE preview of the last step is the final latent decoded: the output image itself.
        assertEquals(RgbImage.read(dir.resolve("o").resolve("000002.1.png")), RgbImage.read(steps.resolve("step-07.png")));
    }

    @Test
    void img2imgIntermediatesWithSeveralImagesGoInOneFolderPerImage() throws IOException {
        Path init = dir.resolve("init.png");
        new RgbImage(64, 64, new byte[64 * 64 * 3]).writePng(init);
        Path steps = dir.resolve("steps");
        CliRunner r = run("img2img", small("-I", init.toString(), "-p", "x", "-S", "5", "-n", "2", "-f", "0.5", "-s", "4",
                "--intermediates", steps.toString(), "--out", dir.resolve("o").toString()));
        assertEquals(0, r.exitCode(), r.err());
        assertEquals(List.of("000001.5", "000002.6"), names(steps));
        assertEquals(List.of("step-00.png", "step-01.png", "step-02.png", "steps.png"), names(steps.resolve("000002.6")));
    }

    @Test
    void withoutAModelTheCachedTinyModelIsUsedAndSaidToDrawNoise() throws IOException {
        CliRunner r = CliRunner.run("txt2img", "-p", "x", "-W", "64", "-H", "64", "-s", "2", "-S", "4", "--threads", "1", "--out", dir.toString());
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.err().contains("its pictures are noise"), r.err());
        assertTrue(r.err().contains("--model PATH"), r.err());
        Path cached = TestModels.useTemporaryCache().resolve("models").resolve("tiny.safetensors");
        assertTrue(Files.isRegularFile(cached));
        ImageParameters p = PngMetadata.read(dir.resolve("000001.4.png")).ember();
        assertEquals("tiny", p.modelPreset());
        // The same preset and seed as the test model: identical bytes, so images match either way.
        assertEquals(Files.mismatch(cached, TestModels.tiny()), -1L);
    }

    @Test
    void infoPrintsTheParametersAndRejectsImagesWithout() throws IOException {
        CliRunner r = run("txt2img", small("-p", "a red barn", "-S", "11", "--out", dir.toString()));
        assertEquals(0, r.exitCode(), r.err());
        CliRunner info = CliRunner.run("info", dir.resolve("000001.11.png").toString());
        assertEquals(0, info.exitCode(), info.err());
        assertTrue(info.out().contains("  a red barn\n  Steps: 3, Sampler: LMS, CFG scale: 7.5, Seed: 11, Size: 64x64"), info.out());
        assertTrue(info.out().contains("  sampler: lms"), info.out());
        assertTrue(info.out().contains("re-run: ember txt2img --from-image"), info.out());

        Path plain = dir.resolve("plain.png");
        new RgbImage(8, 8, new byte[8 * 8 * 3]).writePng(plain);
        CliRunner none = CliRunner.run("info", plain.toString());
        assertEquals(1, none.exitCode());
        assertEquals("ember: " + plain + ": no generation parameters in this image (no 'parameters' or 'ember' PNG text)", none.err().strip());

        Path text = Files.writeString(dir.resolve("notes.png"), "hello");
        CliRunner notPng = CliRunner.run("info", text.toString());
        assertEquals(1, notPng.exitCode());
        assertEquals("ember: " + text + ": not a PNG file", notPng.err().strip());
    }

    @Test
    void demoWritesTheThreeRunsWithStrips() throws IOException {
        Path out = dir.resolve("demo");
        CliRunner r = CliRunner.run("demo", "--out", out.toString(), "--size", "64", "--threads", "1");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().contains("img2img: strength 0.7, 10 steps, 7 of them run from the image"), r.out());
        assertTrue(r.out().contains("img2img: strength 0.4, 10 steps, 4 of them run from the image"), r.out());
        assertEquals(12, names(out.resolve("txt2img").resolve("steps")).size());
        assertEquals(9, names(out.resolve("img2img-0.7").resolve("steps")).size());
        assertEquals(6, names(out.resolve("img2img-0.4").resolve("steps")).size());
        RgbImage strip = RgbImage.read(out.resolve("img2img-0.4").resolve("steps").resolve("steps.png"));
        assertEquals(5 * 64 + 4 * StepStrip.GAP, strip.width());
        for (String run : List.of("txt2img", "img2img-0.7", "img2img-0.4")) {
            assertTrue(r.out().contains(out.resolve(run).resolve("steps").resolve("steps.png").toString()), r.out());
        }
    }

    static List<Path> pngs(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.toString().endsWith(".png")).sorted().toList();
        }
    }

    static List<String> names(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
