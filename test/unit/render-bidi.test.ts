/**
 * Right-to-left words inside left-to-right paragraphs (an Arabic or Hebrew name in an
 * English sentence) and left-to-right words inside right-to-left ones: the PDF must place
 * every word where a reader expects it. Checked on the word boxes poppler extracts
 * (`pdftotext -bbox`, x positions on one line) and on the text it reads back.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { renderPdf } from '../../activities/render/pdf';
import type { RenderBook } from '../../activities/render/types';

const run = promisify(execFile);

interface Word {
  text: string;
  xMin: number;
  xMax: number;
  yMin: number;
}

/** Word boxes of one page, as pdftotext -bbox gives them. */
async function words(file: string, page: number): Promise<Word[]> {
  const { stdout } = await run('pdftotext', ['-bbox', '-f', String(page), '-l', String(page), file, '-']);
  return [...stdout.matchAll(/<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="[\d.]+">([^<]*)<\/word>/g)].map((m) => ({
    xMin: Number(m[1]),
    yMin: Number(m[2]),
    xMax: Number(m[3]),
    text: m[4].replace(/&amp;/g, '&'),
  }));
}

/**
 * The box of `word`. poppler gives a right-to-left word's characters in the order the glyphs
 * sit on the page (visual), a left-to-right one's in reading order: either is accepted.
 */
function box(all: Word[], word: string): Word {
  const letters = (s: string) => s.replace(/[^\p{L}\p{N}]/gu, '');
  const want = letters(word);
  const reversed = [...want].reverse().join('');
  const found = all.filter((w) => letters(w.text) === want || letters(w.text) === reversed);
  assert.equal(found.length, 1, `one box for "${word}" in ${all.map((w) => w.text).join(' ')}`);
  return found[0];
}

/** Asserts the words sit on one line from left to right in the given order. */
function leftToRight(all: Word[], order: string[]): void {
  const boxes = order.map((w) => box(all, w));
  for (let i = 1; i < boxes.length; i++) {
    assert.ok(Math.abs(boxes[i].yMin - boxes[0].yMin) < 3, `"${order[i]}" is on the line of "${order[0]}"`);
    assert.ok(boxes[i - 1].xMax <= boxes[i].xMin + 0.5, `"${order[i - 1]}" (x ${boxes[i - 1].xMin}) is left of "${order[i]}" (x ${boxes[i].xMin})`);
  }
}

/** Letters and digits in order, without the bidi controls poppler wraps right-to-left text in. */
function wordsOf(s: string): string {
  return (s.replace(/[\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '').match(/[\p{L}\p{M}\p{N}]+/gu) ?? []).join(' ');
}

/** The same, without spaces. */
function squashed(s: string): string {
  return wordsOf(s).replace(/ /g, '');
}

describe('renderers: right-to-left inside left-to-right text and the reverse', function () {
  let dir: string;
  let image: RenderBook['cover'];

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'render-bidi-'));
    const png = await sharp({ create: { width: 256, height: 256, channels: 3, background: '#6a7f99' } }).png().toBuffer();
    image = { data: png, mime: 'image/png', alt: 'A blue-grey square' };
  });

  after(async () => {
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  async function render(language: string, paragraphs: string[], fallbackFonts?: 'bundled'): Promise<string> {
    const book: RenderBook = {
      id: randomUUID(),
      title: 'Mixed directions',
      author: 'Test',
      language,
      description: 'Names in the other direction.',
      keywords: [],
      cover: image,
      chapters: [{ index: 1, title: 'One', paragraphs }],
      credits: [],
      modified: '2026-01-01T00:00:00Z',
    };
    const file = path.join(dir, `${language}-${fallbackFonts ?? 'system'}.pdf`);
    await fs.writeFile(file, await renderPdf(book, { fallbackFonts }));
    await run('qpdf', ['--check', file]);
    return file;
  }

  // Cover, title, copyright, contents: the chapter is page 5.
  const CHAPTER_PAGE = 5;

  for (const fonts of [undefined, 'bundled'] as const) {
    it(`places Arabic and Hebrew names inside English sentences right to left (${fonts ?? 'system'} fonts)`, async () => {
      const file = await render('en', [
        'The poet محمود درويش wrote about Haifa.',
        'She met דוד בן גוריון in 1948 at the port.',
        'Ask for (مكتبة عامة) beside the gate.',
      ], fonts);
      const all = await words(file, CHAPTER_PAGE);
      // An RTL run reads from its right end: its first word is the rightmost of the run.
      leftToRight(all, ['The', 'poet', 'درويش', 'محمود', 'wrote', 'about']);
      leftToRight(all, ['She', 'met', 'גוריון', 'בן', 'דוד', 'in', '1948']);
      leftToRight(all, ['for', 'عامة', 'مكتبة', 'beside']);
      // The parentheses stay around the name, opening on the left in an English line.
      const open = box(all, 'عامة');
      const line = all.filter((w) => Math.abs(w.yMin - open.yMin) < 3).map((w) => w.text).join(' ');
      assert.match(line, /\(.*\)/, line);

      // poppler reads the lines back in logical order (compared without spaces: it moves the
      // space between a right-to-left word and a left-to-right one to the RTL word's other side).
      const { stdout } = await run('pdftotext', ['-enc', 'UTF-8', '-f', String(CHAPTER_PAGE), '-l', String(CHAPTER_PAGE), file, '-']);
      const text = squashed(stdout);
      assert.ok(text.includes(squashed('The poet محمود درويش wrote about Haifa')), wordsOf(stdout));
      assert.ok(text.includes(squashed('She met דוד בן גוריון in 1948 at the port')), wordsOf(stdout));
    });
  }

  it('places English names inside Arabic and Hebrew sentences left to right, the sentence right to left', async () => {
    const ar = await render('ar', ['التقيت John Smith في القاهرة أمس.']);
    const arWords = await words(ar, CHAPTER_PAGE);
    // Reading from the right: التقيت, then "John Smith" (itself left to right), في, القاهرة, أمس.
    leftToRight(arWords, ['أمس', 'القاهرة', 'في', 'John', 'Smith', 'التقيت']);
    // Flush right: the first word ends at the right margin (page 432 pt wide, 54 pt margins).
    assert.ok(Math.abs(box(arWords, 'التقيت').xMax - (432 - 54)) < 1.5);

    const he = await render('he', ['קראתי את Harry Potter בשבוע שעבר.']);
    leftToRight(await words(he, CHAPTER_PAGE), ['שעבר', 'בשבוע', 'Harry', 'Potter', 'את', 'קראתי']);
    const { stdout } = await run('pdftotext', ['-enc', 'UTF-8', '-f', String(CHAPTER_PAGE), '-l', String(CHAPTER_PAGE), he, '-']);
    // In order; compared without spaces (see above).
    assert.ok(squashed(stdout).includes(squashed('קראתי את Harry Potter בשבוע שעבר')), wordsOf(stdout));
  });
});
