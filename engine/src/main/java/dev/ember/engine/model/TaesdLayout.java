package dev.ember.engine.model;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * TAESD's tensors under diffusers {@code AutoencoderTiny}'s names ({@code encoder.layers.<i>.},
 * {@code decoder.layers.<i>.}), the canonical ones for TAESD (native/src/taesd.cpp has the structure).
 * madebyollin's own {@code taesd_decoder} files number the decoder's layers one higher (their layer 0 is
 * the input clamp); {@link TaesdFiles} maps them.
 */
public final class TaesdLayout {
    public static final String ENCODER_PREFIX = "encoder.layers.";
    public static final String DECODER_PREFIX = "decoder.layers.";
    /** Index of the decoder's last convolution (the encoder's last is {@link #ENCODER_LAST}). */
    public static final int DECODER_LAST = 18;
    public static final int ENCODER_LAST = 14;

    private TaesdLayout() {}

    public static List<TensorSpec> encoder(TaesdConfig c) {
        List<TensorSpec> s = new ArrayList<>();
        conv(s, ENCODER_PREFIX + 0, c.channels(), c.imageChannels(), true);
        block(s, ENCODER_PREFIX + 1, c.channels());
        for (int level = 0; level < 3; level++) {
            int first = 2 + 4 * level;
            conv(s, ENCODER_PREFIX + first, c.channels(), c.channels(), false); // stride 2
            for (int b = 1; b <= 3; b++) block(s, ENCODER_PREFIX + (first + b), c.channels());
        }
        conv(s, ENCODER_PREFIX + ENCODER_LAST, c.latentChannels(), c.channels(), true);
        return Collections.unmodifiableList(s);
    }

    public static List<TensorSpec> decoder(TaesdConfig c) {
        List<TensorSpec> s = new ArrayList<>();
        conv(s, DECODER_PREFIX + 0, c.channels(), c.latentChannels(), true);
        for (int level = 0; level < 3; level++) {
            int first = 2 + 5 * level;
            for (int b = 0; b < 3; b++) block(s, DECODER_PREFIX + (first + b), c.channels());
            conv(s, DECODER_PREFIX + (first + 4), c.channels(), c.channels(), false); // after the 2x upsample at first + 3
        }
        block(s, DECODER_PREFIX + 17, c.channels());
        conv(s, DECODER_PREFIX + DECODER_LAST, c.imageChannels(), c.channels(), true);
        return Collections.unmodifiableList(s);
    }

    /** Both halves, encoder first. */
    public static List<TensorSpec> all(TaesdConfig c) {
        List<TensorSpec> s = new ArrayList<>(encoder(c));
        s.addAll(decoder(c));
        return Collections.unmodifiableList(s);
    }

    private static void conv(List<TensorSpec> s, String name, long out, long in, boolean bias) {
        s.add(new TensorSpec(name + ".weight", new long[] {out, in, 3, 3}, TensorSpec.Kind.WEIGHT));
        if (bias) s.add(new TensorSpec(name + ".bias", new long[] {out}, TensorSpec.Kind.BIAS));
    }

    private static void block(List<TensorSpec> s, String name, long ch) {
        for (String c : new String[] {".conv.0", ".conv.2", ".conv.4"}) conv(s, name + c, ch, ch, true);
    }
}
