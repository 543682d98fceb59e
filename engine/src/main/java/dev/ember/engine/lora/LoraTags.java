package dev.ember.engine.lora;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A1111's LoRA prompt syntax: {@code <lora:NAME>} or {@code <lora:NAME:WEIGHT>} anywhere in a prompt (weight 1
 * when left out). The tags are cut out of the text before it is tokenised, as A1111 does; the rest of the
 * text is left as it was. A1111's separate text-encoder / UNet multipliers ({@code <lora:NAME:TE:UNET>}) are
 * refused rather than half-applied.
 */
public final class LoraTags {
    private static final Pattern TAG = Pattern.compile("<lora:([^>]*)>");

    private LoraTags() {}

    /** A tag: the LoRA's name and weight. */
    public record Tag(String name, double weight) {}

    /** A prompt with its tags cut out, and the tags in order. */
    public record Parsed(String text, List<Tag> tags) {}

    /**
     * Cuts the LoRA tags out of {@code prompt}.
     *
     * @throws IllegalArgumentException for a tag without a name, with a weight that is not a number, or with more
     *     than one weight
     */
    public static Parsed parse(String prompt) {
        Matcher m = TAG.matcher(prompt);
        List<Tag> tags = new ArrayList<>();
        StringBuilder text = new StringBuilder();
        while (m.find()) {
            String[] items = m.group(1).split(":", -1);
            String name = items[0].strip();
            if (name.isEmpty()) throw new IllegalArgumentException("LoRA tag " + m.group() + " has no name");
            if (items.length > 2) {
                throw new IllegalArgumentException("LoRA tag " + m.group() + ": separate text-encoder and UNet weights are not supported; "
                        + "write <lora:" + name + ":WEIGHT>");
            }
            double weight = 1;
            if (items.length == 2) {
                try {
                    weight = Double.parseDouble(items[1].strip());
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("LoRA tag " + m.group() + ": weight '" + items[1] + "' is not a number");
                }
            }
            tags.add(new Tag(name, weight));
            m.appendReplacement(text, "");
        }
        m.appendTail(text);
        return new Parsed(text.toString(), tags);
    }
}
