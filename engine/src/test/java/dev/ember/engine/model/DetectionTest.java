package dev.ember.engine.model;

import dev.ember.engine.sampling.Prediction;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.engine.UnsupportedModelException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Detection and validation on the full-size layouts without writing (or allocating) 4 GB: tensors are
 * views of one huge segment at address 0 that nothing reads; detection only looks at shapes.
 */
class DetectionTest {
    private static final MemorySegment NOWHERE = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);
    private static final Path P = Path.of("virtual.safetensors");

    static Map<String, TensorData> virtual(List<TensorSpec> specs) {
        Map<String, TensorData> out = new LinkedHashMap<>();
        for (TensorSpec s : specs) out.put(s.name(), new TensorData(s.name(), DType.F16, s.shape(), NOWHERE.asSlice(0, s.elementCount() * 2)));
        return out;
    }

    static Map<String, TensorData> all(ModelSpec spec) {
        Map<String, TensorData> out = new LinkedHashMap<>();
        for (Component c : Component.values()) out.putAll(virtual(c.layout(spec)));
        return out;
    }

    @Test
    void sd15IsDetectedFromShapesWithTheReferenceParameterCounts() {
        ModelSpec spec = ArchitectureDetector.detect(P, all(ModelPreset.SD15.spec()), Map.of(), null);
        assertEquals(Architecture.SD1, spec.architecture());
        assertEquals(Prediction.EPSILON, spec.prediction());
        assertEquals(UnetConfig.SD1, spec.unet());
        assertEquals(TextEncoderConfig.SD1, spec.text());
        assertEquals(VaeConfig.SD, spec.vae());
        assertTrue(ModelValidator.validate(spec, all(ModelPreset.SD15.spec())).ok());
        assertEquals(859_520_964L, NetworkLayoutTest.params(Component.UNET.layout(spec)));
        assertEquals(83_653_863L, NetworkLayoutTest.params(Component.VAE.layout(spec)));
        assertEquals(123_060_480L, NetworkLayoutTest.params(Component.TEXT_ENCODER.layout(spec)));
    }

    @Test
    void sd21WithOpenClipNamesIsDetectedAsSd2() {
        Map<String, TensorData> t = all(ModelPreset.SD21.spec());
        Map<String, TensorData> raw = new LinkedHashMap<>();
        // rename the text encoder to OpenCLIP, fusing q/k/v into in_proj as SD 2.x files store it
        List<TensorSource> text = CanonicalNames.toOpenClip(t.entrySet().stream().filter(e -> e.getKey().startsWith(NetworkLayout.TEXT_PREFIX))
                .map(e -> TensorSource.of(e.getValue())).toList());
        t.forEach((k, v) -> {
            if (!k.startsWith(NetworkLayout.TEXT_PREFIX)) raw.put(k, v);
        });
        for (TensorSource s : text) raw.put(s.name(), new TensorData(s.name(), DType.F16, s.shape(), NOWHERE.asSlice(0, s.byteSize())));
        Map<String, TensorData> canon = CanonicalNames.canonicalize(raw).tensors();
        ModelSpec spec = ArchitectureDetector.detect(P, canon, Map.of(), null);
        assertEquals(Architecture.SD2, spec.architecture());
        assertEquals(UnetConfig.SD2, spec.unet());
        assertEquals(TextEncoderConfig.SD2, spec.text());
        assertEquals(Prediction.EPSILON, spec.prediction(), "768-v cannot be told from weights: default eps, override needed");
        assertTrue(spec.predictionSource().contains("768-v"));
        assertTrue(ModelValidator.validate(spec, canon).ok());
    }

    @Test
    void sdxlIsRefusedWithAClearMessage() {
        Map<String, TensorData> t = all(ModelPreset.SD15.spec());
        t.put("conditioner.embedders.0.transformer.text_model.final_layer_norm.weight",
                new TensorData("x", DType.F16, new long[] {768}, NOWHERE.asSlice(0, 1536)));
        var e = assertThrows(UnsupportedModelException.class, () -> ArchitectureDetector.detect(P, t, Map.of(), null));
        assertTrue(e.getMessage().contains("SDXL"), e.getMessage());
        assertTrue(e.getMessage().contains("conditioner.embedders"), e.getMessage());
    }
}
