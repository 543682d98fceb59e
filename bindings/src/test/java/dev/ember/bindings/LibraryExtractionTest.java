package dev.ember.bindings;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packed library is extracted only into a folder of the user's own, verified by its full hash,
 * written atomically; a planted file is replaced, never loaded.
 */
class LibraryExtractionTest {
    static final String FOLDER = "/dev/ember/native/" + NativeLibrary.platform();
    /**
     * In a build of CPU variants the loader extracts the variant it chooses: these tests name the narrowest
     * ({@value CpuVariants#VARIANT_PROPERTY}), so that nothing is measured and the file is known. Null for a
     * one-library build (libember.so).
     */
    static final CpuVariant VARIANT = narrowestVariant();
    static final String FILE_NAME = VARIANT == null ? System.mapLibraryName("ember") : VARIANT.fileName();
    static final String RESOURCE = FOLDER + "/" + FILE_NAME;
    static byte[] packed;

    @TempDir
    Path temp;

    @BeforeAll
    static void readPackedLibrary() throws IOException {
        try (InputStream in = NativeLibrary.class.getResourceAsStream(RESOURCE)) {
            assertTrue(in != null, "the build packs libember at " + RESOURCE);
            packed = in.readAllBytes();
        }
    }

    private static CpuVariant narrowestVariant() {
        try (InputStream in = NativeLibrary.class.getResourceAsStream(FOLDER + "/" + CpuVariant.MANIFEST)) {
            return in == null ? null : CpuVariant.parseManifest(new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8)).getFirst();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static NativeLibrary.Place place(Path base) {
        return new NativeLibrary.Place(base, List.of("native"));
    }

    private static NativeLibrary.Loaded loadFrom(Path base) {
        return load(List.of(place(base)));
    }

    /** The loader on the packed library alone, with the narrowest CPU variant named (see {@link #VARIANT}). */
    static NativeLibrary.Loaded load(List<NativeLibrary.Place> places) {
        String before = System.getProperty(CpuVariants.VARIANT_PROPERTY);
        if (VARIANT != null) System.setProperty(CpuVariants.VARIANT_PROPERTY, VARIANT.name());
        try {
            return NativeLibrary.load(null, null, "", RESOURCE, places);
        } finally {
            if (before == null) System.clearProperty(CpuVariants.VARIANT_PROPERTY);
            else System.setProperty(CpuVariants.VARIANT_PROPERTY, before);
        }
    }

    /** Where the loader will put the library under {@code base}. */
    private static Path expected(Path base) throws IOException {
        return base.toRealPath().resolve("native").resolve(NativeLibrary.sha256(packed)).resolve(FILE_NAME);
    }

    /**
     * A library whose loading would show: its constructor writes {@code marker}. Compiled with the C compiler
     * the native build uses; without one, random bytes (loading those fails, which shows too). Padded to
     * the packed library's size, so a loader that trusts the size alone takes it.
     */
    private Path plantedLibrary(Path marker) throws Exception {
        Path so = temp.resolve("planted.so");
        Path c = temp.resolve("planted.c");
        Files.writeString(c, "#include <stdio.h>\n__attribute__((constructor)) static void planted(void) {\n"
                + "  FILE *f = fopen(\"" + marker + "\", \"w\"); if (f) { fputs(\"loaded\", f); fclose(f); }\n}\n");
        boolean compiled;
        try {
            Process p = new ProcessBuilder("cc", "-shared", "-fPIC", "-o", so.toString(), c.toString()).redirectErrorStream(true).start();
            p.getInputStream().transferTo(java.io.OutputStream.nullOutputStream());
            compiled = p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            compiled = false;
        }
        if (!compiled) Files.write(so, new java.util.Random(1).ints(4096, 0, 256).collect(
                java.io.ByteArrayOutputStream::new, (b, i) -> b.write(i), (a, b) -> {}).toByteArray());
        byte[] bytes = new byte[packed.length];
        byte[] lib = Files.readAllBytes(so);
        assertTrue(lib.length <= bytes.length, "the planted library fits in the real one's size");
        System.arraycopy(lib, 0, bytes, 0, lib.length);
        Files.write(so, bytes);
        return so;
    }

    @Test
    void aPlantedLibraryOfTheRightSizeIsReplacedNeverLoaded() throws Exception {
        plantLoadAndCheck(false);
    }

    @Test
    void aLinkInTheLibrarysPlaceIsReplacedNotFollowed() throws Exception {
        plantLoadAndCheck(true);
    }

    /** Plants a library (a copy, or a link to it) where the loader will look, then loads: the real library must win. */
    private void plantLoadAndCheck(boolean asLink) throws Exception {
        Path base = Files.createDirectory(temp.resolve("cache"));
        Path marker = temp.resolve("planted-ran");
        Path planted = plantedLibrary(marker);
        Path target = expected(base);
        Files.createDirectories(target.getParent(), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        if (asLink) Files.createSymbolicLink(target, planted);
        else Files.copy(planted, target);
        assertEquals(packed.length, Files.size(target), "same size as the real library");

        NativeLibrary.Loaded loaded = loadFrom(base);

        assertFalse(Files.exists(marker), "the planted library's constructor ran: it was loaded");
        assertEquals(target.toString(), loaded.from());
        assertFalse(Files.isSymbolicLink(target));
        assertArrayEquals(packed, Files.readAllBytes(target), "the planted file was replaced by the packed library");
        assertTrue(loaded.lookup().find("ember_version").isPresent());
    }

    @Test
    void twoCacheRootsEachGetTheirOwnWorkingPrivateCopy() throws Exception {
        Path alice = Files.createDirectory(temp.resolve("alice-home"));
        Path bob = Files.createDirectory(temp.resolve("bob-home"));
        NativeLibrary.Loaded a = loadFrom(alice.resolve(".cache/ember"));
        NativeLibrary.Loaded b = loadFrom(bob.resolve(".cache/ember"));
        assertNotEquals(a.from(), b.from());
        for (NativeLibrary.Loaded l : List.of(a, b)) {
            assertTrue(l.lookup().find("ember_version").isPresent(), l.from());
            Path file = Path.of(l.from());
            assertArrayEquals(packed, Files.readAllBytes(file));
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file.getParent())), "hash folder");
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file.getParent().getParent())), "native folder");
        }
    }

    @Test
    void concurrentFirstRunsInThreadsShareOneCompleteCopy() throws Exception {
        int threads = 8;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            for (int round = 0; round < 10; round++) { // each round a fresh cache, all threads starting at once
                Path base = temp.resolve("cache-" + round);
                CountDownLatch start = new CountDownLatch(1);
                Set<Path> results = ConcurrentHashMap.newKeySet();
                List<Future<?>> runs = new ArrayList<>();
                for (int i = 0; i < threads; i++) {
                    runs.add(pool.submit(() -> {
                        start.await();
                        Path file = NativeLibrary.extract(packed, FILE_NAME, place(base));
                        assertArrayEquals(packed, Files.readAllBytes(file));
                        results.add(file);
                        return null;
                    }));
                }
                start.countDown();
                for (Future<?> f : runs) f.get(60, TimeUnit.SECONDS);
                assertEquals(Set.of(expected(base)), results);
                assertEquals(List.of(expected(base)), filesIn(expected(base).getParent()), "no temporary files left behind");
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void concurrentFirstRunsInProcessesEachLoadTheLibrary() throws Exception {
        Path base = temp.resolve("cache");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<Process> processes = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            processes.add(new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                    ExtractAndLoad.class.getName(), base.toString()).redirectErrorStream(true).start());  // names the variant itself
        }
        for (Process p : processes) {
            String output = new String(p.getInputStream().readAllBytes());
            assertTrue(p.waitFor(120, TimeUnit.SECONDS), "child finished");
            assertEquals(0, p.exitValue(), output);
            assertEquals("loaded " + expected(base), output.strip());
        }
        assertArrayEquals(packed, Files.readAllBytes(expected(base)));
        assertEquals(List.of(expected(base)), filesIn(expected(base).getParent()), "no temporary files left behind");
    }

    /** A first run of its own, for {@link #concurrentFirstRunsInProcessesEachLoadTheLibrary}. */
    public static final class ExtractAndLoad {
        public static void main(String[] args) {
            NativeLibrary.Loaded l = load(List.of(place(Path.of(args[0]))));
            if (l.lookup().find("ember_version").isEmpty()) throw new IllegalStateException("no ember_version in " + l.from());
            System.out.println("loaded " + l.from());
        }
    }

    @Test
    void aFolderOthersCanWriteIsRefusedAndTheNextPlaceUsed() throws Exception {
        Path open = Files.createDirectory(temp.resolve("open"));
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxrwxrwx"));
        IOException e = assertThrows(IOException.class, () -> NativeLibrary.extract(packed, FILE_NAME, place(open)));
        assertEquals(open.toRealPath() + " is writable by others (mode 777)", e.getMessage());
        assertFalse(Files.exists(open.resolve("native")), "nothing written into the unsafe place");

        Path groupWritable = Files.createDirectory(temp.resolve("group"));
        Files.setPosixFilePermissions(groupWritable, PosixFilePermissions.fromString("rwxrwxr-x"));
        Path below = Files.createDirectories(groupWritable.resolve("deeper/cache"));
        e = assertThrows(IOException.class, () -> NativeLibrary.extract(packed, FILE_NAME, place(below)));
        assertTrue(e.getMessage().startsWith(groupWritable.toRealPath() + " is writable by its group"), e.getMessage());

        Path good = temp.resolve("good");
        NativeLibrary.Loaded loaded = load(List.of(place(open), place(good)));
        assertEquals(expected(good).toString(), loaded.from());

        // A sticky world-writable folder (like /tmp) is fine: others cannot rename what is ours there.
        Path sticky = Files.createDirectory(temp.resolve("sticky"));
        Files.setAttribute(sticky, "unix:mode", 01777);
        assertEquals(expected(sticky), NativeLibrary.extract(packed, FILE_NAME, place(sticky)));
    }

    @Test
    void noSafePlaceGivesOneClearError() throws Exception {
        Path open = Files.createDirectory(temp.resolve("open"));
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxrwxrwx"));
        UnsatisfiedLinkError e = assertThrows(UnsatisfiedLinkError.class, () -> loadFrom(open));
        String first = e.getMessage().lines().findFirst().orElseThrow();
        assertTrue(first.startsWith("could not load libember (no folder of your own to extract it to: set EMBER_CACHE"), first);
        assertTrue(e.getMessage().contains("not extracted to " + open.resolve("native") + " (" + open.toRealPath() + " is writable by others"),
                e.getMessage());
    }

    @Test
    void ownFoldersWithLooseModesAreMadePrivateAndOthersFoldersRefused() throws Exception {
        Path base = Files.createDirectory(temp.resolve("cache"));
        Path nativeDir = Files.createDirectory(base.resolve("native"));
        Files.setPosixFilePermissions(nativeDir, PosixFilePermissions.fromString("rwxrwxrwx"));
        NativeLibrary.extract(packed, "libember.so", place(base));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(nativeDir)));

        // A link in place of a folder is refused, even one pointing at a private folder.
        Path other = Files.createDirectory(temp.resolve("other"), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Path linked = Files.createDirectory(temp.resolve("linked"));
        Files.createSymbolicLink(linked.resolve("native"), other);
        IOException e = assertThrows(IOException.class, () -> NativeLibrary.extract(packed, "libember.so", place(linked)));
        assertTrue(e.getMessage().endsWith("is not a folder (a link or a file is in its place)"), e.getMessage());

        if (PrivateFolder.currentUid() == 0) { // only root can make a folder that belongs to someone else
            Path foreign = Files.createDirectory(temp.resolve("foreign"));
            Path theirs = Files.createDirectory(foreign.resolve("native"));
            Files.setAttribute(theirs, "unix:uid", 65534);
            e = assertThrows(IOException.class, () -> NativeLibrary.extract(packed, "libember.so", place(foreign)));
            assertEquals(theirs.toRealPath() + " belongs to uid 65534, not to you (uid 0)", e.getMessage());
        }
    }

    private static List<Path> filesIn(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        }
    }

    @Test
    void hashFolderNameIsTheFullSha256() throws Exception {
        Path file = NativeLibrary.extract(packed, "libember.so", place(temp.resolve("c")));
        String name = file.getParent().getFileName().toString();
        assertEquals(64, name.length());
        assertEquals(java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(packed)), name);
        assertTrue(Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS));
    }
}
