package dev.ember.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.engine.model.Checkpoint;
import dev.ember.engine.model.DType;
import dev.ember.engine.model.ModelFiles;
import dev.ember.engine.model.ModelFormat;
import dev.ember.engine.model.ModelPreset;
import dev.ember.engine.model.SyntheticCheckpoint;
import dev.ember.engine.model.TensorSource;
import dev.ember.engine.sampling.DiffusionSchedule;
import dev.ember.engine.sampling.Sampler;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Sampling uses the checkpoint's own alphas_cumprod when it has one (f32/f64), SD's float64 betas otherwise. */
class TrainingScheduleTest {
    @TempDir
    Path dir;

    /** A schedule visibly unlike SD's: betas 0.001..0.02 (sigma_max about 40 instead of 14.6). */
    private static final DiffusionSchedule OTHER = DiffusionSchedule.scaledLinear(0.001, 0.02, 1000);

    private Path tinyWith(String name, DType dtype, double[] alphas, ModelFormat format) {
        List<TensorSource> tensors = new ArrayList<>(SyntheticCheckpoint.tensors(ModelPreset.TINY.spec(), 3, DType.F32));
        tensors.add(new TensorSource("alphas_cumprod", dtype, new long[] {alphas.length}, out -> {
            for (int i = 0; i < alphas.length; i++) {
                if (dtype == DType.F32) out.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i, (float) alphas[i]);
                else if (dtype == DType.F64) out.setAtIndex(ValueLayout.JAVA_DOUBLE_UNALIGNED, i, alphas[i]);
                else out.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED, i, Float.floatToFloat16((float) alphas[i]));
            }
        }));
        Path p = dir.resolve(name);
        SyntheticCheckpoint.write(ModelPreset.TINY.spec(), "tiny", p, format, tensors);
        return p;
    }

    @Test
    void theFilesAlphasCumprodDrivesTheSigmas() {
        double[] alphas = OTHER.alphasCumprod();
        for (ModelFormat format : new ModelFormat[] {ModelFormat.SAFETENSORS, ModelFormat.CKPT}) {
            Path p = tinyWith("own." + format.label(), DType.F32, alphas, format);
            try (Checkpoint c = ModelFiles.open(p)) {
                for (int t : new int[] {0, 1, 500, 999}) assertEquals((float) alphas[t], c.schedule().alphaCumprod(t), 0.0, "t " + t);
                assertTrue(c.scheduleSource().contains("alphas_cumprod"), c.scheduleSource());
            }
            try (StableDiffusion sd = StableDiffusion.load(p, ModelOptions.defaults().withThreads(1))) {
                assertEquals((float) alphas[999], sd.schedule().alphaCumprod(999), 0.0);
                List<StepEvent> events = new ArrayList<>();
                sd.generate(GenerationRequest.builder("x").size(64, 64).steps(2).cfgScale(1).build(), e -> {
                    events.add(e);
                    return StepListener.Action.CONTINUE;
                });
                // The discrete schedule starts at the last training timestep's sigma: the file's, not SD's 14.6.
                double expected = Math.sqrt((1 - (double) (float) alphas[999]) / (float) alphas[999]);
                assertEquals(expected, events.getFirst().sigma(), 1e-12 * expected);
                assertNotEquals(DiffusionSchedule.stableDiffusion().sigmaMax(), events.getFirst().sigma(), 1.0);
                // DDIM's timesteps index the same table.
                assertEquals(Math.sqrt((1 - (double) (float) alphas[951]) / (float) alphas[951]),
                        Sampler.DDIM.sigmas(sd.schedule(), 20, dev.ember.engine.sampling.Schedule.DISCRETE)[0], 1e-9);
            }
        }
    }

    @Test
    void f64IsReadExactlyAndF16IsTooCoarseToUse() {
        double[] alphas = OTHER.alphasCumprod();
        try (Checkpoint c = ModelFiles.open(tinyWith("f64.safetensors", DType.F64, alphas, ModelFormat.SAFETENSORS))) {
            assertEquals(alphas[123], c.schedule().alphaCumprod(123), 0.0);
        }
        try (Checkpoint c = ModelFiles.open(tinyWith("f16.safetensors", DType.F16, alphas, ModelFormat.SAFETENSORS))) {
            assertEquals(DiffusionSchedule.stableDiffusion().alphaCumprod(999), c.schedule().alphaCumprod(999), 0.0);
            assertTrue(c.scheduleSource().contains("not used: it is F16, too coarse"), c.scheduleSource());
        }
    }

    @Test
    void withoutOneSdsBetasAreUsed() {
        try (Checkpoint c = ModelFiles.open(TinyModels.tinySafetensors())) {
            assertEquals(DiffusionSchedule.stableDiffusion().sigmaMax(), c.schedule().sigmaMax(), 0.0);
            assertEquals(Checkpoint.DEFAULT_SCHEDULE, c.scheduleSource());
        }
    }

    @Test
    void aMalformedOneIsReportedAndNotUsed() {
        double[] rising = OTHER.alphasCumprod();
        rising[10] = rising[9] + 1e-3; // noise must grow with t
        try (Checkpoint c = ModelFiles.open(tinyWith("bad.safetensors", DType.F32, rising, ModelFormat.SAFETENSORS))) {
            assertEquals(DiffusionSchedule.stableDiffusion().sigmaMax(), c.schedule().sigmaMax(), 0.0);
            assertTrue(c.scheduleSource().contains("alphas_cumprod is not used: sigmas must increase"), c.scheduleSource());
        }
    }
}
