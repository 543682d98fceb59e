package dev.ember.engine.image;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.random.RandomGenerator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Writes files so that no reader ever sees a partial one and nothing is overwritten.
 *
 * <p>Generated images are named as InvokeAI names them, {@code 000032.1592514025.png}: a six-digit
 * counter, one more than the highest counter already in the folder, then the seed. The counter is
 * claimed atomically (a hard link, which fails if the name exists); when another process takes the
 * same counter first, the next one is tried.
 *
 * <p>Every file is first written completely under a hidden temporary name,
 * {@code .ember-<pid>-<random>.tmp} in the same folder, created like any new file (so the final file's
 * mode follows the umask, as other tools' files do). If the JVM is stopped (SIGTERM, Ctrl-C) while one
 * is being written, a shutdown hook removes it; after a crash, the next write into that folder removes
 * temporary files whose process is gone.
 */
public final class OutputFiles {
    /** {@code NNNNNN.anything}: the counter of a file written by Ember or InvokeAI. */
    private static final Pattern COUNTED = Pattern.compile("^(\\d{6,})\\..*");
    private static final int MAX_RACES = 1000;
    /** {@code .ember-<pid>-<random>.tmp}: a temporary file of process {@code pid}. */
    private static final Pattern TEMP = Pattern.compile("^\\.ember-(\\d{1,18})-[0-9a-f]+\\.tmp$");
    private static final Set<Path> SWEPT = ConcurrentHashMap.newKeySet();

    private OutputFiles() {}

    /** The highest counter in {@code folder}, or 0 when there is none (or no folder). */
    public static long highestCounter(Path folder) throws IOException {
        if (!Files.isDirectory(folder)) return 0;
        long highest = 0;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(folder)) {
            for (Path f : files) {
                Matcher m = COUNTED.matcher(f.getFileName().toString());
                if (m.matches() && m.group(1).length() <= 18) highest = Math.max(highest, Long.parseLong(m.group(1)));
            }
        }
        return highest;
    }

    /** The InvokeAI-style name for a counter and seed. */
    public static String name(long counter, long seed) {
        return String.format(Locale.ROOT, "%06d.%s.png", counter, Long.toUnsignedString(seed));
    }

    /**
     * Writes {@code bytes} to the next free {@code NNNNNN.SEED.png} in {@code folder} (created if
     * needed) and returns its path.
     */
    public static Path writeNumbered(Path folder, long seed, byte[] bytes) throws IOException {
        Files.createDirectories(folder);
        Path temp = writeTemp(folder, bytes);
        try {
            long counter = highestCounter(folder) + 1;
            for (int attempt = 0; attempt < MAX_RACES; attempt++, counter++) {
                Path target = folder.resolve(name(counter, seed));
                if (claim(temp, target)) return target;
            }
            throw new IOException("could not find a free file name in " + folder + " after " + MAX_RACES + " tries");
        } finally {
            InFlight.done(temp);
        }
    }

    /** Writes {@code bytes} to {@code target}, replacing it, through a temporary file and an atomic move. */
    public static void writeReplacing(Path target, byte[] bytes) throws IOException {
        Path folder = target.toAbsolutePath().getParent();
        Files.createDirectories(folder);
        Path temp = writeTemp(folder, bytes);
        try {
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            InFlight.done(temp);
        }
    }

    /**
     * A complete temporary copy in the target's folder (same file system, so the final link or move is
     * atomic), created with the default mode (umask), and removed by the shutdown hook if the JVM stops first.
     */
    private static Path writeTemp(Path folder, byte[] bytes) throws IOException {
        sweepStale(folder);
        Path temp = InFlight.create(folder);
        try {
            Files.write(temp, bytes, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
        } catch (IOException | RuntimeException e) {
            InFlight.done(temp);
            throw e;
        }
        return temp;
    }

    /** Removes, once per folder and JVM, temporary files left in {@code folder} by processes that no longer run. */
    static void sweepStale(Path folder) throws IOException {
        if (!SWEPT.add(folder.toAbsolutePath().normalize())) return;
        try (DirectoryStream<Path> files = Files.newDirectoryStream(folder, ".ember-*.tmp")) {
            for (Path f : files) {
                Matcher m = TEMP.matcher(f.getFileName().toString());
                if (m.matches() && ProcessHandle.of(Long.parseLong(m.group(1))).isEmpty()) Files.deleteIfExists(f);
            }
        }
    }

    /**
     * The temporary files being written now. A shutdown hook deletes them; once it has begun, no new one is
     * made, so none is left behind by a JVM that stops while writing.
     */
    private static final class InFlight {
        private static final Set<Path> FILES = new HashSet<>();
        private static final RandomGenerator RANDOM = new SecureRandom();
        private static boolean hooked, stopping;

        static synchronized Path create(Path folder) throws IOException {
            if (stopping) throw new IOException("not writing into " + folder + ": the JVM is shutting down");
            if (!hooked) {
                Runtime.getRuntime().addShutdownHook(new Thread(InFlight::deleteAll, "ember-temp-files"));
                hooked = true;
            }
            for (int attempt = 0; ; attempt++) {
                Path temp = folder.resolve(".ember-" + ProcessHandle.current().pid() + "-" + Long.toHexString(RANDOM.nextLong() >>> 1) + ".tmp");
                try {
                    Files.newOutputStream(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE).close();
                } catch (FileAlreadyExistsException e) {
                    if (attempt < 100) continue;
                    throw e;
                }
                FILES.add(temp);
                return temp;
            }
        }

        /** Deletes {@code temp} if it is still there (after a link, a failure, or not at all after a move). */
        static void done(Path temp) throws IOException {
            try {
                Files.deleteIfExists(temp);
            } finally {
                synchronized (InFlight.class) {
                    FILES.remove(temp);
                }
            }
        }

        private static synchronized void deleteAll() {
            stopping = true;
            for (Path f : FILES) {
                try {
                    Files.deleteIfExists(f);
                } catch (IOException e) {
                    // the JVM is stopping: nothing else to do
                }
            }
            FILES.clear();
        }
    }

    /**
     * Makes the complete temp file appear under {@code target} only if that name is free. A hard link
     * is atomic and refuses existing names; where links are not supported, the name is reserved with
     * CREATE_NEW and then atomically replaced by the complete file.
     */
    private static boolean claim(Path temp, Path target) throws IOException {
        try {
            Files.createLink(target, temp);
            return true;
        } catch (FileAlreadyExistsException e) {
            return false;
        } catch (UnsupportedOperationException | IOException linkFailed) {
            try {
                Files.createFile(target);
            } catch (FileAlreadyExistsException e) {
                return false;
            }
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            return true;
        }
    }
}
