package dev.ember.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import dev.ember.engine.metadata.PngMetadata;

/** {@code ember info IMAGE}: how a picture was made, from its PNG metadata. */
@Command(name = "info", mixinStandardHelpOptions = true,
        description = "Show the generation parameters stored in a PNG (Ember's, or AUTOMATIC1111's 'parameters').")
final class InfoCommand implements Callable<Integer> {
    @Parameters(paramLabel = "IMAGE", description = "A PNG made by Ember (or another Stable Diffusion tool).")
    Path image;

    @Option(names = "--json", description = "Print Ember's JSON record only.")
    boolean json;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PngMetadata.Found found = PngMetadata.read(image);
        if (found.isEmpty()) {
            throw new IllegalArgumentException(image + ": no generation parameters in this image (no 'parameters' or 'ember' PNG text)");
        }
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            if (found.ember() == null) throw new IllegalArgumentException(image + ": no Ember parameters in this image, only AUTOMATIC1111's");
            out.println(PngMetadata.toJson(found.ember())); // JSON escapes every control character itself
        } else {
            // Everything read from the file is escaped: a crafted PNG must not drive the terminal.
            out.println("file: " + Terminal.safe(image.toString()));
            if (found.parameters() != null) {
                out.println("parameters:");
                Terminal.safeLines(found.parameters()).lines().forEach(l -> out.println("  " + l));
            }
            if (found.ember() != null) {
                out.println("ember:");
                @SuppressWarnings("unchecked")
                Map<String, Object> fields = PngMetadata.toMap(found.ember());
                fields.forEach((k, v) -> out.println("  " + Terminal.safe(k) + ": " + Terminal.safe(String.valueOf(v))));
                String again = found.ember().inpaint() != null ? "inpaint" : found.ember().isImg2Img() ? "img2img" : "txt2img";
                out.println("re-run: ember " + again + " --from-image " + Terminal.safe(image.toString()));
            }
        }
        out.flush();
        return 0;
    }
}
