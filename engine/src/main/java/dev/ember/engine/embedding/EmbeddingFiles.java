package dev.ember.engine.embedding;

import dev.ember.engine.ModelFileException;
import dev.ember.engine.model.DType;
import dev.ember.engine.model.SafetensorsReader;
import dev.ember.engine.model.TensorData;
import dev.ember.engine.model.TorchCheckpointReader;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Reads textual-inversion embeddings in the formats A1111 reads ({@code modules/textual_inversion}):
 * <ul>
 *   <li>A1111 {@code .pt} / {@code .bin}: a dict whose {@code string_to_param} holds one tensor [n, d] (or [d]);</li>
 *   <li>{@code .safetensors} with {@code emb_params} [n, d] (A1111's own), or SDXL's {@code clip_l} [n, 768] and
 *       {@code clip_g} [n, 1280];</li>
 *   <li>diffusers' {@code learned_embeds.bin} / {@code .safetensors}: a single tensor [d] or [n, d] under the token it
 *       was trained for.</li>
 * </ul>
 * The name is the file name without its extension, whatever the file says inside (as A1111 names them).
 */
public final class EmbeddingFiles {
    /** File extensions read as embeddings. */
    public static final Set<String> EXTENSIONS = Set.of("safetensors", "pt", "bin");
    /** More vectors than fit in a prompt are certainly not an embedding. */
    static final int MAX_VECTORS = 75;

    private EmbeddingFiles() {}

    /**
     * Reads one embedding file.
     *
     * @throws ModelFileException when it cannot be read or is not an embedding (the message says what it holds)
     */
    public static Embedding read(Path file) {
        String name = file.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String stem = dot > 0 ? name.substring(0, dot) : name;
        String ext = dot > 0 ? name.substring(dot + 1).toLowerCase(Locale.ROOT) : "";
        try (Arena arena = Arena.ofConfined()) {
            Map<String, TensorData> t = ext.equals("safetensors") ? SafetensorsReader.read(file, arena, new HashMap<>())
                    : TorchCheckpointReader.readNested(file, arena);
            if (t.containsKey("clip_l") && t.containsKey("clip_g")) {
                float[][] l = vectors(file, t.get("clip_l")), g = vectors(file, t.get("clip_g"));
                if (l.length != g.length) throw new ModelFileException(file, "clip_l has " + l.length + " vectors but clip_g " + g.length);
                return new Embedding(stem, file, l.length, l[0].length, flat(l), g[0].length, flat(g));
            }
            TensorData v = t.get("emb_params");
            if (v == null) {
                List<String> params = t.keySet().stream().filter(k -> k.startsWith("string_to_param.")).toList();
                if (params.size() > 1) throw new ModelFileException(file, "string_to_param holds " + params.size() + " tensors; an embedding has one");
                if (params.size() == 1) v = t.get(params.getFirst());
            }
            if (v == null && t.size() == 1) v = t.values().iterator().next();
            if (v == null) {
                throw new ModelFileException(file, "not a textual-inversion embedding (no emb_params, string_to_param, clip_l/clip_g or single tensor; "
                        + "keys: " + String.join(", ", t.keySet().stream().limit(5).toList()) + ")");
            }
            float[][] rows = vectors(file, v);
            return new Embedding(stem, file, rows.length, rows[0].length, flat(rows), 0, null);
        }
    }

    private static float[][] vectors(Path file, TensorData t) {
        if (!t.dtype().isFloat()) throw new ModelFileException(file, "embedding tensor " + t.name() + " is " + t.dtype());
        long[] s = t.shape();
        if (s.length < 1 || s.length > 2 || s[s.length - 1] < 1) {
            throw new ModelFileException(file, "embedding tensor " + t.name() + " has shape " + java.util.Arrays.toString(s) + ", not [n, width]");
        }
        int n = s.length == 1 ? 1 : (int) s[0], d = (int) s[s.length - 1];
        if (n < 1 || n > MAX_VECTORS) throw new ModelFileException(file, "embedding has " + n + " vectors; 1 to " + MAX_VECTORS + " fit a prompt");
        float[][] out = new float[n][d];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++) out[i][j] = value(t, (long) i * d + j);
        for (float[] row : out)
            for (float x : row) if (!Float.isFinite(x)) throw new ModelFileException(file, "embedding has non-finite values");
        return out;
    }

    private static float value(TensorData t, long i) {
        return switch (t.dtype()) {
            case F32 -> t.data().getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i);
            case F16 -> Float.float16ToFloat(t.data().getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i));
            case BF16 -> Float.intBitsToFloat((t.data().getAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i) & 0xffff) << 16);
            case F64 -> (float) t.data().getAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED, i);
            default -> throw new IllegalStateException(DType.class.getSimpleName() + " " + t.dtype());
        };
    }

    private static float[] flat(float[][] rows) {
        float[] out = new float[rows.length * rows[0].length];
        for (int i = 0; i < rows.length; i++) System.arraycopy(rows[i], 0, out, i * rows[0].length, rows[0].length);
        return out;
    }
}
