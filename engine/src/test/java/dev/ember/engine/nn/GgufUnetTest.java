package dev.ember.engine.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.engine.GenerationRequest;
import dev.ember.engine.ModelOptions;
import dev.ember.engine.StableDiffusion;
import dev.ember.engine.StepListener;
import dev.ember.engine.WeightType;
import dev.ember.engine.model.Checkpoint;
import dev.ember.engine.model.Component;
import dev.ember.engine.model.DType;
import dev.ember.engine.model.GgmlBlocks;
import dev.ember.engine.model.GgufWriter;
import dev.ember.engine.model.ModelFiles;
import dev.ember.engine.model.ModelMetadata;
import dev.ember.engine.model.ModelPreset;
import dev.ember.engine.model.ModelSpec;
import dev.ember.engine.model.StateDict;
import dev.ember.engine.model.SyntheticCheckpoint;
import dev.ember.engine.model.TensorSource;
import dev.ember.engine.model.TensorSpec;
import dev.ember.engine.pipeline.ModelInternals;
import dev.ember.engine.reference.Ops;
import dev.ember.engine.reference.UnetReference;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Block-quantised gguf files through the whole load path (GgufReader, detection, the native hand-off
 * without conversion) to the UNet's output, against the float64 reference run on the values the blocks
 * hold ({@link GgmlBlocks}, written from ggml's layouts): agreement shows that libember reads each of
 * ggml's block types as the format defines it.
 */
class GgufUnetTest {
    private static final ModelSpec TINY = ModelPreset.TINY.spec();
    private static final long SEED = 77;
    private static NativeContext context;

    @TempDir
    static Path dir;

    @BeforeAll
    static void open() {
        context = new NativeContext(new NativeContext.Options(1, -1, false, false));
    }

    @AfterAll
    static void close() {
        context.close();
    }

    /** The tiny checkpoint with the UNet weights that {@code quantize} picks stored as {@code type}'s blocks (flattened). */
    private static Path gguf(String name, DType type, Predicate<TensorSpec> quantize) {
        List<TensorSource> out = new ArrayList<>();
        List<TensorSpec> unet = Component.UNET.layout(TINY);
        for (TensorSource t : SyntheticCheckpoint.tensors(TINY, SEED, DType.F32)) {
            TensorSpec spec = unet.stream().filter(s -> s.name().equals(t.name())).findFirst().orElse(null);
            if (spec == null || spec.kind() != TensorSpec.Kind.WEIGHT || spec.elementCount() % type.blockSize() != 0 || !quantize.test(spec)) {
                out.add(t);
                continue;
            }
            float[] values = new float[Math.toIntExact(spec.elementCount())];
            try (Arena a = Arena.ofConfined()) {
                MemorySegment seg = a.allocate(values.length * 4L);
                t.filler().accept(seg);
                MemorySegment.copy(seg, ValueLayout.JAVA_FLOAT_UNALIGNED, 0, values, 0, values.length);
            }
            byte[] blocks = GgmlBlocks.quantize(type, values);
            out.add(new TensorSource(t.name(), type, t.shape(), seg -> MemorySegment.copy(MemorySegment.ofArray(blocks), 0, seg, 0, blocks.length)));
        }
        Path p = dir.resolve(name);
        GgufWriter.write(p, ModelMetadata.describe(TINY, "tiny"), out);
        return p;
    }

    private static float[] gaussian(int n, long seed) {
        Random r = new Random(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }

    private static final float[] LATENT = gaussian(2 * 4 * 8 * 8, 1), CONTEXT = gaussian(2 * 9 * 32, 2), T = {999, 1};

    private static double[] reference(StateDict weights) {
        return new UnetReference(weights, 2, 0).forward(LATENT, 2, 8, 8, T, CONTEXT, 9); // TINY: two heads
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"})
    void everyBlockTypeComputesWhatItsBlocksHold(DType type) {
        // Every UNet weight that splits into blocks is stored in them, as city96's files do: linear layers and
        // attention projections whose rows hold whole blocks stay quantised, the rest (all conv kernels, rows
        // that blocks span) is dequantised to f16 by libember.
        try (Checkpoint c = ModelFiles.open(gguf("all-" + type + ".gguf", type, s -> true));
             Unet unet = new Unet(context, c.spec().unet(), c.tensors(), WeightType.AUTO.nativeCode())) {
            assertEquals(type, c.tensors().get("model.diffusion_model.middle_block.1.transformer_blocks.0.ff.net.2.weight").dtype());
            float[] actual = unet.forward(LATENT, 2, 8, 8, T, CONTEXT, 9);
            double err = Ops.relativeL2(actual, reference(c.tensors()));
            System.out.printf("gguf %s UNet vs reference on its dequantised blocks: relative L2 %.3g%n", type, err);
            assertTrue(err < 3e-3, type + ": relative L2 " + err);
            NetworkStats stats = unet.stats();
            assertEquals(WeightType.valueOf(type.name()).nativeCode(), stats.weightType(), "the blocks are used as they are");
        }
    }

    @Test
    void aQuantisedGgufGeneratesInPlaceAsItDoesCopied() {
        // The whole pipeline on a q4_K/f16 file; on the CPU the blocks are used where the mapping holds them.
        Path p = gguf("pipeline.gguf", DType.Q4_K, s -> true);
        GenerationRequest request = GenerationRequest.builder("a cat").size(64, 64).steps(2).seed(5).build();
        byte[] inPlace, copied;
        try (StableDiffusion sd = StableDiffusion.load(p, ModelOptions.defaults().withThreads(1))) {
            assertTrue(sd.weightsInPlace());
            assertEquals(WeightType.Q4_K.nativeCode(), ModelInternals.unet(sd).stats().weightType());
            inPlace = sd.generate(request, StepListener.NONE).images().getFirst().image().rgb();
        }
        try (StableDiffusion sd = StableDiffusion.load(p, ModelOptions.defaults().withThreads(1).withWeightsInPlace(false))) {
            copied = sd.generate(request, StepListener.NONE).images().getFirst().image().rgb();
        }
        org.junit.jupiter.api.Assertions.assertArrayEquals(copied, inPlace);
    }

    @Test
    void q8AndQ4FilesStayWithinTheirDesignBounds() {
        // Quantised as Ember quantises (docs/design.md, "Weight types"): linear layers in blocks, attention
        // projections and conv kernels f16; compared with the unquantised f32 network.
        Predicate<TensorSpec> ember = s -> s.shape().length == 2 && !UnetTest.isAttentionProjection(s.name());
        double[] exact;
        try (Checkpoint f32 = ModelFiles.open(gguf("f32.gguf", DType.F32, s -> false))) {
            exact = reference(f32.tensors());
        }
        for (DType type : new DType[] {DType.Q8_0, DType.Q4_0}) {
            try (Checkpoint c = ModelFiles.open(gguf("ember-" + type + ".gguf", type, ember));
                 Unet unet = new Unet(context, c.spec().unet(), c.tensors(), WeightType.AUTO.nativeCode())) {
                double err = Ops.relativeL2(unet.forward(LATENT, 2, 8, 8, T, CONTEXT, 9), exact);
                System.out.printf("gguf %s UNet vs unquantised reference: relative L2 %.3g%n", type, err);
                double bound = type == DType.Q8_0 ? 1e-2 : 2e-1;
                assertTrue(err < bound, type + ": relative L2 " + err + " over the design bound " + bound);
            }
        }
    }
}
