package dev.ember.cli;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;

/**
 * One-line messages for file problems. The JDK's file exceptions often carry only a path; these say what
 * went wrong with it ("cannot write to outputs: permission denied"), and output folders are checked
 * before a model is loaded, so a bad one fails at once.
 */
final class FileErrors {
    private FileErrors() {}

    /** What went wrong, e.g. {@code "/x/y: permission denied"}. */
    static String describe(IOException e) {
        if (e instanceof FileSystemException f && f.getFile() != null) {
            String what = switch (f) {
                case AccessDeniedException a -> "permission denied";
                case NoSuchFileException n -> "no such file or folder";
                case FileAlreadyExistsException x -> "already exists";
                case NotDirectoryException d -> "is not a folder";
                case DirectoryNotEmptyException d -> "folder not empty";
                default -> f.getReason() != null ? f.getReason() : f.getClass().getSimpleName();
            };
            String file = f.getFile() + (f.getOtherFile() != null ? " -> " + f.getOtherFile() : "");
            return file + ": " + what;
        }
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }

    /**
     * Makes sure {@code folder} (named by {@code option}, e.g. {@code --out}) is, or can be made as, a folder
     * Ember can write into. Creates nothing: a run that fails before its first image leaves no folder.
     *
     * @throws IllegalArgumentException (exit 1) saying what is wrong
     */
    static void checkWritableFolder(Path folder, String option) {
        Path existing = folder.toAbsolutePath();
        while (existing != null && !Files.exists(existing)) existing = existing.getParent();
        if (existing == null) return;
        if (!Files.isDirectory(existing)) {
            throw new IllegalArgumentException(existing.equals(folder.toAbsolutePath())
                    ? option + " " + folder + " is a file, not a folder"
                    : option + " " + folder + ": " + existing + " is a file, not a folder");
        }
        if (!Files.isWritable(existing)) throw new IllegalArgumentException("cannot write to " + existing + " (" + option + "): permission denied");
    }
}
