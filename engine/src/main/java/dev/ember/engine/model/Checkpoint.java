package dev.ember.engine.model;

import dev.ember.engine.sampling.DiffusionSchedule;
import java.nio.file.Path;
import java.util.Objects;

/**
 * An opened model: its canonical tensors (exactly those the detected networks need, in layout order,
 * slices of the mapped files), what it is, what loading found, and the training noise schedule its
 * sampling uses (the file's own {@code alphas_cumprod} when it has one, as k-diffusion and A1111 take
 * it, else SD's scaled-linear betas in float64). Closing it unmaps the files; the tensors are invalid
 * afterwards. Obtain one from {@link ModelFiles#open(Path)}.
 *
 * @param scheduleSource where {@code schedule} came from, for people (e.g. "the file's alphas_cumprod (f32, 1000 steps)")
 */
public record Checkpoint(Path path, ModelSpec spec, StateDict tensors, ModelReport report, DiffusionSchedule schedule,
                         String scheduleSource) implements AutoCloseable {
    /** What {@link #scheduleSource()} says when the file has no usable {@code alphas_cumprod}. */
    public static final String DEFAULT_SCHEDULE = "SD's scaled-linear betas 0.00085..0.012 (float64)";

    public Checkpoint {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(tensors, "tensors");
        Objects.requireNonNull(report, "report");
        Objects.requireNonNull(schedule, "schedule");
        Objects.requireNonNull(scheduleSource, "scheduleSource");
    }

    /** A checkpoint on Stable Diffusion's standard schedule. */
    public Checkpoint(Path path, ModelSpec spec, StateDict tensors, ModelReport report) {
        this(path, spec, tensors, report, DiffusionSchedule.stableDiffusion(), DEFAULT_SCHEDULE);
    }

    public ModelFormat format() {
        return report.format();
    }

    /** Whether {@link #close()} has run. */
    public boolean isClosed() {
        return tensors.isClosed();
    }

    @Override
    public void close() {
        tensors.close();
    }
}
