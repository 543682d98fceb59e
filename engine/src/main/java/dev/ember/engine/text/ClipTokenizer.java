package dev.ember.engine.text;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPInputStream;

/**
 * CLIP's byte-level BPE tokenizer, as OpenAI CLIP's {@code SimpleTokenizer} (and Hugging Face's
 * {@code CLIPTokenizer}) encode prompts for Stable Diffusion's text encoders.
 *
 * <p>Steps: collapse whitespace and strip, lower-case, split with CLIP's pre-tokenizer pattern, map
 * each piece's UTF-8 bytes to printable characters ({@code bytes_to_unicode}), then merge pairs by
 * rank with {@code </w>} marking the end of a word. ftfy's mojibake repair and HTML unescaping are
 * not done. Instances are immutable and thread-safe.
 */
public final class ClipTokenizer {

    /** Token slots the text encoders take. */
    public static final int CONTEXT_LENGTH = 77;
    /** Content tokens that fit between start-of-text and end-of-text. */
    public static final int MAX_CONTENT_TOKENS = CONTEXT_LENGTH - 2;
    /** {@code <|startoftext|>} in the standard vocabulary. */
    public static final int START_OF_TEXT = 49406;
    /** {@code <|endoftext|>} in the standard vocabulary. */
    public static final int END_OF_TEXT = 49407;
    /** Vocabulary size of the standard tokenizer. */
    public static final int VOCAB_SIZE = 49408;

    /** Classpath resource the engine build copies the merges text to. */
    public static final String RESOURCE = "bpe_simple_vocab_16e6.txt";

    private static final String SOT = "<|startoftext|>";
    private static final String EOT = "<|endoftext|>";
    private static final String WORD_END = "</w>";
    /** CLIP uses the first 49152 - 256 - 2 merges: the vocabulary is 512 byte tokens + merges + 2 specials. */
    private static final int STANDARD_MERGES = 49152 - 256 - 2;
    /** The BPE result cache is only an optimisation; bounding it keeps a long-lived tokenizer from growing forever. */
    private static final int CACHE_LIMIT = 50_000;

    // UNICODE_CHARACTER_CLASS makes \s Unicode whitespace, as in Python 3's re/regex on str.
    private static final Pattern PRE_TOKENIZER = Pattern.compile(
            "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+",
            Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE | Pattern.UNICODE_CHARACTER_CLASS);
    private static final Pattern WHITESPACE = Pattern.compile("\\s+", Pattern.UNICODE_CHARACTER_CLASS);

    private static final char[] BYTE_TO_CHAR = bytesToUnicode();

    private final Map<String, Integer> encoder;
    private final String[] decoder;
    private final Map<String, Integer> mergeRanks;
    private final int startOfText;
    private final int endOfText;
    private final Map<String, String[]> cache = new ConcurrentHashMap<>();

    private ClipTokenizer(Map<String, Integer> encoder, Map<String, Integer> mergeRanks) {
        this.encoder = Map.copyOf(encoder);
        this.mergeRanks = Map.copyOf(mergeRanks);
        Integer sot = encoder.get(SOT);
        Integer eot = encoder.get(EOT);
        if (sot == null || eot == null) throw new IllegalArgumentException("vocabulary lacks " + SOT + " or " + EOT);
        this.startOfText = sot;
        this.endOfText = eot;
        int max = encoder.values().stream().mapToInt(Integer::intValue).max().orElse(-1);
        this.decoder = new String[max + 1];
        encoder.forEach((token, id) -> {
            if (id < 0) throw new IllegalArgumentException("negative token id " + id + " for " + token);
            decoder[id] = token;
        });
    }

    /** The standard CLIP vocabulary, from the engine jar's resource (fetched at build time). */
    public static ClipTokenizer standard() {
        InputStream in = ClipTokenizer.class.getResourceAsStream(RESOURCE);
        if (in == null) {
            throw new IllegalStateException("CLIP merges resource dev/ember/engine/text/" + RESOURCE
                    + " is missing from the classpath; build the engine module (it runs scripts/fetch-clip-vocab.sh)"
                    + " or use ClipTokenizer.fromMergesFile(path)");
        }
        try (in) {
            return fromMergesLines(readLines(in));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the CLIP merges resource", e);
        }
    }

    /**
     * A tokenizer from OpenAI's merges file ({@code bpe_simple_vocab_16e6.txt}, or the {@code .gz} it
     * ships as): a version line, then one merge per line. Only the first 48894 merges are used.
     */
    public static ClipTokenizer fromMergesFile(Path path) {
        try (InputStream raw = Files.newInputStream(path)) {
            InputStream in = path.getFileName().toString().endsWith(".gz") ? new GZIPInputStream(raw) : raw;
            return fromMergesLines(readLines(in));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read CLIP merges from " + path, e);
        }
    }

    /** A tokenizer from the lines of OpenAI's merges text (the first line is the version line). */
    public static ClipTokenizer fromMergesLines(List<String> lines) {
        if (lines.isEmpty() || !lines.getFirst().startsWith("#version")) {
            throw new IllegalArgumentException("CLIP merges text must start with a #version line");
        }
        if (lines.size() < STANDARD_MERGES + 1) {
            throw new IllegalArgumentException("CLIP merges text has " + (lines.size() - 1) + " merges, needs " + STANDARD_MERGES);
        }
        List<String[]> merges = new ArrayList<>(STANDARD_MERGES);
        for (int i = 1; i <= STANDARD_MERGES; i++) merges.add(parseMerge(lines.get(i), i + 1));
        // The vocabulary order is SimpleTokenizer's: byte characters in bytes_to_unicode order, the
        // same with </w>, then one token per merge, then the two specials.
        // Ids count positions in that list (a repeated token would keep its last id, as a Python dict does).
        Map<String, Integer> encoder = new HashMap<>(2 * (512 + STANDARD_MERGES));
        List<Character> byteChars = byteCharsInVocabOrder();
        int id = 0;
        for (char c : byteChars) encoder.put(String.valueOf(c), id++);
        for (char c : byteChars) encoder.put(c + WORD_END, id++);
        for (String[] m : merges) encoder.put(m[0] + m[1], id++);
        encoder.put(SOT, id++);
        encoder.put(EOT, id);
        return new ClipTokenizer(encoder, ranks(merges));
    }

    /**
     * A tokenizer from a Hugging Face / diffusers {@code tokenizer/} folder: {@code vocab.json}
     * (token to id) and {@code merges.txt} (merges in rank order, after a version line).
     */
    public static ClipTokenizer fromDiffusersFolder(Path folder) {
        Path vocab = folder.resolve("vocab.json");
        Path mergesFile = folder.resolve("merges.txt");
        try {
            Map<String, Integer> encoder = new ObjectMapper().readValue(vocab.toFile(), new TypeReference<Map<String, Integer>>() {});
            List<String[]> merges = new ArrayList<>();
            List<String> lines;
            try (InputStream in = Files.newInputStream(mergesFile)) {
                lines = readLines(in);
            }
            for (int i = 0; i < lines.size(); i++) {
                String line = lines.get(i);
                if (line.isBlank() || (i == 0 && line.startsWith("#version"))) continue;
                merges.add(parseMerge(line, i + 1));
            }
            return new ClipTokenizer(encoder, ranks(merges));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read a CLIP tokenizer from " + folder, e);
        }
    }

    /** The id of {@code <|startoftext|>}. */
    public int startOfText() {
        return startOfText;
    }

    /** The id of {@code <|endoftext|>}. */
    public int endOfText() {
        return endOfText;
    }

    /** How many tokens the vocabulary has. */
    public int vocabSize() {
        return encoder.size();
    }

    /** The id of one vocabulary entry (in its byte-mapped spelling, e.g. {@code "cat</w>"}), or -1. */
    public int tokenId(String token) {
        return encoder.getOrDefault(token, -1);
    }

    /**
     * Encodes a prompt into the 77 ids a text encoder takes: start-of-text, at most 75 content tokens,
     * end-of-text, then {@code pad}. Longer prompts lose their tail; the result says how much.
     */
    public TokenizedPrompt encode(String text, PadStyle pad) {
        return encode(text, pad.padId());
    }

    /** As {@link #encode(String, PadStyle)} with an explicit padding id. */
    public TokenizedPrompt encode(String text, int padId) {
        return encode(tokenize(text), padId);
    }

    /**
     * As {@link #encode(String, int)} from content tokens already made (by {@link #tokenize}, then perhaps
     * edited: ids from {@link #vocabSize()} on stand for textual-inversion vectors and pass through).
     */
    public TokenizedPrompt encode(int[] content, int padId) {
        if (padId < 0 || padId >= decoder.length) throw new IllegalArgumentException("pad id " + padId + " outside the vocabulary");
        int kept = Math.min(content.length, MAX_CONTENT_TOKENS);
        int[] ids = new int[CONTEXT_LENGTH];
        Arrays.fill(ids, padId);
        ids[0] = startOfText;
        System.arraycopy(content, 0, ids, 1, kept);
        ids[kept + 1] = endOfText;
        int[] dropped = Arrays.copyOfRange(content, kept, content.length);
        StringBuilder droppedText = new StringBuilder();
        int from = 0;
        for (int i = 0; i <= dropped.length; i++) {
            if (i < dropped.length && dropped[i] < decoder.length) continue;
            if (i > from) droppedText.append(droppedText.isEmpty() ? "" : " ").append(decode(Arrays.copyOfRange(dropped, from, i)));
            if (i < dropped.length) droppedText.append(droppedText.isEmpty() ? "" : " ").append("<embedding vector>");
            from = i + 1;
        }
        return new TokenizedPrompt(ids, kept, dropped.length, droppedText.toString());
    }

    /** The content token ids of a prompt, without start/end tokens, padding or truncation. */
    public int[] tokenize(String text) {
        String clean = WHITESPACE.matcher(text).replaceAll(" ").strip().toLowerCase(java.util.Locale.ROOT);
        List<Integer> out = new ArrayList<>();
        Matcher m = PRE_TOKENIZER.matcher(clean);
        while (m.find()) {
            byte[] utf8 = m.group().getBytes(StandardCharsets.UTF_8);
            StringBuilder mapped = new StringBuilder(utf8.length);
            for (byte b : utf8) mapped.append(BYTE_TO_CHAR[b & 0xFF]);
            for (String piece : bpe(mapped.toString())) {
                Integer id = encoder.get(piece);
                // Every single byte character (with and without </w>) is in the vocabulary, so a miss
                // means a vocabulary file that does not belong to its merges.
                if (id == null) throw new IllegalStateException("BPE produced a token missing from the vocabulary: " + piece);
                out.add(id);
            }
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    /** One vocabulary entry in its byte-mapped spelling (e.g. {@code "cat</w>"}). */
    public String decodeToken(int id) {
        if (id < 0 || id >= decoder.length || decoder[id] == null) throw new IllegalArgumentException("unknown token id " + id);
        return decoder[id];
    }

    /** Text of some token ids: word ends become spaces, byte characters become UTF-8 again. */
    public String decode(int[] ids) {
        StringBuilder chars = new StringBuilder();
        for (int id : ids) {
            if (id < 0 || id >= decoder.length || decoder[id] == null) throw new IllegalArgumentException("unknown token id " + id);
            chars.append(decoder[id]);
        }
        String text = chars.toString().replace(WORD_END, " ");
        byte[] bytes = new byte[text.length()];
        int n = 0;
        StringBuilder result = new StringBuilder();
        for (int i = 0; i < text.length(); i++) {
            int b = charToByte(text.charAt(i));
            if (b < 0) {
                // Special tokens are plain ASCII outside the byte map only when written literally; keep them.
                flush(bytes, n, result);
                n = 0;
                result.append(text.charAt(i));
            } else {
                bytes[n++] = (byte) b;
            }
        }
        flush(bytes, n, result);
        return result.toString().strip();
    }

    private static void flush(byte[] bytes, int n, StringBuilder out) {
        if (n == 0) return;
        try {
            out.append(StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPLACE)
                    .onUnmappableCharacter(CodingErrorAction.REPLACE).decode(java.nio.ByteBuffer.wrap(bytes, 0, n)));
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new IllegalStateException(e); // cannot happen with REPLACE
        }
    }

    private String[] bpe(String token) {
        if (token.equals(SOT) || token.equals(EOT)) return new String[] {token};
        String[] cached = cache.get(token);
        if (cached != null) return cached;
        List<String> word = new ArrayList<>(token.length());
        for (int i = 0; i < token.length(); i++) word.add(String.valueOf(token.charAt(i)));
        word.set(word.size() - 1, word.getLast() + WORD_END);
        while (word.size() > 1) {
            int bestRank = Integer.MAX_VALUE;
            String first = null;
            String second = null;
            for (int i = 0; i + 1 < word.size(); i++) {
                Integer rank = mergeRanks.get(word.get(i) + " " + word.get(i + 1));
                if (rank != null && rank < bestRank) {
                    bestRank = rank;
                    first = word.get(i);
                    second = word.get(i + 1);
                }
            }
            if (first == null) break;
            // Merge every non-overlapping occurrence of the best pair, left to right.
            List<String> merged = new ArrayList<>(word.size());
            for (int i = 0; i < word.size(); i++) {
                if (i + 1 < word.size() && word.get(i).equals(first) && word.get(i + 1).equals(second)) {
                    merged.add(first + second);
                    i++;
                } else {
                    merged.add(word.get(i));
                }
            }
            word = merged;
        }
        String[] result = word.toArray(String[]::new);
        if (cache.size() < CACHE_LIMIT) cache.put(token, result);
        return result;
    }

    private static String[] parseMerge(String line, int lineNumber) {
        String[] parts = line.strip().split(" ");
        if (parts.length != 2) throw new IllegalArgumentException("merge line " + lineNumber + " is not two tokens: '" + line + "'");
        return parts;
    }

    private static Map<String, Integer> ranks(List<String[]> merges) {
        Map<String, Integer> ranks = new HashMap<>(2 * merges.size());
        for (int i = 0; i < merges.size(); i++) ranks.put(merges.get(i)[0] + " " + merges.get(i)[1], i);
        return ranks;
    }

    private static List<String> readLines(InputStream in) throws IOException {
        BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
        return reader.lines().toList();
    }

    /**
     * GPT-2/CLIP's bytes_to_unicode: printable Latin-1 bytes map to themselves, the other 68 bytes to
     * U+0100 upwards, so every byte is a visible, non-whitespace character that BPE can merge.
     */
    private static char[] bytesToUnicode() {
        char[] map = new char[256];
        int next = 0;
        for (int b = 0; b < 256; b++) {
            map[b] = isPrintableByte(b) ? (char) b : (char) (256 + next++);
        }
        return map;
    }

    private static boolean isPrintableByte(int b) {
        return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    }

    /** Byte characters in SimpleTokenizer's vocabulary order: the printable bytes first, then the rest. */
    private static List<Character> byteCharsInVocabOrder() {
        List<Character> order = new ArrayList<>(256);
        for (int b = 0; b < 256; b++) if (isPrintableByte(b)) order.add(BYTE_TO_CHAR[b]);
        for (int b = 0; b < 256; b++) if (!isPrintableByte(b)) order.add(BYTE_TO_CHAR[b]);
        return order;
    }

    private static int charToByte(char c) {
        if (c < 256 && isPrintableByte(c)) return c;
        int index = c - 256;
        if (index < 0 || index >= 68) return -1;
        for (int b = 0, n = 0; b < 256; b++) {
            if (!isPrintableByte(b)) {
                if (n == index) return b;
                n++;
            }
        }
        return -1;
    }
}
