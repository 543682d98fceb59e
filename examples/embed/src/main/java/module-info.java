/** The example on the module path: it requires the engine; the native jar needs no mention. */
module dev.ember.example {
    requires dev.ember.engine;
}
