package dev.ember.cli;

/**
 * Makes text from outside (prompts, PNG metadata, file names, messages that quote them) safe to print on
 * a terminal: control characters (ESC, BEL, CR, ... and the C1 range) and the invisible characters that
 * reorder or hide text (bidirectional overrides such as U+202E, zero-width marks) are shown as
 * {@code \xNN} / {@code \\uNNNN} escapes instead of acting on the terminal. Backslashes stay as they are.
 */
final class Terminal {
    private Terminal() {}

    /** {@code text} with every unsafe character escaped; line breaks too (one line stays one line). */
    static String safe(String text) {
        return escape(text, false);
    }

    /** As {@link #safe}, but keeping {@code \n} (for text printed line by line, such as AUTOMATIC1111's parameters). */
    static String safeLines(String text) {
        return escape(text, true);
    }

    private static String escape(String text, boolean keepNewlines) {
        if (text == null) return null;
        StringBuilder out = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            boolean bad = unsafe(c) && !(keepNewlines && c == '\n');
            if (bad && out == null) out = new StringBuilder(text.length() + 16).append(text, 0, i);
            if (out == null) continue;
            if (!bad) out.append(c);
            else if (c < 0x100) out.append(String.format("\\x%02x", (int) c));
            else out.append(String.format("\\u%04x", (int) c));
        }
        return out == null ? text : out.toString();
    }

    static boolean unsafe(char c) {
        return c < 0x20 && c != '\t' || c >= 0x7f && c <= 0x9f
                || c >= 0x200b && c <= 0x200f   // zero-width space/joiners, LRM, RLM
                || c >= 0x202a && c <= 0x202e   // bidirectional embeddings and overrides
                || c >= 0x2066 && c <= 0x2069   // bidirectional isolates
                || c == 0x061c || c == 0xfeff;  // Arabic letter mark, zero-width no-break space
    }
}
