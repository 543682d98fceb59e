package dev.ember.bindings;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** Loads the real library and exercises the first part of the C API through the bindings. */
class NativeLibraryTest {
    @Test
    void reportsVersionsAndTheCpuDevice() {
        assertEquals("0.3.0", ember_h.ember_version().getString(0));
        assertTrue(ember_h.ember_ggml_version().getString(0).startsWith("0."), "ggml version");
        int count = ember_h.ember_device_count();
        assertTrue(count >= 1, "at least the CPU device");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment info = ember_device_info.allocate(arena);
            boolean sawCpu = false;
            for (int i = 0; i < count; i++) {
                assertEquals(ember_h.EMBER_OK(), ember_h.ember_device_get_info(i, info));
                assertEquals(i, ember_device_info.index(info));
                if (ember_device_info.type(info) == ember_h.EMBER_DEVICE_CPU()) {
                    sawCpu = true;
                    assertEquals("CPU", ember_device_info.name(info).getString(0));
                    assertTrue(ember_device_info.memory_total(info) > 0, "CPU memory total");
                }
            }
            assertTrue(sawCpu);
            assertEquals(ember_h.EMBER_ERROR_INVALID_ARGUMENT(), ember_h.ember_device_get_info(count, info));
        }
    }

    @Test
    void contextsAreIndependentAndReportErrors() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment params = ember_context_params.allocate(arena);
            ember_h.ember_context_params_init(params);
            assertEquals(-1, ember_context_params.device(params));
            ember_context_params.n_threads(params, 1);
            MemorySegment out1 = arena.allocate(ValueLayout.ADDRESS);
            MemorySegment out2 = arena.allocate(ValueLayout.ADDRESS);
            assertEquals(0, ember_h.ember_context_create(params, out1));
            ember_context_params.n_threads(params, 2);
            assertEquals(0, ember_h.ember_context_create(params, out2));
            MemorySegment a = out1.get(ValueLayout.ADDRESS, 0), b = out2.get(ValueLayout.ADDRESS, 0);
            try {
                // An error on one context leaves the other's last error alone.
                assertEquals(ember_h.EMBER_ERROR_INVALID_ARGUMENT(), ember_h.ember_context_set_threads(a, 0));
                assertTrue(ember_h.ember_context_last_error(a).getString(0).contains("thread"));
                assertEquals("", ember_h.ember_context_last_error(b).getString(0));
                MemorySegment got = ember_context_params.allocate(arena);
                ember_h.ember_context_get_params(b, got);
                assertEquals(2, ember_context_params.n_threads(got));
            } finally {
                ember_h.ember_context_free(a);
                ember_h.ember_context_free(b);
            }
            ember_context_params.device(params, 10_000);
            assertEquals(ember_h.EMBER_ERROR_INVALID_ARGUMENT(), ember_h.ember_context_create(params, out1));
        }
    }

    @Test
    void loaderErrorListsEveryPlaceItTried() {
        UnsatisfiedLinkError error = assertThrows(UnsatisfiedLinkError.class, () -> NativeLibrary.load(
                "/nonexistent/libember.so", null, "/nonexistent-dir", "/no/such/resource/libember.so", java.util.List.of()));
        String message = error.getMessage();
        assertTrue(message.contains("system property ember.library: /nonexistent/libember.so does not exist"), message);
        assertTrue(message.contains("environment variable EMBER_LIBRARY: not set"), message);
        assertTrue(message.contains("java.library.path (/nonexistent-dir)"), message);
        assertTrue(message.contains("jar resource /no/such/resource/libember.so: not on the class path or module path"), message);
        // Names the artifact that is missing, with this build's version and the platform's classifier.
        assertTrue(NativeLibrary.version().matches("\\d+\\.\\d+\\.\\d+.*"), "the build's version, filtered in: " + NativeLibrary.version());
        String coordinates = "dev.ember:ember-native:" + NativeLibrary.version() + ":" + NativeLibrary.platform();
        assertTrue(message.startsWith("could not load libember (add " + coordinates + " (Maven: artifact ember-native, classifier "
                + NativeLibrary.platform() + ")"), message);
    }

    /** On a platform Ember publishes no jar for, the error says so instead of naming a jar that does not exist. */
    @Test
    void anUnpublishedPlatformIsNamedAsSuch() {
        String message = NativeLibrary.missingArtifact("linux-riscv64");
        assertTrue(message.startsWith("Ember publishes no native jar for linux-riscv64 (only for linux-x86_64): build libember"), message);
        assertTrue(NativeLibrary.missingArtifact("linux-x86_64").startsWith("add dev.ember:ember-native:"), "a published one is named");
    }

    /** A platform jar on the module path is read even though no module requires it (no --add-modules). */
    @Test
    void readsTheLibraryFromAnUnresolvedModuleOnTheModulePath(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        String resource = "/dev/ember/native/module-path-probe/" + System.mapLibraryName("ember");
        byte[] content = "not really a library".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        var manifest = new java.util.jar.Manifest();
        manifest.getMainAttributes().put(java.util.jar.Attributes.Name.MANIFEST_VERSION, "1.0");
        manifest.getMainAttributes().putValue("Automatic-Module-Name", NativeLibrary.nativeModule());
        java.nio.file.Path jar = dir.resolve("some-name-1.0.jar");
        try (var out = new java.util.jar.JarOutputStream(java.nio.file.Files.newOutputStream(jar), manifest)) {
            out.putNextEntry(new java.util.jar.JarEntry(resource.substring(1)));
            out.write(content);
            out.closeEntry();
        }
        String before = System.getProperty("jdk.module.path");
        try {
            System.clearProperty("jdk.module.path");
            assertTrue(NativeLibrary.readPacked(resource).isEmpty(), "not on the class path");
            System.setProperty("jdk.module.path", dir.toString());
            assertArrayEquals(content, NativeLibrary.readPacked(resource).orElseThrow());
        } finally {
            if (before == null) System.clearProperty("jdk.module.path");
            else System.setProperty("jdk.module.path", before);
        }
    }
}
