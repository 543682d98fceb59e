package dev.ember.engine.api;

import java.io.IOException;
import java.io.InputStream;
import java.lang.module.ModuleDescriptor;
import java.lang.reflect.Constructor;
import java.lang.reflect.Executable;
import java.lang.reflect.Field;
import java.lang.reflect.Member;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * The engine's public API as sorted text lines: every public type of the packages its module-info
 * exports (nested public types included), and each public or protected constructor, method and field with
 * its full generic signature. One line per element, so a diff of two listings names each change.
 */
final class ApiListing {
    private ApiListing() {}

    /** The exported packages of the compiled module-info in {@code classes}. */
    static Set<String> exportedPackages(Path classes) throws IOException {
        try (InputStream in = Files.newInputStream(classes.resolve("module-info.class"))) {
            Set<String> out = new TreeSet<>();
            for (ModuleDescriptor.Exports e : ModuleDescriptor.read(in).exports()) {
                if (!e.isQualified()) out.add(e.source());
            }
            return out;
        }
    }

    /** The listing of the classes under {@code classes} (a compiled output folder), loaded by {@code loader}. */
    static List<String> of(Path classes, ClassLoader loader) throws IOException, ClassNotFoundException {
        TreeSet<String> lines = new TreeSet<>();
        for (String pkg : exportedPackages(classes)) {
            Path dir = classes.resolve(pkg.replace('.', '/'));
            List<Path> files;
            try (Stream<Path> s = Files.list(dir)) {
                files = s.filter(p -> p.getFileName().toString().endsWith(".class")).sorted().toList();
            }
            for (Path f : files) {
                String simple = f.getFileName().toString().replaceFirst("\\.class$", "");
                if (simple.contains("$")) continue; // nested types are listed through their outer type
                Class<?> type = Class.forName(pkg + "." + simple, false, loader);
                if (Modifier.isPublic(type.getModifiers())) describe(type, lines);
            }
        }
        return new ArrayList<>(lines);
    }

    /** Whether a line names a type of a package the module does not export (a member clients cannot use). */
    static boolean mentionsInternalType(String line, Set<String> exported) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("dev\\.ember\\.[a-z0-9_.]*[a-z0-9_](?=\\.[A-Z])").matcher(line);
        while (m.find()) {
            if (!exported.contains(m.group())) return true;
        }
        return false;
    }

    private static void describe(Class<?> type, Set<String> lines) {
        String name = type.getTypeName();
        lines.add(name + " : " + header(type));
        for (Field f : type.getDeclaredFields()) {
            if (visible(f)) lines.add(name + " # " + f.toGenericString());
        }
        for (Constructor<?> c : type.getDeclaredConstructors()) {
            if (visible(c) && !c.isSynthetic()) lines.add(name + " # " + c.toGenericString());
        }
        for (Method m : type.getDeclaredMethods()) {
            if (visible(m) && !m.isSynthetic() && !m.isBridge()) lines.add(name + " # " + m.toGenericString());
        }
        for (Class<?> nested : type.getDeclaredClasses()) {
            if (Modifier.isPublic(nested.getModifiers()) || Modifier.isProtected(nested.getModifiers())) describe(nested, lines);
        }
    }

    private static boolean visible(Member m) {
        int mod = m.getModifiers();
        boolean shown = Modifier.isPublic(mod) || Modifier.isProtected(mod);
        // Members of an interface are public; a final class's protected ones cannot be reached.
        return shown && !(Modifier.isProtected(mod) && Modifier.isFinal(m.getDeclaringClass().getModifiers()))
                && !(m instanceof Executable e && e.isSynthetic());
    }

    /** "public final record Foo<T> extends Bar implements Baz" with generic supertypes. */
    private static String header(Class<?> type) {
        String kind = type.isAnnotation() ? "@interface" : type.isInterface() ? "interface" : type.isEnum() ? "enum"
                : type.isRecord() ? "record" : "class";
        int mod = type.getModifiers() & (type.isInterface() ? Modifier.PUBLIC | Modifier.PROTECTED | Modifier.STATIC
                : Modifier.PUBLIC | Modifier.PROTECTED | Modifier.STATIC | Modifier.FINAL | Modifier.ABSTRACT);
        if (type.isEnum() || type.isRecord()) mod &= ~(Modifier.FINAL | Modifier.STATIC);
        StringBuilder s = new StringBuilder(Modifier.toString(mod)).append(' ').append(kind).append(' ').append(type.getSimpleName());
        var params = type.getTypeParameters();
        if (params.length > 0) {
            s.append('<');
            for (int i = 0; i < params.length; i++) s.append(i > 0 ? "," : "").append(params[i].getTypeName());
            s.append('>');
        }
        if (type.isSealed()) {
            s.append(" permits");
            for (Class<?> p : type.getPermittedSubclasses()) s.append(' ').append(p.getTypeName());
        }
        var superclass = type.getGenericSuperclass();
        if (superclass != null && !type.isEnum() && !type.isRecord() && superclass != Object.class) s.append(" extends ").append(superclass.getTypeName());
        var interfaces = type.getGenericInterfaces();
        if (interfaces.length > 0) {
            s.append(type.isInterface() ? " extends" : " implements");
            for (var i : interfaces) s.append(' ').append(i.getTypeName());
        }
        return s.toString().strip();
    }
}
