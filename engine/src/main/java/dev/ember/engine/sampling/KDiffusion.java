package dev.ember.engine.sampling;

/**
 * k-diffusion's model wrappers ({@code CompVisDenoiser}, {@code CompVisVDenoiser}): scale the input by
 * {@code c_in}, give the network the timestep that {@link DiffusionSchedule#sigmaToT} assigns to the
 * sigma, and turn its output into a denoised estimate.
 */
public final class KDiffusion {

    private KDiffusion() {
    }

    /** A {@link Denoiser} over a raw network trained on {@code schedule} with the given prediction type. */
    public static Denoiser denoiser(NetworkFunction network, Prediction prediction, DiffusionSchedule schedule) {
        return (x, sigma) -> {
            double cIn = Prediction.cIn(sigma);
            float[] scaled = new float[x.length];
            for (int i = 0; i < x.length; i++) scaled[i] = (float) (x[i] * cIn);
            float[] output = network.apply(scaled, schedule.sigmaToT(sigma));
            return prediction.toDenoised(x, output, sigma);
        };
    }
}
