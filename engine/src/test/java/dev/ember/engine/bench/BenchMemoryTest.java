package dev.ember.engine.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.engine.ModelOptions;
import dev.ember.engine.StableDiffusion;
import dev.ember.engine.TinyModels;
import dev.ember.engine.nn.TextEncoder;
import dev.ember.engine.nn.Vae;
import dev.ember.engine.pipeline.ModelInternals;
import dev.ember.engine.pipeline.OnDemand;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The bench's memory lines (weights, compute buffers) in both modes, without timing anything. */
class BenchMemoryTest {
    /** What the bench's text and VAE figures record: one lease per figure, stats read before it closes. */
    private static Map<String, Long> figuresThenMemory(StableDiffusion sd) {
        Map<String, Benchmark.Held> held = new HashMap<>();
        int[] tokens = new int[2 * 77];
        java.util.Arrays.fill(tokens, 49407);
        tokens[0] = tokens[77] = 49406;
        try (OnDemand.Lease<TextEncoder> text = ModelInternals.textEncoder(sd)) {
            text.get().encode(tokens, 2, 77, 1);
            held.put("text", Benchmark.Held.of(text.get()));
        }
        try (OnDemand.Lease<Vae> vae = ModelInternals.vaeDecoder(sd)) {
            vae.get().decode(new float[4 * 8 * 8], 1, 8, 8);
            held.put("vae-decode", Benchmark.Held.of(vae.get()));
        }
        try (OnDemand.Lease<Vae> vae = ModelInternals.vaeEncoder(sd)) {
            vae.get().encode(new float[3 * 64 * 64], 1, 64, 64);
            held.put("vae-encode", Benchmark.Held.of(vae.get()));
        }
        return Benchmark.memory(sd, held);
    }

    @Test
    void lowMemoryModeReportsTheSameWeightsAndComputeBuffersItUsed() {
        ModelOptions options = ModelOptions.defaults().withThreads(1);
        try (StableDiffusion fast = StableDiffusion.load(TinyModels.tinySafetensors(), options);
             StableDiffusion low = StableDiffusion.load(TinyModels.tinySafetensors(), options.withLowMemory(true))) {
            Map<String, Long> f = figuresThenMemory(fast), l = figuresThenMemory(low);
            assertEquals(low.residentNetworks(), java.util.EnumSet.of(StableDiffusion.Network.UNET), "the figures' networks were freed");
            for (String key : new String[] {"vae_compute_bytes", "text_compute_bytes"}) {
                assertTrue(f.get(key) > 0 && l.get(key) > 0, key + ": " + f + " / " + l);
            }
            assertEquals(f.get("text_compute_bytes"), l.get("text_compute_bytes"));
            // The same weights, counted once each: one VAE with both halves, or a decoder and an encoder
            // (each buffer aligned on its own, so a few bytes may differ).
            long fw = f.get("weight_bytes"), lw = l.get("weight_bytes");
            assertTrue(Math.abs(fw - lw) <= 1024, "weights " + fw + " vs " + lw);

            // With no figure run, brief leases give the weights; a network loaded for it has no compute buffer yet.
            Map<String, Long> briefly = Benchmark.memory(low, Map.of());
            assertEquals(lw, briefly.get("weight_bytes"));
            assertEquals(0L, briefly.get("text_compute_bytes"));
            assertEquals(fw, Benchmark.memory(fast, Map.of()).get("weight_bytes"));
        }
    }
}
