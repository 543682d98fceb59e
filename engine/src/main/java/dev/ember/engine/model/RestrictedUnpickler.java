package dev.ember.engine.model;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * A pickle reader for PyTorch state dicts that never executes anything. It implements only the
 * opcodes {@code torch.save} emits for dicts of tensors, and resolves only an allow-list of globals
 * to fixed Java behaviour: {@code collections.OrderedDict} (a map), {@code torch._utils._rebuild_tensor_v2}
 * and {@code _rebuild_parameter} (a {@link TensorRef}), {@code torch.*Storage} (an element type),
 * {@code torch.Size} (a tuple), and what old checkpoints' training metadata ({@code global_step},
 * {@code epoch}, callback scores) pickles numpy scalars with: {@code numpy.core.multiarray.scalar}
 * (also {@code numpy._core}, numpy 2's name), {@code numpy.dtype} and {@code _codecs.encode} (protocol 2's
 * spelling of a bytes object), each decoded by Java code (a number, a {@link NumpyScalar} for other
 * dtypes, bytes). Any other global is refused when it is named, with its {@code module.name}.
 *
 * <p>Values: {@code String}, {@code Long}, {@code Double}, {@code Boolean}, {@code null}, {@code byte[]},
 * {@link Tuple}, {@code List}, {@code Map}, {@link TensorRef}, {@link NumpyDtype}, {@link NumpyScalar}.
 */
final class RestrictedUnpickler {
    /** A pickle that cannot be read: bad opcode, forbidden global, truncated data. */
    static final class PickleException extends RuntimeException {
        PickleException(String message) {
            super(message);
        }
    }

    /** A Python tuple (hashable, so it may be a dict key). */
    record Tuple(List<Object> items) {
        Tuple {
            items = java.util.Collections.unmodifiableList(new ArrayList<>(items));
        }
    }

    /** A reference to a storage in the zip: {@code data/<key>}, of {@code dtype} elements. */
    record StorageRef(String key, DType dtype) {}

    /** A tensor: a strided view (offset and strides in elements) of a storage. */
    record TensorRef(StorageRef storage, long offset, long[] size, long[] stride) {}

    /**
     * {@code numpy.dtype(code, align, copy)}: its type code ({@code f8}, {@code i8}, ...) and, once BUILD
     * has given it its state, its byte order ({@code <}, {@code >}, {@code |}, {@code =}). Mutable because
     * BUILD arrives after the object may already be in the memo.
     */
    static final class NumpyDtype {
        final String code;
        String order = "=";

        NumpyDtype(String code) {
            this.code = code;
        }
    }

    /** A numpy scalar of a dtype Ember does not decode, kept as its raw bytes. */
    record NumpyScalar(String dtype, byte[] data) {}

    /** A global the pickle named: only allow-listed ones are ever created. */
    private record Global(String module, String name) {
        String qualified() {
            return module + "." + name;
        }
    }

    static final Map<String, DType> STORAGES = Map.ofEntries(
            Map.entry("FloatStorage", DType.F32), Map.entry("HalfStorage", DType.F16), Map.entry("BFloat16Storage", DType.BF16),
            Map.entry("DoubleStorage", DType.F64), Map.entry("LongStorage", DType.I64), Map.entry("IntStorage", DType.I32),
            Map.entry("ShortStorage", DType.I16), Map.entry("CharStorage", DType.I8), Map.entry("ByteStorage", DType.U8),
            Map.entry("BoolStorage", DType.BOOL));
    private static final Set<String> CALLABLES = Set.of("collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
            "torch._utils._rebuild_tensor", "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state", "torch.Size",
            "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar", "numpy.dtype", "_codecs.encode");

    private static final Object MARK = new Object();

    private final ByteBuffer in;
    private final Function<Tuple, Object> persistentLoad;
    private final List<Object> stack = new ArrayList<>();
    private final List<Integer> marks = new ArrayList<>();
    private final Map<Long, Object> memo = new HashMap<>();

    private RestrictedUnpickler(byte[] data, Function<Tuple, Object> persistentLoad) {
        this.in = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        this.persistentLoad = persistentLoad;
    }

    /** Reads one pickled object; {@code persistentLoad} turns a BINPERSID tuple into a storage. */
    static Object load(byte[] data, Function<Tuple, Object> persistentLoad) {
        try {
            return new RestrictedUnpickler(data, persistentLoad).run();
        } catch (BufferUnderflowException | IndexOutOfBoundsException e) {
            throw new PickleException("pickle is truncated or malformed");
        }
    }

    private Object run() {
        while (true) {
            int op = in.get() & 0xff;
            switch (op) {
                case 0x80 -> in.get(); // PROTO n
                case 0x95 -> in.getLong(); // FRAME: framing is only a read-ahead hint
                case '.' -> { // STOP
                    return pop();
                }
                case '(' -> { marks.add(stack.size()); stack.add(MARK); }
                case '0' -> pop();
                case '1' -> popMark();
                case '2' -> push(peek());
                case 'N' -> push(null);
                case 0x88 -> push(Boolean.TRUE);
                case 0x89 -> push(Boolean.FALSE);
                case 'J' -> push((long) in.getInt());
                case 'K' -> push((long) (in.get() & 0xff));
                case 'M' -> push((long) (in.getShort() & 0xffff));
                case 0x8a -> push(readLong(in.get() & 0xff));
                case 0x8b -> push(readLong(length(in.getInt() & 0xffffffffL)));
                case 'G' -> push(Double.longBitsToDouble(Long.reverseBytes(in.getLong()))); // BINFLOAT is big-endian
                case 'X' -> push(string(length(in.getInt() & 0xffffffffL), StandardCharsets.UTF_8));
                case 0x8c -> push(string(in.get() & 0xff, StandardCharsets.UTF_8));
                case 0x8d -> push(string(length(in.getLong()), StandardCharsets.UTF_8));
                case 'T' -> push(string(length(in.getInt() & 0xffffffffL), StandardCharsets.ISO_8859_1));
                case 'U' -> push(string(in.get() & 0xff, StandardCharsets.ISO_8859_1));
                case 'B' -> push(bytes(length(in.getInt() & 0xffffffffL)));
                case 'C' -> push(bytes(in.get() & 0xff));
                case ')' -> push(new Tuple(List.of()));
                case 't' -> push(new Tuple(popMark()));
                case 0x85 -> push(new Tuple(popN(1)));
                case 0x86 -> push(new Tuple(popN(2)));
                case 0x87 -> push(new Tuple(popN(3)));
                case ']' -> push(new ArrayList<>());
                case 'l' -> push(new ArrayList<>(popMark()));
                case '}' -> push(new LinkedHashMap<>());
                case 'd' -> {
                    Map<Object, Object> m = new LinkedHashMap<>();
                    putAll(m, popMark());
                    push(m);
                }
                case 'a' -> {
                    Object v = pop();
                    list(peek()).add(v);
                }
                case 'e' -> {
                    List<Object> items = popMark();
                    list(peek()).addAll(items);
                }
                case 's' -> {
                    Object v = pop(), k = pop();
                    map(peek()).put(k, v);
                }
                case 'u' -> {
                    List<Object> items = popMark();
                    putAll(map(peek()), items);
                }
                case 'q' -> memo.put((long) (in.get() & 0xff), peek());
                case 'r' -> memo.put(in.getInt() & 0xffffffffL, peek());
                case 0x94 -> memo.put((long) memo.size(), peek());
                case 'h' -> push(memoGet(in.get() & 0xff));
                case 'j' -> push(memoGet(in.getInt() & 0xffffffffL));
                case 'c' -> push(global(line(), line()));
                case 0x93 -> {
                    Object name = pop(), module = pop();
                    if (!(module instanceof String m) || !(name instanceof String n)) throw new PickleException("STACK_GLOBAL needs two strings");
                    push(global(m, n));
                }
                case 'R' -> {
                    Object args = pop(), callable = pop();
                    push(reduce(callable, args));
                }
                case 'b' -> build(pop(), peek());
                case 'Q' -> {
                    Object pid = pop();
                    if (!(pid instanceof Tuple t)) throw new PickleException("persistent id is not a tuple");
                    push(persistentLoad.apply(t));
                }
                default -> throw new PickleException(String.format("unsupported pickle opcode 0x%02x at byte %d", op, in.position() - 1));
            }
        }
    }

    private Object global(String module, String name) {
        String q = module + "." + name;
        if (CALLABLES.contains(q) || (module.equals("torch") && STORAGES.containsKey(name))) return new Global(module, name);
        throw new PickleException("pickle refers to forbidden global " + q + " (only tensors and dicts are allowed)");
    }

    /**
     * BUILD: a numpy dtype takes its byte order from its state tuple {@code (version, order, ...)}; anything
     * else (OrderedDict's {@code _metadata}) is of no use to Ember and left as it is.
     */
    private static void build(Object state, Object target) {
        if (target instanceof NumpyDtype d && state instanceof Tuple t && t.items().size() > 1 && t.items().get(1) instanceof String order) {
            d.order = order;
        }
    }

    /** {@code numpy.core.multiarray.scalar(dtype, data)}: the value the bytes hold, for the plain numeric dtypes. */
    private static Object numpyScalar(List<Object> a) {
        if (a.size() < 2 || !(a.get(0) instanceof NumpyDtype d) || !(a.get(1) instanceof byte[] data)) {
            throw new PickleException("numpy scalar with unexpected arguments");
        }
        ByteBuffer b = ByteBuffer.wrap(data).order(d.order.equals(">") ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN);
        int size = switch (d.code.substring(1)) {
            case "1", "2", "4", "8" -> Integer.parseInt(d.code.substring(1));
            default -> -1;
        };
        if (size != data.length || d.code.length() != 2) return new NumpyScalar(d.code, data.clone());
        return switch (d.code.charAt(0)) {
            case 'f' -> size == 8 ? (Object) b.getDouble() : size == 4 ? (Object) (double) b.getFloat()
                    : size == 2 ? (Object) (double) Float.float16ToFloat(b.getShort()) : new NumpyScalar(d.code, data.clone());
            case 'i' -> size == 8 ? b.getLong() : size == 4 ? (long) b.getInt() : size == 2 ? (long) b.getShort() : (long) b.get();
            case 'u' -> size == 8 && b.getLong(0) < 0 ? new NumpyScalar(d.code, data.clone())
                    : size == 8 ? b.getLong() : size == 4 ? b.getInt() & 0xffffffffL : size == 2 ? b.getShort() & 0xffffL : b.get() & 0xffL;
            case 'b' -> size == 1 ? (Object) (b.get() != 0) : new NumpyScalar(d.code, data.clone());
            default -> new NumpyScalar(d.code, data.clone());
        };
    }

    private Object reduce(Object callable, Object args) {
        if (!(callable instanceof Global g)) throw new PickleException("REDUCE on a non-callable " + describe(callable));
        if (!(args instanceof Tuple t)) throw new PickleException(g.qualified() + " called without an argument tuple");
        List<Object> a = t.items();
        return switch (g.qualified()) {
            case "collections.OrderedDict" -> new LinkedHashMap<>();
            case "numpy.dtype" -> {
                if (a.isEmpty() || !(a.get(0) instanceof String code)) throw new PickleException("numpy.dtype without a type code");
                yield new NumpyDtype(code);
            }
            case "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar" -> numpyScalar(a);
            case "_codecs.encode" -> {
                // Protocol 2 pickles bytes as _codecs.encode(str, "latin1"): each char is one byte.
                if (a.size() != 2 || !(a.get(0) instanceof String text) || !(a.get(1) instanceof String enc)
                        || !Set.of("latin1", "latin-1", "iso-8859-1").contains(enc.toLowerCase(java.util.Locale.ROOT))) {
                    throw new PickleException("_codecs.encode is only read as latin1 text");
                }
                yield text.getBytes(StandardCharsets.ISO_8859_1);
            }
            case "torch.Size" -> a.isEmpty() ? new Tuple(List.of()) : a.get(0);
            case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state" -> {
                if (a.isEmpty() || !(a.get(0) instanceof TensorRef r)) throw new PickleException(g.qualified() + " without a tensor");
                yield r;
            }
            case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor" -> {
                if (a.size() < 4 || !(a.get(0) instanceof StorageRef s) || !(a.get(1) instanceof Long offset)) {
                    throw new PickleException(g.qualified() + " with unexpected arguments");
                }
                yield new TensorRef(s, offset, longs(a.get(2)), longs(a.get(3)));
            }
            default -> throw new PickleException(g.qualified() + " cannot be called");
        };
    }

    /** The element type of a {@code torch.XStorage} global, as used in persistent ids. */
    static DType storageType(Object o) {
        if (o instanceof Global g && g.module().equals("torch") && STORAGES.containsKey(g.name())) return STORAGES.get(g.name());
        throw new PickleException("persistent id names " + describe(o) + ", not a torch storage type");
    }

    private static long[] longs(Object o) {
        if (!(o instanceof Tuple t)) throw new PickleException("tensor size/stride is not a tuple");
        long[] out = new long[t.items().size()];
        for (int i = 0; i < out.length; i++) {
            if (!(t.items().get(i) instanceof Long l)) throw new PickleException("tensor size/stride holds a non-integer");
            out[i] = l;
        }
        return out;
    }

    private static String describe(Object o) {
        return o instanceof Global g ? g.qualified() : o == null ? "None" : o.getClass().getSimpleName();
    }

    private void putAll(Map<Object, Object> m, List<Object> items) {
        if (items.size() % 2 != 0) throw new PickleException("odd number of dict items");
        for (int i = 0; i < items.size(); i += 2) m.put(items.get(i), items.get(i + 1));
    }

    @SuppressWarnings("unchecked")
    private static List<Object> list(Object o) {
        if (o instanceof List<?> l) return (List<Object>) l;
        throw new PickleException("APPEND to a " + describe(o));
    }

    @SuppressWarnings("unchecked")
    private static Map<Object, Object> map(Object o) {
        if (o instanceof Map<?, ?> m) return (Map<Object, Object>) m;
        throw new PickleException("SETITEM on a " + describe(o));
    }

    private Object memoGet(long key) {
        if (!memo.containsKey(key)) throw new PickleException("memo key " + key + " was never stored");
        return memo.get(key);
    }

    private void push(Object o) {
        stack.add(o);
    }

    private Object peek() {
        if (stack.isEmpty() || stack.getLast() == MARK) throw new PickleException("pickle stack underflow");
        return stack.getLast();
    }

    private Object pop() {
        Object o = peek();
        stack.removeLast();
        return o;
    }

    private List<Object> popN(int n) {
        if (stack.size() < n) throw new PickleException("pickle stack underflow");
        List<Object> sub = stack.subList(stack.size() - n, stack.size());
        if (sub.contains(MARK)) throw new PickleException("pickle stack underflow");
        List<Object> out = new ArrayList<>(sub);
        sub.clear();
        return out;
    }

    private List<Object> popMark() {
        if (marks.isEmpty()) throw new PickleException("no MARK on the pickle stack");
        int m = marks.removeLast();
        List<Object> sub = stack.subList(m, stack.size());
        List<Object> out = new ArrayList<>(sub.subList(1, sub.size()));
        sub.clear();
        return out;
    }

    private int length(long n) {
        if (n < 0 || n > in.remaining()) throw new PickleException("pickle is truncated or malformed");
        return (int) n;
    }

    private String string(int n, java.nio.charset.Charset cs) {
        return new String(bytes(n), cs);
    }

    private byte[] bytes(int n) {
        byte[] b = new byte[length(n)];
        in.get(b);
        return b;
    }

    private String line() {
        StringBuilder sb = new StringBuilder();
        for (byte b = in.get(); b != '\n'; b = in.get()) sb.append((char) (b & 0xff));
        return sb.toString();
    }

    /** LONG1/LONG4: little-endian two's complement of n bytes; state dicts only hold small ones. */
    private long readLong(int n) {
        if (n > 8) throw new PickleException("integer of " + n + " bytes is too large");
        long v = 0;
        for (int i = 0; i < n; i++) v |= (in.get() & 0xffL) << (8 * i);
        if (n > 0 && n < 8 && (v >>> (8 * n - 1) & 1) != 0) v |= -1L << (8 * n);
        return v;
    }
}
