/**
 * Publisher-grade books (issue 16): the matrix of test/render/books.ts rendered by the
 * renderer functions and put through the trade's validators (veraPDF PDF/UA-1 and PDF/A-2u,
 * EPUBCheck 5 with --usage, DAISY Ace, qpdf, poppler), then read back as a reader would see
 * it: word boxes from `pdftotext -bbox` for widows, orphans, folios, running heads and the
 * placement of right-to-left words in a left-to-right sentence.
 *
 * The validators come from scripts/install-validators.sh; without them the suite fails on
 * CI and is skipped elsewhere (with the command to run).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { renderEpub } from '../../activities/render/epub';
import { renderPdf } from '../../activities/render/pdf';
import type { RenderBook } from '../../activities/render/types';
import { exec } from '../helpers/http';
import { ace, epubcheck5, validatorsInstalled, verapdf, veraSummary } from '../helpers/validators';
import { bookMatrix, HOSTILE_TITLE, SCRIPT_PROBES } from './books';

const PAGE_W = 432;
const PAGE_H = 648;
const MARGIN = { top: 58, bottom: 68, left: 54, right: 54 };

interface Word {
  text: string;
  xMin: number;
  yMin: number;
  xMax: number;
  yMax: number;
}

/** Word boxes of every page of a PDF, from one pdftotext -bbox run. */
async function pageWords(file: string): Promise<Word[][]> {
  const { stdout } = await exec('pdftotext', ['-bbox', file, '-'], { maxBuffer: 64 * 1024 * 1024 });
  const decode = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
  return stdout.split('<page ').slice(1).map((page) =>
    [...page.matchAll(/<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)<\/word>/g)].map((m) => ({
      xMin: Number(m[1]),
      yMin: Number(m[2]),
      xMax: Number(m[3]),
      yMax: Number(m[4]),
      text: decode(m[5]),
    })),
  );
}

/** Words grouped into lines (same baseline within 2 pt), top to bottom. */
function linesOf(words: Word[]): Array<{ y: number; xMin: number; xMax: number; text: string }> {
  const lines: Array<{ y: number; words: Word[] }> = [];
  for (const w of [...words].sort((a, b) => a.yMax - b.yMax)) {
    const line = lines.find((l) => Math.abs(l.y - w.yMax) < 2);
    if (line) line.words.push(w);
    else lines.push({ y: w.yMax, words: [w] });
  }
  return lines
    .sort((a, b) => a.y - b.y)
    .map((l) => ({
      y: l.y,
      xMin: Math.min(...l.words.map((w) => w.xMin)),
      xMax: Math.max(...l.words.map((w) => w.xMax)),
      text: l.words.sort((a, b) => a.xMin - b.xMin).map((w) => w.text).join(' '),
    }));
}

interface QpdfOutline {
  title: string;
  destpageposfrom1: number;
}

describe('publisher-grade books (issue 16)', function () {
  // The JVM-based validators and Ace take their time; the matrix is validated in few runs.
  this.timeout(15 * 60 * 1000);
  let dir: string;
  const files: Array<{ name: string; book: RenderBook; pdf: string; epub: string }> = [];

  before(async function () {
    if (!validatorsInstalled()) {
      const msg = 'publisher-grade tests need the validators: bash scripts/install-validators.sh';
      if (process.env.CI) throw new Error(msg);
      console.warn(`skipping: ${msg}`);
      this.skip();
    }
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'render-publisher-'));
    for (const { name, book } of await bookMatrix()) {
      const pdf = path.join(dir, `${name}.pdf`);
      const epub = path.join(dir, `${name}.epub`);
      await fs.writeFile(pdf, await renderPdf(book));
      await fs.writeFile(epub, await renderEpub(book));
      files.push({ name, book, pdf, epub });
    }
  });

  after(async () => {
    // KEEP_RENDER_OUTPUT=1 leaves the files for a look by eye.
    if (dir && !process.env.KEEP_RENDER_OUTPUT) await fs.rm(dir, { recursive: true, force: true });
  });

  for (const profile of ['ua1', '2u'] as const) {
    it(`passes veraPDF ${profile === 'ua1' ? 'PDF/UA-1' : 'PDF/A-2u'} with no failed rule, every book`, async () => {
      const results = await verapdf(files.map((f) => f.pdf), profile);
      assert.equal(results.length, files.length);
      const failures = results.filter((r) => !r.compliant || r.failedRules.length).map((r) => `${path.basename(r.file)}:\n${veraSummary(r)}`);
      assert.deepEqual(failures, []);
    });
  }

  it('passes qpdf --check, and pdftotext reads every PDF without a warning', async () => {
    for (const f of files) {
      await exec('qpdf', ['--check', f.pdf]);
      const { stderr } = await exec('pdftotext', ['-enc', 'UTF-8', f.pdf, '-']);
      assert.equal(stderr.trim(), '', `${f.name}: ${stderr}`);
    }
  });

  it('declares both standards and the title, escaped, in the XMP', async () => {
    const hostile = files.find((f) => f.name === 'hostile-title')!;
    const { stdout: meta } = await exec('pdfinfo', ['-meta', hostile.pdf]);
    assert.match(meta, /<pdfaid:part>2<\/pdfaid:part>/);
    assert.match(meta, /<pdfaid:conformance>U<\/pdfaid:conformance>/);
    assert.match(meta, /<pdfuaid:part>1<\/pdfuaid:part>/);
    assert.ok(meta.includes('Letters: 東京 ✉ القاهرة ↔ ירושלים 🐉 &lt;A &amp; B&gt; &quot;Q&quot; &apos;S&apos;'), meta);
    const { stdout: info } = await exec('pdfinfo', [hostile.pdf]);
    assert.equal(/^Title:\s+(.*)$/m.exec(info)?.[1], HOSTILE_TITLE);
  });

  it('passes EPUBCheck 5 (--usage) with no message, every book', async () => {
    const reports = await epubcheck5(files.map((f) => f.epub));
    files.forEach((f, i) => assert.deepEqual(reports[i].messages.map((m) => `${m.severity} ${m.ID}: ${m.message}`), [], f.name));
  });

  it('passes DAISY Ace with no violation, every book', async () => {
    for (const f of files) assert.deepEqual(await ace(f.epub), [], f.name);
  });

  it('prints every script and emoji as text: no U+FFFD, no missing letters', async () => {
    for (const name of ['mixed', 'hostile-title']) {
      const f = files.find((x) => x.name === name)!;
      const { stdout } = await exec('pdftotext', ['-enc', 'UTF-8', f.pdf, '-'], { maxBuffer: 64 * 1024 * 1024 });
      assert.ok(!stdout.includes('\uFFFD'), `${name} has U+FFFD`);
      for (const probe of ['🐉', '😀', '✉', '東京', 'Москва', 'Ἀθῆναι', '北京的秋天']) assert.ok(stdout.includes(probe), `${name}: "${probe}" missing`);
    }
  });

  it('draws a word of every probed script with its own Noto family, and poppler reads it back', async () => {
    const f = files.find((x) => x.name === 'scripts')!;
    const { stdout: fonts } = await exec('pdffonts', [f.pdf]);
    const { stdout: text } = await exec('pdftotext', ['-enc', 'UTF-8', f.pdf, '-']);
    assert.ok(!text.includes('\uFFFD'), 'U+FFFD in the text');
    for (const probe of SCRIPT_PROBES) {
      assert.match(fonts, probe.font, `${probe.script}: no ${probe.font} font embedded`);
      if (probe.extracts) assert.ok(text.includes(probe.word), `${probe.script}: "${probe.word}" not in the text`);
    }
  });

  it('sets the 24-chapter book like a book: no widow or orphan, folios and running heads where they belong', async () => {
    const f = files.find((x) => x.name === 'english-24')!;
    const pages = await pageWords(f.pdf);
    const { stdout } = await exec('qpdf', ['--json', '--json-key=outlines', f.pdf]);
    const outlines = (JSON.parse(stdout) as { outlines: QpdfOutline[] }).outlines;
    assert.equal(outlines.length, 24);
    const openers = new Set(outlines.map((o) => o.destpageposfrom1));
    const firstChapter = Math.min(...openers);
    const chapterTitles = f.book.chapters.map((c) => c.title);

    const inBody = (w: Word) => w.yMin >= MARGIN.top - 2 && w.yMax <= PAGE_H - MARGIN.bottom + 2;
    const head = (page: Word[]) => linesOf(page.filter((w) => w.yMax < MARGIN.top - 8));
    const foot = (page: Word[]) => linesOf(page.filter((w) => w.yMin > PAGE_H - MARGIN.bottom + 8));
    // A justified line reaches the right margin; a paragraph's last line (usually) does not.
    const full = (l: { xMax: number }) => l.xMax > PAGE_W - MARGIN.right - 1.5;
    let checkedBreaks = 0;

    pages.forEach((page, i) => {
      const no = i + 1;
      const footer = foot(page).map((l) => l.text).join(' ');
      if (no < firstChapter) {
        assert.equal(footer, '', `front matter page ${no} has a folio`);
        assert.equal(head(page).length, 0, `front matter page ${no} has a running head`);
        return;
      }
      assert.equal(footer, String(no), `page ${no}'s folio`);
      const heads = head(page).map((l) => l.text);
      if (openers.has(no)) {
        assert.deepEqual(heads, [], `chapter opener ${no} has no running head`);
      } else {
        // Book title over even pages, the chapter's title over odd ones.
        const chapter = [...openers].filter((p) => p <= no).length - 1;
        assert.deepEqual(heads, [no % 2 === 0 ? f.book.title : chapterTitles[chapter]], `running head of page ${no}`);
      }

      // Widows and orphans: a paragraph broken at this page's foot leaves ≥ 2 lines here and
      // carries ≥ 2 lines onto the next page.
      const body = linesOf(page.filter(inBody));
      const last = body[body.length - 1];
      if (!last || !full(last) || i + 1 >= pages.length || openers.has(no + 1)) return;
      const pitch = body.length > 1 ? Math.min(...body.slice(1).map((l, k) => l.y - body[k].y)) : 0;
      let here = 1;
      for (let k = body.length - 1; k > 0 && body[k].y - body[k - 1].y < pitch + 3; k--) here++;
      const next = linesOf(pages[i + 1].filter(inBody));
      let there = 0;
      for (const l of next) {
        there++;
        if (!full(l)) break;
      }
      assert.ok(here >= 2, `orphan: one line of a paragraph at the foot of page ${no}`);
      assert.ok(there >= 2, `widow: one line of a paragraph at the head of page ${no + 1}`);
      checkedBreaks++;
    });
    // The scan must have seen paragraphs broken across pages, or it checked nothing.
    assert.ok(checkedBreaks >= 10, `only ${checkedBreaks} paragraph breaks across pages found`);
  });

  it('places an Arabic word inside an English sentence by the bidi algorithm, base direction from the language', async () => {
    const f = files.find((x) => x.name === 'mixed')!;
    const pages = await pageWords(f.pdf);
    const { stdout } = await exec('qpdf', ['--json', '--json-key=outlines', f.pdf]);
    const opener = (JSON.parse(stdout) as { outlines: QpdfOutline[] }).outlines[0].destpageposfrom1;
    const words = pages[opener - 1];
    const find = (text: string) => {
      const hits = words.filter((w) => w.text.replace(/[.,]/g, '') === text || [...w.text].reverse().join('') === text);
      assert.ok(hits.length >= 1, `"${text}" on page ${opener}`);
      return hits;
    };
    // "القاهرة looked exactly …": an English paragraph, set left to right from the left margin.
    const cairo = find('القاهرة').sort((a, b) => a.yMin - b.yMin || a.xMin - b.xMin);
    const looked = find('looked')[0];
    assert.ok(Math.abs(cairo[0].yMin - looked.yMin) < 2, 'the Arabic word opens the first line');
    assert.ok(Math.abs(cairo[0].xMin - MARGIN.left) < 1.5, `the line starts at the left margin (x ${cairo[0].xMin})`);
    assert.ok(cairo[0].xMax < looked.xMin, 'and "looked" follows it on the right');
    // "… had a القاهرة postmark.": the Arabic word in place, between "a" and "postmark".
    const postmark = find('postmark')[0];
    const inner = cairo.find((w) => Math.abs(w.yMin - postmark.yMin) < 2)!;
    assert.ok(inner, 'the second Arabic word is on the line of "postmark"');
    const had = words.find((w) => w.text === 'had' && Math.abs(w.yMin - postmark.yMin) < 2)!;
    assert.ok(had && had.xMax < inner.xMin && inner.xMax < postmark.xMin, 'had … القاهرة … postmark, left to right');
  });
});
