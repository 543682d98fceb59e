package dev.ember.server;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.Stream;

/**
 * The checkpoints clients may pick: the {@code --model} file and every checkpoint under {@code --models}
 * ({@code .safetensors}, {@code .ckpt}, diffusers folders), named as A1111 names them: the path relative to the
 * folder ({@code title}), the same without extension and with {@code /} as {@code _} ({@code model_name}).
 * Titles carry no hash, so they stay the same when a hash becomes known. SHA-256s are computed in the
 * background, one file at a time, and reported once known ({@code hash} is A1111's first 10 hex digits).
 */
final class ModelCatalog implements AutoCloseable {
    private static final int MAX_DEPTH = 4;

    /** One checkpoint. */
    record Entry(String title, Path file) {
        String modelName() {
            String n = title.replace('/', '_').replace('\\', '_');
            int dot = n.lastIndexOf('.');
            return dot > 0 && !Files.isDirectory(file) ? n.substring(0, dot) : n;
        }
    }

    private record Stamp(Path file, long size, long modified) {}

    private final Path model;
    private final Path folder;
    private final Map<Stamp, String> hashes = new ConcurrentHashMap<>();
    private final ExecutorService hasher = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "ember-model-hasher");
        t.setDaemon(true);
        t.setPriority(Thread.MIN_PRIORITY);
        return t;
    });
    private volatile List<Entry> entries = List.of();

    /**
     * @param model  a checkpoint to offer (may be null)
     * @param folder a folder to scan (may be null); at least one of the two must be given
     */
    ModelCatalog(Path model, Path folder) {
        if (model == null && folder == null) throw new IllegalArgumentException("no model and no models folder");
        this.model = model == null ? null : model.toAbsolutePath().normalize();
        this.folder = folder == null ? null : folder.toAbsolutePath().normalize();
        if (this.folder != null && !Files.isDirectory(this.folder)) {
            throw new IllegalArgumentException("--models " + folder + ": not a folder");
        }
        if (this.model != null && !Files.exists(this.model)) throw new IllegalArgumentException("--model " + model + ": no such file");
        refresh();
    }

    /** Scans the folder again (A1111's refresh-checkpoints). */
    synchronized void refresh() {
        List<Entry> found = new ArrayList<>();
        if (folder != null) found.addAll(scan(folder));
        if (model != null && found.stream().noneMatch(e -> e.file().equals(model))) {
            String title = folder != null && model.startsWith(folder) ? relative(folder, model) : model.getFileName().toString();
            found.addFirst(new Entry(title, model));
        }
        entries = List.copyOf(found);
        for (Entry e : entries) hashLater(e.file());
    }

    List<Entry> entries() {
        return entries;
    }

    /** The checkpoint loaded first: {@code --model}, else the first of the folder. */
    Entry initial() {
        List<Entry> all = entries;
        if (model != null) return all.stream().filter(e -> e.file().equals(model)).findFirst().orElseThrow();
        if (all.isEmpty()) throw new IllegalArgumentException("--models " + folder + ": no checkpoints (.safetensors, .ckpt or diffusers folders) in it");
        return all.getFirst();
    }

    /**
     * The checkpoint a client names: its title, model name or file name, with or without A1111's
     * {@code " [hash]"} suffix, or its SHA-256 or short hash. Null when none matches.
     */
    Entry find(String requested) {
        if (requested == null) return null;
        String want = requested.strip();
        int bracket = want.lastIndexOf(" [");
        if (bracket > 0 && want.endsWith("]")) want = want.substring(0, bracket).strip();
        String lower = want.toLowerCase(Locale.ROOT);
        for (Entry e : entries) {
            String fileName = e.file().getFileName().toString();
            if (e.title().equals(want) || e.modelName().equals(want) || fileName.equals(want)) return e;
            String sha = sha256(e);
            if (sha != null && lower.length() >= 10 && sha.startsWith(lower)) return e;
        }
        return null;
    }

    /** The SHA-256 (hex) of a checkpoint file, or null while unknown (and for folders). */
    String sha256(Entry e) {
        Stamp s = stamp(e.file());
        return s == null ? null : hashes.get(s);
    }

    /** A1111's short hash: the first 10 hex digits of the SHA-256, or null while unknown. */
    String shortHash(Entry e) {
        String sha = sha256(e);
        return sha == null ? null : sha.substring(0, 10);
    }

    private void hashLater(Path file) {
        Stamp s = stamp(file);
        if (s == null || hashes.containsKey(s)) return;
        hasher.execute(() -> {
            if (hashes.containsKey(s)) return;
            String sha = sha256Of(file);
            if (sha != null && s.equals(stamp(file))) hashes.put(s, sha);
        });
    }

    private static Stamp stamp(Path file) {
        try {
            if (!Files.isRegularFile(file)) return null;
            return new Stamp(file, Files.size(file), Files.getLastModifiedTime(file).toMillis());
        } catch (IOException e) {
            return null;
        }
    }

    private static String sha256Of(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buffer = new byte[1 << 20];
            for (int n; (n = in.read(buffer)) > 0; ) md.update(buffer, 0, n);
            return HexFormat.of().formatHex(md.digest());
        } catch (IOException | NoSuchAlgorithmException e) {
            return null; // unreadable now: reported without a hash
        }
    }

    private static List<Entry> scan(Path folder) {
        try (Stream<Path> walk = Files.walk(folder, MAX_DEPTH)) {
            List<Path> all = walk.sorted(Comparator.comparing(Path::toString)).toList();
            List<Path> diffusers = all.stream().filter(p -> Files.isRegularFile(p.resolve("model_index.json"))).toList();
            List<Entry> out = new ArrayList<>();
            for (Path p : all) {
                if (diffusers.stream().anyMatch(d -> p.startsWith(d) && !p.equals(d))) continue; // a diffusers folder's parts
                String name = p.getFileName().toString().toLowerCase(Locale.ROOT);
                boolean checkpoint = Files.isRegularFile(p) && (name.endsWith(".safetensors") || name.endsWith(".ckpt"));
                if (checkpoint || diffusers.contains(p)) out.add(new Entry(relative(folder, p), p));
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + folder + ": " + e.getMessage(), e);
        }
    }

    private static String relative(Path folder, Path file) {
        return folder.relativize(file).toString().replace('\\', '/');
    }

    @Override
    public void close() {
        hasher.shutdownNow();
    }
}
