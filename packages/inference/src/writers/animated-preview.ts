/** Writer: an animated preview (WebP or GIF, by sharp) of the frames with masks tinted in. */
import sharp from "sharp";

import { invalidArgument } from "../errors.js";
import { writeFileAtomic } from "../fs-atomic.js";
import { encodePng } from "../image-io.js";
import type { FloatImage, Mask } from "../image-types.js";
import { type OverlayOptions, overlayPixels } from "../overlay.js";

export type PreviewFormat = "webp" | "gif";

export interface AnimatedPreviewOptions extends OverlayOptions {
  /** Frames per second; default 10. */
  fps?: number;
  /** Default: from the file extension (.webp or .gif). */
  format?: PreviewFormat;
}

/** Write an endlessly looping animation of `frames` (with `masks` overlaid, when given). */
export async function writeAnimatedPreview(
  path: string,
  frames: readonly FloatImage[],
  masks?: readonly Mask[],
  options: AnimatedPreviewOptions = {},
): Promise<void> {
  if (frames.length === 0) throw invalidArgument("frames", frames, "at least one frame");
  if (masks && masks.length !== frames.length) {
    throw invalidArgument("masks", masks, `${frames.length} masks, one per frame`);
  }
  const format = options.format ?? (path.toLowerCase().endsWith(".gif") ? "gif" : "webp");
  if (format !== "webp" && format !== "gif") throw invalidArgument("format", format, 'one of: "webp", "gif"');
  const fps = options.fps ?? 10;
  if (!(fps > 0 && fps <= 100)) throw invalidArgument("fps", fps, "a number in (0, 100]");
  const delay = Math.round(1000 / fps);
  const pages = await Promise.all(
    frames.map((f, i) => {
      const m = masks?.[i] ?? {
        data: new Float32Array(f.height * f.width),
        height: f.height,
        width: f.width,
      };
      return encodePng(overlayPixels(f, m, options), true);
    }),
  );
  const joined = sharp(pages, { join: { animated: true } });
  const bytes =
    format === "gif"
      ? await joined.gif({ loop: 0, delay }).toBuffer()
      : await joined.webp({ loop: 0, delay, quality: 80 }).toBuffer();
  await writeFileAtomic(path, bytes);
}
