package dev.ember.engine.text;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ClipTokenizerTest {

    private static ClipTokenizer tokenizer;

    @BeforeAll
    static void load() {
        tokenizer = ClipTokenizer.standard();
    }

    /** Ids up to and including the first end-of-text, as published references list them. */
    private static int[] unpadded(String text) {
        int[] ids = tokenizer.encode(text, PadStyle.ZERO).ids();
        int end = 0;
        while (ids[end] != ClipTokenizer.END_OF_TEXT) end++;
        return Arrays.copyOf(ids, end + 1);
    }

    @Test
    void vocabularyHasClipsSize() {
        assertEquals(ClipTokenizer.VOCAB_SIZE, tokenizer.vocabSize());
        assertEquals(49406, tokenizer.startOfText());
        assertEquals(49407, tokenizer.endOfText());
        // bytes_to_unicode order: '!' is the first byte character, "!</w>" the first word-end one.
        assertEquals(0, tokenizer.tokenId("!"));
        assertEquals(256, tokenizer.tokenId("!</w>"));
    }

    @Test
    void knownAnswersFromTheBrief() {
        assertArrayEquals(new int[] {49406, 320, 1125, 539, 320, 2368, 49407}, unpadded("a photo of a cat"));
        assertArrayEquals(new int[] {49406, 1769, 49407}, unpadded("fire"));
        assertArrayEquals(new int[] {49406, 3306, 1002, 256, 49407}, unpadded("hello world!"));
    }

    @Test
    void publishedKnownAnswers() {
        // Bumblebee's test/bumblebee/text/clip_tokenizer_test.exs (HF openai/clip-vit-base-patch32).
        assertArrayEquals(new int[] {49406, 320, 1125, 539, 320, 1929, 49407}, unpadded("a photo of a dog"));
        // mindformers' CLIPTokenizer test: "hello world?" -> 49406 3306 1002 286 49407.
        assertArrayEquals(new int[] {49406, 3306, 1002, 286, 49407}, unpadded("hello world?"));
        // Reference lists generated with open_clip's SimpleTokenizer / HF tokenizers, found with code
        // search (a MobileCLIP parity script and a Rust CLIP port's tests):
        assertArrayEquals(new int[] {49406, 585, 568, 320, 1215, 575, 49407}, unpadded("it's a beautiful day"));
        assertArrayEquals(new int[] {49406, 328, 753, 713, 2649, 585, 568, 783, 6952, 49407},
                unpadded("I can't believe it's not butter"));
        assertArrayEquals(new int[] {49406, 3306, 267, 1002, 256, 829, 631, 592, 286, 49407},
                unpadded("hello, world! how are you?"));
        assertArrayEquals(new int[] {49406, 4462, 281, 7031, 287, 6228, 269, 2464, 49407}, unpadded("email: user@example.com"));
        assertArrayEquals(new int[] {49406, 995, 49407}, unpadded("!!!"));
        assertArrayEquals(new int[] {49406, 518, 935, 273, 271, 273, 275, 739, 3628, 49407}, unpadded("the year 2024 was interesting"));
        assertArrayEquals(new int[] {49406, 274, 269, 272, 275, 533, 5357, 49407}, unpadded("3.14 is pi"));
        assertArrayEquals(new int[] {49406, 20617, 2630, 272, 277, 268, 6523, 49407}, unpadded("MacBook Pro 16-inch"));
        assertArrayEquals(new int[] {49406, 10525, 568, 273, 1166, 5950, 49407}, unpadded("grandma's 2 birthday cakes"));
        assertArrayEquals(new int[] {49406, 15304, 2566, 572, 585, 49407}, unpadded("café au lait"));
        assertArrayEquals(new int[] {49406, 2583, 268, 24659, 5873, 267, 275, 330, 49407}, unpadded("snow-capped mountains, 4k"));
        assertArrayEquals(new int[] {49406, 1929, 525, 518, 2117, 256, 49407}, unpadded("Dog on the Beach!"));
    }

    @Test
    void caseAndWhitespaceAreNormalised() {
        // open_clip reference: "  HELLO   World  " -> 3306 1002.
        assertArrayEquals(new int[] {49406, 3306, 1002, 49407}, unpadded("  HELLO   World  "));
        assertArrayEquals(unpadded("a photo of a cat"), unpadded("A\tPHOTO\n\n of   a\u00A0Cat "));
        assertArrayEquals(new int[] {49406, 49407}, unpadded(""));
        assertArrayEquals(new int[] {49406, 49407}, unpadded(" \t\n "));
    }

    @Test
    void unicodeLowerCasingMatchesPython() {
        // Python's "İ".lower() is "i" + U+0307; the combining dot is its own pre-token. Reference ids
        // from a CLIP port's test list: "İstanbul" -> 328 16384 11231.
        assertArrayEquals(new int[] {49406, 328, 16384, 11231, 49407}, unpadded("İstanbul"));
    }

    @Test
    void emojiAndUnmergedBytesFallBackToByteTokens() {
        for (String text : new String[] {"🔥", "a 🐱 on a 🚀", "\uE000", "日本語のテキスト", "ζ"}) {
            int[] ids = tokenizer.tokenize(text);
            assertTrue(ids.length >= 1, text);
            for (int id : ids) assertTrue(id >= 0 && id < 49406, text + " gave id " + id);
            assertEquals(text, tokenizer.decode(ids), "byte-level BPE must round-trip " + text);
        }
        // A private-use character (UTF-8 EE 80 80) has no token of its own: it falls back to byte
        // pieces whose spellings concatenate to its three byte characters plus the word end.
        int[] ids = tokenizer.tokenize("\uE000");
        StringBuilder spelled = new StringBuilder();
        for (int id : ids) spelled.append(tokenizer.decodeToken(id));
        assertTrue(ids.length >= 2, "no single token for U+E000");
        // 0xEE is printable Latin-1 (î); 0x80 comes after the 34 unprintable bytes 0x00-0x20 and 0x7F,
        // so bytes_to_unicode sends it to U+0100 + 34 (Ģ).
        assertEquals("\u00EE\u0122\u0122</w>", spelled.toString());
    }

    @Test
    void specialTokensWrittenInThePromptStaySpecial() {
        // As SimpleTokenizer: the pattern matches them first and they bypass BPE.
        assertArrayEquals(new int[] {3306, 49407, 1002}, tokenizer.tokenize("hello<|endoftext|>world"));
        assertArrayEquals(new int[] {49406, 320}, tokenizer.tokenize("<|startoftext|>a"));
    }

    @Test
    void paddingStyles() {
        int[] sd1 = tokenizer.encode("fire", PadStyle.END_OF_TEXT).ids();
        int[] sd2 = tokenizer.encode("fire", PadStyle.ZERO).ids();
        assertEquals(77, sd1.length);
        assertEquals(77, sd2.length);
        assertArrayEquals(new int[] {49406, 1769, 49407}, Arrays.copyOf(sd1, 3));
        assertArrayEquals(new int[] {49406, 1769, 49407}, Arrays.copyOf(sd2, 3));
        for (int i = 3; i < 77; i++) {
            assertEquals(49407, sd1[i]);
            assertEquals(0, sd2[i]);
        }
        assertEquals(7, tokenizer.encode("fire", 7).ids()[10]);
        assertThrows(IllegalArgumentException.class, () -> tokenizer.encode("fire", 49408));
    }

    @Test
    void longPromptsAreTruncatedTo75ContentTokens() {
        String prompt = "cat ".repeat(80) + "dog dog";
        TokenizedPrompt t = tokenizer.encode(prompt, PadStyle.END_OF_TEXT);
        int[] ids = t.ids();
        assertEquals(77, ids.length);
        assertEquals(49406, ids[0]);
        for (int i = 1; i <= 75; i++) assertEquals(2368, ids[i]);
        assertEquals(49407, ids[76]);
        assertTrue(t.truncated());
        assertEquals(75, t.contentLength());
        assertEquals(7, t.droppedTokens());
        assertEquals("cat cat cat cat cat dog dog", t.droppedText());
        assertTrue(t.warning().contains("7 token(s) were dropped"), t.warning());

        TokenizedPrompt exact = tokenizer.encode("cat ".repeat(75), PadStyle.ZERO);
        assertFalse(exact.truncated());
        assertEquals("", exact.warning());
        assertEquals(49407, exact.ids()[76]);
    }

    @Test
    void decodeInvertsEncode() {
        assertEquals("a photo of a cat", tokenizer.decode(tokenizer.tokenize("A photo of a CAT")));
        assertEquals("hello world !", tokenizer.decode(tokenizer.tokenize("hello world!")));
    }

    @Test
    void diffusersFolderAndMergesFileGiveTheSameIds(@TempDir Path dir) throws IOException {
        // Build a diffusers-style tokenizer/ folder from the standard vocabulary, in HF's layout.
        List<String> lines;
        try (var in = ClipTokenizer.class.getResourceAsStream(ClipTokenizer.RESOURCE)) {
            lines = new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList();
        }
        Path mergesOnly = dir.resolve("bpe.txt");
        Files.write(mergesOnly, lines.subList(0, 48895), StandardCharsets.UTF_8);
        ClipTokenizer fromFile = ClipTokenizer.fromMergesFile(mergesOnly);

        Path folder = Files.createDirectories(dir.resolve("tokenizer"));
        Files.write(folder.resolve("merges.txt"), lines.subList(0, 48895), StandardCharsets.UTF_8);
        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (int id = 0; id < ClipTokenizer.VOCAB_SIZE; id++) {
            vocab.put(tokenizer.decodeToken(id), id);
        }
        new com.fasterxml.jackson.databind.ObjectMapper().writeValue(folder.resolve("vocab.json").toFile(), vocab);
        ClipTokenizer fromFolder = ClipTokenizer.fromDiffusersFolder(folder);

        List<String> prompts = new ArrayList<>(List.of("a photo of a cat", "hello world!", "snow-capped mountains, 4k", "🔥 ζ"));
        for (String p : prompts) {
            assertArrayEquals(tokenizer.tokenize(p), fromFile.tokenize(p), p);
            assertArrayEquals(tokenizer.tokenize(p), fromFolder.tokenize(p), p);
        }
        assertEquals(ClipTokenizer.VOCAB_SIZE, fromFolder.vocabSize());
    }

    @Test
    void rejectsMalformedMerges() {
        assertThrows(IllegalArgumentException.class, () -> ClipTokenizer.fromMergesLines(List.of("i n", "t h")));
        assertThrows(IllegalArgumentException.class, () -> ClipTokenizer.fromMergesLines(List.of("#version: 0.2", "i n")));
    }
}
