/**
 * Reading a print interior back with poppler and qpdf, as a printer's preflight would: page
 * boxes (`pdfinfo -box`), the text of each page (`pdftotext`, pages split at form feeds), the
 * chapter openings (the outline's destinations, `qpdf --json`), the pictures' resolution at
 * their printed size (`pdfimages -list`), the output intents and their ICC profile, and the
 * left edge of a page's text block (`pdftotext -bbox`).
 */
import { exec } from '../helpers/http';

const big = { maxBuffer: 256 * 1024 * 1024 };

export async function pageCount(file: string): Promise<number> {
  const { stdout } = await exec('pdfinfo', [file]);
  return Number(/^Pages:\s+(\d+)/m.exec(stdout)![1]);
}

/** Every page's boxes in points, [x0, y0, x1, y1], by box name; index 0 is page 1. */
export async function pageBoxes(file: string): Promise<Array<Record<string, number[]>>> {
  const pages = await pageCount(file);
  const { stdout } = await exec('pdfinfo', ['-box', '-f', '1', '-l', String(pages), file], big);
  const out: Array<Record<string, number[]>> = Array.from({ length: pages }, () => ({}));
  for (const m of stdout.matchAll(/^Page\s+(\d+)\s+(\w+):\s+([\d.\s-]+)$/gm)) {
    out[Number(m[1]) - 1][m[2]] = m[3].trim().split(/\s+/).map(Number);
  }
  return out;
}

/** The text of every page, whitespace collapsed; index 0 is page 1. */
export async function pageTexts(file: string): Promise<string[]> {
  const { stdout } = await exec('pdftotext', ['-enc', 'UTF-8', file, '-'], big);
  // pdftotext ends every page with a form feed.
  return stdout.split('\f').slice(0, -1).map((t) => t.replace(/\s+/g, ' ').trim());
}

/** The page (1-based) each outline entry, one per chapter, opens. */
export async function openingPages(file: string): Promise<Array<{ title: string; page: number }>> {
  const { stdout } = await exec('qpdf', ['--json', '--json-key=outlines', file], big);
  return (JSON.parse(stdout) as { outlines: Array<{ title: string; destpageposfrom1: number }> }).outlines.map((o) => ({ title: o.title, page: o.destpageposfrom1 }));
}

export interface ImageRow {
  page: number;
  width: number;
  height: number;
  xPpi: number;
  yPpi: number;
}

export async function imageRows(file: string): Promise<ImageRow[]> {
  const { stdout } = await exec('pdfimages', ['-list', file], big);
  // page num type width height color comp bpc enc interp object ID x-ppi y-ppi size ratio
  return stdout
    .split('\n')
    .slice(2)
    .filter((l) => l.trim())
    .map((l) => l.trim().split(/\s+/))
    .map((r) => ({ page: Number(r[0]), width: Number(r[3]), height: Number(r[4]), xPpi: Number(r[12]), yPpi: Number(r[13]) }));
}

type QpdfObjects = Record<string, { value?: Record<string, unknown>; stream?: { dict: Record<string, unknown> } }>;

export interface OutputIntent {
  dict: Record<string, unknown>;
  /** The DestOutputProfile's decoded bytes. */
  profile: Buffer;
  profileRef: string;
}

/** The document's info dictionary (strings without qpdf's `u:` prefix) and its output intents with their profiles. */
export async function printIdentification(file: string): Promise<{ info: Record<string, string>; intents: OutputIntent[]; xmp: string }> {
  const { stdout } = await exec('qpdf', ['--json', '--json-key=qpdf', file], big);
  const objects = (JSON.parse(stdout) as { qpdf: [unknown, QpdfObjects] }).qpdf[1];
  const get = (ref: string) => {
    const o = objects[`obj:${ref}`];
    return (o?.value ?? o?.stream?.dict) as Record<string, unknown>;
  };
  const text = (v: unknown): string => {
    if (typeof v === 'string' && v.endsWith(' R')) return text(get(v) as unknown);
    return typeof v === 'string' ? v.replace(/^u:/, '') : JSON.stringify(v);
  };
  const trailer = objects.trailer.value!;
  const info = Object.fromEntries(Object.entries(get(trailer['/Info'] as string)).map(([k, v]) => [k.slice(1), text(v)]));
  const root = get(trailer['/Root'] as string);
  const stream = async (ref: string) => (await exec('qpdf', [`--show-object=${ref}`, '--filtered-stream-data', file], { ...big, encoding: 'buffer' })).stdout as unknown as Buffer;
  const intents: OutputIntent[] = [];
  for (const ref of (root['/OutputIntents'] as string[] | undefined) ?? []) {
    const dict = get(ref);
    const profileRef = dict['/DestOutputProfile'] as string;
    intents.push({ dict, profileRef, profile: await stream(profileRef.replace(/ R$/, '').replace(' ', ',')) });
  }
  const xmp = (await stream((root['/Metadata'] as string).replace(/ R$/, '').replace(' ', ','))).toString('utf8');
  return { info, intents, xmp };
}

/** The left edge of the text on page `page` (the smallest xMin of its words), in points. */
export async function textLeftEdge(file: string, page: number): Promise<number> {
  const { stdout } = await exec('pdftotext', ['-bbox', '-f', String(page), '-l', String(page), file, '-'], big);
  const xs = [...stdout.matchAll(/<word xMin="([\d.]+)"/g)].map((m) => Number(m[1]));
  return Math.min(...xs);
}
