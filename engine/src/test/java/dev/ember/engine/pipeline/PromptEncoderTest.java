package dev.ember.engine.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.bindings.ember_h;
import dev.ember.engine.model.DType;
import dev.ember.engine.model.NetworkLayout;
import dev.ember.engine.model.StateDict;
import dev.ember.engine.model.SyntheticWeights;
import dev.ember.engine.model.TextEncoderConfig;
import dev.ember.engine.nn.NativeContext;
import dev.ember.engine.nn.TextEncoder;
import dev.ember.engine.text.ClipTokenizer;
import dev.ember.engine.text.PadStyle;
import dev.ember.engine.text.PromptChunks;
import java.lang.foreign.Arena;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Long prompts and SDXL's two encoders: a prompt of k chunks is k windows of 77 tokens one after the
 * other, each encoded on its own (A1111); with two encoders each token is both encoders' hidden
 * states side by side (CLIP-L padded with end-of-text, bigG with 0), and the pooled vector is bigG's
 * for the first window.
 */
class PromptEncoderTest {
    private static final TextEncoderConfig L = TextEncoderConfig.TINY_XL_L, G = TextEncoderConfig.TINY_XL_G;
    private static final ClipTokenizer TOKENIZER = ClipTokenizer.standard();
    private static NativeContext context;
    private static StateDict weights;
    private static TextEncoder clipL, bigG;

    @BeforeAll
    static void open() {
        context = new NativeContext(new NativeContext.Options(1, -1, false, false));
        List<dev.ember.engine.model.TensorSpec> specs = new java.util.ArrayList<>(NetworkLayout.textEncoder(L));
        specs.addAll(NetworkLayout.textEncoder2(G)); // bigG under SDXL's second root: TextEncoder renames for libember
        weights = SyntheticWeights.generate(specs, 77, DType.F32, Arena.ofShared());
        clipL = new TextEncoder(context, L, weights, ember_h.EMBER_WEIGHT_F32());
        bigG = new TextEncoder(context, G, weights, ember_h.EMBER_WEIGHT_F32(), NetworkLayout.TEXT2_ROOT);
    }

    @AfterAll
    static void close() {
        bigG.close();
        clipL.close();
        weights.close();
        context.close();
    }

    private static PromptEncoder sdxl() {
        return new PromptEncoder(TOKENIZER, List.of(
                new PromptEncoder.Encoder(OnDemand.resident("l", clipL), PadStyle.END_OF_TEXT, 2, false, false, L.hiddenSize()),
                new PromptEncoder.Encoder(OnDemand.resident("g", bigG), PadStyle.ZERO, 2, false, true, G.hiddenSize())));
    }

    private static void close(float expected, float actual, String what) {
        assertTrue(Math.abs(expected - actual) <= 1e-5 * Math.max(1, Math.abs(expected)), what + ": " + expected + " vs " + actual);
    }

    @Test
    void longPromptsAreWindowsSideBySideAndPooledComesFromTheFirst() {
        String prompt = String.join(" ", java.util.Collections.nCopies(60, "red lighthouse"));  // 120 tokens: two windows
        List<int[]> chunks = PromptChunks.split(TOKENIZER, prompt);
        assertEquals(2, chunks.size());
        PromptEncoder encoder = sdxl();
        PromptEncoder.Encoded e = encoder.encode(List.of(prompt, "")).getFirst();
        int width = L.hiddenSize() + G.hiddenSize();
        assertEquals(96, encoder.width());
        assertEquals(154, e.tokens());
        assertEquals(154 * width, e.context().length);
        for (int c = 0; c < 2; c++) {
            float[] l = clipL.encode(PromptChunks.window(TOKENIZER, chunks.get(c), 49407), 1, 77, 2, false, false).hidden();
            TextEncoder.Output g = bigG.encode(PromptChunks.window(TOKENIZER, chunks.get(c), 0), 1, 77, 2, false, true);
            for (int t = 0; t < 77; t++) {
                int row = (c * 77 + t) * width;
                for (int j = 0; j < L.hiddenSize(); j++) close(l[t * L.hiddenSize() + j], e.context()[row + j], "CLIP-L chunk " + c);
                for (int j = 0; j < G.hiddenSize(); j++) close(g.hidden()[t * G.hiddenSize() + j], e.context()[row + L.hiddenSize() + j], "bigG chunk " + c);
            }
            if (c == 0) for (int j = 0; j < G.projectionDim(); j++) close(g.pooled()[j], e.pooled()[j], "pooled");
        }
        // The empty prompt is one window; a second request for the same prompt comes from the cache.
        assertEquals(77, encoder.encode(List.of("")).getFirst().tokens());
        assertSame(e, encoder.encode(List.of(prompt)).getFirst());
    }

    @Test
    void zeroedKeepsShapes() {
        PromptEncoder.Encoded e = sdxl().encode(List.of("a cat")).getFirst().zeroed();
        assertEquals(77, e.tokens());
        for (float v : e.context()) assertEquals(0f, v);
        for (float v : e.pooled()) assertEquals(0f, v);
    }
}
