/**
 * The wraparound cover of the print package (issue 17), rendered by its renderer and read
 * back with poppler and qpdf: the sheet is back + spine + front + two bleeds wide for books
 * of 24, 120 and 400 pages (the spine from pages × paper thickness, computed here from the
 * published figures, not from the renderer's own layout), the spine carries title and author
 * from SPINE_TEXT_MIN_PAGES pages only, the front picture is at least 300 ppi at its printed
 * size, and the file is structurally clean.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { renderPrintCover } from '../../activities/render/print-cover';
import type { RenderBook } from '../../activities/render/types';
import { exec } from '../helpers/http';
import { englishBook, mixedBook, picture, SCRIPT_PROBES } from './books';

const PT = 72;
/** The published figures the cover must match (docs/print.md): 6 × 9 in trim, 1/8 in bleed. */
const TRIM_W_IN = 6;
const TRIM_H_IN = 9;
const BLEED_IN = 0.125;
const WHITE_IN_PER_PAGE = 0.002252;
const CREAM_IN_PER_PAGE = 0.0025;

async function boxes(file: string): Promise<Record<string, number[]>> {
  const { stdout } = await exec('pdfinfo', ['-box', file]);
  const out: Record<string, number[]> = {};
  for (const m of stdout.matchAll(/^(\w+Box):\s+([\d.\s-]+)$/gm)) out[m[1]] = m[2].trim().split(/\s+/).map(Number);
  return out;
}

/** The text pdftotext reads inside [x0, x1] (points) across the sheet's height. */
async function textBetween(file: string, x0: number, x1: number): Promise<string> {
  const r = 720; // ten pixels a point: the crop follows the spine's edges to 0.1 pt
  const { stdout } = await exec('pdftotext', ['-r', String(r), '-x', String(Math.floor(x0 * 10)), '-y', '0', '-W', String(Math.ceil((x1 - x0) * 10)), '-H', String(TRIM_H_IN * 720 + 400), file, '-']);
  return stdout.replace(/\s+/g, ' ').trim();
}

/** Word boxes (points) pdftotext finds on the sheet. */
async function words(file: string): Promise<Array<{ text: string; xMin: number; xMax: number }>> {
  const { stdout } = await exec('pdftotext', ['-bbox', file, '-']);
  return [...stdout.matchAll(/<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">([^<]*)<\/word>/g)].map((m) => ({
    xMin: Number(m[1]),
    xMax: Number(m[2]),
    text: m[3],
  }));
}

/** Asserts that every word on the spine keeps SPINE_TEXT_MARGIN_IN (1/16 in) from both folds. */
async function assertSpineClear(file: string, spineX0: number, spineX1: number): Promise<number> {
  const margin = 0.0625 * PT;
  const onSpine = (await words(file)).filter((w) => (w.xMin + w.xMax) / 2 > spineX0 && (w.xMin + w.xMax) / 2 < spineX1);
  for (const w of onSpine) {
    assert.ok(w.xMin >= spineX0 + margin - 0.01 && w.xMax <= spineX1 - margin + 0.01, `"${w.text}" spans ${w.xMin.toFixed(2)}..${w.xMax.toFixed(2)} pt; the spine's clear area is ${(spineX0 + margin).toFixed(2)}..${(spineX1 - margin).toFixed(2)}`);
  }
  return onSpine.length;
}

describe('print package: the wraparound cover PDF', function () {
  this.timeout(120_000);
  let dir: string;
  let english: RenderBook;
  let mixed: RenderBook;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'print-cover-'));
    english = await englishBook(3);
    mixed = await mixedBook();
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  const render = async (book: RenderBook, pageCount: number, name: string, paperThicknessIn?: number) => {
    const file = path.join(dir, `${name}.pdf`);
    await fs.writeFile(file, await renderPrintCover(book, { pageCount, paperThicknessIn, palette: ['#2f4858', '#f6ae2d'] }));
    return file;
  };

  for (const [pages, which] of [
    [24, 'english'],
    [120, 'english'],
    [400, 'mixed'],
  ] as const) {
    it(`is back + spine + front + 2 bleeds wide for ${pages} pages, trimmed 1/8 in inside, with spine text ${pages >= 100 ? 'on' : 'off'}`, async () => {
      const book = which === 'english' ? english : mixed;
      const file = await render(book, pages, `cover-${pages}`);
      const spineIn = pages * WHITE_IN_PER_PAGE;
      const widthPt = (BLEED_IN + TRIM_W_IN + spineIn + TRIM_W_IN + BLEED_IN) * PT;
      const heightPt = (BLEED_IN + TRIM_H_IN + BLEED_IN) * PT;
      const b = await boxes(file);
      assert.equal(b.MediaBox[0], 0);
      assert.ok(Math.abs(b.MediaBox[2] - widthPt) < 0.01, `MediaBox width ${b.MediaBox[2]} pt, expected ${widthPt.toFixed(2)} pt`);
      assert.ok(Math.abs(b.MediaBox[3] - heightPt) < 0.01, `MediaBox height ${b.MediaBox[3]}`);
      const bleed = BLEED_IN * PT;
      assert.deepEqual(
        b.TrimBox.map((v) => Math.round(v * 100) / 100),
        [bleed, bleed, widthPt - bleed, heightPt - bleed].map((v) => Math.round(v * 100) / 100),
      );
      assert.deepEqual(b.BleedBox, b.MediaBox);

      // Spine: the strip between the back's trim and the front's.
      const spineX0 = (BLEED_IN + TRIM_W_IN) * PT;
      const spine = await textBetween(file, spineX0, spineX0 + spineIn * PT);
      if (pages >= 100) {
        assert.match(spine, new RegExp(book.title.split(' ')[0]), `spine text: ${spine}`);
        assert.match(spine, /Ada Quill/);
        assert.ok((await assertSpineClear(file, spineX0, spineX0 + spineIn * PT)) >= 3);
      } else {
        assert.equal(spine, '', 'no text on a spine under 100 pages');
      }
      // The back carries title, blurb and author whatever the page count.
      const back = await textBetween(file, bleed, spineX0);
      assert.match(back, /Ada Quill/);
      assert.ok(back.includes(book.title), back);

      // The front picture: one image, at least 300 ppi at its printed size (books.ts draws 800 × 600 px).
      const { stdout: images } = await exec('pdfimages', ['-list', file]);
      const rows = images.trim().split('\n').slice(2).map((l) => l.trim().split(/\s+/));
      assert.equal(rows.length, 1, images);
      const [width, height, xPpi, yPpi] = [Number(rows[0][3]), Number(rows[0][4]), Number(rows[0][12]), Number(rows[0][13])];
      assert.ok(xPpi >= 300 && yPpi >= 300, `front picture at ${xPpi} × ${yPpi} ppi`);
      assert.ok(width >= (TRIM_W_IN + BLEED_IN) * 300 && height >= heightPt / PT * 300, `${width} × ${height} px`);

      await exec('qpdf', ['--check', file]);
    });
  }

  it('puts spine text on from exactly 100 pages (99: none)', async () => {
    const file = await render(english, 99, 'cover-99');
    const spineX0 = (BLEED_IN + TRIM_W_IN) * PT;
    assert.equal(await textBetween(file, spineX0, spineX0 + 99 * WHITE_IN_PER_PAGE * PT), '');
  });

  it('takes the paper thickness it is given (cream: 0.0025 in a page)', async () => {
    const file = await render(english, 120, 'cover-cream', CREAM_IN_PER_PAGE);
    const widthPt = (2 * BLEED_IN + 2 * TRIM_W_IN + 120 * CREAM_IN_PER_PAGE) * PT;
    const b = await boxes(file);
    assert.ok(Math.abs(b.MediaBox[2] - widthPt) < 0.01, `${b.MediaBox[2]} vs ${widthPt}`);
  });

  it('draws every script of the render matrix on the back and the spine, with embedded fonts', async () => {
    // A Japanese title on the spine, the mixed book's blurb (Japanese, Arabic, Hebrew, Russian, Greek) on the back.
    const book: RenderBook = { ...mixed, title: '美咲の地図 — Карта', author: 'Ada Quill', cover: await picture(300) };
    const file = await render(book, 200, 'cover-scripts');
    const spineX0 = (BLEED_IN + TRIM_W_IN) * PT;
    const spine = await textBetween(file, spineX0, spineX0 + 200 * WHITE_IN_PER_PAGE * PT);
    assert.match(spine, /美咲の地図/);
    assert.match(spine, /Карта/);
    assert.ok((await assertSpineClear(file, spineX0, spineX0 + 200 * WHITE_IN_PER_PAGE * PT)) >= 3);
    const back = await textBetween(file, 0, spineX0);
    for (const word of ['東京', 'القاهرة', 'ירושלים', 'Москва', 'Ἀθῆναι']) assert.ok(back.includes(word), `${word} on the back: ${back}`);
    const { stdout: fonts } = await exec('pdffonts', [file]);
    // Every font is embedded (the "emb" column), and a CJK face drew the Japanese.
    for (const line of fonts.trim().split('\n').slice(2)) assert.match(line, /\s+yes\s+yes\s+(yes|no)\s+\d+\s+\d+\s*$/, line);
    assert.match(fonts, /CJK|Hans|KR/);
  });

  it("draws the word of each of the render matrix's further scripts in its blurb, each in the font that has it", async () => {
    const blurb = SCRIPT_PROBES.map((p) => p.word).join(' · ');
    const file = await render({ ...english, description: blurb }, 150, 'cover-probes');
    // The whole sheet's text (the blurb is only on the back): pdftotext's cropped mode splits some stacked Myanmar letters.
    const { stdout: back } = await exec('pdftotext', ['-enc', 'UTF-8', file, '-']);
    assert.ok(!back.includes('\uFFFD'), 'U+FFFD in the text');
    const { stdout: fonts } = await exec('pdffonts', [file]);
    for (const probe of SCRIPT_PROBES) {
      if (probe.extracts) assert.ok(back.includes(probe.word), `${probe.script} (${probe.word}) on the back: ${back}`);
      assert.match(fonts, probe.font, `${probe.script}: no font matching ${probe.font}`);
    }
  });
});
