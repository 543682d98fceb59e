package dev.ember.engine.model;

import dev.ember.engine.ModelFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Checks canonical tensors against the layouts of a detected spec: every tensor {@link NetworkLayout}
 * lists must be present, with exactly its shape and a float element type.
 */
public final class ModelValidator {
    /** How many names an error message lists before "and N more". */
    static final int LISTED = 5;

    private ModelValidator() {}

    /** The problems found; both lists empty when the tensors fit the spec. */
    public record Result(List<String> missing, List<String> wrongShape) {
        public Result {
            missing = List.copyOf(missing);
            wrongShape = List.copyOf(wrongShape);
        }

        public boolean ok() {
            return missing.isEmpty() && wrongShape.isEmpty();
        }

        /** Throws the first kind of problem as one line naming the tensors. */
        public void throwIfFailed(Path path, ModelSpec spec) {
            if (!missing.isEmpty()) {
                throw new ModelFileException(path, "missing required tensors for " + spec.architecture().label() + " (" + missing.size() + "): " + list(missing));
            }
            if (!wrongShape.isEmpty()) {
                throw new ModelFileException(path, "wrong shape for the detected architecture (" + spec.architecture().label() + "): " + list(wrongShape));
            }
        }
    }

    public static Result validate(ModelSpec spec, Map<String, TensorData> tensors) {
        List<String> missing = new ArrayList<>(), wrong = new ArrayList<>();
        for (Component c : Component.values()) {
            for (TensorSpec s : c.layout(spec)) {
                TensorData d = tensors.get(s.name());
                if (d == null) missing.add(s.name());
                else if (!s.sameShape(d.shape())) wrong.add(s.name() + " is " + Arrays.toString(d.shape()) + ", expected " + Arrays.toString(s.shape()));
                else if (!d.dtype().reachesNetworks()) wrong.add(s.name() + " is " + d.dtype() + ", expected f32, f16, bf16 or a ggml block type");
            }
        }
        return new Result(missing, wrong);
    }

    static String list(List<String> items) {
        String head = String.join(", ", items.subList(0, Math.min(LISTED, items.size())));
        return items.size() > LISTED ? head + " and " + (items.size() - LISTED) + " more" : head;
    }
}
