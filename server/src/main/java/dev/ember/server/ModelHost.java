package dev.ember.server;

import dev.ember.engine.Batching;
import dev.ember.engine.ModelFileException;
import dev.ember.engine.ModelFileAccess;
import dev.ember.engine.ModelOptions;
import dev.ember.engine.StableDiffusion;
import dev.ember.engine.UnsupportedModelException;

/**
 * The one model in memory and its {@link Batching}. Loading another closes the current one first (one model
 * resident at a time), and if the new one cannot be loaded the previous one is loaded again. Models are loaded
 * with weights copied into Ember's memory ({@link ModelFileAccess#COPIED}):
 * a server runs for days, and a checkpoint file replaced or rewritten meanwhile must change neither its
 * pictures nor its health. Only the scheduler's dispatcher calls {@link #ensure}, while no image is sampling.
 */
final class ModelHost implements AutoCloseable {
    /** Which checkpoint, with which clip skip (0 = the model's own). */
    record Key(ModelCatalog.Entry checkpoint, int clipSkip) {}

    /** A loaded model. */
    record Loaded(Key key, StableDiffusion model, Batching batching) {}

    private final ModelOptions options;
    private final int maxBatch;
    private volatile Loaded current;

    ModelHost(ModelOptions options, int maxBatch) {
        this.options = options.withFileAccess(ModelFileAccess.COPIED);
        this.maxBatch = maxBatch;
    }

    /** The loaded model, or null before the first load (or after a failed switch with no way back). */
    Loaded current() {
        return current;
    }

    /**
     * Makes {@code key} the loaded model.
     *
     * @throws ApiException 422 when the checkpoint cannot be read or is not a model Ember runs, 500 for other
     *                      failures (the device refused it, out of memory)
     */
    synchronized Loaded ensure(Key key) {
        Loaded now = current;
        if (now != null && now.key().equals(key)) return now;
        Key previous = now == null ? null : now.key();
        if (now != null) {
            current = null;
            now.model().close();
        }
        try {
            current = load(key);
            return current;
        } catch (RuntimeException | OutOfMemoryError e) {
            if (previous != null) {
                try {
                    current = load(previous);
                } catch (RuntimeException | OutOfMemoryError again) {
                    e.addSuppressed(again);
                }
            }
            String why = "cannot load " + key.checkpoint().title() + ": " + e.getMessage();
            boolean badFile = e instanceof ModelFileException || e instanceof UnsupportedModelException || e instanceof IllegalArgumentException;
            throw new ApiException(badFile ? 422 : 500, "sd_model_checkpoint", why);
        }
    }

    private Loaded load(Key key) {
        StableDiffusion sd = StableDiffusion.load(key.checkpoint().file(), options.withClipSkip(key.clipSkip()));
        try {
            return new Loaded(key, sd, sd.batching(maxBatch));
        } catch (RuntimeException e) {
            sd.close();
            throw e;
        }
    }

    @Override
    public synchronized void close() {
        Loaded now = current;
        current = null;
        if (now != null) now.model().close();
    }
}
