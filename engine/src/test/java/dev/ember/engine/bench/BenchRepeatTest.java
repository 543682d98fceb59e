package dev.ember.engine.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.engine.AddOns;
import dev.ember.engine.FlashAttention;
import dev.ember.engine.TinyModels;
import dev.ember.engine.WeightType;
import dev.ember.engine.model.ModelPreset;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code --repeat}: N timed calls after the warm-up, or 0 for the first call alone (full-size runs too long to repeat). */
class BenchRepeatTest {
    private static Benchmark.Options options(int repeat) {
        return new Benchmark.Options(TinyModels.tinySafetensors(), ModelPreset.TINY, 64, 1, WeightType.AUTO, FlashAttention.AUTO,
                AddOns.none(), List.of("vae-decode", "unet"), null, repeat, 1, false, false, false, true, 1);
    }

    @Test
    void repeatZeroTimesTheFirstCallOnlyAndRepeatNTimesNMore() throws Exception {
        Benchmark.Result once = Benchmark.run(options(0), line -> { });
        assertEquals(2, once.figures().size());
        for (Benchmark.Figure f : once.figures()) {
            assertArrayEquals(new double[] {f.firstSeconds()}, f.seconds(), f.name() + ": the one call is the figure");
            assertTrue(f.firstSeconds() > 0, f.name());
        }
        Benchmark.Result twice = Benchmark.run(options(2), line -> { });
        for (Benchmark.Figure f : twice.figures()) assertEquals(2, f.seconds().length, f.name());
        assertThrows(IllegalArgumentException.class, () -> options(-1));
    }
}
