package dev.ember.server;

import dev.ember.engine.AddOns;
import dev.ember.engine.ModelFileException;
import dev.ember.engine.model.NamedFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

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
        files(addOns.loraDir(), LORA_EXTENSIONS).forEach((stem, paths) -> {
            for (Path f : paths) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("name", stem);
                m.put("alias", stem);
                m.put("path", f.toAbsolutePath().normalize().toString());
                m.put("metadata", Map.of());
                out.add(m);
            }
        });
        return out;
    }

    /** A1111's shape: {@code {"loaded": {name: {...}}, "skipped": {}}}; the vectors are read only when a prompt names them. */
    static Map<String, Object> embeddings(AddOns addOns) {
        Map<String, Object> loaded = new LinkedHashMap<>();
        files(addOns.embeddingsDir(), EMBEDDING_EXTENSIONS).forEach((stem, paths) ->
                loaded.put(stem, Map.of("filename", paths.getFirst().toAbsolutePath().normalize().toString())));
        return Map.of("loaded", loaded, "skipped", Map.of());
    }

    /**
     * The files a prompt can name in {@code dir}, by stem: the engine's own lookup ({@link NamedFiles}, the same
     * depth and extensions), so the lists show exactly what a tag finds; none for no folder.
     */
    private static Map<String, List<Path>> files(Path dir, Set<String> extensions) {
        if (dir == null || !Files.isDirectory(dir)) return Map.of();
        try {
            return NamedFiles.list(dir, extensions);
        } catch (ModelFileException e) {
            throw new ApiException(500, null, e.getMessage());
        }
    }
}
