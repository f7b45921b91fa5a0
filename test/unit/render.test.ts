/**
 * Renderer tests: every book is written out and checked with the external validators
 * (epubcheck, qpdf) and poppler's extractors (pdftotext, pdfinfo), so a "valid" here
 * means what a store or a reader would see, not just "the function returned a buffer".
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { escapeXml } from '../../activities/render/common';
import { renderEpub } from '../../activities/render/epub';
import { renderPdf } from '../../activities/render/pdf';
import type { RenderBook, RenderImage } from '../../activities/render/types';
import { epubcheck } from '../helpers/validators';

const run = promisify(execFile);
const PAGE_W = 432;
const PAGE_H = 648;
const SIDE_MARGIN = 54;

/** A 1024×1024 PNG drawn from SVG; `alpha` leaves a transparent corner to exercise flattening. */
async function illustration(hue: number, alpha = false): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="1024" height="1024">
  <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">
    <stop offset="0" stop-color="hsl(${hue},70%,55%)"/><stop offset="1" stop-color="hsl(${(hue + 120) % 360},70%,35%)"/>
  </linearGradient></defs>
  <rect width="1024" height="1024" fill="url(#g)" ${alpha ? 'fill-opacity="0.6"' : ''}/>
  <circle cx="512" cy="430" r="260" fill="#fff7e0"/>
  <path d="M120 900 L512 560 L904 900 Z" fill="hsl(${(hue + 200) % 360},50%,30%)"/>
</svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

async function pngImage(hue: number, alt: string, alpha = false): Promise<RenderImage> {
  return { data: await illustration(hue, alpha), mime: 'image/png', alt };
}

function prose(seed: string, paragraphs: number): string[] {
  const sentence =
    `${seed} walked along the river while the evening light turned the water gold, ` +
    'and nobody in the village could say where the path would lead next. ';
  return Array.from({ length: paragraphs }, (_, i) => sentence.repeat(3 + (i % 4)).trim());
}

const MULTI_TITLES = [
  'Été à Zürich: crème brûlée & <co-op> "café" l\'après-midi',
  'Глава вторая — Ёжик в тумане & «лес» <дом>',
  'Κεφάλαιο τρίτο: Ἀθῆναι & \'Σπάρτη\' <> "μύθος"',
];

async function multilingualBook(): Promise<RenderBook> {
  return {
    id: randomUUID(),
    title: 'Ünïcödé Tales <of> Lands & "Seas" — Сказки и Μύθοι',
    subtitle: 'Žluťoučký kůň & friends',
    author: 'Zoë Ångström-Łukasiewicz',
    language: 'en',
    description: 'Three short tales <with> diacritics, Кириллица & Ελληνικά "quoted" \'too\'.',
    keywords: ['fairy tale', 'Ελληνικά', 'сказка', 'a&b <c>'],
    cover: await pngImage(210, 'A river at dusk under a pale moon, with "quotes" & <brackets>'),
    chapters: [
      {
        index: 1,
        title: MULTI_TITLES[0],
        paragraphs: [
          ...prose('Amélie', 8),
          // An unbreakable run longer than a line must wrap, not run off the page.
          'Supercalifragilisticexpialidocious'.repeat(4) + ' ends here & <there> "now".',
          'Line one of a verse\nline two of the verse',
        ],
        image: await pngImage(30, 'A café terrace by the lake in Zürich, drawn in "gouache" & ink'),
      },
      {
        // No illustration in this one.
        index: 2,
        title: MULTI_TITLES[1],
        paragraphs: ['Ёжик шёл по лесу, а туман становился всё гуще & гуще. <Тишина>.', ...prose('Ёжик', 6)],
      },
      {
        index: 3,
        title: MULTI_TITLES[2],
        paragraphs: ['Ὁ ἥλιος ἔδυ πίσω ἀπὸ τὰ βουνά, καὶ ἡ πόλις ἡσύχασε.', ...prose('Νίκος', 5)],
        image: await pngImage(300, 'Columns of a temple against the sea', true),
      },
    ],
    watermark: 'Made with the free tier of Ebook Engine <https://example.invalid> & more',
    credits: ['text-model-α', 'image-model <β>'],
    modified: '2025-03-04T05:06:07.890Z',
  };
}

async function oneChapterBook(): Promise<RenderBook> {
  // A JPEG input exercises the pass-through/re-encode path of the image converter.
  const jpeg = await sharp(await illustration(120)).jpeg({ quality: 90 }).toBuffer();
  return {
    id: randomUUID(),
    title: 'A Single Story',
    author: 'Sam Writer',
    language: 'fr',
    description: 'Une seule histoire.',
    keywords: [],
    cover: { data: jpeg, mime: 'image/jpeg', alt: 'Une forêt verte' },
    chapters: [
      {
        index: 1,
        title: 'Le commencement',
        paragraphs: prose('Léa', 3),
        image: { data: jpeg, mime: 'image/jpeg', alt: 'Une clairière au matin' },
      },
    ],
    credits: [],
    modified: '2024-12-31T23:59:59Z',
  };
}

/** Whitespace-normalised, so titles wrapped over two lines still match. */
function squash(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/**
 * For comparing with pdftotext output: it joins a word broken after a hyphen at a line
 * end and drops the hyphen ("après-|midi" comes back as "aprèsmidi").
 */
function comparable(s: string): string {
  return squash(s.replace(/-\s*/g, ''));
}

async function hasTool(cmd: string, args: string[]): Promise<boolean> {
  try {
    await run(cmd, args);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

interface QpdfOutline {
  title: string;
  destpageposfrom1: number;
  kids: QpdfOutline[];
}

const cases: Array<{ name: string; make: () => Promise<RenderBook> }> = [
  { name: '3-chapter multilingual book', make: multilingualBook },
  { name: '1-chapter book', make: oneChapterBook },
];

describe('renderers', function () {
  let dir: string;

  before(async function () {
    const tools = await Promise.all([
      hasTool('qpdf', ['--version']),
      hasTool('pdftotext', ['-v']),
      hasTool('pdfinfo', ['-v']),
      hasTool('java', ['-version']).then(async (ok) => ok && (await fs.stat(process.env.EPUBCHECK_JAR ?? '/usr/share/java/epubcheck.jar').then(() => true, () => false))),
    ]);
    if (tools.includes(false)) {
      const msg = 'render tests need qpdf, poppler-utils, java and epubcheck (apt-get install qpdf poppler-utils default-jre-headless epubcheck)';
      // On CI a missing validator must fail loudly rather than pass by skipping.
      if (process.env.CI) throw new Error(msg);
      console.warn(`skipping: ${msg}`);
      this.skip();
    }
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'render-test-'));
  });

  after(async () => {
    // KEEP_RENDER_OUTPUT=1 leaves the files in the temp dir for a look by eye.
    if (dir && !process.env.KEEP_RENDER_OUTPUT) await fs.rm(dir, { recursive: true, force: true });
  });

  it('escapes all XML special characters and drops invalid ones', () => {
    assert.equal(escapeXml(`<a href="x">Tom & 'Jerry'</a>\u0001`), '&lt;a href=&quot;x&quot;&gt;Tom &amp; &apos;Jerry&apos;&lt;/a&gt;');
  });

  for (const c of cases) {
    describe(c.name, () => {
      let book: RenderBook;
      let pdfFile: string;
      let epubFile: string;
      const progress: Array<[number, number]> = [];

      before(async () => {
        book = await c.make();
        const slug = c.name.replace(/\W+/g, '-');
        pdfFile = path.join(dir, `${slug}.pdf`);
        epubFile = path.join(dir, `${slug}.epub`);

        let t = performance.now();
        const pdf = await renderPdf(book, { onProgress: (d, n) => progress.push([d, n]) });
        const pdfMs = performance.now() - t;
        t = performance.now();
        const epub = await renderEpub(book);
        const epubMs = performance.now() - t;
        console.log(
          `      ${c.name}: PDF ${pdfMs.toFixed(0)} ms, ${(pdf.length / 1024).toFixed(0)} KiB; ` +
            `EPUB ${epubMs.toFixed(0)} ms, ${(epub.length / 1024).toFixed(0)} KiB`,
        );
        await fs.writeFile(pdfFile, pdf);
        await fs.writeFile(epubFile, epub);
      });

      describe('PDF', () => {
        it('passes qpdf --check', async () => {
          // execFile rejects on any non-zero exit (2 = errors, 3 = warnings).
          const { stdout } = await run('qpdf', ['--check', pdfFile]);
          assert.match(stdout, /No syntax or stream encoding errors/);
        });

        it('reports progress after each chapter', () => {
          const n = book.chapters.length;
          assert.deepEqual(progress, Array.from({ length: n }, (_, i) => [i + 1, n]));
        });

        it('has the document metadata, PDF 1.7 and tagging', async () => {
          const { stdout } = await run('pdfinfo', ['-enc', 'UTF-8', pdfFile]);
          const field = (name: string) => stdout.match(new RegExp(`^${name}:\\s*(.*)$`, 'm'))?.[1];
          assert.equal(field('Title'), squash(book.title));
          assert.equal(field('Author'), book.author);
          assert.equal(field('Subject'), squash(book.description));
          if (book.keywords.length) assert.equal(field('Keywords'), book.keywords.join(', '));
          assert.equal(field('PDF version'), '1.7');
          assert.equal(field('Tagged'), 'yes');
          assert.equal(field('Page size'), `${PAGE_W} x ${PAGE_H} pts`);
        });

        it('has the chapter titles in its text, and no text on the cover except the watermark', async () => {
          const { stdout } = await run('pdftotext', ['-enc', 'UTF-8', pdfFile, '-']);
          const text = comparable(stdout);
          for (const ch of book.chapters) {
            // Once in the table of contents, once as the heading.
            assert.ok(text.split(comparable(ch.title)).length - 1 >= 2, `title missing or only once: ${ch.title}`);
          }
          assert.ok(text.includes('Ёжик') || book.chapters.length === 1);
          const cover = squash((await run('pdftotext', ['-enc', 'UTF-8', '-f', '1', '-l', '1', pdfFile, '-'])).stdout);
          assert.equal(cover, book.watermark ? squash(book.watermark) : '');
        });

        it('has an outline entry per chapter pointing at the page of its heading', async () => {
          const { stdout } = await run('qpdf', ['--json=2', '--json-key=outlines', pdfFile]);
          const outlines = (JSON.parse(stdout) as { outlines: QpdfOutline[] }).outlines;
          assert.deepEqual(
            outlines.map((o) => o.title),
            book.chapters.map((ch) => squash(ch.title)),
          );
          for (const [i, o] of outlines.entries()) {
            const page = String(o.destpageposfrom1);
            const { stdout: pageText } = await run('pdftotext', ['-enc', 'UTF-8', '-f', page, '-l', page, pdfFile, '-']);
            const squashed = comparable(pageText);
            assert.ok(squashed.startsWith(comparable(book.chapters[i].title)), `page ${page} does not start with the chapter title`);
            // The footer carries the physical page number, which the TOC uses too.
            assert.match(squashed, new RegExp(`\\b${page}\\b`));
          }
        });

        it('keeps every word inside the page and the side margins, with the watermark on every page', async () => {
          const { stdout } = await run('pdftotext', ['-enc', 'UTF-8', '-bbox', pdfFile, '-'], { maxBuffer: 64 * 1024 * 1024 });
          const pages = stdout.split('<page ').slice(1);
          let words = 0;
          pages.forEach((pg, p) => {
            for (const m of pg.matchAll(/<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">/g)) {
              const [xMin, yMin, xMax, yMax] = m.slice(1).map(Number);
              words++;
              assert.ok(yMin >= 0 && yMax <= PAGE_H, `word off the page vertically on page ${p + 1}`);
              assert.ok(
                xMin >= SIDE_MARGIN - 1 && xMax <= PAGE_W - SIDE_MARGIN + 1,
                `word outside the side margins on page ${p + 1}: ${xMin}..${xMax}`,
              );
            }
            if (book.watermark) {
              const plain = squash(pg.replace(/<[^>]+>/g, ' ').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&').replace(/&quot;/g, '"'));
              assert.ok(plain.includes(squash(book.watermark)), `watermark missing on page ${p + 1}`);
            }
          });
          assert.ok(words > 100);
        });
      });

      describe('EPUB', () => {
        it('stores mimetype first, uncompressed, without extra field', async () => {
          const buf = await fs.readFile(epubFile);
          assert.equal(buf.readUInt32LE(0), 0x04034b50);
          assert.equal(buf.readUInt16LE(8), 0, 'compression method');
          const nameLen = buf.readUInt16LE(26);
          assert.equal(buf.readUInt16LE(28), 0, 'extra field length');
          assert.equal(buf.toString('ascii', 30, 30 + nameLen), 'mimetype');
          assert.equal(buf.toString('ascii', 30 + nameLen, 30 + nameLen + 20), 'application/epub+zip');
        });

        it('passes epubcheck with no errors and no warnings', async () => {
          const report = await epubcheck(epubFile);
          const summary = report.messages
            .map((m) => `${m.severity} ${m.ID}: ${m.message} ${JSON.stringify(m.locations?.[0] ?? '')}`)
            .join('\n');
          assert.equal(report.checker.nFatal + report.checker.nError, 0, summary);
          assert.equal(report.checker.nWarning, 0, summary);
        });

        it('has the package metadata, escaped titles and alt texts', async () => {
          const unzip = async (entry: string) => (await run('unzip', ['-p', epubFile, entry])).stdout;
          const opf = await unzip('EPUB/package.opf');
          assert.ok(opf.includes(`<dc:identifier id="pub-id">urn:uuid:${book.id}</dc:identifier>`));
          assert.ok(opf.includes(`<dc:title id="title">${escapeXml(book.title)}</dc:title>`));
          assert.ok(opf.includes(`<dc:language>${book.language}</dc:language>`));
          assert.match(opf, /<meta property="dcterms:modified">\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ<\/meta>/);
          assert.match(opf, /properties="cover-image"/);
          assert.match(opf, /properties="nav"/);
          for (const p of ['accessMode', 'accessModeSufficient', 'accessibilityFeature', 'accessibilityHazard', 'accessibilitySummary']) {
            assert.ok(opf.includes(`property="schema:${p}"`), p);
          }
          const nav = await unzip('EPUB/nav.xhtml');
          assert.match(nav, /epub:type="toc"/);
          for (const [i, ch] of book.chapters.entries()) {
            assert.ok(nav.includes(escapeXml(ch.title)), `nav lacks ${ch.title}`);
            const xhtml = await unzip(`EPUB/chapter-${String(i + 1).padStart(3, '0')}.xhtml`);
            assert.ok(xhtml.includes(`xml:lang="${book.language}"`));
            assert.ok(xhtml.includes(`>${escapeXml(ch.title)}</h1>`));
            if (ch.image) assert.ok(xhtml.includes(`alt="${escapeXml(ch.image.alt)}"`));
            else assert.ok(!xhtml.includes('<img'));
          }
        });

        it('is byte-identical when rendered twice', async () => {
          assert.ok((await renderEpub(book)).equals(await fs.readFile(epubFile)));
        });
      });
    });
  }
});
