package dev.ember.bindings;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.SequenceLayout;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Every function, struct and constant of ember.h has a binding of the same shape, and nothing extra. */
class BindingsMatchHeaderTest {
    private static HeaderParser header;

    @BeforeAll
    static void parseHeader() throws Exception {
        String path = System.getProperty("ember.header");
        assertNotNull(path, "the build passes -Dember.header");
        header = new HeaderParser(Files.readString(Path.of(path)));
        assertTrue(header.functions.size() >= 20, "parsed " + header.functions.size() + " functions");
    }

    @Test
    void everyFunctionHasABindingWithTheSameSignature() throws Exception {
        List<String> problems = new ArrayList<>();
        for (HeaderParser.Function f : header.functions) {
            Method descriptor;
            try {
                descriptor = ember_h.class.getMethod(f.name() + "$descriptor");
            } catch (NoSuchMethodException e) {
                problems.add(f.name() + ": no binding");
                continue;
            }
            FunctionDescriptor actual = (FunctionDescriptor) descriptor.invoke(null);
            MemoryLayout expectedReturn = HeaderParser.layoutOf(f.returnType());
            assertEquals(expectedReturn == null, actual.returnLayout().isEmpty(), f.name() + " return");
            if (expectedReturn != null && !expectedReturn.equals(HeaderParser.plain(actual.returnLayout().get()))) {
                problems.add(f.name() + ": returns " + actual.returnLayout().get() + ", header says " + f.returnType());
            }
            List<MemoryLayout> expectedArgs = f.parameterTypes().stream().map(HeaderParser::layoutOf).toList();
            List<MemoryLayout> actualArgs = actual.argumentLayouts().stream().map(HeaderParser::plain).toList();
            if (!expectedArgs.equals(actualArgs)) {
                problems.add(f.name() + ": arguments " + actualArgs + ", header says " + f.parameterTypes());
            }
            // The Java wrapper takes one parameter per C parameter.
            long wrappers = Arrays.stream(ember_h.class.getMethods())
                    .filter(m -> m.getName().equals(f.name()) && m.getParameterCount() == f.parameterTypes().size())
                    .count();
            if (wrappers != 1) problems.add(f.name() + ": " + wrappers + " wrapper methods of the right arity");
        }
        assertTrue(problems.isEmpty(), String.join("\n", problems));
    }

    @Test
    void noBindingWithoutAFunctionInTheHeader() {
        List<String> names = header.functions.stream().map(HeaderParser.Function::name).toList();
        List<String> extra = Arrays.stream(ember_h.class.getMethods())
                .map(Method::getName)
                .filter(n -> n.endsWith("$descriptor"))
                .map(n -> n.substring(0, n.length() - "$descriptor".length()))
                .filter(n -> !names.contains(n))
                .toList();
        assertTrue(extra.isEmpty(), "bindings for functions not in ember.h: " + extra);
    }

    @Test
    void everyStructHasTheSameFieldsOffsetsAndSize() throws Exception {
        assertFalse(header.structs.isEmpty());
        for (var entry : header.structs.entrySet()) {
            Class<?> type = Class.forName("dev.ember.bindings." + entry.getKey());
            GroupLayout layout = (GroupLayout) type.getMethod("layout").invoke(null);
            long offset = 0, maxAlign = 1;
            for (HeaderParser.Field field : entry.getValue()) {
                MemoryLayout element = HeaderParser.layoutOf(field.type());
                long size = element.byteSize() * Math.max(1, field.arrayLength());
                long align = element.byteAlignment();
                maxAlign = Math.max(maxAlign, align);
                offset = (offset + align - 1) / align * align;
                String where = entry.getKey() + "." + field.name();
                assertEquals(offset, layout.byteOffset(MemoryLayout.PathElement.groupElement(field.name())), where + " offset");
                MemoryLayout actual = layout.select(MemoryLayout.PathElement.groupElement(field.name()));
                if (field.arrayLength() > 0) {
                    SequenceLayout seq = (SequenceLayout) actual;
                    assertEquals(field.arrayLength(), seq.elementCount(), where + " length");
                    assertEquals(element, HeaderParser.plain(seq.elementLayout()), where + " element type");
                } else {
                    assertEquals(element, HeaderParser.plain(actual), where + " type");
                }
                offset += size;
            }
            long size = (offset + maxAlign - 1) / maxAlign * maxAlign;
            assertEquals(size, layout.byteSize(), entry.getKey() + " size");
        }
    }

    @Test
    void everyConstantHasTheSameValue() throws Exception {
        assertFalse(header.constants.isEmpty());
        for (var c : header.constants.entrySet()) {
            Method m = ember_h.class.getMethod(c.getKey());
            assertEquals(c.getValue(), m.invoke(null), c.getKey());
        }
    }
}
