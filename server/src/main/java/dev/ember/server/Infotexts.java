package dev.ember.server;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads A1111's infotext back into fields, as {@code parse_generation_parameters} does for {@code png-info}:
 * {@code Prompt}, {@code Negative prompt}, then every {@code Key: value} of the last line (JSON-quoted values
 * unquoted), and {@code Size-1}/{@code Size-2} split from {@code Size}. Values stay strings, as in A1111.
 */
final class Infotexts {
    /** A1111's {@code re_param}: {@code key: value} where value is a quoted string or runs to the next comma. */
    private static final Pattern PARAM = Pattern.compile("\\s*(\\w[\\w \\-/]+):\\s*(\"(?:\\\\.|[^\\\\\"])+\"|[^,]*)(?:,|$)");
    private static final Pattern SIZE = Pattern.compile("^(\\d+)x(\\d+)$");

    private Infotexts() {}

    static Map<String, Object> parse(String text) {
        Map<String, Object> out = new LinkedHashMap<>();
        if (text == null || text.isBlank()) return out;
        String[] lines = text.strip().split("\n", -1);
        String last = lines[lines.length - 1].strip();
        int promptLines = lines.length;
        Matcher all = PARAM.matcher(last);
        int count = 0;
        while (all.find()) count++;
        if (count >= 3) promptLines--; // A1111: the last line holds the parameters when it has at least 3 of them
        else last = "";
        StringBuilder prompt = new StringBuilder(), negative = new StringBuilder();
        boolean inNegative = false;
        for (int i = 0; i < promptLines; i++) {
            String line = lines[i].strip();
            if (line.startsWith("Negative prompt:")) {
                inNegative = true;
                line = line.substring("Negative prompt:".length()).strip();
            }
            StringBuilder target = inNegative ? negative : prompt;
            if (!target.isEmpty()) target.append('\n');
            target.append(line);
        }
        out.put("Prompt", prompt.toString());
        out.put("Negative prompt", negative.toString());
        Matcher m = PARAM.matcher(last);
        while (m.find()) {
            String key = m.group(1).strip(), value = m.group(2).strip();
            if (value.length() >= 2 && value.startsWith("\"") && value.endsWith("\"")) value = unquote(value);
            out.put(key, value);
            Matcher size = SIZE.matcher(value);
            if (key.equals("Size") && size.matches()) {
                out.put("Size-1", size.group(1));
                out.put("Size-2", size.group(2));
            }
        }
        return out;
    }

    private static String unquote(String quoted) {
        try {
            return Json.MAPPER.readValue(quoted, String.class);
        } catch (java.io.IOException e) {
            return quoted;
        }
    }
}
