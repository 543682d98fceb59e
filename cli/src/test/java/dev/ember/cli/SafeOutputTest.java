package dev.ember.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.engine.Ember;
import dev.ember.engine.image.RgbImage;
import dev.ember.engine.metadata.ImageParameters;
import dev.ember.engine.metadata.PngMetadata;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the command line prints and writes stays safe: escaped text, clear errors, sane seeds, threads and modes. */
class SafeOutputTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void cache() {
        TestModels.useTemporaryCache();
    }

    private static CliRunner txt2img(String... more) {
        List<String> args = new ArrayList<>(GenerateCommandsTest.small("-p", "a barn"));
        args.addAll(0, List.of("txt2img"));
        args.addAll(List.of(more));
        return CliRunner.run(args.toArray(String[]::new));
    }

    /** A PNG whose metadata a hostile tool wrote: escape sequences, BEL, a right-to-left override. */
    private Path craftedPng(String prompt, String model) throws IOException {
        ImageParameters p = new ImageParameters("txt2img", prompt, "", 1, 3, 7.5, 64, 64, "lms", "discrete", "philox", 1, null, null,
                null, null, 0, null, model, 1L, null, "auto", "cpu", 1, false, Ember.version());
        Path png = dir.resolve("crafted.png");
        Files.write(png, PngMetadata.encode(new RgbImage(8, 8, new byte[8 * 8 * 3]), p));
        return png;
    }

    private static void assertNoControlCharacters(String text) {
        for (char c : text.toCharArray()) {
            assertFalse(c == 0x1b || c == 0x07 || c == 0x202e || c == '\r' || c == 0x9b, "raw control character U+"
                    + Integer.toHexString(c) + " in: " + text);
        }
    }

    @Test
    void infoEscapesControlCharactersFromTheFile() throws IOException {
        Path png = craftedPng("\u001b]0;owned\u0007a \u001b[2Jbarn \u202eevil\r", "/m.safetensors");
        CliRunner r = CliRunner.run("info", png.toString());
        assertEquals(0, r.exitCode(), r.err());
        assertNoControlCharacters(r.out());
        assertTrue(r.out().contains("  prompt: \\x1b]0;owned\\x07a \\x1b[2Jbarn \\u202eevil\\x0d"), r.out());
        assertTrue(r.out().contains("\n  \\x1b]0;owned\\x07a \\x1b[2Jbarn \\u202eevil\\x0d\n"), "the A1111 text too: " + r.out());
    }

    @Test
    void errorsQuotingTheFileAreEscapedToo() throws IOException {
        Path png = craftedPng("a barn", "/no/such/\u001b[31mmodel\u202e.safetensors");
        CliRunner r = CliRunner.run("txt2img", "--from-image", png.toString(), "--out", dir.resolve("out").toString());
        assertEquals(1, r.exitCode(), r.err());
        assertNoControlCharacters(r.err());
        assertEquals("ember: /no/such/\\x1b[31mmodel\\u202e.safetensors: no such file or folder", r.err().strip());
    }

    @Test
    void seedMinusOneIsRandomAndSeedsStayIn32Bits() throws IOException {
        Path out = dir.resolve("out");
        CliRunner r = txt2img("-S", "-1", "--out", out.toString(), "-s", "1");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.err().contains("(random; --seed "), r.err());
        long seed = PngMetadata.read(InterruptedRunsTest.files(out, "*.png").getFirst()).ember().seed();
        assertTrue(seed >= 0 && seed <= 4294967295L, "seed " + seed);

        for (String bad : List.of("4294967296", "9223372036854775807", "-2")) {
            CliRunner b = txt2img("-S", bad, "-n", "2", "--out", out.toString());
            assertEquals(2, b.exitCode(), b.err());
            assertEquals("ember: --seed must be between 0 and 4294967295, or -1 for a random seed; got " + bad, b.err().strip());
        }
    }

    @Test
    void threadsAboveTheCoresAreCappedWithAWarning() throws IOException {
        Path out = dir.resolve("out");
        int cores = Runtime.getRuntime().availableProcessors();
        CliRunner r = txt2img("--threads", "1000", "-s", "1", "--out", out.toString());
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.err().contains("ember: warning: --threads 1000 is more than the " + cores + " cores of this machine; using " + cores), r.err());
        assertEquals(cores, PngMetadata.read(InterruptedRunsTest.files(out, "*.png").getFirst()).ember().threads());
    }

    @Test
    void outputFolderProblemsAreNamed() throws IOException {
        Path file = Files.writeString(dir.resolve("a-file"), "x");
        CliRunner r = txt2img("--out", file.toString());
        assertEquals(1, r.exitCode(), r.err());
        assertEquals("ember: --out " + file + " is a file, not a folder", r.err().strip());
        r = txt2img("--out", file.resolve("below").toString());
        assertEquals("ember: --out " + file.resolve("below") + ": " + file + " is a file, not a folder", r.err().strip());
        r = txt2img("--out", dir.resolve("ok").toString(), "--intermediates", file.toString());
        assertEquals("ember: --intermediates " + file + " is a file, not a folder", r.err().strip());

        // The JDK's path-only exceptions get their reason (root cannot be denied a write, so these are told directly).
        assertEquals("/x/out: permission denied", FileErrors.describe(new AccessDeniedException("/x/out")));
        assertEquals("/x/m: no such file or folder", FileErrors.describe(new NoSuchFileException("/x/m")));
    }

    @Test
    void picturesGetTheUsualModeOfANewFile() throws IOException {
        Path out = Files.createDirectory(dir.resolve("out"));
        Path probe = Files.createFile(out.resolve("probe")); // 0666 less the umask
        CliRunner r = txt2img("-s", "1", "--out", out.toString(), "--intermediates", out.resolve("steps").toString());
        assertEquals(0, r.exitCode(), r.err());
        for (Path png : InterruptedRunsTest.files(out, "*.png")) {
            assertEquals(Files.getPosixFilePermissions(probe), Files.getPosixFilePermissions(png), png.toString());
        }
        assertEquals(Files.getPosixFilePermissions(probe), Files.getPosixFilePermissions(out.resolve("steps/steps.png")));
    }

    @Test
    void aMuchSmallerInitImageIsWarnedAbout() throws IOException {
        Path init = dir.resolve("tiny.png");
        new RgbImage(1, 1, new byte[] {10, 20, 30}).writePng(init);
        List<String> args = new ArrayList<>(GenerateCommandsTest.small("-p", "a barn", "-I", init.toString(), "-s", "2", "--out",
                dir.resolve("out").toString()));
        args.addFirst("img2img");
        CliRunner r = CliRunner.run(args.toArray(String[]::new));
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.err().contains("ember: warning: the init image is 1x1, much smaller than the 64x64 output: it is enlarged more "
                + "than twice, so the result will look blurred"), r.err());

        new RgbImage(40, 64, new byte[40 * 64 * 3]).writePng(init); // at least half of each side: no warning
        r = CliRunner.run(args.toArray(String[]::new));
        assertEquals(0, r.exitCode(), r.err());
        assertFalse(r.err().contains("much smaller"), r.err());
    }
}
