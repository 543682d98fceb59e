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
    void sdxlIsDetectedFromShapesWithThePublishedParameterCounts() {
        Map<String, TensorData> t = all(ModelPreset.SDXL.spec());
        ModelSpec spec = ArchitectureDetector.detect(P, t, Map.of(), null);
        assertEquals(Architecture.SDXL, spec.architecture());
        assertEquals(UnetConfig.SDXL, spec.unet());
        assertEquals(TextEncoderConfig.SDXL_CLIP_L, spec.text());
        assertEquals(TextEncoderConfig.SDXL_CLIP_G, spec.text2());
        assertEquals(VaeConfig.SDXL, spec.vae());
        assertEquals(2816, spec.unet().admInChannels());
        assertEquals(256, spec.sizeEmbedDim());
        assertEquals(0.13025, spec.vae().scaleFactor());
        assertEquals(1024, spec.defaultImageSize());
        assertTrue(ModelValidator.validate(spec, t).ok());
        // Stability's and Hugging Face's figures for SDXL base 1.0: UNet 2,567,463,684, CLIP ViT-L 123,060,480,
        // OpenCLIP bigG with its projection 694,659,840, VAE 83,653,863.
        assertEquals(2_567_463_684L, NetworkLayoutTest.params(Component.UNET.layout(spec)));
        assertEquals(123_060_480L, NetworkLayoutTest.params(Component.TEXT_ENCODER.layout(spec)));
        assertEquals(694_659_840L, NetworkLayoutTest.params(Component.TEXT_ENCODER_2.layout(spec)));
        assertEquals(83_653_863L, NetworkLayoutTest.params(Component.VAE.layout(spec)));
    }

    private static TensorData f16(String name, long... shape) {
        return new TensorData(name, DType.F16, shape, NOWHERE.asSlice(0, TensorData.elementCount(shape) * 2));
    }

    private static String refusal(Map<String, TensorData> t) {
        return assertThrows(UnsupportedModelException.class, () -> ArchitectureDetector.detect(P, t, Map.of(), null)).getMessage();
    }

    @Test
    void familiesEmberCannotRunAreRefusedByName() {
        Map<String, TensorData> sd3 = new LinkedHashMap<>(all(ModelPreset.SD15.spec()));
        sd3.put("model.diffusion_model.joint_blocks.0.context_block.attn.qkv.weight", f16("q", 4608, 1536));
        assertTrue(refusal(sd3).contains("Stable Diffusion 3"), refusal(sd3));

        Map<String, TensorData> flux = Map.of("double_blocks.0.img_attn.qkv.weight", f16("q", 9216, 3072),
                "single_blocks.0.linear1.weight", f16("l", 21504, 3072));
        assertTrue(refusal(flux).contains("Flux"), refusal(flux));
        Map<String, TensorData> fluxPrefixed = Map.of("model.diffusion_model.double_blocks.0.img_mod.lin.weight", f16("m", 18432, 3072));
        assertTrue(refusal(fluxPrefixed).contains("Flux"), refusal(fluxPrefixed));

        Map<String, TensorData> svd = new LinkedHashMap<>(all(ModelPreset.SD21.spec()));
        svd.put("model.diffusion_model.input_blocks.1.0.time_stack.in_layers.2.weight", f16("v", 320, 320, 3, 1, 1));
        assertTrue(refusal(svd).contains("video"), refusal(svd));

        Map<String, TensorData> animateDiff = Map.of("down_blocks.0.motion_modules.0.temporal_transformer.norm.weight", f16("n", 320));
        assertTrue(refusal(animateDiff).contains("video"), refusal(animateDiff));
    }

    @Test
    void theSdxlRefinerIsRefusedClearly() {
        // The refiner: a 384-channel UNet with label_emb (2560 wide: pooled + 5 sizes/score) and bigG alone, 1280-wide context.
        Map<String, TensorData> t = new LinkedHashMap<>();
        t.put(NetworkLayout.UNET_PREFIX + "middle_block.1.transformer_blocks.0.attn2.to_k.weight", f16("k", 1536, 1280));
        t.put(NetworkLayout.UNET_PREFIX + "label_emb.0.0.weight", f16("l", 1536, 2560));
        t.put("conditioner.embedders.0.model.ln_final.weight", f16("ln", 1280));
        String m = refusal(t);
        assertTrue(m.contains("SDXL refiner"), m);
        assertTrue(m.contains("not the refiner"), m);
    }
}
