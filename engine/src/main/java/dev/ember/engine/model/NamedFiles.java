package dev.ember.engine.model;

import dev.ember.engine.ModelFileException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Files named by their stem inside a folder and its subfolders, as A1111 finds LoRAs and embeddings:
 * {@code <lora:film_grain:0.7>} names {@code loras/film_grain.safetensors} or {@code loras/styles/film_grain.pt}.
 * Lookups try the exact stem first, then a case-insensitive match; two files with one stem are reported, not
 * guessed between.
 */
public final class NamedFiles {
    /** Folder levels searched below the given one. */
    static final int MAX_DEPTH = 4;

    private NamedFiles() {}

    /** Every file below {@code dir} (up to {@link #MAX_DEPTH} levels) with one of {@code extensions}, by stem, sorted. */
    public static Map<String, List<Path>> list(Path dir, Set<String> extensions) {
        if (!Files.isDirectory(dir)) throw new ModelFileException(dir, "no such folder");
        Map<String, List<Path>> out = new TreeMap<>();
        try (Stream<Path> files = Files.walk(dir, MAX_DEPTH + 1)) {
            files.filter(Files::isRegularFile).sorted().forEach(f -> {
                String name = f.getFileName().toString();
                int dot = name.lastIndexOf('.');
                if (dot <= 0 || !extensions.contains(name.substring(dot + 1).toLowerCase(Locale.ROOT))) return;
                out.computeIfAbsent(name.substring(0, dot), k -> new ArrayList<>()).add(f);
            });
        } catch (IOException | UncheckedIOException e) {
            throw new ModelFileException(dir, "cannot list the folder: " + e.getMessage());
        }
        return out;
    }

    /**
     * The one file named {@code name} below {@code dir}.
     *
     * @param what what is looked for, for messages ("LoRA", "embedding")
     * @throws ModelFileException when there is none, or several
     */
    public static Path find(Path dir, String name, Set<String> extensions, String what) {
        Map<String, List<Path>> all = list(dir, extensions);
        List<Path> hits = all.get(name);
        if (hits == null) {
            hits = new ArrayList<>();
            for (var e : all.entrySet()) if (e.getKey().equalsIgnoreCase(name)) hits.addAll(e.getValue());
        }
        if (hits.isEmpty()) {
            throw new ModelFileException(dir, "no " + what + " named '" + name + "' (looked for " + name + "." + String.join("|", new java.util.TreeSet<>(extensions))
                    + " here and in subfolders)");
        }
        if (hits.size() > 1) throw new ModelFileException(dir, "several " + what + " files are named '" + name + "': " + hits);
        return hits.getFirst();
    }
}
