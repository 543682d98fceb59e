/**
 * libember for Linux on x86-64, as {@code dev/ember/native/linux-x86_64/libember.so}. The module has no
 * packages and needs no {@code --add-modules}: the engine's loader finds the library whether this jar is on
 * the class path or the module path.
 */
@SuppressWarnings("module") // the platform name ends in digits
module dev.ember.natives.linux.x86_64 {
}
