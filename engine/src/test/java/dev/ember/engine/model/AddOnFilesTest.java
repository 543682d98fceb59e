package dev.ember.engine.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.engine.ModelFileException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Separate VAE files and TAESD files as they are published: LDM names (bare or prefixed), diffusers names,
 * madebyollin's bare layer numbers; wrong files refused; A1111's file hashes.
 */
class AddOnFilesTest {
    @TempDir
    Path dir;

    static List<TensorSource> renamed(List<TensorSpec> specs, long seed, java.util.function.UnaryOperator<String> name) {
        List<TensorSource> out = new ArrayList<>();
        for (TensorSpec s : specs) out.add(TensorSource.synthetic(s, seed, DType.F16).as(name.apply(s.name()), s.shape()));
        return out;
    }

    static void sameValues(StateDict a, StateDict b) {
        assertEquals(a.tensors().keySet(), b.tensors().keySet());
        for (var e : a.tensors().entrySet()) {
            assertEquals(-1, e.getValue().data().mismatch(b.get(e.getKey()).data()), e.getKey());
        }
    }

    @Test
    void separateVaesInEveryNamingOpenToTheSameCanonicalTensors() {
        VaeConfig tiny = VaeConfig.TINY;
        List<TensorSpec> specs = NetworkLayout.vae(tiny);
        Path prefixed = dir.resolve("prefixed.safetensors"), bare = dir.resolve("bare.safetensors"), diffusers = dir.resolve("diffusers.safetensors");
        SafetensorsWriter.write(prefixed, Map.of(), renamed(specs, 5, n -> n));
        List<TensorSource> bareTensors = renamed(specs, 5, n -> n.substring(NetworkLayout.VAE_PREFIX.length()));
        bareTensors.add(new TensorSource("model_ema.decay", DType.F32, new long[0], s -> s.set(ValueLayout.JAVA_FLOAT, 0, 0.9999f)));
        SafetensorsWriter.write(bare, Map.of(), bareTensors);
        // diffusers names, with the mid attention's 1x1 convolutions as linear [C, C] weights
        List<TensorSource> d = new ArrayList<>();
        for (TensorSpec s : specs) {
            String ldm = s.name().substring(NetworkLayout.VAE_PREFIX.length());
            long[] shape = s.shape();
            if (ldm.contains(".mid.attn_1.") && ldm.endsWith(".weight") && shape.length == 4) shape = new long[] {shape[0], shape[1]};
            d.add(TensorSource.synthetic(s, 5, DType.F16).as(DiffusersNames.vaeToDiffusers(ldm, tiny.numLevels()), shape));
        }
        SafetensorsWriter.write(diffusers, Map.of(), d);
        try (VaeFiles.Weights a = VaeFiles.open(prefixed, tiny); VaeFiles.Weights b = VaeFiles.open(bare, tiny);
             VaeFiles.Weights c = VaeFiles.open(diffusers, tiny)) {
            assertEquals(tiny, a.config());
            sameValues(a.tensors(), b.tensors());
            sameValues(a.tensors(), c.tensors());
        }
        // Another latent space is refused, naming the difference; a file that is no VAE too.
        VaeConfig other = new VaeConfig(3, 8, 32, new int[] {1, 1, 2, 2}, 1, 32, 0.18215);
        Path wide = dir.resolve("eight-channels.safetensors");
        SafetensorsWriter.write(wide, Map.of(), renamed(NetworkLayout.vae(other), 1, n -> n));
        ModelFileException e = assertThrows(ModelFileException.class, () -> VaeFiles.open(wide, tiny).close());
        assertTrue(e.getMessage().contains("8 latent channels"), e.getMessage());
        Path lora = dir.resolve("not-a-vae.safetensors");
        SafetensorsWriter.write(lora, Map.of(), List.of(new TensorSource("lora_unet_x.alpha", DType.F32, new long[0], s -> {})));
        assertTrue(assertThrows(ModelFileException.class, () -> VaeFiles.open(lora, tiny).close()).getMessage().contains("not a VAE"));
    }

    @Test
    void taesdFilesOfBothNamingsOpenToTheSameTensors() {
        TaesdConfig c = TaesdConfig.STANDARD;
        Path diffusers = dir.resolve("taesd.safetensors"), decoder = dir.resolve("taesd_decoder.safetensors"),
                encoder = dir.resolve("taesd_encoder.pth");
        SafetensorsWriter.write(diffusers, Map.of(), renamed(TaesdLayout.all(c), 2, n -> n));
        // madebyollin: bare layer numbers, the decoder's counted from its clamp (one higher).
        SafetensorsWriter.write(decoder, Map.of(), renamed(TaesdLayout.decoder(c), 2, n -> {
            String rest = n.substring(TaesdLayout.DECODER_PREFIX.length());
            int dot = rest.indexOf('.');
            return (Integer.parseInt(rest.substring(0, dot)) + 1) + rest.substring(dot);
        }));
        TorchCheckpointWriter.write(encoder, Map.of(), renamed(TaesdLayout.encoder(c), 2, n -> n.substring(TaesdLayout.ENCODER_PREFIX.length())));
        try (TaesdFiles.Weights both = TaesdFiles.open(diffusers); TaesdFiles.Weights dec = TaesdFiles.open(decoder);
             TaesdFiles.Weights enc = TaesdFiles.open(encoder)) {
            assertTrue(both.hasEncoder() && both.hasDecoder());
            assertTrue(dec.hasDecoder() && !dec.hasEncoder());
            assertTrue(enc.hasEncoder() && !enc.hasDecoder());
            for (var e : dec.tensors().tensors().entrySet()) assertEquals(-1, e.getValue().data().mismatch(both.tensors().get(e.getKey()).data()), e.getKey());
            for (var e : enc.tensors().tensors().entrySet()) assertEquals(-1, e.getValue().data().mismatch(both.tensors().get(e.getKey()).data()), e.getKey());
        }
        Path broken = dir.resolve("broken.safetensors");
        List<TensorSource> missing = renamed(TaesdLayout.decoder(c), 2, n -> n);
        missing.removeIf(t -> t.name().equals("decoder.layers.11.weight"));
        SafetensorsWriter.write(broken, Map.of(), missing);
        ModelFileException e = assertThrows(ModelFileException.class, () -> TaesdFiles.open(broken).close());
        assertTrue(e.getMessage().contains("missing decoder.layers.11.weight"), e.getMessage());
    }

    @Test
    void hashesAreA1111s() throws Exception {
        Path f = dir.resolve("x.safetensors");
        SafetensorsWriter.write(f, Map.of("ss_network_dim", "4"), List.of(new TensorSource("a", DType.F32, new long[] {3}, s -> {
            for (int i = 0; i < 3; i++) s.setAtIndex(ValueLayout.JAVA_FLOAT, i, i);
        })));
        byte[] all = Files.readAllBytes(f);
        long header = java.nio.ByteBuffer.wrap(all, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        var sha = java.security.MessageDigest.getInstance("SHA-256");
        assertEquals(HexFormat.of().formatHex(sha.digest(all)), FileHashes.sha256(f));
        sha.reset();
        sha.update(all, (int) (8 + header), all.length - (int) (8 + header));
        String addnet = HexFormat.of().formatHex(sha.digest());
        assertEquals(addnet, FileHashes.loraSha256(f), "kohya's addnet hash: the bytes after the header");
        assertFalse(addnet.equals(FileHashes.sha256(f)));
    }
}
