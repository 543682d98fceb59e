package dev.ember.engine.embedding;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.bindings.ember_h;
import dev.ember.engine.AddOns;
import dev.ember.engine.GenerationRequest;
import dev.ember.engine.ModelFileException;
import dev.ember.engine.ModelOptions;
import dev.ember.engine.StableDiffusion;
import dev.ember.engine.TinyModels;
import dev.ember.engine.model.DType;
import dev.ember.engine.model.NetworkLayout;
import dev.ember.engine.model.SafetensorsWriter;
import dev.ember.engine.model.StateDict;
import dev.ember.engine.model.SyntheticWeights;
import dev.ember.engine.model.TextEncoderConfig;
import dev.ember.engine.nn.NativeContext;
import dev.ember.engine.nn.TextEncoder;
import dev.ember.engine.pipeline.ModelInternals;
import dev.ember.engine.pipeline.OnDemand;
import dev.ember.engine.pipeline.PromptEncoder;
import dev.ember.engine.reference.Ops;
import dev.ember.engine.reference.TextEncoderReference;
import dev.ember.engine.text.ClipTokenizer;
import dev.ember.engine.text.PadStyle;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SDXL embeddings ({@code clip_l} and {@code clip_g}): the same token slots take the {@code clip_l} vectors in
 * CLIP ViT-L and the {@code clip_g} vectors in bigG, checked against the float64 encoders fed those rows (hidden
 * states of both and bigG's pooled output); an embedding for one encoder is refused on SDXL, naming why.
 */
class SdxlEmbeddingTest {
    static final TextEncoderConfig L = TextEncoderConfig.TINY_XL_L, G = TextEncoderConfig.TINY_XL_G;
    static final ClipTokenizer TOKENIZER = ClipTokenizer.standard();

    @TempDir
    static Path dir;
    static Path embeddings;
    static float[] clipL, clipG;

    @BeforeAll
    static void write() throws Exception {
        embeddings = Files.createDirectories(dir.resolve("embeddings"));
        clipL = EmbeddingTest.random(2 * L.hiddenSize(), 21);
        clipG = EmbeddingTest.random(2 * G.hiddenSize(), 22);
        SafetensorsWriter.write(embeddings.resolve("glimmerstyle.safetensors"), Map.of(),
                List.of(EmbeddingTest.tensor("clip_l", clipL, 2, L.hiddenSize()), EmbeddingTest.tensor("clip_g", clipG, 2, G.hiddenSize())));
        SafetensorsWriter.write(embeddings.resolve("oldstyle.safetensors"), Map.of(),
                List.of(EmbeddingTest.tensor("emb_params", EmbeddingTest.random(L.hiddenSize(), 23), 1, L.hiddenSize())));
    }

    @Test
    void eachEncoderTakesItsOwnVectorsInTheSameSlots() {
        try (NativeContext ctx = new NativeContext(new NativeContext.Options(1, -1, false, false));
             StateDict wl = SyntheticWeights.generate(NetworkLayout.textEncoder(L), 31, DType.F32, Arena.ofShared());
             StateDict wg = SyntheticWeights.generate(NetworkLayout.textEncoder(G), 32, DType.F32, Arena.ofShared());
             OnDemand<TextEncoder> el = OnDemand.resident("clip-l", new TextEncoder(ctx, L, wl, ember_h.EMBER_WEIGHT_F32()));
             OnDemand<TextEncoder> eg = OnDemand.resident("bigG", new TextEncoder(ctx, G, wg, ember_h.EMBER_WEIGHT_F32()))) {
            EmbeddingLibrary library = new EmbeddingLibrary(embeddings, TOKENIZER, L.hiddenSize(), G.hiddenSize(), "SDXL");
            // As StableDiffusion builds SDXL's: penultimate layers without the final norm; bigG pads with 0 and pools.
            PromptEncoder prompts = new PromptEncoder(TOKENIZER, List.of(
                    new PromptEncoder.Encoder(el, PadStyle.END_OF_TEXT, 2, false, false, L.hiddenSize()),
                    new PromptEncoder.Encoder(eg, PadStyle.ZERO, 2, false, true, G.hiddenSize())), library, L.vocabSize());
            PromptEncoder.Encoded got = prompts.encode(List.of("a glimmerstyle lighthouse")).getFirst();

            // The reference's windows: start, "a", the two slots (id 0, rows given), "lighthouse", end, padding.
            List<Integer> content = new ArrayList<>();
            List<Integer> slot = new ArrayList<>();
            content.add(ClipTokenizer.START_OF_TEXT);
            slot.add(-1);
            for (int t : TOKENIZER.tokenize("a")) { content.add(t); slot.add(-1); }
            for (int v = 0; v < 2; v++) { content.add(0); slot.add(v); }
            for (int t : TOKENIZER.tokenize("lighthouse")) { content.add(t); slot.add(-1); }
            content.add(ClipTokenizer.END_OF_TEXT);
            slot.add(-1);
            int[] idsL = window(content, ClipTokenizer.END_OF_TEXT), idsG = window(content, 0);
            double[][] rowsL = rows(slot, clipL, L.hiddenSize()), rowsG = rows(slot, clipG, G.hiddenSize());
            double[] hl = TextEncoderReference.encode(wl, L.numHeads(), true, idsL, 1, 77, 2, rowsL, false);
            double[] hg = TextEncoderReference.encode(wg, G.numHeads(), false, idsG, 1, 77, 2, rowsG, false);
            double[] pooled = TextEncoderReference.pooled(wg, G, idsG, 1, 77, rowsG);
            int width = L.hiddenSize() + G.hiddenSize();
            double[] expected = new double[77 * width];
            for (int t = 0; t < 77; t++) {
                System.arraycopy(hl, t * L.hiddenSize(), expected, t * width, L.hiddenSize());
                System.arraycopy(hg, t * G.hiddenSize(), expected, t * width + L.hiddenSize(), G.hiddenSize());
            }
            double contextErr = Ops.relativeL2(got.context(), expected), pooledErr = Ops.relativeL2(got.pooled(), pooled);
            System.out.printf("SDXL embedding against the reference: context %.3e, pooled %.3e%n", contextErr, pooledErr);
            assertTrue(contextErr <= 1e-4, "context relative L2 " + contextErr);
            assertTrue(pooledErr <= 1e-4, "pooled relative L2 " + pooledErr);

            // The embedding changes both halves of the context (each encoder saw its own vectors).
            PromptEncoder.Encoded plain = new PromptEncoder(TOKENIZER, List.of(
                    new PromptEncoder.Encoder(el, PadStyle.END_OF_TEXT, 2, false, false, L.hiddenSize()),
                    new PromptEncoder.Encoder(eg, PadStyle.ZERO, 2, false, true, G.hiddenSize()))).encode(List.of("a glimmerstyle lighthouse")).getFirst();
            int slotToken = 2;
            float[] a = got.context(), b = plain.context();
            assertFalse(Arrays.equals(Arrays.copyOfRange(a, slotToken * width, slotToken * width + L.hiddenSize()),
                    Arrays.copyOfRange(b, slotToken * width, slotToken * width + L.hiddenSize())), "clip_l half");
            assertFalse(Arrays.equals(Arrays.copyOfRange(a, slotToken * width + L.hiddenSize(), (slotToken + 1) * width),
                    Arrays.copyOfRange(b, slotToken * width + L.hiddenSize(), (slotToken + 1) * width)), "clip_g half");
        }
    }

    static int[] window(List<Integer> content, int pad) {
        int[] ids = new int[77];
        Arrays.fill(ids, pad);
        for (int i = 0; i < content.size(); i++) ids[i] = content.get(i);
        return ids;
    }

    static double[][] rows(List<Integer> slot, float[] vectors, int width) {
        double[][] out = new double[77][];
        for (int t = 0; t < slot.size(); t++) {
            if (slot.get(t) < 0) continue;
            out[t] = new double[width];
            for (int i = 0; i < width; i++) out[t][i] = vectors[slot.get(t) * width + i];
        }
        return out;
    }

    @Test
    void anSdxlModelUsesThemAndRefusesOneEncoderEmbeddings() {
        ModelOptions options = ModelOptions.defaults().withThreads(2);
        GenerationRequest request = GenerationRequest.builder("a glimmerstyle lighthouse").size(64, 64).steps(2).seed(5).cfgScale(5).build();
        int[] without, with;
        try (StableDiffusion sd = StableDiffusion.load(TinyModels.tinyXlSafetensors(), options)) {
            without = EmbeddingTest.pixels(sd, request);
        }
        try (StableDiffusion sd = StableDiffusion.load(TinyModels.tinyXlSafetensors(), options.withAddOns(AddOns.none().withEmbeddingsDir(embeddings)))) {
            assertEquals(List.of("glimmerstyle"), ModelInternals.embeddingsOf(sd, request).stream().map(Embedding::name).toList());
            with = EmbeddingTest.pixels(sd, request);
            ModelFileException e = assertThrows(ModelFileException.class,
                    () -> sd.generate(request.toBuilder().prompt("an oldstyle lighthouse").build(), ev -> null));
            assertTrue(e.getMessage().contains("needs clip_l and clip_g") && e.getMessage().contains("32-wide vectors only"), e.getMessage());
        }
        assertFalse(Arrays.equals(without, with), "the embedding changes the picture");
    }
}
