package dev.ember.spark;

import java.math.BigDecimal;
import java.util.Locale;

/**
 * A table cell as the value a request needs. Tables type their columns differently (JSON gives longs and
 * doubles, CSV text, Parquet whatever was written), so numbers are accepted as numbers or as text; a
 * value that is neither gives a one-line error naming the column. Null and blank text mean "not given".
 */
final class Cells {
    private Cells() {}

    static String text(Object cell, String column) {
        if (cell == null) return null;
        if (cell instanceof String s) return s;
        if (cell instanceof Number || cell instanceof Boolean) return cell.toString();
        throw new IllegalArgumentException(column + " must be text, got " + describe(cell));
    }

    /** Text with surrounding blanks removed, null when blank (names such as a sampler). */
    static String name(Object cell, String column) {
        String s = text(cell, column);
        return s == null || s.isBlank() ? null : s.strip();
    }

    static Long whole(Object cell, String column) {
        if (cell == null) return null;
        if (cell instanceof Byte || cell instanceof Short || cell instanceof Integer || cell instanceof Long) {
            return ((Number) cell).longValue();
        }
        if (cell instanceof Number n) {
            BigDecimal d = decimal(n, column);
            try {
                return d.longValueExact();
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException(column + " must be a whole number, got " + n);
            }
        }
        if (cell instanceof String s) {
            if (s.isBlank()) return null;
            try {
                return Long.parseLong(s.strip());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(column + " must be a whole number, got '" + s + "'");
            }
        }
        throw new IllegalArgumentException(column + " must be a whole number, got " + describe(cell));
    }

    static Integer integer(Object cell, String column) {
        Long v = whole(cell, column);
        if (v == null) return null;
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) throw new IllegalArgumentException(column + " is out of range: " + v);
        return v.intValue();
    }

    static Double number(Object cell, String column) {
        if (cell == null) return null;
        if (cell instanceof Number n) return n.doubleValue();
        if (cell instanceof String s) {
            if (s.isBlank()) return null;
            try {
                return Double.parseDouble(s.strip());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(column + " must be a number, got '" + s + "'");
            }
        }
        throw new IllegalArgumentException(column + " must be a number, got " + describe(cell));
    }

    private static BigDecimal decimal(Number n, String column) {
        if (n instanceof BigDecimal d) return d;
        double v = n.doubleValue();
        if (!Double.isFinite(v)) throw new IllegalArgumentException(column + " must be a whole number, got " + n);
        return BigDecimal.valueOf(v);
    }

    private static String describe(Object cell) {
        return cell.getClass().getSimpleName().toLowerCase(Locale.ROOT) + " value";
    }
}
