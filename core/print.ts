/**
 * The print-on-demand format: trim, bleed, margins that grow with the page count, paper
 * thickness and the spine it makes. The interior PDF and the wraparound cover are both laid
 * out from these numbers, so the cover always fits the book it wraps. docs/print.md says how
 * they match the published specifications of KDP, IngramSpark and Lulu.
 */

/** Paper the interior is printed on; each has its own thickness per page (sheet / 2). */
export type PaperStock = 'white' | 'cream' | 'color';

export interface TrimSize {
  widthIn: number;
  heightIn: number;
}

/** The engine's trim: US trade 6 × 9 in, offered by all three services. */
export const TRIM: TrimSize = { widthIn: 6, heightIn: 9 };

/** Bleed beyond the trim on every outer edge of the interior and the cover, in inches. */
export const BLEED_IN = 0.125;

/**
 * Where the interior's bleed goes: `all` four sides of every page (Lulu: 6.25 × 9.25 in for
 * 6 × 9), or `outside`, the top, bottom and outer edge only, none at the binding (KDP and
 * IngramSpark: 6.125 × 9.25 in). docs/print.md compares them.
 */
export type InteriorBleed = 'all' | 'outside';
export const INTERIOR_BLEEDS: readonly InteriorBleed[] = ['all', 'outside'];

/** Thickness of one page (half a sheet) in inches, by paper stock. */
export const PAPER_THICKNESS_IN: Record<PaperStock, number> = {
  white: 0.002252,
  cream: 0.0025,
  color: 0.002347,
};

/** The fewest pages a print-on-demand book may have; shorter interiors are padded with blanks. */
export const MIN_PRINT_PAGES = 24;

/** From this many pages the spine is wide enough to carry the title and the author. */
export const SPINE_TEXT_MIN_PAGES = 100;

/** Clear space on each side of the spine's text, in inches. */
export const SPINE_TEXT_MARGIN_IN = 0.0625;

/** Inside margin (gutter) by page count: thicker books curve more into the binding. */
const GUTTERS: Array<{ upTo: number; gutterIn: number }> = [
  { upTo: 150, gutterIn: 0.375 },
  { upTo: 300, gutterIn: 0.5 },
  { upTo: 500, gutterIn: 0.625 },
  { upTo: 700, gutterIn: 0.75 },
  { upTo: Number.POSITIVE_INFINITY, gutterIn: 0.875 },
];

/** Outside, top and bottom margins of the text block from the trim edge, in inches. */
export const OUTSIDE_MARGIN_IN = 0.625;

/** The inside margin for a book of `pageCount` pages, added to the text block's side margin. */
export function gutterIn(pageCount: number): number {
  if (!Number.isFinite(pageCount) || pageCount < 1) throw new RangeError(`page count must be a positive number, got ${pageCount}`);
  return GUTTERS.find((g) => pageCount <= g.upTo)!.gutterIn;
}

/** Spine width in inches: pages × the thickness of one page. */
export function spineWidthIn(pageCount: number, paperThicknessIn: number = PAPER_THICKNESS_IN.white): number {
  if (!Number.isFinite(pageCount) || pageCount < 1) throw new RangeError(`page count must be a positive number, got ${pageCount}`);
  if (!(paperThicknessIn > 0 && paperThicknessIn < 0.01)) throw new RangeError(`paper thickness must be between 0 and 0.01 in, got ${paperThicknessIn}`);
  return pageCount * paperThicknessIn;
}

/** A wraparound cover's parts, left to right: bleed, back, spine, front, bleed. */
export interface CoverLayout {
  widthIn: number;
  heightIn: number;
  bleedIn: number;
  backIn: number;
  spineIn: number;
  frontIn: number;
  spineText: boolean;
}

export function coverLayout(pageCount: number, opts: { trim?: TrimSize; paperThicknessIn?: number; bleedIn?: number } = {}): CoverLayout {
  const trim = opts.trim ?? TRIM;
  const bleedIn = opts.bleedIn ?? BLEED_IN;
  const spineIn = spineWidthIn(pageCount, opts.paperThicknessIn);
  return {
    widthIn: bleedIn + trim.widthIn + spineIn + trim.widthIn + bleedIn,
    heightIn: bleedIn + trim.heightIn + bleedIn,
    bleedIn,
    backIn: trim.widthIn,
    spineIn,
    frontIn: trim.widthIn,
    spineText: pageCount >= SPINE_TEXT_MIN_PAGES,
  };
}

/** Printers ask for pictures of at least this many pixels per inch at their printed size. */
export const MIN_PRINT_PPI = 300;
