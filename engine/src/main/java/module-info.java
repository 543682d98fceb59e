/**
 * Ember: Stable Diffusion for the JVM. The API is {@code dev.ember.engine} ({@code StableDiffusion},
 * {@code GenerationRequest}, {@code StepListener}, ...) and the packages of what it takes and returns;
 * see docs/embedding.md for what is stable before 1.0.
 *
 * <p>libember is loaded through the FFM API: run with {@code --enable-native-access=dev.ember.engine}
 * (on the class path: {@code --enable-native-access=ALL-UNNAMED}), and put the platform jar
 * {@code dev.ember:ember-native:<version>:<platform>} next to this one.
 */
module dev.ember.engine {
    // dev.ember.bindings (FFM bindings and the loader, compiled in from bindings/) is not exported.
    requires com.fasterxml.jackson.databind;
    // The container-aware memory size (the LoRA cache's budget).
    requires jdk.management;
    // RgbImage converts to and from BufferedImage.
    requires transitive java.desktop;

    exports dev.ember.engine;
    exports dev.ember.engine.image;
    exports dev.ember.engine.metadata;
    exports dev.ember.engine.sampling;
    exports dev.ember.engine.noise;
    // Model files: inspection (ModelFiles, ModelSpec, ModelReport), synthetic models and presets.
    exports dev.ember.engine.model;
    // ember bench: timing of the networks (for tools; the networks themselves stay internal).
    exports dev.ember.engine.bench;

    // Jackson reads and writes the PNG metadata records.
    opens dev.ember.engine.metadata to com.fasterxml.jackson.databind;
}
