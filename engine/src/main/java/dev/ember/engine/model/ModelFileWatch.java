package dev.ember.engine.model;

import dev.ember.engine.ModelFileChangedException;
import dev.ember.engine.ModelFileException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileVisitOption;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Stream;

/**
 * Watches the files of an open model for changes, cheaply: each file stays open (so the file the model
 * read is the one checked, even after another is renamed over its name) and a check compares its size,
 * its modification time (while the name still leads to it) and a sample of its content (the first
 * 64 KiB and 16 pages of 4 KiB spread over the file) with what they were when the watch began.
 *
 * <p>The sample also gives the model's fingerprint, recorded in each picture's metadata: a SHA-256 over
 * each file's name (relative to a model folder), size and sampled bytes, as {@value #FINGERPRINT_LENGTH}
 * hex digits. It identifies the content (the same file elsewhere has the same fingerprint) without
 * reading gigabytes; a change outside the sampled bytes is seen through the size or the modification
 * time. A diffusers folder is watched as all its files up to two levels deep, except hidden ones.
 */
public final class ModelFileWatch implements AutoCloseable {
    public static final int FINGERPRINT_LENGTH = 32;
    private static final int HEAD = 64 * 1024;
    private static final int PAGE = 4096;
    private static final int PAGES = 16;

    /** One file as it was when the watch began; {@code name} is relative to a model folder, empty for a model file. */
    private record Watched(Path file, String name, FileChannel channel, Object fileKey, FileTime modified, long size, byte[] sample) {}

    private final Path model;
    private final List<Watched> files;
    private final Map<Path, FileChannel> channels = new LinkedHashMap<>();
    private final String fingerprint;
    private boolean closed;

    private ModelFileWatch(Path model, List<Watched> files) {
        this.model = model;
        this.files = files;
        for (Watched w : files) channels.put(w.file(), w.channel());
        MessageDigest all = sha256();
        for (Watched w : files) {
            all.update(w.name().getBytes(java.nio.charset.StandardCharsets.UTF_8));
            all.update(ByteBuffer.allocate(Long.BYTES).putLong(w.size()).flip());
            all.update(w.sample());
        }
        this.fingerprint = HexFormat.of().formatHex(all.digest()).substring(0, FINGERPRINT_LENGTH);
    }

    /**
     * Begins watching {@code model}, a file or a diffusers folder.
     *
     * @throws ModelFileException when it does not exist or cannot be read
     */
    public static ModelFileWatch open(Path model) {
        Objects.requireNonNull(model, "model");
        if (!Files.exists(model)) throw new ModelFileException(model, "no such file or folder");
        List<Watched> files = new ArrayList<>();
        try {
            for (Path f : filesOf(model)) files.add(watch(f, model.equals(f) ? "" : model.relativize(f).toString()));
        } catch (IOException | RuntimeException e) {
            for (Watched w : files) closeQuietly(w.channel());
            if (e instanceof ModelFileException m) throw m;
            throw new ModelFileException(model, "cannot read: " + e.getMessage(), e);
        }
        return new ModelFileWatch(model, files);
    }

    /** The fingerprint of {@code model} as it is now (see the class comment). */
    public static String fingerprintOf(Path model) {
        try (ModelFileWatch w = open(model)) {
            return w.fingerprint();
        }
    }

    private static List<Path> filesOf(Path model) throws IOException {
        if (!Files.isDirectory(model)) return List.of(model);
        try (Stream<Path> walk = Files.walk(model, 2, FileVisitOption.FOLLOW_LINKS)) {
            return walk.filter(Files::isRegularFile)
                    .filter(f -> !model.relativize(f).toString().startsWith(".") && !f.getFileName().toString().startsWith("."))
                    .sorted().toList();
        }
    }

    private static Watched watch(Path file, String name) throws IOException {
        BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
        try {
            long size = ch.size();
            return new Watched(file.toAbsolutePath().normalize(), name, ch, a.fileKey(), a.lastModifiedTime(), size, sample(ch, size));
        } catch (IOException | RuntimeException e) {
            closeQuietly(ch);
            throw e;
        }
    }

    /** SHA-256 of the first 64 KiB and of 16 pages spread evenly over the file, read at their positions. */
    private static byte[] sample(FileChannel ch, long size) throws IOException {
        MessageDigest d = sha256();
        ByteBuffer head = ByteBuffer.allocate((int) Math.min(size, HEAD));
        readAt(ch, head, 0);
        d.update(head.flip());
        if (size > HEAD) {
            ByteBuffer page = ByteBuffer.allocate(PAGE);
            for (int k = 0; k < PAGES; k++) {
                long at = Math.max(HEAD, (size - PAGE) * k / (PAGES - 1));
                page.clear().limit((int) Math.min(PAGE, size - at));
                readAt(ch, page, at);
                d.update(page.flip());
            }
        }
        return d.digest();
    }

    /** Fills {@code buffer} from {@code position}; a file that ends first gives a shorter buffer (its size has changed). */
    private static void readAt(FileChannel ch, ByteBuffer buffer, long position) throws IOException {
        while (buffer.hasRemaining()) {
            int n = ch.read(buffer, position);
            if (n < 0) return;
            position += n;
        }
    }

    /** The model's fingerprint when the watch began. */
    public String fingerprint() {
        return fingerprint;
    }

    public Path model() {
        return model;
    }

    /** The open channel of a watched file (absolute, normalized path), for positional reads; null if not watched. */
    public synchronized FileChannel channel(Path file) {
        return closed ? null : channels.get(file.toAbsolutePath().normalize());
    }

    /** Null while every file is as it was when the watch began, else what changed first (one line). */
    public synchronized String changes() {
        if (closed) throw new IllegalStateException("model file watch is closed");
        for (Watched w : files) {
            String name = w.name().isEmpty() ? "the file" : w.name();
            try {
                long size = w.channel().size();
                if (size != w.size()) return name + " is now " + size + " bytes, was " + w.size() + " (truncated or rewritten)";
                if (!MessageDigest.isEqual(sample(w.channel(), size), w.sample())) return name + " was rewritten (its content differs)";
                BasicFileAttributes a;
                try {
                    a = Files.readAttributes(w.file(), BasicFileAttributes.class);
                } catch (NoSuchFileException e) {
                    continue; // removed or renamed: the open file is what the model uses, and it is intact
                }
                if (Objects.equals(a.fileKey(), w.fileKey()) && !a.lastModifiedTime().equals(w.modified())) {
                    return name + " was written to (modified " + a.lastModifiedTime() + ", was " + w.modified() + ")";
                }
            } catch (IOException e) {
                return name + " cannot be read any more (" + e.getMessage() + ")";
            }
        }
        return null;
    }

    /**
     * Throws when a file has changed since the watch began.
     *
     * @param when   when, for the message, e.g. "while it was being loaded"
     * @param advice what to do, appended to the message after a semicolon; may be empty
     * @throws ModelFileChangedException naming the change
     */
    public void checkUnchanged(String when, String advice) {
        String change = changes();
        if (change != null) {
            throw new ModelFileChangedException(model, change, "the model file changed " + when + ": " + change
                    + (advice.isEmpty() ? "" : "; " + advice));
        }
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        for (Watched w : files) closeQuietly(w.channel());
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException e) {
            // nothing was written through it
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("no SHA-256 in this JDK", e);
        }
    }
}
