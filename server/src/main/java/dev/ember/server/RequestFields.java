package dev.ember.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Typed reading of a JSON request object, as lenient as the pydantic models A1111 and OpenAI's API use: a
 * number may come as a JSON string ({@code "20"}), an integer as an integral float ({@code 20.0}), a missing or
 * null field takes its default. Anything else (text where a number belongs, 20.5 steps, a value out of range)
 * is an {@link ApiException} (422) naming the field. Field names are given with their path prefix
 * ({@code override_settings.sd_model_checkpoint}) for nested objects.
 */
final class RequestFields {
    private final ObjectNode node;
    private final String prefix;

    RequestFields(ObjectNode node, String prefix) {
        this.node = node;
        this.prefix = prefix;
    }

    /** The fields of a request body; 422 when it is not a JSON object. */
    static RequestFields of(JsonNode body) {
        if (!(body instanceof ObjectNode object)) throw ApiException.invalid("body", "must be a JSON object");
        return new RequestFields(object, "");
    }

    private String name(String field) {
        return prefix + field;
    }

    /** Whether the field is there and not null. */
    boolean has(String field) {
        JsonNode v = node.get(field);
        return v != null && !v.isNull();
    }

    String string(String field, String fallback) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) return fallback;
        if (!v.isTextual()) throw ApiException.invalid(name(field), "must be a string, got " + kind(v));
        return v.asText();
    }

    long integer(String field, long fallback, long min, long max) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) return fallback;
        BigDecimal d = number(field, v);
        BigInteger i;
        try {
            i = d.toBigIntegerExact();
        } catch (ArithmeticException e) {
            throw ApiException.invalid(name(field), "must be a whole number, got " + v.asText());
        }
        if (i.compareTo(BigInteger.valueOf(min)) < 0 || i.compareTo(BigInteger.valueOf(max)) > 0) {
            throw ApiException.invalid(name(field), "must be between " + min + " and " + max + ", got " + i);
        }
        return i.longValueExact();
    }

    int integer(String field, int fallback, int min, int max) {
        return (int) integer(field, (long) fallback, min, max);
    }

    double decimal(String field, double fallback, double min, double max) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) return fallback;
        double d = number(field, v).doubleValue();
        if (!(d >= min && d <= max)) throw ApiException.invalid(name(field), "must be between " + min + " and " + max + ", got " + d);
        return d;
    }

    boolean bool(String field, boolean fallback) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) return fallback;
        if (v.isBoolean()) return v.asBoolean();
        if (v.isIntegralNumber() && (v.asInt() == 0 || v.asInt() == 1)) return v.asInt() == 1;
        if (v.isTextual()) {
            switch (v.asText().strip().toLowerCase(Locale.ROOT)) {
                case "true", "1", "yes", "on" -> { return true; }
                case "false", "0", "no", "off" -> { return false; }
                default -> { }
            }
        }
        throw ApiException.invalid(name(field), "must be true or false, got " + v);
    }

    /** A nested object's fields (empty when missing or null). */
    RequestFields object(String field) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) return new RequestFields(node.objectNode(), name(field) + ".");
        if (!(v instanceof ObjectNode o)) throw ApiException.invalid(name(field), "must be an object, got " + kind(v));
        return new RequestFields(o, name(field) + ".");
    }

    /** A list of strings (empty when missing or null). */
    List<String> strings(String field) {
        JsonNode v = node.get(field);
        List<String> out = new ArrayList<>();
        if (v == null || v.isNull()) return out;
        if (!v.isArray()) throw ApiException.invalid(name(field), "must be a list, got " + kind(v));
        for (int i = 0; i < v.size(); i++) {
            JsonNode item = v.get(i);
            if (!item.isTextual()) throw ApiException.invalid(name(field) + "[" + i + "]", "must be a string, got " + kind(item));
            out.add(item.asText());
        }
        return out;
    }

    /** A number, given as a JSON number or a numeric string. */
    private BigDecimal number(String field, JsonNode v) {
        if (v.isNumber()) return v.decimalValue();
        if (v.isTextual()) {
            try {
                return new BigDecimal(v.asText().strip());
            } catch (NumberFormatException e) {
                throw ApiException.invalid(name(field), "must be a number, got \"" + abbreviate(v.asText()) + "\"");
            }
        }
        throw ApiException.invalid(name(field), "must be a number, got " + kind(v));
    }

    private static String kind(JsonNode v) {
        if (v.isObject()) return "an object";
        if (v.isArray()) return "a list";
        if (v.isTextual()) return "\"" + abbreviate(v.asText()) + "\"";
        return v.toString();
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 37) + "...";
    }
}
