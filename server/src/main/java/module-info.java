/**
 * AUTOMATIC1111- and OpenAI-compatible HTTP server over the engine's public API ({@code ember serve}).
 * Run with {@code --enable-native-access=dev.ember.engine}.
 */
module dev.ember.server {
    // ServerConfig takes the engine's ModelOptions.
    requires transitive dev.ember.engine;
    requires io.javalin;
    requires org.eclipse.jetty.server;
    requires org.eclipse.jetty.ee10.servlet;
    requires org.eclipse.jetty.io;
    requires org.eclipse.jetty.util;
    requires com.fasterxml.jackson.databind;
    requires java.net.http;

    exports dev.ember.server;

    // Jackson reads requests into and writes answers from the server's records.
    opens dev.ember.server to com.fasterxml.jackson.databind;
}
