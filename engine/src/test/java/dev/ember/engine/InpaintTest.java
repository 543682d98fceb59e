package dev.ember.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ember.engine.image.RgbImage;
import dev.ember.engine.nn.Vae;
import dev.ember.engine.pipeline.ImageTensors;
import dev.ember.engine.pipeline.ModelInternals;
import dev.ember.engine.pipeline.OnDemand;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Inpainting with the tiny model, end to end: kept pixels are exactly the init image's, masked ones change;
 * the listener's latents outside the mask are the init latent noised to each step's sigma (computed here from
 * the encoder's moments and the seed's noise); the fill modes' start latents; a mask that repaints nothing or
 * everything.
 */
class InpaintTest {
    private static final int SIDE = 64, LS = 8, PLANE = LS * LS, N = 4 * PLANE;
    private static final double SCALE = 0.18215;
    private static StableDiffusion sd;
    private static RgbImage init;
    private static float[] initLatent;

    @BeforeAll
    static void load() {
        sd = StableDiffusion.load(TinyModels.tinySafetensors(), ModelOptions.defaults().withThreads(2));
        init = sd.generate(GenerationRequest.builder("init").size(SIDE, SIDE).steps(2).seed(3).build(), StepListener.NONE)
                .images().getFirst().image();
        try (OnDemand.Lease<Vae> vae = ModelInternals.vaeEncoder(sd)) {
            float[] moments = vae.get().encode(ImageTensors.toTensor(init), 1, SIDE, SIDE);
            initLatent = new float[N];
            for (int i = 0; i < N; i++) initLatent[i] = (float) (moments[i] * SCALE);
        }
    }

    @AfterAll
    static void close() {
        sd.close();
    }

    /** White (repaint) where x >= split, black elsewhere. */
    static RgbImage rightOf(int split) {
        byte[] rgb = new byte[SIDE * SIDE * 3];
        for (int p = 0; p < SIDE * SIDE; p++) if (p % SIDE >= split) rgb[p * 3] = rgb[p * 3 + 1] = rgb[p * 3 + 2] = (byte) 255;
        return new RgbImage(SIDE, SIDE, rgb);
    }

    private static GenerationRequest.Builder inpaint(Inpaint settings) {
        return GenerationRequest.builder("a cat").size(SIDE, SIDE).steps(6).seed(11).cfgScale(3).initImage(init).strength(0.8)
                .sampler(dev.ember.engine.sampling.Sampler.EULER).inpaint(settings);
    }

    private static RgbImage run(GenerationRequest request) {
        return sd.generate(request, StepListener.NONE).images().getFirst().image();
    }

    @Test
    void hardMaskKeepsEveryOtherPixelExactly() {
        RgbImage out = run(inpaint(Inpaint.of(rightOf(32)).withBlur(0)).build());
        int changed = 0;
        for (int y = 0; y < SIDE; y++) for (int x = 0; x < SIDE; x++) {
            if (x < 32) assertEquals(init.pixel(x, y), out.pixel(x, y), "kept pixel (" + x + ", " + y + ")");
            else if (init.pixel(x, y) != out.pixel(x, y)) changed++;
        }
        assertTrue(changed > SIDE * 32 / 2, "most masked pixels change: " + changed);
    }

    @Test
    void blurredMaskKeepsPixelsBeyondTheBlurExactly() {
        RgbImage out = run(inpaint(Inpaint.of(rightOf(40))).build()); // blur 4: 21 taps, reach 10 pixels
        int edge = 0;
        for (int y = 0; y < SIDE; y++) {
            for (int x = 0; x < 30; x++) assertEquals(init.pixel(x, y), out.pixel(x, y), "(" + x + ", " + y + ")");
            for (int x = 34; x < 40; x++) if (init.pixel(x, y) != out.pixel(x, y)) edge++;
        }
        assertTrue(edge > 0, "inside the blur's reach, outside the mask, pixels blend");
    }

    @Test
    void listenerSeesTheInitLatentNoisedToEachSigmaOutsideTheMask() {
        GenerationRequest request = inpaint(Inpaint.of(rightOf(32)).withBlur(0)).build();
        float[] eps = request.noise().generator(request.seed()).next(N);
        List<float[]> latents = new ArrayList<>();
        List<Double> sigmas = new ArrayList<>();
        sd.generate(request, e -> {
            latents.add(e.latent().toArray(ValueLayout.JAVA_FLOAT));
            sigmas.add(e.sigma());
            return StepListener.Action.CONTINUE;
        });
        assertEquals(request.stepsToRun() + 1, latents.size());
        for (int k = 0; k < latents.size(); k++) {
            float[] x = latents.get(k);
            double sigma = sigmas.get(k);
            int differs = 0;
            for (int i = 0; i < N; i++) {
                double expected = initLatent[i] + sigma * eps[i];
                if (i % LS < 4) assertEquals(expected, x[i], 1e-4 * Math.max(1, Math.abs(expected)), "step " + k + " kept element " + i);
                else if (Math.abs(x[i] - expected) > 1e-3) differs++;
            }
            if (k > 0) assertTrue(differs > 0, "step " + k + ": the masked half follows the model");
        }
        assertEquals(0, sigmas.getLast(), 0);
    }

    @Test
    void startLatentPerFillMode() {
        for (InpaintFill fill : InpaintFill.values()) {
            // noise multiplier 0.5: the start latent gets half the noise, masked or not
            GenerationRequest request = inpaint(Inpaint.of(rightOf(32)).withBlur(0).withFill(fill).withNoiseMultiplier(0.5)).build();
            float[] eps = request.noise().generator(request.seed()).next(N);
            Start start = start(request);
            float[] x = start.latent();
            double s = start.sigma();
            for (int i = 0; i < N; i++) {
                boolean masked = i % LS >= 4;
                double clean = !masked || fill == InpaintFill.ORIGINAL || fill == InpaintFill.FILL ? initLatent[i]
                        : fill == InpaintFill.LATENT_NOISE ? eps[i] : 0;
                double expected = clean + 0.5 * s * eps[i];
                // Every mode but original encodes the filled picture (A1111's masking.fill for inpainting_fill != 1), whose
                // latent differs from the original's everywhere (checked below); the latent modes then set the masked part.
                boolean known = fill == InpaintFill.ORIGINAL || masked && fill != InpaintFill.FILL;
                if (known) assertEquals(expected, x[i], 1e-4 * Math.max(1, Math.abs(expected)), fill + " element " + i);
            }
        }
        // fill: the masked part is encoded from the filled picture, so it differs from the original's latent there.
        float[] filled = start(inpaint(Inpaint.of(rightOf(32)).withBlur(0).withFill(InpaintFill.FILL)).build()).latent();
        float[] original = start(inpaint(Inpaint.of(rightOf(32)).withBlur(0).withFill(InpaintFill.ORIGINAL)).build()).latent();
        assertFalse(java.util.Arrays.equals(filled, original));
    }

    /** The listener's step 0 (the start latent) and its sigma; the run is cancelled there. */
    private record Start(float[] latent, double sigma) {}

    private static Start start(GenerationRequest request) {
        Start[] out = new Start[1];
        try {
            sd.generate(request, e -> {
                out[0] = new Start(e.latent().toArray(ValueLayout.JAVA_FLOAT), e.sigma());
                return StepListener.Action.CANCEL;
            });
        } catch (GenerationCancelledException expected) {
            // cancelled at step 0 on purpose
        }
        return out[0];
    }

    @Test
    void invertedMaskEqualsTheComplementaryMask() {
        RgbImage a = run(inpaint(Inpaint.of(rightOf(32)).withInvert(true)).build());
        byte[] left = rightOf(32).rgb();
        for (int i = 0; i < left.length; i++) left[i] = (byte) (255 - (left[i] & 0xff));
        RgbImage b = run(inpaint(Inpaint.of(new RgbImage(SIDE, SIDE, left))).build());
        assertEquals(a, b);
        assertEquals(init.pixel(63, 5), a.pixel(63, 5));
    }

    @Test
    void emptyMaskIsRefusedAndAllWhiteIsPlainImg2Img() {
        var e = assertThrows(IllegalArgumentException.class, () -> Inpaint.of(rightOf(SIDE)));
        assertTrue(e.getMessage().contains("nothing to inpaint"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Inpaint.of(rightOf(0)).withInvert(true));
        List<String> warnings = new ArrayList<>();
        RgbImage all = sd.generate(inpaint(Inpaint.of(rightOf(0))).build(), StepListener.NONE, warnings::add).images().getFirst().image();
        assertTrue(warnings.stream().anyMatch(w -> w.contains("plain img2img")), warnings.toString());
        assertEquals(run(inpaint(null).build()), all);
        assertThrows(IllegalArgumentException.class, () -> GenerationRequest.builder("x").inpaint(Inpaint.of(rightOf(0))).build());
    }

    /** Only masked (A1111's inpaint_full_res): the masked region plus padding at the working size, pasted back into the full picture. */
    @Test
    void onlyMaskedInpaintsTheRegionAndKeepsTheRest() {
        RgbImage big = sd.generate(GenerationRequest.builder("big").size(128, 96).steps(2).seed(8).build(), StepListener.NONE)
                .images().getFirst().image();
        byte[] m = new byte[128 * 96 * 3];
        for (int y = 40; y < 56; y++) for (int x = 80; x < 96; x++) for (int c = 0; c < 3; c++) m[(y * 128 + x) * 3 + c] = (byte) 255;
        Inpaint settings = Inpaint.of(new RgbImage(128, 96, m)).withBlur(2).withOnlyMasked(true, 8);
        RgbImage out = run(GenerationRequest.builder("a window").size(SIDE, SIDE).steps(4).seed(2).initImage(big).strength(0.9)
                .inpaint(settings).build());
        assertEquals(128, out.width());
        assertEquals(96, out.height());
        int changed = 0;
        for (int y = 0; y < 96; y++) for (int x = 0; x < 128; x++) {
            boolean nearMask = x >= 80 - 5 && x < 96 + 5 && y >= 40 - 5 && y < 56 + 5; // blur 2: 11 taps, reach 5
            if (!nearMask) assertEquals(big.pixel(x, y), out.pixel(x, y), "(" + x + ", " + y + ")");
            else if (x >= 82 && x < 94 && y >= 42 && y < 54 && big.pixel(x, y) != out.pixel(x, y)) changed++;
        }
        assertTrue(changed > 100, "the masked square is repainted: " + changed);
    }

    @Test
    void differentMasksGiveDifferentPictures() {
        assertNotEquals(run(inpaint(Inpaint.of(rightOf(32))).build()), run(inpaint(Inpaint.of(rightOf(16))).build()));
    }
}
