package dev.ember.server;

import dev.ember.engine.AddOns;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The add-on lists A1111 clients read: {@code /sdapi/v1/sd-vae} (the VAE given with {@code --vae}),
 * {@code /sdapi/v1/loras} (the files of {@code --lora-dir}, as A1111's built-in Lora extension lists them) and
 * {@code /sdapi/v1/embeddings} (the files of {@code --embeddings-dir}). Listed from the folders on each call,
 * so files added while the server runs appear; prompts use them through the engine's own lookup.
 */
final class AddOnLists {
    private static final Set<String> LORA_EXTENSIONS = Set.of("safetensors", "pt", "ckpt", "bin");
    private static final Set<String> EMBEDDING_EXTENSIONS = Set.of("safetensors", "pt", "bin");

    private AddOnLists() {}

    static List<Map<String, Object>> vaes(AddOns addOns) {
        if (addOns.vae() == null) return List.of();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model_name", addOns.vae().getFileName().toString());
        m.put("filename", addOns.vae().toAbsolutePath().normalize().toString());
        return List.of(m);
    }

    static List<Map<String, Object>> loras(AddOns addOns) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Path f : files(addOns.loraDir(), LORA_EXTENSIONS)) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", stem(f));
            m.put("alias", stem(f));
            m.put("path", f.toAbsolutePath().normalize().toString());
            m.put("metadata", Map.of());
            out.add(m);
        }
        return out;
    }

    /** A1111's shape: {@code {"loaded": {name: {...}}, "skipped": {}}}; the vectors are read only when a prompt names them. */
    static Map<String, Object> embeddings(AddOns addOns) {
        Map<String, Object> loaded = new LinkedHashMap<>();
        for (Path f : files(addOns.embeddingsDir(), EMBEDDING_EXTENSIONS)) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("filename", f.toAbsolutePath().normalize().toString());
            loaded.put(stem(f), m);
        }
        return Map.of("loaded", loaded, "skipped", Map.of());
    }

    /** The files with one of {@code extensions} under {@code dir} (sub-folders too), sorted by path; none for no folder. */
    private static List<Path> files(Path dir, Set<String> extensions) {
        if (dir == null || !Files.isDirectory(dir)) return List.of();
        try (Stream<Path> walk = Files.walk(dir)) {
            return walk.filter(Files::isRegularFile).filter(f -> extensions.contains(extension(f))).sorted().toList();
        } catch (IOException e) {
            throw new ApiException(500, null, "cannot list " + dir + ": " + e.getMessage());
        }
    }

    private static String extension(Path f) {
        String n = f.getFileName().toString();
        int dot = n.lastIndexOf('.');
        return dot < 0 ? "" : n.substring(dot + 1).toLowerCase(Locale.ROOT);
    }

    private static String stem(Path f) {
        String n = f.getFileName().toString();
        int dot = n.lastIndexOf('.');
        return dot < 0 ? n : n.substring(0, dot);
    }
}
