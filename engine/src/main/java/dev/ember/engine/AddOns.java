package dev.ember.engine;

import java.nio.file.Path;
import java.util.Locale;

/**
 * What a model is loaded with besides its checkpoint, and how it decodes: the folders prompts find LoRAs and
 * textual-inversion embeddings in, a separate VAE, TAESD (the tiny autoencoder) and which decoder makes the final
 * images, and VAE tiling. Start from {@link #none()}.
 *
 * @param loraDir       where {@code <lora:NAME:WEIGHT>} finds {@code NAME.safetensors} (or .pt, .ckpt, .bin), subfolders
 *                      included; null: prompts with LoRA tags are refused
 * @param embeddingsDir where embedding names in prompts are looked up (.safetensors, .pt, .bin); null: none
 * @param vae           a VAE file or diffusers VAE folder that replaces the checkpoint's; null: the checkpoint's
 * @param taesd         TAESD weights (taesd_decoder.safetensors, a diffusers AutoencoderTiny file or folder); needed for
 *                      {@link VaeDecoder#TAESD} and TAESD previews
 * @param decoder       which network decodes the final images
 * @param tiling        when decodes and encodes go tile by tile
 * @param tileSize      tile side in image pixels (a multiple of 64); tiles overlap by a quarter of it
 */
public record AddOns(Path loraDir, Path embeddingsDir, Path vae, Path taesd, VaeDecoder decoder, VaeTiling tiling, int tileSize) {
    public static final int DEFAULT_TILE_SIZE = 512;
    public static final int MIN_TILE_SIZE = 128;

    /** The network that turns final latents into images. */
    public enum VaeDecoder {
        /** The model's VAE (or {@link #vae()}): full quality. */
        VAE,
        /** TAESD: about 1/18 of the VAE's decode work, softer details. */
        TAESD;

        public String id() {
            return name().toLowerCase(Locale.ROOT);
        }

        public static VaeDecoder parse(String s) {
            return switch (s.strip().toLowerCase(Locale.ROOT)) {
                case "vae", "full" -> VAE;
                case "taesd" -> TAESD;
                default -> throw new IllegalArgumentException("unknown VAE decoder '" + s + "'; valid: vae, taesd");
            };
        }
    }

    /** When images are decoded and encoded in tiles. */
    public enum VaeTiling {
        /** When the untiled compute buffer would pass {@link dev.ember.engine.pipeline.LatentCodec#AUTO_LIMIT_BYTES}. */
        AUTO,
        /** Always (when the image is larger than one tile). */
        ON,
        /** Never. */
        OFF;

        public String id() {
            return name().toLowerCase(Locale.ROOT);
        }

        public static VaeTiling parse(String s) {
            return switch (s.strip().toLowerCase(Locale.ROOT)) {
                case "auto" -> AUTO;
                case "on", "true", "yes" -> ON;
                case "off", "false", "no" -> OFF;
                default -> throw new IllegalArgumentException("unknown VAE tiling '" + s + "'; valid: auto, on, off");
            };
        }
    }

    public AddOns {
        if (decoder == null) decoder = VaeDecoder.VAE;
        if (tiling == null) tiling = VaeTiling.AUTO;
        if (tileSize < MIN_TILE_SIZE || tileSize > GenerationRequest.MAX_SIDE || tileSize % 64 != 0) {
            throw new IllegalArgumentException("VAE tile size must be a multiple of 64 between " + MIN_TILE_SIZE + " and "
                    + GenerationRequest.MAX_SIDE + " pixels, got " + tileSize);
        }
        if (decoder == VaeDecoder.TAESD && taesd == null) throw new IllegalArgumentException("the TAESD decoder needs TAESD weights (--taesd FILE)");
    }

    /** No add-ons: the checkpoint's VAE, automatic tiling. */
    public static AddOns none() {
        return new AddOns(null, null, null, null, VaeDecoder.VAE, VaeTiling.AUTO, DEFAULT_TILE_SIZE);
    }

    public AddOns withLoraDir(Path v) {
        return new AddOns(v, embeddingsDir, vae, taesd, decoder, tiling, tileSize);
    }

    public AddOns withEmbeddingsDir(Path v) {
        return new AddOns(loraDir, v, vae, taesd, decoder, tiling, tileSize);
    }

    public AddOns withVae(Path v) {
        return new AddOns(loraDir, embeddingsDir, v, taesd, decoder, tiling, tileSize);
    }

    public AddOns withTaesd(Path v) {
        return new AddOns(loraDir, embeddingsDir, vae, v, decoder, tiling, tileSize);
    }

    public AddOns withDecoder(VaeDecoder v) {
        return new AddOns(loraDir, embeddingsDir, vae, taesd, v, tiling, tileSize);
    }

    public AddOns withTiling(VaeTiling v) {
        return new AddOns(loraDir, embeddingsDir, vae, taesd, decoder, v, tileSize);
    }

    public AddOns withTileSize(int v) {
        return new AddOns(loraDir, embeddingsDir, vae, taesd, decoder, tiling, v);
    }
}
