package dev.ember.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The layouts reproduce the SD 1.5 reference list (a copy of shared/reference/sd15-ldm-tensors.tsv in the test resources) exactly, and stay consistent for other configs. */
class NetworkLayoutTest {
    static Map<String, TensorSpec> reference() throws IOException {
        // A copy of shared/reference/sd15-ldm-tensors.tsv kept in the test resources: tests read only the repository.
        List<String> lines;
        try (InputStream in = NetworkLayoutTest.class.getResourceAsStream("sd15-ldm-tensors.tsv")) {
            if (in == null) throw new IOException("test resource sd15-ldm-tensors.tsv is missing");
            lines = new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList();
        }
        Map<String, TensorSpec> out = new LinkedHashMap<>();
        for (String line : lines) {
            if (line.isBlank()) continue;
            String[] f = line.split("\t");
            long[] shape = Arrays.stream(f[1].replaceAll("[\\[\\] ]", "").split(",")).mapToLong(Long::parseLong).toArray();
            out.put(f[0], new TensorSpec(f[0], shape, TensorSpec.Kind.fromCode(f[2])));
        }
        return out;
    }

    static long params(List<TensorSpec> specs) {
        return specs.stream().mapToLong(TensorSpec::elementCount).sum();
    }

    @Test
    void sd15LayoutsEqualTheReferenceList() throws IOException {
        Map<String, TensorSpec> ref = reference();
        assertEquals(1130, ref.size());
        List<TensorSpec> ours = new ArrayList<>();
        ours.addAll(NetworkLayout.unet(UnetConfig.SD1));
        ours.addAll(NetworkLayout.vae(VaeConfig.SD));
        ours.addAll(NetworkLayout.textEncoder(TextEncoderConfig.SD1));
        Map<String, TensorSpec> mine = new LinkedHashMap<>();
        for (TensorSpec s : ours) assertTrue(mine.put(s.name(), s) == null, "duplicate " + s.name());
        assertEquals(ref.keySet(), mine.keySet());
        for (TensorSpec r : ref.values()) assertEquals(r, mine.get(r.name()));
    }

    @Test
    void sd15ParameterTotals() {
        assertEquals(859_520_964L, params(NetworkLayout.unet(UnetConfig.SD1)));
        assertEquals(83_653_863L, params(NetworkLayout.vae(VaeConfig.SD)));
        assertEquals(123_060_480L, params(NetworkLayout.textEncoder(TextEncoderConfig.SD1)));
    }

    @Test
    void sd21UsesLinearProjectionsAndWiderContext() {
        List<TensorSpec> unet = NetworkLayout.unet(UnetConfig.SD2);
        TensorSpec projIn = unet.stream().filter(s -> s.name().endsWith("input_blocks.1.1.proj_in.weight")).findFirst().orElseThrow();
        assertEquals(List.of(320L, 320L), Arrays.stream(projIn.shape()).boxed().toList());
        TensorSpec toK = unet.stream().filter(s -> s.name().endsWith("input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight")).findFirst().orElseThrow();
        assertEquals(1024, toK.shape()[1]);
        // SD 2.x's UNet has the same parameter count except the 1x1 conv biases stay and the context width grows.
        assertEquals(865_910_724L, params(unet));
        assertEquals(24, NetworkLayout.textEncoder(TextEncoderConfig.SD2).stream().filter(s -> s.name().endsWith("layer_norm1.weight")).count());
    }

    @Test
    void tinyLayoutsAreSmallAndUnique() {
        for (List<TensorSpec> specs : List.of(NetworkLayout.unet(UnetConfig.TINY), NetworkLayout.vae(VaeConfig.TINY),
                NetworkLayout.textEncoder(TextEncoderConfig.TINY))) {
            assertEquals(specs.size(), new HashSet<>(specs.stream().map(TensorSpec::name).toList()).size());
            assertTrue(params(specs) < 3_000_000, "tiny: " + params(specs));
        }
    }
}
