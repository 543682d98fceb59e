package dev.ember.engine;

/** How an img2img init image of another size is fitted to the requested size. */
public enum InitResize {
    /** Scale to cover the target, then cut the overhang equally on both sides (keeps the aspect ratio). */
    CROP,
    /** Scale each axis independently to the target (may distort). */
    STRETCH;

    public static InitResize parse(String name) {
        for (InitResize r : values()) if (r.name().equalsIgnoreCase(name.strip())) return r;
        throw new IllegalArgumentException("unknown resize mode '" + name + "'; valid: crop, stretch");
    }
}
