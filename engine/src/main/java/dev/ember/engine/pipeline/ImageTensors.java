package dev.ember.engine.pipeline;

import dev.ember.engine.InitResize;
import dev.ember.engine.image.RgbImage;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;

/** Pixels to and from the VAE's [3, H, W] tensors in [-1, 1], and fitting init images to a size. */
public final class ImageTensors {
    private ImageTensors() {}

    public static float[] toTensor(RgbImage image) {
        return image.toTensor();
    }

    public static RgbImage fromTensor(float[] chw, int width, int height) {
        return RgbImage.fromTensor(chw, height, width);
    }

    /**
     * {@code image} at exactly width x height. CROP scales to cover the target and cuts the overhang
     * equally from both sides; STRETCH scales each axis on its own. Bicubic either way; an image
     * already of the right size is returned as is.
     */
    public static RgbImage fit(RgbImage image, int width, int height, InitResize mode) {
        if (image.width() == width && image.height() == height) return image;
        BufferedImage source = image.toBufferedImage();
        BufferedImage target = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = target.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BICUBIC);
            g.setRenderingHint(RenderingHints.KEY_RENDERING, RenderingHints.VALUE_RENDER_QUALITY);
            if (mode == InitResize.STRETCH) {
                g.drawImage(source, 0, 0, width, height, null);
            } else {
                double scale = Math.max((double) width / image.width(), (double) height / image.height());
                int scaledWidth = (int) Math.ceil(image.width() * scale), scaledHeight = (int) Math.ceil(image.height() * scale);
                g.drawImage(source, (width - scaledWidth) / 2, (height - scaledHeight) / 2, scaledWidth, scaledHeight, null);
            }
        } finally {
            g.dispose();
        }
        return RgbImage.fromBufferedImage(target);
    }
}
