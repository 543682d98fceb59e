package dev.ember.engine.lora;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.engine.Lora;
import dev.ember.engine.TinyModels;
import dev.ember.engine.model.Checkpoint;
import dev.ember.engine.model.DType;
import dev.ember.engine.model.ModelFiles;
import dev.ember.engine.model.ModelPreset;
import dev.ember.engine.model.StateDict;
import dev.ember.engine.model.SyntheticLora;
import dev.ember.engine.model.TensorData;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The merged-set cache: a set that fits the budget comes back without a merge; one that does not is merged again. */
class LoraCacheTest {
    @TempDir
    Path dir;

    /** Switches to the set, to none, to the set again; returns whether each switch merged, and the set's bytes. */
    private static boolean[] roundTrip(Checkpoint c, Path lora, long budget, long[] bytes) {
        List<List<TensorData>> handedOver = new ArrayList<>();
        LoraState.Sink sink = new LoraState.Sink() {
            @Override
            public void unet(List<TensorData> tensors) {
                handedOver.add(tensors);
            }

            @Override
            public void text(List<TensorData> tensors) {
                handedOver.add(tensors);
            }

            @Override
            public void textChanged() {}
        };
        java.util.function.Function<java.util.Set<String>, StateDict> base = names -> {
            Map<String, TensorData> view = new LinkedHashMap<>();
            for (String n : names) view.put(n, c.tensors().get(n));
            return new StateDict(view, Arena.global());
        };
        try (LoraState state = new LoraState(LoraTargets.of(c.spec()), base, DType.F32, sink, budget)) {
            boolean[] merged = new boolean[3];
            List<List<Lora>> sets = List.of(List.of(new Lora(lora, 1)), List.of(), List.of(new Lora(lora, 1)));
            for (int i = 0; i < 3; i++) {
                try (LoraState.Lease lease = state.use(sets.get(i), w -> { })) {
                    merged[i] = state.lastSwitch().merged();
                    if (i == 0) bytes[0] = state.lastSwitch().bytes();
                }
            }
            assertFalse(handedOver.isEmpty());
            return merged;
        }
    }

    @Test
    void aSetWithinTheBudgetComesBackWithoutAMergeAndOneAboveItIsMergedAgain() {
        Path lora = dir.resolve("lora.safetensors");
        SyntheticLora.write(lora, ModelPreset.TINY.spec(), 4, 2, 1, DType.F16, SyntheticLora.Format.KOHYA);
        try (Checkpoint c = ModelFiles.open(TinyModels.tinySafetensors())) {
            long[] bytes = new long[1];
            boolean[] roomy = roundTrip(c, lora, 1L << 30, bytes);
            assertTrue(roomy[0] && !roomy[1] && !roomy[2], "kept: merged once " + java.util.Arrays.toString(roomy));
            boolean[] exact = roundTrip(c, lora, bytes[0], bytes);
            assertTrue(exact[0] && !exact[2], "a budget of exactly the set keeps it");
            boolean[] tight = roundTrip(c, lora, bytes[0] - 1, bytes);
            assertTrue(tight[0] && tight[2], "one byte short: merged again " + java.util.Arrays.toString(tight));
        }
        assertTrue(LoraState.defaultCacheBytes() >= LoraState.MIN_CACHE_BYTES);
    }
}
