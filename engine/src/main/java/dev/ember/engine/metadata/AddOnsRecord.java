package dev.ember.engine.metadata;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import dev.ember.engine.AddOns;
import dev.ember.engine.GenerationRequest;
import dev.ember.engine.Lora;
import dev.ember.engine.StableDiffusion;
import dev.ember.engine.embedding.Embedding;
import dev.ember.engine.model.FileHashes;
import dev.ember.engine.pipeline.ModelInternals;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The add-ons of a run as an image's {@code ember} record keeps them: the folders and files the model was
 * loaded with ({@link AddOns}), and what the request used from them, with the hashes A1111's infotext carries
 * ({@code Lora hashes}, {@code TI hashes}, {@code VAE hash}).
 *
 * @param loraDir       the LoRA folder prompt tags were resolved in, or null
 * @param embeddingsDir the embedding folder, or null
 * @param loras         every LoRA applied: the request's own ({@code fromPrompt} false) and the prompt's tags
 * @param embeddings    the embeddings the prompts used
 * @param vae           a separate VAE's path, or null for the checkpoint's
 * @param vaeHash       its SHA-256 (hex), or null
 * @param taesd         the TAESD weights' path, or null
 * @param decoder       {@code vae} or {@code taesd}: what decoded the final image
 * @param tiling        {@code auto}, {@code on} or {@code off}
 * @param tileSize      tile side in pixels
 * @param attention     the fused-attention setting as asked ({@code auto}, {@code on}, {@code off}): the image record's
 *                      {@code flashAttention} says what the UNet did, which does not tell what a separate VAE of
 *                      another weight type did under {@code auto}; a re-run asks the same
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record AddOnsRecord(String loraDir, String embeddingsDir, List<Resource> loras, List<Resource> embeddings, String vae, String vaeHash,
                           String taesd, String decoder, String tiling, Integer tileSize, String attention) {
    /** A file a run used: its name (file name without extension), path, weight (LoRAs), full SHA-256 hash. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Resource(String name, String path, Double weight, String sha256, Boolean fromPrompt) {
        /** A1111's short hash: the first 12 hex digits. */
        public String shortHash() {
            return sha256 == null ? null : sha256.substring(0, Math.min(12, sha256.length()));
        }
    }

    public AddOnsRecord {
        loras = loras == null ? List.of() : List.copyOf(loras);
        embeddings = embeddings == null ? List.of() : List.copyOf(embeddings);
    }

    /** The options' folders and files alone (nothing resolved yet: what the command line knows before loading). */
    public static AddOnsRecord of(AddOns a) {
        return new AddOnsRecord(str(a.loraDir()), str(a.embeddingsDir()), List.of(), List.of(), str(a.vae()), null, str(a.taesd()),
                a.decoder().id(), a.tiling().id(), a.tileSize(), null);
    }

    /**
     * What {@code request} uses on {@code model}, hashes included; {@code explicit} are the request's own LoRAs
     * (the rest came from prompt tags).
     */
    public static AddOnsRecord of(GenerationRequest request, StableDiffusion model) {
        AddOns a = model.options().addOns();
        List<Resource> loras = new ArrayList<>();
        List<Lora> all = model.lorasOf(request);
        for (int i = 0; i < all.size(); i++) {
            Lora l = all.get(i);
            loras.add(new Resource(l.name(), abs(l.file()), l.weight(), FileHashes.loraSha256(l.file()), i >= request.loras().size()));
        }
        List<Resource> embeddings = new ArrayList<>();
        for (Embedding e : ModelInternals.embeddingsOf(model, request)) embeddings.add(new Resource(e.name(), abs(e.file()), null, FileHashes.sha256(e.file()), null));
        return new AddOnsRecord(str(a.loraDir()), str(a.embeddingsDir()), loras, embeddings, str(a.vae()),
                a.vae() == null || java.nio.file.Files.isDirectory(a.vae()) ? null : FileHashes.sha256(a.vae()), str(a.taesd()),
                a.decoder().id(), a.tiling().id(), a.tileSize(), model.options().flashAttention().id());
    }

    /** This record with the fused-attention setting as asked. */
    public AddOnsRecord withAttention(String value) {
        return new AddOnsRecord(loraDir, embeddingsDir, loras, embeddings, vae, vaeHash, taesd, decoder, tiling, tileSize, value);
    }

    /** Back to options (for a re-run): folders, files, decoder and tiling. */
    public AddOns toAddOns() {
        return new AddOns(path(loraDir), path(embeddingsDir), path(vae), path(taesd),
                decoder == null ? AddOns.VaeDecoder.VAE : AddOns.VaeDecoder.parse(decoder),
                tiling == null ? AddOns.VaeTiling.AUTO : AddOns.VaeTiling.parse(tiling), tileSize == null ? AddOns.DEFAULT_TILE_SIZE : tileSize);
    }

    /**
     * What decides the pixels: every file by its hash (LoRAs also by weight), the decoder and tiling; paths and
     * folders, which may differ between machines, left out.
     */
    public AddOnsRecord pixelsOnly() {
        return new AddOnsRecord(null, null, loras.stream().map(r -> new Resource(null, null, r.weight(), r.sha256(), null)).toList(),
                embeddings.stream().map(r -> new Resource(null, null, null, r.sha256(), null)).toList(), null, vaeHash,
                taesd == null ? null : "taesd", decoder, tiling, tileSize, attention);
    }

    /** The request's own LoRAs (not those of prompt tags, which the prompt brings back by itself). */
    public List<Lora> explicitLoras() {
        return loras.stream().filter(r -> !Boolean.TRUE.equals(r.fromPrompt())).map(r -> new Lora(Path.of(r.path()), r.weight())).toList();
    }

    private static String str(Path p) {
        return p == null ? null : abs(p);
    }

    private static String abs(Path p) {
        return p.toAbsolutePath().normalize().toString();
    }

    private static Path path(String s) {
        return s == null ? null : Path.of(s);
    }
}
