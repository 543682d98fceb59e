package dev.ember.engine.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** AUTOMATIC1111's split of long prompts into 75-token chunks, with its comma backtracking. */
class PromptChunksTest {
    private static final int COMMA = 267;
    private static final int WORD = 320;

    private static int[] words(int n) {
        int[] t = new int[n];
        Arrays.fill(t, WORD);
        return t;
    }

    @Test
    void shortAndEmptyPromptsAreOneChunk() {
        assertEquals(1, PromptChunks.split(words(75), COMMA).size());
        List<int[]> empty = PromptChunks.split(new int[0], COMMA);
        assertEquals(1, empty.size());
        assertEquals(0, empty.getFirst().length);
    }

    @Test
    void longPromptsSplitEvery75Tokens() {
        int[] content = IntStream.range(0, 160).map(i -> 1000 + i).toArray();
        List<int[]> chunks = PromptChunks.split(content, COMMA);
        assertEquals(List.of(75, 75, 10), chunks.stream().map(c -> c.length).toList());
        assertArrayEquals(Arrays.copyOfRange(content, 75, 150), chunks.get(1));
    }

    @Test
    void aCommaWithinTheLast20TokensMovesTheRestOfThePhraseToTheNextChunk() {
        // Comma at index 70 of a full chunk: 75 - 70 = 5 <= 20, so tokens 71..74 move on with the 76th token.
        int[] content = words(90);
        content[70] = COMMA;
        content[72] = 999;
        List<int[]> chunks = PromptChunks.split(content, COMMA);
        assertEquals(List.of(71, 19), chunks.stream().map(c -> c.length).toList());
        assertEquals(COMMA, chunks.get(0)[70]);
        assertEquals(999, chunks.get(1)[1]);
        // Exactly 20 back still moves; 21 back does not.
        int[] twenty = words(80);
        twenty[55] = COMMA;
        assertEquals(List.of(56, 24), PromptChunks.split(twenty, COMMA).stream().map(c -> c.length).toList());
        int[] far = words(80);
        far[54] = COMMA;
        assertEquals(List.of(75, 5), PromptChunks.split(far, COMMA).stream().map(c -> c.length).toList());
    }

    @Test
    void aWindowIsStartContentEndAndPadding() {
        ClipTokenizer tok = ClipTokenizer.standard();
        int[] window = PromptChunks.window(tok, new int[] {320, 1125}, 0);
        assertEquals(77, window.length);
        assertArrayEquals(new int[] {49406, 320, 1125, 49407, 0, 0}, Arrays.copyOf(window, 6));
        assertEquals(0, window[76]);
        assertEquals(49407, PromptChunks.window(tok, new int[0], 49407)[76]);
        // The same ids the tokenizer's single-window encoding gives for a short prompt.
        assertArrayEquals(tok.encode("a photo", PadStyle.ZERO).ids(), PromptChunks.window(tok, tok.tokenize("a photo"), 0));
    }
}
