/**
 * Pictures for the print interior: printers ask for MIN_PRINT_PPI (300) pixels per inch at the
 * size a picture is printed, and the providers' pictures (often 1024 px) fall short of that at
 * the width of the text block. The design keeps the picture's printed size, so a picture that
 * is too small is enlarged with a Lanczos-3 kernel; one already large enough is left at its
 * own size (up to a cap that keeps the file's size in check).
 */
import sharp from 'sharp';
import type { JpegImage } from './common';
import type { RenderImage } from './types';

export interface PrintJpegOptions {
  /** Fewest pixels across: the widest the picture can be printed, in inches, × the ppi wanted. */
  minWidth: number;
  /** Most pixels across; pictures wider than this are reduced. */
  maxWidth: number;
  quality?: number;
}

/** A baseline sRGB JPEG at least `minWidth` px wide (enlarged with lanczos3 when needed). */
export async function toPrintJpeg(image: RenderImage, opts: PrintJpegOptions): Promise<JpegImage> {
  if (!(opts.minWidth > 0 && opts.maxWidth >= opts.minWidth)) throw new RangeError(`bad print image widths ${opts.minWidth}..${opts.maxWidth}`);
  const meta = await sharp(image.data).metadata();
  const srcW = meta.autoOrient?.width ?? meta.width;
  const srcH = meta.autoOrient?.height ?? meta.height;
  if (!srcW || !srcH) throw new Error('Image has no dimensions');
  const width = Math.min(opts.maxWidth, Math.max(opts.minWidth, srcW));
  const height = Math.max(1, Math.round((srcH * width) / srcW));
  const untouched =
    image.mime === 'image/jpeg' && width === srcW && (meta.orientation ?? 1) === 1 && meta.channels === 3 && !meta.isProgressive;
  if (untouched) return { data: image.data, width: srcW, height: srcH };
  const data = await sharp(image.data)
    .autoOrient()
    .resize(width, height, { fit: 'fill', kernel: 'lanczos3' })
    // JPEG has no alpha: transparent areas go on white paper rather than black.
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .jpeg({ quality: opts.quality ?? 88, mozjpeg: false, progressive: false, chromaSubsampling: '4:2:0' })
    .toBuffer();
  return { data, width, height };
}
