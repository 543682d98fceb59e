package dev.ember.engine.pipeline;

import dev.ember.engine.GenerationRequest;
import dev.ember.engine.StableDiffusion;
import dev.ember.engine.embedding.Embedding;
import dev.ember.engine.lora.LoraState;
import dev.ember.engine.nn.NativeContext;
import dev.ember.engine.nn.TextEncoder;
import dev.ember.engine.nn.Unet;
import dev.ember.engine.nn.Vae;
import java.util.List;
import java.util.Objects;

/**
 * What Ember's own code (the benchmark, the PNG record, tests) reaches inside a loaded {@link StableDiffusion}:
 * its networks, native context, decode plan, LoRA switch timings and a request's embeddings. Their types are
 * internal, so these accessors live here, in a package the module does not export, rather than on
 * {@code StableDiffusion}'s public face, where applications would see methods they cannot use. StableDiffusion
 * installs the implementation when its class initialises; a caller always holds an instance, so it is there.
 */
public final class ModelInternals {
    /** StableDiffusion's side: its private accessors. */
    public interface Access {
        Unet unet(StableDiffusion model);

        OnDemand.Lease<TextEncoder> textEncoder(StableDiffusion model);

        OnDemand.Lease<TextEncoder> textEncoder2(StableDiffusion model);

        OnDemand.Lease<Vae> vaeDecoder(StableDiffusion model);

        OnDemand.Lease<Vae> vaeEncoder(StableDiffusion model);

        NativeContext context(StableDiffusion model);

        LatentCodec.Plan decodePlan(StableDiffusion model, int height, int width);

        LoraState.Switch lastLoraSwitch(StableDiffusion model);

        List<Embedding> embeddingsOf(StableDiffusion model, GenerationRequest request);
    }

    private static volatile Access access;

    private ModelInternals() {}

    /** Called once, by StableDiffusion's class initialiser. */
    public static synchronized void install(Access implementation) {
        if (access != null) throw new IllegalStateException("model internals are installed already");
        access = Objects.requireNonNull(implementation, "implementation");
    }

    private static Access access() {
        Access a = access;
        if (a == null) throw new IllegalStateException("StableDiffusion is not initialised");
        return a;
    }

    /** The UNet, resident in every mode. */
    public static Unet unet(StableDiffusion model) {
        return access().unet(model);
    }

    /**
     * The text encoder, lent until the lease is closed (use try-with-resources). In low-memory mode it is loaded
     * by the first open lease and freed when the last one closes, so hold one lease across calls that should not
     * each pay for loading; otherwise it is the resident encoder. IllegalStateException once the model is closed.
     */
    public static OnDemand.Lease<TextEncoder> textEncoder(StableDiffusion model) {
        return access().textEncoder(model);
    }

    /** SDXL's second text encoder (OpenCLIP bigG), lent as the first; IllegalStateException for SD 1.x/2.x. */
    public static OnDemand.Lease<TextEncoder> textEncoder2(StableDiffusion model) {
        return access().textEncoder2(model);
    }

    /** A VAE that can decode: in low-memory mode a decoder-only VAE loaded per lease, otherwise the resident VAE (both halves). */
    public static OnDemand.Lease<Vae> vaeDecoder(StableDiffusion model) {
        return access().vaeDecoder(model);
    }

    /** A VAE that can encode: in low-memory mode an encoder-only VAE loaded per lease, otherwise the resident VAE. */
    public static OnDemand.Lease<Vae> vaeEncoder(StableDiffusion model) {
        return access().vaeEncoder(model);
    }

    /** The native context the networks run on. */
    public static NativeContext context(StableDiffusion model) {
        return access().context(model);
    }

    /** How an image of this size is decoded with the model's decoder: tiled or not, and the untiled estimate. */
    public static LatentCodec.Plan decodePlan(StableDiffusion model, int height, int width) {
        return access().decodePlan(model, height, width);
    }

    /** How the last LoRA switch went (merge and hand-over times), or null before the first. */
    public static LoraState.Switch lastLoraSwitch(StableDiffusion model) {
        return access().lastLoraSwitch(model);
    }

    /** The textual-inversion embeddings a request's prompts use (each once), from the model's embedding folder. */
    public static List<Embedding> embeddingsOf(StableDiffusion model, GenerationRequest request) {
        return access().embeddingsOf(model, request);
    }
}
