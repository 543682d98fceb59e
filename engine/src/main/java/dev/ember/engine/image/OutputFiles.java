package dev.ember.engine.image;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Writes files so that no reader ever sees a partial one and nothing is overwritten.
 *
 * <p>Generated images are named as InvokeAI names them, {@code 000032.1592514025.png}: a six-digit
 * counter, one more than the highest counter already in the folder, then the seed. The counter is
 * claimed atomically (a hard link, which fails if the name exists); when another process takes the
 * same counter first, the next one is tried.
 */
public final class OutputFiles {
    /** {@code NNNNNN.anything}: the counter of a file written by Ember or InvokeAI. */
    private static final Pattern COUNTED = Pattern.compile("^(\\d{6,})\\..*");
    private static final int MAX_RACES = 1000;

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
            Files.deleteIfExists(temp);
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
            Files.deleteIfExists(temp);
        }
    }

    /** A complete temporary copy in the target's folder (same file system, so the final link or move is atomic). */
    private static Path writeTemp(Path folder, byte[] bytes) throws IOException {
        Path temp = Files.createTempFile(folder, ".ember-", ".tmp");
        try {
            Files.write(temp, bytes);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(temp);
            throw e;
        }
        return temp;
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
