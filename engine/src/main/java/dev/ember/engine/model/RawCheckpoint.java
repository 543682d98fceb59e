package dev.ember.engine.model;

import dev.ember.engine.ModelFileException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.nio.file.Path;
import java.util.LinkedHashMap;

import java.util.Map;
import java.util.Objects;

/**
 * A file's tensors under the names it stores them with, before canonical renaming, plus its string
 * metadata (safetensors {@code __metadata__}, or hyperparameters read from diffusers configs under the
 * same {@code ember.*} keys). Closing it closes the tensors' mapping.
 */
public record RawCheckpoint(ModelFormat format, StateDict tensors, Map<String, String> metadata) implements AutoCloseable {
    public RawCheckpoint {
        Objects.requireNonNull(format, "format");
        Objects.requireNonNull(tensors, "tensors");
        metadata = Map.copyOf(metadata);
    }

    /** How a single-file reader maps {@code file} into an arena it does not own and collects its metadata. */
    @FunctionalInterface
    interface Reader {
        Map<String, TensorData> read(Path file, Arena arena, Map<String, String> metadata);
    }

    /** Maps all of {@code file} read-only into {@code arena}; an empty or unreadable file is a {@link ModelFileException}. */
    static MemorySegment mapWhole(Path file, Arena arena) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size == 0) throw new ModelFileException(file, "empty file");
            return MappedFiles.map(ch, file, arena); // registered, so COPIED models can find each tensor's file region
        } catch (IOException e) {
            throw new ModelFileException(file, "cannot read: " + e.getMessage(), e);
        }
    }

    /** Reads one file into a fresh arena that the result owns; the arena is closed if reading fails. */
    static RawCheckpoint mapped(ModelFormat format, Path file, Reader reader) {
        Arena arena = Arena.ofShared();
        try {
            Map<String, String> metadata = new LinkedHashMap<>();
            Map<String, TensorData> tensors = reader.read(file, arena, metadata);
            return new RawCheckpoint(format, new StateDict(tensors, arena), metadata);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    @Override
    public void close() {
        tensors.close();
    }
}
