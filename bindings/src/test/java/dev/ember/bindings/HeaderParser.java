package dev.ember.bindings;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A small parser of ember.h, written separately from scripts/gen-bindings.py, so that the test
 * compares the bindings with the header rather than the generator with itself.
 */
final class HeaderParser {
    record Function(String name, String returnType, List<String> parameterTypes) {}

    record Field(String name, String type, int arrayLength) {}

    private static final Pattern FUNCTION = Pattern.compile("EMBER_API\\s+([^;(]+?)\\s*(\\w+)\\s*\\(([^)]*)\\)\\s*;");
    private static final Pattern STRUCT = Pattern.compile("typedef struct (\\w+)\\s*\\{(.*?)}\\s*(\\w+)\\s*;", Pattern.DOTALL);
    private static final Pattern DEFINE = Pattern.compile("(?m)^#define\\s+(EMBER_[A-Z0-9_]+)\\s+(-?\\d+)\\s*$");

    final List<Function> functions = new ArrayList<>();
    final Map<String, List<Field>> structs = new LinkedHashMap<>();
    final Map<String, Integer> constants = new LinkedHashMap<>();

    HeaderParser(String source) {
        String text = source.replaceAll("(?s)/\\*.*?\\*/", "").replaceAll("//[^\\n]*", "");
        Matcher f = FUNCTION.matcher(text);
        while (f.find()) {
            List<String> params = new ArrayList<>();
            String list = f.group(3).trim();
            if (!list.equals("void")) {
                for (String p : list.split(",")) {
                    String decl = p.trim().replaceAll("\\s+", " ");
                    params.add(decl.substring(0, decl.lastIndexOf(' ')).trim());
                }
            }
            functions.add(new Function(f.group(2), f.group(1).trim(), params));
        }
        Matcher s = STRUCT.matcher(text);
        while (s.find()) {
            List<Field> fields = new ArrayList<>();
            for (String decl : s.group(2).split(";")) {
                String d = decl.trim().replaceAll("\\s+", " ");
                if (d.isEmpty()) continue;
                int length = 0;
                if (d.endsWith("]")) {
                    length = Integer.parseInt(d.substring(d.indexOf('[') + 1, d.length() - 1));
                    d = d.substring(0, d.indexOf('['));
                }
                int split = Math.max(d.lastIndexOf(' '), d.lastIndexOf('*'));
                fields.add(new Field(d.substring(split + 1), d.substring(0, split + 1).trim(), length));
            }
            structs.put(s.group(3), fields);
        }
        Matcher c = DEFINE.matcher(text);
        while (c.find()) constants.put(c.group(1), Integer.parseInt(c.group(2)));
    }

    /** The layout a C type must have in the bindings (null for void). */
    static MemoryLayout layoutOf(String cType) {
        String t = cType.replace("const ", "").trim();
        if (t.contains("*")) return ValueLayout.ADDRESS;
        return switch (t) {
            case "void" -> null;
            case "int32_t", "uint32_t" -> ValueLayout.JAVA_INT;
            case "int64_t", "uint64_t" -> ValueLayout.JAVA_LONG;
            case "float" -> ValueLayout.JAVA_FLOAT;
            case "double" -> ValueLayout.JAVA_DOUBLE;
            case "char" -> ValueLayout.JAVA_BYTE;
            default -> throw new IllegalArgumentException("type not allowed in ember.h: " + cType);
        };
    }

    /** Strips names and target layouts, which do not change the native call. */
    static MemoryLayout plain(MemoryLayout layout) {
        if (layout instanceof AddressLayout) return ValueLayout.ADDRESS;
        return layout.withoutName();
    }
}
