package dev.ember.engine.text;

/**
 * What fills a prompt's 77 token slots after its end-of-text token. The two CLIP text encoders of
 * Stable Diffusion were trained with different padding, and the pooled/causal outputs depend on it.
 */
public enum PadStyle {
    /** OpenAI CLIP (SD 1.x): pad with {@code <|endoftext|>} (49407). */
    END_OF_TEXT(ClipTokenizer.END_OF_TEXT),
    /** OpenCLIP (SD 2.x): pad with token 0 ({@code "!"}). */
    ZERO(0);

    private final int padId;

    PadStyle(int padId) {
        this.padId = padId;
    }

    /** The token id written into every slot after the end-of-text token. */
    public int padId() {
        return padId;
    }
}
