package dev.ember.bindings;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;

/**
 * A folder only the current user can change, for files that will be loaded as code (the extracted
 * libember). Nobody else may be able to put, replace or rename anything on the way to it:
 *
 * <ul>
 *   <li>every existing folder from the file system's root down to {@code base} (symbolic links resolved)
 *       belongs to the current user or to root, and is not writable by group or others unless it has the
 *       sticky bit (as {@code /tmp} has: others may not rename or delete what is yours there);</li>
 *   <li>each folder below {@code base} is created owner-only ({@code rwx------}), or, if it exists, must
 *       be a real folder (not a link) of the current user; group and others lose any access to it.</li>
 * </ul>
 *
 * On file systems without Unix owners and modes (Windows) the checks are skipped: the folder should
 * then be in the user's own profile, and the caller still verifies the content it loads.
 */
final class PrivateFolder {
    /** Why a place cannot be used, in one line. */
    static final class UnsafeFolderException extends IOException {
        UnsafeFolderException(String message) {
            super(message);
        }
    }

    private static final int GROUP_OTHER_WRITE = 0022;
    private static final int GROUP_OTHER_ALL = 0077;
    private static final int STICKY = 01000;

    private PrivateFolder() {}

    /**
     * {@code base/below[0]/below[1]/...}, created as needed, once every check above has passed.
     *
     * @throws UnsafeFolderException naming the folder and what is wrong with it
     */
    static Path prepare(Path base, String... below) throws IOException {
        Files.createDirectories(base);
        Path dir = base.toRealPath();
        if (!unixAttributes(dir)) {
            for (String name : below) dir = Files.createDirectories(dir.resolve(name));
            return dir;
        }
        int me = currentUid();
        for (Path p = dir; p != null; p = p.getParent()) checkAncestor(p, me);
        for (String name : below) {
            dir = dir.resolve(name);
            try {
                Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            } catch (FileAlreadyExistsException e) {
                // made earlier, by us or someone else: checked below
            }
            checkOwnFolder(dir, me);
        }
        return dir;
    }

    private static void checkAncestor(Path dir, int me) throws IOException {
        Map<String, Object> a = Files.readAttributes(dir, "unix:uid,mode");
        int uid = (Integer) a.get("uid"), mode = (Integer) a.get("mode");
        if (uid != me && uid != 0) throw new UnsafeFolderException(dir + " belongs to uid " + uid + ", not to you (uid " + me + ")");
        if ((mode & GROUP_OTHER_WRITE) != 0 && (mode & STICKY) == 0) {
            throw new UnsafeFolderException(dir + " is writable by " + ((mode & 0002) != 0 ? "others" : "its group")
                    + " (mode " + Integer.toOctalString(mode & 07777) + ")");
        }
    }

    private static void checkOwnFolder(Path dir, int me) throws IOException {
        Map<String, Object> a = Files.readAttributes(dir, "unix:uid,mode", LinkOption.NOFOLLOW_LINKS);
        int uid = (Integer) a.get("uid"), mode = (Integer) a.get("mode");
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) throw new UnsafeFolderException(dir + " is not a folder (a link or a file is in its place)");
        if (uid != me) throw new UnsafeFolderException(dir + " belongs to uid " + uid + ", not to you (uid " + me + ")");
        if ((mode & GROUP_OTHER_ALL) != 0) {
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
            int now = (Integer) Files.getAttribute(dir, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            if ((now & GROUP_OTHER_ALL) != 0) throw new UnsafeFolderException(dir + " cannot be made private (mode " + Integer.toOctalString(now & 07777) + ")");
        }
    }

    private static boolean unixAttributes(Path dir) {
        return dir.getFileSystem().supportedFileAttributeViews().contains("unix");
    }

    /**
     * The effective uid of this process: the owner of {@code /proc/self} on Linux, else of a file it
     * creates (the JDK has no call for it).
     */
    static int currentUid() throws IOException {
        Path self = Path.of("/proc/self");
        if (Files.isDirectory(self)) return (Integer) Files.getAttribute(self, "unix:uid");
        Path probe = Files.createTempFile("ember-uid-", ".probe");
        try {
            return (Integer) Files.getAttribute(probe, "unix:uid");
        } finally {
            Files.deleteIfExists(probe);
        }
    }
}
