package dev.ember.engine.pipeline;

import dev.ember.engine.AddOns;
import dev.ember.engine.ModelFileException;
import dev.ember.engine.embedding.EmbeddingLibrary;
import dev.ember.engine.model.ModelSpec;
import dev.ember.engine.model.StateDict;
import dev.ember.engine.model.TaesdFiles;
import dev.ember.engine.model.VaeConfig;
import dev.ember.engine.model.VaeFiles;
import dev.ember.engine.text.ClipTokenizer;

/**
 * The files a model's {@link AddOns} name, opened and checked against the model before any network is made:
 * a separate VAE (its weights replace the checkpoint's VAE tensors), TAESD (its decoder; its latent channels
 * must be the model's) and the embedding folder (listed; files are read when a prompt names them). Owns the
 * open files: {@link #close()} unmaps them, after the networks that may read them in place are freed.
 */
public final class AddOnFiles implements AutoCloseable {
    private final VaeFiles.Weights vae;
    private final TaesdFiles.Weights taesd;
    private final EmbeddingLibrary embeddings;

    private AddOnFiles(VaeFiles.Weights vae, TaesdFiles.Weights taesd, EmbeddingLibrary embeddings) {
        this.vae = vae;
        this.taesd = taesd;
        this.embeddings = embeddings;
    }

    /**
     * Opens what {@code addOns} names for a model of {@code spec}.
     *
     * @throws ModelFileException for a missing, unreadable or unfitting file or folder
     */
    public static AddOnFiles open(AddOns addOns, ModelSpec spec, ClipTokenizer tokenizer) {
        VaeFiles.Weights vae = null;
        TaesdFiles.Weights taesd = null;
        try {
            if (addOns.vae() != null) vae = VaeFiles.open(addOns.vae(), spec.vae());
            if (addOns.taesd() != null) {
                taesd = TaesdFiles.open(addOns.taesd());
                if (!taesd.hasDecoder()) throw new ModelFileException(addOns.taesd(), "holds only a TAESD encoder; previews and decodes need its decoder");
                if (taesd.config().latentChannels() != spec.vae().latentChannels()) {
                    throw new ModelFileException(addOns.taesd(), "is a TAESD for " + taesd.config().latentChannels() + " latent channels; this model has "
                            + spec.vae().latentChannels());
                }
            }
            EmbeddingLibrary embeddings = addOns.embeddingsDir() == null ? null
                    : new EmbeddingLibrary(addOns.embeddingsDir(), tokenizer, spec.text().hiddenSize(),
                    spec.text2() == null ? 0 : spec.text2().hiddenSize(), spec.architecture().label());
            return new AddOnFiles(vae, taesd, embeddings);
        } catch (RuntimeException e) {
            if (vae != null) vae.close();
            if (taesd != null) taesd.close();
            throw e;
        }
    }

    /** The VAE's weights: the separate VAE's, or {@code checkpoint}'s. */
    public StateDict vaeWeights(StateDict checkpoint) {
        return vae == null ? checkpoint : vae.tensors();
    }

    /** The VAE's config: the separate VAE's (same latent space), or the model's. */
    public VaeConfig vaeConfig(ModelSpec spec) {
        return vae == null ? spec.vae() : vae.config();
    }

    /** TAESD's weights, or null. */
    public TaesdFiles.Weights taesd() {
        return taesd;
    }

    /** The embedding folder, or null. */
    public EmbeddingLibrary embeddings() {
        return embeddings;
    }

    /** Unmaps the separate VAE and TAESD when no network reads them any more (weights copied); idempotent. */
    public void closeFiles() {
        if (vae != null) vae.close();
        if (taesd != null) taesd.close();
    }

    @Override
    public void close() {
        closeFiles();
    }
}
