package dev.ember.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.engine.model.ModelFiles;
import dev.ember.engine.model.RawCheckpoint;
import dev.ember.engine.model.TensorData;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** --latents: each step's latent and denoised estimate written exactly as the listener saw them, with sigma and timestep. */
class LatentRecorderTest {
    @TempDir
    Path dir;

    @Test
    void everyStepIsWrittenWithItsValuesAndMetadata() throws Exception {
        List<StepEvent> seen = new ArrayList<>();
        LatentRecorder recorder = new LatentRecorder();
        try (StableDiffusion sd = StableDiffusion.load(TinyModels.tinySafetensors(), ModelOptions.defaults().withThreads(2))) {
            sd.generate(GenerationRequest.builder("a cat").size(64, 72).steps(3).seed(9).build(), e -> {
                seen.add(e);
                return recorder.onStep(e);
            });
        }
        List<Path> files = recorder.write(0, dir.resolve("lat"));
        assertEquals(4, files.size());
        for (int i = 0; i < files.size(); i++) {
            StepEvent e = seen.get(i);
            assertEquals(String.format("step-%02d.safetensors", i), files.get(i).getFileName().toString());
            try (RawCheckpoint raw = ModelFiles.readRaw(files.get(i))) {
                TensorData latent = raw.tensors().get("latent");
                assertArrayEquals(new long[] {1, 4, 9, 8}, latent.shape());
                assertArrayEquals(e.latent().toArray(ValueLayout.JAVA_FLOAT), latent.data().toArray(ValueLayout.JAVA_FLOAT));
                assertEquals(i > 0, raw.tensors().contains("denoised"));
                if (i > 0) assertArrayEquals(e.denoised().toArray(ValueLayout.JAVA_FLOAT), raw.tensors().get("denoised").data().toArray(ValueLayout.JAVA_FLOAT));
                assertEquals(e.sigma(), Double.parseDouble(raw.metadata().get("sigma")));
                assertEquals(e.timestep(), Double.parseDouble(raw.metadata().get("timestep")));
                assertEquals(Integer.toString(i), raw.metadata().get("step"));
                assertEquals("9", raw.metadata().get("seed"));
            }
        }
        assertTrue(seen.get(1).sigma() < seen.get(0).sigma());
        assertFalse(recorder.write(1, dir.resolve("none")).iterator().hasNext(), "no steps for an image that was not made");
    }
}
