package dev.ember.engine.image;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OutputFilesTest {
    @TempDir
    Path dir;

    @Test
    void countersFollowTheHighestInTheFolderAndNeverOverwrite() throws IOException {
        Path out = dir.resolve("new");
        assertEquals(out.resolve("000001.42.png"), OutputFiles.writeNumbered(out, 42, new byte[] {1}));
        assertEquals(out.resolve("000002.42.png"), OutputFiles.writeNumbered(out, 42, new byte[] {2}));
        Files.write(out.resolve("000031.7.png"), new byte[] {9});
        Files.write(out.resolve("notes.txt"), new byte[] {9});
        assertEquals(out.resolve("000032.1592514025.png"), OutputFiles.writeNumbered(out, 1592514025L, new byte[] {3}));
        assertArrayEquals(new byte[] {1}, Files.readAllBytes(out.resolve("000001.42.png")));
        assertEquals(List.of(), leftovers(out));
    }

    @Test
    void aNameTakenByAnotherWriterIsSkipped() throws IOException {
        // Another process claimed 000001 as another seed after we counted, and 000002 with our seed
        // exists too: the counter keeps going instead of overwriting.
        Files.write(dir.resolve("000002.5.png"), new byte[] {7});
        Files.write(dir.resolve("000003.5.png"), new byte[] {7});
        Path file = OutputFiles.writeNumbered(dir, 5, new byte[] {8});
        assertEquals(dir.resolve("000004.5.png"), file);
        assertArrayEquals(new byte[] {7}, Files.readAllBytes(dir.resolve("000003.5.png")));
    }

    @Test
    void namesUseSixDigitsAndUnsignedSeeds() {
        assertEquals("000032.1592514025.png", OutputFiles.name(32, 1592514025L));
        assertEquals("1234567.18446744073709551615.png", OutputFiles.name(1234567, -1));
    }

    @Test
    void filesGetTheModeOfAnyNewFileUnderTheUmask() throws IOException {
        Path probe = Files.createFile(dir.resolve("probe")); // 0666 minus the umask, as any tool's new file
        Path png = OutputFiles.writeNumbered(dir.resolve("out"), 1, new byte[] {1});
        Path replaced = dir.resolve("steps/steps.png");
        OutputFiles.writeReplacing(replaced, new byte[] {2});
        assertEquals(Files.getPosixFilePermissions(probe), Files.getPosixFilePermissions(png));
        assertEquals(Files.getPosixFilePermissions(probe), Files.getPosixFilePermissions(replaced));
    }

    @Test
    void temporaryFilesOfProcessesThatAreGoneAreRemovedOthersKept() throws IOException {
        Path out = Files.createDirectory(dir.resolve("swept"));
        Path gone = Files.write(out.resolve(".ember-999999999-1a2b.tmp"), new byte[] {1}); // above any pid_max
        Path running = Files.write(out.resolve(".ember-" + ProcessHandle.current().pid() + "-3c4d.tmp"), new byte[] {1});
        Path foreign = Files.write(out.resolve(".ember-notes.tmp"), new byte[] {1});
        OutputFiles.writeNumbered(out, 3, new byte[] {3});
        assertFalse(Files.exists(gone), "left by a process that no longer runs");
        assertTrue(Files.exists(running), "may still be being written");
        assertTrue(Files.exists(foreign), "not one of ours");
    }

    private static List<Path> leftovers(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().startsWith(".ember-")).toList();
        }
    }
}
