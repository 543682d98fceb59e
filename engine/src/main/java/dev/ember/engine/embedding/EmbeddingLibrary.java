package dev.ember.engine.embedding;

import dev.ember.engine.ModelFileException;
import dev.ember.engine.model.NamedFiles;
import dev.ember.engine.text.ClipTokenizer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The embeddings of a folder, found in prompts as A1111 finds them: each file's name is tokenised, and
 * wherever a prompt's tokens contain that sequence (the longest name first, where names overlap) the
 * embedding's vectors take those token slots, one slot per vector (SDXL: the same slots in both text encoders,
 * {@code clip_l} vectors in the first, {@code clip_g} in the second). Files are read the first time their
 * name appears, and kept. Thread-safe.
 */
public final class EmbeddingLibrary {
    private record Name(String name, Path file, int[] tokens) {}

    private final Path dir;
    private final int width;
    private final int widthG;
    private final String modelLabel;
    /** Names by their first token, longest first. */
    private final Map<Integer, List<Name>> byFirstToken = new HashMap<>();
    private final Map<Path, Embedding> loaded = new ConcurrentHashMap<>();

    /**
     * Lists {@code dir}'s embeddings (subfolders included) for a text encoder of {@code width}.
     *
     * @param modelLabel how messages name the model ("SD 1.x")
     */
    public EmbeddingLibrary(Path dir, ClipTokenizer tokenizer, int width, String modelLabel) {
        this(dir, tokenizer, width, 0, modelLabel);
    }

    /**
     * Lists {@code dir}'s embeddings for one text encoder of {@code width} or, with {@code widthG} above 0, for
     * SDXL's two (CLIP ViT-L {@code width} wide, OpenCLIP bigG {@code widthG}): then each embedding must have
     * both sets of vectors ({@code clip_l} and {@code clip_g}), as A1111 requires for SDXL.
     */
    public EmbeddingLibrary(Path dir, ClipTokenizer tokenizer, int width, int widthG, String modelLabel) {
        if (width < 1 || widthG < 0) throw new IllegalArgumentException("widths " + width + ", " + widthG);
        this.dir = dir;
        this.width = width;
        this.widthG = widthG;
        this.modelLabel = modelLabel;
        for (var e : NamedFiles.list(dir, EmbeddingFiles.EXTENSIONS).entrySet()) {
            int[] tokens = tokenizer.tokenize(e.getKey());
            if (tokens.length == 0) continue;
            // Two files with one name: the first in path order, as the listing sorts them.
            byFirstToken.computeIfAbsent(tokens[0], k -> new ArrayList<>()).add(new Name(e.getKey(), e.getValue().getFirst(), tokens));
        }
        for (List<Name> names : byFirstToken.values()) names.sort(Comparator.comparingInt((Name n) -> -n.tokens.length));
    }

    public Path dir() {
        return dir;
    }

    /**
     * A prompt's content tokens with each embedding name replaced by its vectors: the ids of those slots are
     * {@code vocabSize + i} for row i of {@code extra} (and of {@code extraG}).
     *
     * @param ids    the prompt's tokens, embedding slots marked as above
     * @param extra  the vectors of those slots, [rows, width], row-major
     * @param extraG SDXL: the same slots' bigG vectors, [rows, widthG]; empty for one text encoder
     * @param used   the embeddings found, each once, in order of appearance
     */
    public record Substitution(int[] ids, float[] extra, float[] extraG, List<Embedding> used) {
        public int rows(int width) {
            return extra.length / width;
        }

        /** The rows of text encoder {@code encoder} (0: the first, 1: SDXL's bigG). */
        public float[] rowsOf(int encoder) {
            return switch (encoder) {
                case 0 -> extra;
                case 1 -> extraG;
                default -> throw new IllegalArgumentException("encoder " + encoder);
            };
        }
    }

    /**
     * Replaces the embedding names in {@code tokens}.
     *
     * @throws ModelFileException when a named embedding cannot be read or does not fit this model's text encoder
     */
    public Substitution substitute(int[] tokens, int vocabSize) {
        List<Integer> ids = new ArrayList<>();
        // Each slot: the embedding and which of its vectors.
        List<Embedding> slotOf = new ArrayList<>();
        List<Integer> vectorOf = new ArrayList<>();
        LinkedHashSet<Embedding> used = new LinkedHashSet<>();
        for (int i = 0; i < tokens.length; ) {
            Name hit = match(tokens, i);
            if (hit == null) {
                ids.add(tokens[i++]);
                continue;
            }
            Embedding e = load(hit);
            used.add(e);
            for (int v = 0; v < e.count(); v++) {
                ids.add(vocabSize + slotOf.size());
                slotOf.add(e);
                vectorOf.add(v);
            }
            i += hit.tokens.length;
        }
        int rows = slotOf.size();
        float[] extra = new float[rows * width], extraG = new float[rows * widthG];
        for (int r = 0; r < rows; r++) {
            Embedding e = slotOf.get(r);
            int v = vectorOf.get(r);
            System.arraycopy(e.vectors(), v * width, extra, r * width, width);
            if (widthG > 0) System.arraycopy(e.vectorsG(), v * widthG, extraG, r * widthG, widthG);
        }
        return new Substitution(ids.stream().mapToInt(Integer::intValue).toArray(), extra, extraG, List.copyOf(used));
    }

    /** The embeddings whose names appear in {@code tokens} (read and checked like {@link #substitute}). */
    public List<Embedding> find(int[] tokens) {
        return substitute(tokens, 0).used();
    }

    private Name match(int[] tokens, int at) {
        List<Name> candidates = byFirstToken.get(tokens[at]);
        if (candidates == null) return null;
        for (Name n : candidates) {
            if (at + n.tokens.length > tokens.length) continue;
            boolean same = true;
            for (int k = 0; k < n.tokens.length && same; k++) same = tokens[at + k] == n.tokens[k];
            if (same) return n;
        }
        return null;
    }

    private Embedding load(Name n) {
        Embedding e = loaded.computeIfAbsent(n.file, EmbeddingFiles::read);
        if (e.isSdxl() && widthG == 0) {
            throw new ModelFileException(n.file, "is an SDXL embedding (clip_l and clip_g vectors); this model is " + modelLabel);
        }
        if (!e.isSdxl() && widthG > 0) {
            String family = family(e.width());
            String arch = family != null ? "an " + family + " embedding" : "an embedding for one text encoder";
            throw new ModelFileException(n.file, "is " + arch + " (" + e.width() + "-wide vectors only); this " + modelLabel
                    + " model needs clip_l and clip_g vectors, one set for each of its text encoders");
        }
        if (widthG > 0 && e.widthG() != widthG) {
            throw new ModelFileException(n.file, "embedding '" + n.name + "' has " + e.widthG() + "-wide clip_g vectors, but this " + modelLabel
                    + " model's second text encoder is " + widthG + " wide");
        }
        if (e.width() != width) {
            String arch = family(e.width()) != null ? " (" + family(e.width()) + ")" : "";
            throw new ModelFileException(n.file, "embedding '" + n.name + "' has " + e.width() + "-wide vectors" + arch
                    + ", but this " + modelLabel + " model's text encoder is " + width + " wide");
        }
        return e;
    }

    /** The model family whose single text encoder is this wide (SD 1.x: 768, SD 2.x: 1024), or null. */
    private static String family(int width) {
        return width == 768 ? "SD 1.x" : width == 1024 ? "SD 2.x" : null;
    }
}
