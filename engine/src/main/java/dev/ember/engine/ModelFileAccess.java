package dev.ember.engine;

/**
 * What a loaded model does with its file while it is open, and so what happens when someone changes
 * that file meanwhile ({@link ModelOptions#withFileAccess}).
 *
 * <p>Either way the model's fingerprint ({@link StableDiffusion#fileFingerprint()}) is taken when it is
 * loaded, and a file that changes during the load fails the load.
 */
public enum ModelFileAccess {
    /**
     * The default, fastest and leanest, as llama.cpp does it: on the CPU the networks use the file's
     * memory mapping in place wherever the stored type matches (no copy), and in low-memory mode the
     * text encoder and VAE are copied from the mapping for each use. The file must not change while the
     * model is open: truncating it kills the JVM with SIGBUS, and writing into it changes pictures. Each
     * {@code generate} checks the file (size, modification time, sampled content) before it starts and
     * before it hands out each image, and throws {@link ModelFileChangedException} once it has changed,
     * so a change is caught between images; a truncation in the middle of one still crashes. Replacing
     * the file by a rename is safe. For a command line run.
     */
    MAPPED,
    /**
     * Safe for anything long-lived (servers, Spark executors, applications that keep a model open): every
     * network owns a copy of its weights and the model keeps no mapping after {@code load}. In low-memory
     * mode the text encoder and VAE are read again for each use with positional reads (never through a
     * mapping) and each tensor is checked against the checksum of its first read. A truncated or rewritten
     * file can then never crash the JVM or change a picture: images come from the weights as they were
     * loaded, and a low-memory read that finds the file changed throws {@link ModelFileChangedException}
     * (load the model again). Costs a copy of the weights while loading (and memory: nothing is shared
     * with the page cache).
     */
    COPIED
}
