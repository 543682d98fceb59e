package dev.ember.server;

import dev.ember.engine.noise.NoiseSource;

/**
 * The A1111 options that choose how jobs run when a request does not override them: the checkpoint
 * ({@code sd_model_checkpoint}), {@code CLIP_stop_at_last_layers} (1 = the model's own layer) and
 * {@code randn_source} ("GPU" = torch's CUDA generator, Philox; "CPU" = mt19937).
 */
record Selection(ModelCatalog.Entry checkpoint, int clipStop, NoiseSource noise) {
    static final int MAX_CLIP_STOP = 12;

    /** The model a job with these settings needs: A1111's clip stop 1 is the model's default (Ember's 0). */
    ModelHost.Key key() {
        return new ModelHost.Key(checkpoint, clipStop <= 1 ? 0 : clipStop);
    }

    /** A1111's {@code randn_source} name of the noise source. */
    String randnSource() {
        return noise == NoiseSource.MT19937 ? "CPU" : "GPU";
    }

    static NoiseSource parseRandnSource(String field, String value) {
        return switch (value.strip().toUpperCase(java.util.Locale.ROOT)) {
            case "GPU" -> NoiseSource.PHILOX;
            case "CPU" -> NoiseSource.MT19937;
            default -> throw ApiException.invalid(field, "'" + value + "' is not supported; valid: GPU (torch's CUDA generator), CPU");
        };
    }
}
