package dev.ember.engine.embedding;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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
import dev.ember.engine.model.TensorSource;
import dev.ember.engine.model.TextEncoderConfig;
import dev.ember.engine.model.TorchCheckpointWriter;
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
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Textual-inversion embeddings: every file format A1111 reads, and a prompt naming them conditioned exactly as
 * the float64 text encoder says when its input rows are the embedding's vectors.
 */
class EmbeddingTest {
    static final TextEncoderConfig TINY = TextEncoderConfig.TINY;
    static final ClipTokenizer TOKENIZER = ClipTokenizer.standard();

    @TempDir
    static Path dir;
    static Path embeddings;
    static float[] twoVectors, oneVector;

    static float[] random(int n, long seed) {
        Random r = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (0.05 * r.nextGaussian());
        return v;
    }

    static TensorSource tensor(String name, float[] v, long... shape) {
        return new TensorSource(name, DType.F32, shape, seg -> {
            for (int i = 0; i < v.length; i++) seg.setAtIndex(ValueLayout.JAVA_FLOAT, i, v[i]);
        });
    }

    @BeforeAll
    static void write() throws Exception {
        embeddings = Files.createDirectories(dir.resolve("embeddings"));
        twoVectors = random(2 * 32, 1);
        oneVector = random(32, 2);
        // A1111's .pt: {"string_to_token": {"*": 265}, "string_to_param": {"*": tensor [2, 32]}, "name": ..., "step": ...}
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("string_to_token", Map.of("*", 265));
        root.put("string_to_param", Map.of("*", tensor("*", twoVectors, 2, 32)));
        root.put("name", "trained-under-another-name");
        root.put("step", 1500);
        TorchCheckpointWriter.writeTree(embeddings.resolve("zorbling.pt"), root);
        SafetensorsWriter.write(embeddings.resolve("Moss-Style.safetensors"), Map.of(), List.of(tensor("emb_params", oneVector, 1, 32)));
    }

    @Test
    void everyFormatReadsToTheSameVectors() throws Exception {
        Embedding pt = EmbeddingFiles.read(embeddings.resolve("zorbling.pt"));
        assertEquals("zorbling", pt.name(), "named after the file, not the name inside");
        assertEquals(2, pt.count());
        assertArrayEquals(twoVectors, pt.vectors());
        Embedding st = EmbeddingFiles.read(embeddings.resolve("Moss-Style.safetensors"));
        assertArrayEquals(oneVector, st.vectors());
        // diffusers' learned_embeds.bin: one 1-D tensor under its token.
        Path bin = dir.resolve("learned_embeds.bin");
        TorchCheckpointWriter.writeTree(bin, Map.of("<cat-toy>", tensor("v", oneVector, 32)));
        Embedding diffusers = EmbeddingFiles.read(bin);
        assertEquals(1, diffusers.count());
        assertArrayEquals(oneVector, diffusers.vectors());
        // SDXL: clip_l and clip_g.
        Path xl = dir.resolve("xl.safetensors");
        float[] l = random(2 * 768, 3), g = random(2 * 1280, 4);
        SafetensorsWriter.write(xl, Map.of(), List.of(tensor("clip_l", l, 2, 768), tensor("clip_g", g, 2, 1280)));
        Embedding sdxl = EmbeddingFiles.read(xl);
        assertTrue(sdxl.isSdxl());
        assertArrayEquals(l, sdxl.vectors());
        assertArrayEquals(g, sdxl.vectorsG());
        Path junk = dir.resolve("junk.safetensors");
        SafetensorsWriter.write(junk, Map.of(), List.of(tensor("a", oneVector, 32), tensor("b", oneVector, 32)));
        assertTrue(assertThrows(ModelFileException.class, () -> EmbeddingFiles.read(junk)).getMessage().contains("not a textual-inversion embedding"));
    }

    @Test
    void namesInAPromptBecomeTheirVectorsExactlyAsTheReferenceSays() {
        try (NativeContext ctx = new NativeContext(new NativeContext.Options(1, -1, false, false));
             StateDict weights = SyntheticWeights.generate(NetworkLayout.textEncoder(TINY), 9, DType.F32, Arena.ofShared());
             OnDemand<TextEncoder> encoder = OnDemand.resident("text", new TextEncoder(ctx, TINY, weights, ember_h.EMBER_WEIGHT_F32()))) {
            EmbeddingLibrary library = new EmbeddingLibrary(embeddings, TOKENIZER, 32, "SD 1.x");
            PromptEncoder prompts = sd1(encoder, library);
            String prompt = "a photo of Zorbling, in moss-style";
            float[] got = contexts(prompts.encode(List.of(prompt, "plain text")));

            // The reference's input: start, "a photo of", the two vectors, ",", "in", the one vector, end, padding.
            List<Integer> ids = new ArrayList<>();
            List<double[]> rows = new ArrayList<>();
            ids.add(ClipTokenizer.START_OF_TEXT);
            rows.add(null);
            for (int t : TOKENIZER.tokenize("a photo of")) { ids.add(t); rows.add(null); }
            for (int v = 0; v < 2; v++) { ids.add(0); rows.add(row(twoVectors, v)); }
            for (int t : TOKENIZER.tokenize(", in")) { ids.add(t); rows.add(null); }
            ids.add(0);
            rows.add(row(oneVector, 0));
            ids.add(ClipTokenizer.END_OF_TEXT);
            rows.add(null);
            while (ids.size() < 77) { ids.add(ClipTokenizer.END_OF_TEXT); rows.add(null); }
            double[] expected = TextEncoderReference.encode(weights, TINY.numHeads(), TINY.activation() == TextEncoderConfig.Activation.QUICK_GELU, ids.stream().mapToInt(Integer::intValue).toArray(), 1, 77, 1,
                    rows.toArray(double[][]::new));
            double err = Ops.relativeL2(java.util.Arrays.copyOf(got, 77 * 32), expected);
            System.out.printf("embedding conditioning against the reference: relative L2 %.3e%n", err);
            assertTrue(err <= 1e-4, "relative L2 " + err);

            // A prompt without a name is encoded as without the library.
            PromptEncoder plain = sd1(encoder, null);
            assertArrayEquals(contexts(plain.encode(List.of("plain text"))), java.util.Arrays.copyOfRange(got, 77 * 32, 2 * 77 * 32));
            assertFalse(java.util.Arrays.equals(contexts(plain.encode(List.of(prompt))), java.util.Arrays.copyOf(got, 77 * 32)));
            // In one batch each prompt's vectors are its own: the second prompt's rows come after the first's.
            float[] batch = contexts(sd1(encoder, library).encode(List.of(prompt, "moss-style only")));
            float[] alone = contexts(sd1(encoder, library).encode(List.of("moss-style only")));
            assertArrayEquals(alone, java.util.Arrays.copyOfRange(batch, 77 * 32, 2 * 77 * 32));
        }
    }

    static double[] row(float[] v, int r) {
        double[] out = new double[32];
        for (int i = 0; i < 32; i++) out[i] = v[r * 32 + i];
        return out;
    }

    @Test
    void wrongWidthAndSdxlEmbeddingsAreRefusedWhenUsed() throws Exception {
        Path other = Files.createDirectories(dir.resolve("other"));
        SafetensorsWriter.write(other.resolve("wide.safetensors"), Map.of(), List.of(tensor("emb_params", random(48, 5), 1, 48)));
        SafetensorsWriter.write(other.resolve("xlemb.safetensors"), Map.of(),
                List.of(tensor("clip_l", random(32, 6), 1, 32), tensor("clip_g", random(64, 7), 1, 64)));
        EmbeddingLibrary library = new EmbeddingLibrary(other, TOKENIZER, 32, "SD 1.x");
        assertEquals(0, library.find(TOKENIZER.tokenize("nothing named here")).size(), "unused files are not read");
        // Where names overlap, the longest one present wins (A1111's order).
        SafetensorsWriter.write(other.resolve("moss.safetensors"), Map.of(), List.of(tensor("emb_params", random(32, 8), 1, 32)));
        SafetensorsWriter.write(other.resolve("moss-green.safetensors"), Map.of(), List.of(tensor("emb_params", random(64, 9), 2, 32)));
        EmbeddingLibrary overlapping = new EmbeddingLibrary(other, TOKENIZER, 32, "SD 1.x");
        assertEquals(List.of("moss-green", "moss"), overlapping.find(TOKENIZER.tokenize("Moss-Green and moss")).stream().map(Embedding::name).toList());
        assertEquals(3, overlapping.substitute(TOKENIZER.tokenize("moss-green moss"), 49408).rows(32));
        ModelFileException e = assertThrows(ModelFileException.class, () -> library.find(TOKENIZER.tokenize("a wide cat")));
        assertTrue(e.getMessage().contains("48-wide vectors") && e.getMessage().contains("32 wide"), e.getMessage());
        e = assertThrows(ModelFileException.class, () -> library.find(TOKENIZER.tokenize("xlemb")));
        assertTrue(e.getMessage().contains("SDXL embedding"), e.getMessage());
    }

    @Test
    void theModelReportsAndUsesTheEmbeddingsOfARequest() {
        ModelOptions options = ModelOptions.defaults().withThreads(2);
        GenerationRequest request = GenerationRequest.builder("zorbling on a hill").negativePrompt("moss-style").size(64, 64).steps(2).seed(5).build();
        int[] without, with;
        try (StableDiffusion sd = StableDiffusion.load(TinyModels.tinySafetensors(), options)) {
            assertEquals(List.of(), ModelInternals.embeddingsOf(sd, request));
            without = pixels(sd, request);
        }
        try (StableDiffusion sd = StableDiffusion.load(TinyModels.tinySafetensors(), options.withAddOns(AddOns.none().withEmbeddingsDir(embeddings)))) {
            assertEquals(List.of("zorbling", "Moss-Style"), ModelInternals.embeddingsOf(sd, request).stream().map(Embedding::name).toList());
            with = pixels(sd, request);
        }
        assertFalse(java.util.Arrays.equals(without, with), "the embeddings change the picture");
    }

    static int[] pixels(StableDiffusion sd, GenerationRequest r) {
        var image = sd.generate(r, e -> dev.ember.engine.StepListener.Action.CONTINUE).images().getFirst().image();
        return image.toBufferedImage().getRGB(0, 0, image.width(), image.height(), null, 0, image.width());
    }

    /** An SD 1.x prompt encoder over {@code encoder} (end-of-text padding, last layer, final norm). */
    private static PromptEncoder sd1(OnDemand<TextEncoder> encoder, EmbeddingLibrary library) {
        return new PromptEncoder(TOKENIZER, List.of(new PromptEncoder.Encoder(encoder, PadStyle.END_OF_TEXT, 1, true, false, 32)), library,
                TINY.vocabSize());
    }

    /** The prompts' contexts one after the other. */
    private static float[] contexts(List<PromptEncoder.Encoded> encoded) {
        float[] out = new float[encoded.stream().mapToInt(e -> e.context().length).sum()];
        int at = 0;
        for (PromptEncoder.Encoded e : encoded) {
            System.arraycopy(e.context(), 0, out, at, e.context().length);
            at += e.context().length;
        }
        return out;
    }
}
