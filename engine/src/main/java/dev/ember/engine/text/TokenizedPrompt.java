package dev.ember.engine.text;

import java.util.Arrays;

/**
 * One prompt as the text encoder sees it: exactly {@link ClipTokenizer#CONTEXT_LENGTH} ids
 * (start-of-text, content, end-of-text, padding).
 *
 * @param ids           the 77 token ids
 * @param contentLength how many content tokens made it in (0 to 75), not counting start/end tokens
 * @param droppedTokens how many content tokens did not fit and were cut off the end
 * @param droppedText   the decoded text of the cut-off tokens, empty when nothing was cut
 */
public record TokenizedPrompt(int[] ids, int contentLength, int droppedTokens, String droppedText) {

    public TokenizedPrompt {
        if (ids == null || ids.length != ClipTokenizer.CONTEXT_LENGTH) {
            throw new IllegalArgumentException("a tokenized prompt has exactly " + ClipTokenizer.CONTEXT_LENGTH + " ids");
        }
        if (contentLength < 0 || contentLength > ClipTokenizer.MAX_CONTENT_TOKENS) {
            throw new IllegalArgumentException("contentLength " + contentLength + " outside 0.." + ClipTokenizer.MAX_CONTENT_TOKENS);
        }
        if (droppedTokens < 0) throw new IllegalArgumentException("droppedTokens must not be negative");
        if (droppedText == null) throw new IllegalArgumentException("droppedText must not be null");
        ids = ids.clone();
    }

    @Override
    public int[] ids() {
        return ids.clone();
    }

    /** Whether the prompt was longer than 75 tokens and lost its tail. */
    public boolean truncated() {
        return droppedTokens > 0;
    }

    /** A user-facing warning for a truncated prompt, or an empty string when nothing was cut. */
    public String warning() {
        if (!truncated()) return "";
        return "prompt is longer than " + ClipTokenizer.MAX_CONTENT_TOKENS + " tokens; " + droppedTokens
                + " token(s) were dropped: \"" + droppedText + "\"";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TokenizedPrompt t && Arrays.equals(ids, t.ids) && contentLength == t.contentLength
                && droppedTokens == t.droppedTokens && droppedText.equals(t.droppedText);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(ids) + droppedTokens;
    }

    @Override
    public String toString() {
        return "TokenizedPrompt[ids=" + Arrays.toString(ids) + ", contentLength=" + contentLength
                + ", droppedTokens=" + droppedTokens + "]";
    }
}
