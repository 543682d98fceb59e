package dev.ember.engine.text;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Prompts longer than one CLIP window, split the way AUTOMATIC1111 does
 * ({@code modules/sd_hijack_clip.py}, {@code tokenize_line}): content tokens go into chunks of at most
 * 75; when a chunk is full and a comma came within its last {@link #COMMA_BACKTRACK} tokens, the tokens
 * after that comma move to the next chunk (so a phrase is not cut in two). Each chunk becomes its own
 * 77-token window (start, content, end, padding), is encoded on its own, and the windows' hidden states
 * are concatenated along the token axis. An empty prompt is one empty chunk.
 */
public final class PromptChunks {
    /** A1111's default {@code comma_padding_backtrack}. */
    public static final int COMMA_BACKTRACK = 20;

    private PromptChunks() {}

    /** The content tokens of {@code prompt} in chunks of at most {@link ClipTokenizer#MAX_CONTENT_TOKENS}. */
    public static List<int[]> split(ClipTokenizer tokenizer, String prompt) {
        return split(tokenizer.tokenize(prompt), tokenizer.tokenId(",</w>"));
    }

    /** {@link #split(ClipTokenizer, String)} on content tokens; {@code commaId} -1 disables the backtracking. */
    public static List<int[]> split(int[] content, int commaId) {
        int size = ClipTokenizer.MAX_CONTENT_TOKENS;
        List<int[]> chunks = new ArrayList<>();
        int[] chunk = new int[size];
        int length = 0;
        int lastComma = -1;
        for (int token : content) {
            if (token == commaId) {
                lastComma = length;
            } else if (length == size && lastComma != -1 && length - lastComma <= COMMA_BACKTRACK) {
                int breakAt = lastComma + 1;
                chunks.add(Arrays.copyOf(chunk, breakAt));
                int[] moved = Arrays.copyOfRange(chunk, breakAt, length);
                System.arraycopy(moved, 0, chunk, 0, moved.length);
                length = moved.length;
                lastComma = -1;
            }
            if (length == size) {
                chunks.add(Arrays.copyOf(chunk, length));
                length = 0;
                lastComma = -1;
            }
            chunk[length++] = token;
        }
        if (length > 0 || chunks.isEmpty()) chunks.add(Arrays.copyOf(chunk, length));
        return chunks;
    }

    /** One chunk as a text encoder's 77 ids: start-of-text, the content, end-of-text, then {@code padId}. */
    public static int[] window(ClipTokenizer tokenizer, int[] chunk, int padId) {
        if (chunk.length > ClipTokenizer.MAX_CONTENT_TOKENS) throw new IllegalArgumentException("chunk of " + chunk.length + " tokens");
        int[] ids = new int[ClipTokenizer.CONTEXT_LENGTH];
        Arrays.fill(ids, padId);
        ids[0] = tokenizer.startOfText();
        System.arraycopy(chunk, 0, ids, 1, chunk.length);
        ids[chunk.length + 1] = tokenizer.endOfText();
        return ids;
    }
}
