package dev.ember.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import dev.ember.engine.metadata.ImageParameters;

/** {@code ember txt2img}: pictures from a prompt. */
@Command(name = "txt2img", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Make pictures from a prompt.",
        footer = {"", "Examples:",
                "  ember txt2img -p \"a lighthouse at dusk\" --model v1-5.safetensors -s 30 -S 42",
                "  ember txt2img -p \"a lighthouse\" -W 256 -H 256 -s 10 --intermediates steps/",
                "  ember txt2img --from-image outputs/000001.42.png -A euler_a"})
final class Txt2ImgCommand implements Callable<Integer> {
    @Mixin
    GenerationOptions options;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        ImageParameters recorded = options.recorded();
        if (recorded != null && recorded.isImg2Img()) {
            String again = recorded.inpaint() != null ? "inpaint" : "img2img";
            throw new EmberCommand.UsageException(options.fromImage + " was made by " + again + "; re-run it with 'ember " + again + " --from-image'");
        }
        List<String> notices = new ArrayList<>();
        ImageParameters parameters = options.resolve(recorded, null, notices);
        return GenerationSession.run(spec.commandLine().getOut(), spec.commandLine().getErr(), options, parameters, null, notices);
    }
}
