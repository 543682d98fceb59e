/**
 * The {@code ember} command line: a thin picocli layer over the engine's public API. Shipped as the
 * shaded {@code ember.jar} (class path, {@code --enable-native-access=ALL-UNNAMED}); the module exists so
 * that the command line compiles against the engine's exported packages alone.
 */
module dev.ember.cli {
    requires dev.ember.engine;
    requires dev.ember.server;
    requires info.picocli;
    requires com.fasterxml.jackson.databind;

    // picocli reads and sets the commands' annotated fields; Jackson writes --json's records.
    opens dev.ember.cli to info.picocli, com.fasterxml.jackson.databind;
}
