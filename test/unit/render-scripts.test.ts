/**
 * Renderer tests for text beyond Latin: Cyrillic, Greek, CJK, Arabic and Hebrew (right to
 * left), emoji, XML specials, a long (24-chapter) book, chapters without illustration and
 * the print-ready PDF variant. Every file goes through the external validators (qpdf,
 * epubcheck) and poppler's extractors, as in render.test.ts.
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
import { renderPdf, type RenderPdfOptions } from '../../activities/render/pdf';
import type { RenderBook, RenderImage } from '../../activities/render/types';
import { epubcheck, epubcheckSummary } from '../helpers/validators';

const run = promisify(execFile);

/** Small PNGs keep the test fast; the image pipeline itself is covered by render.test.ts. */
async function picture(hue: number, width = 256, height = 256): Promise<RenderImage> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
  <rect width="100%" height="100%" fill="hsl(${hue},60%,50%)"/><circle cx="50%" cy="45%" r="30%" fill="#fff6dd"/></svg>`;
  return { data: await sharp(Buffer.from(svg)).png().toBuffer(), mime: 'image/png', alt: `A picture in hue ${hue} & "light" <tone>` };
}

interface Chapter {
  title: string;
  paragraphs: string[];
  image?: boolean;
}

async function book(language: string, title: string, author: string, chapters: Chapter[], extra: Partial<RenderBook> = {}): Promise<RenderBook> {
  return {
    id: randomUUID(),
    title,
    author,
    language,
    description: `${title} — a test book`,
    keywords: ['test'],
    cover: await picture(200),
    chapters: await Promise.all(
      chapters.map(async (c, i) => ({
        index: i + 1,
        title: c.title,
        paragraphs: c.paragraphs,
        image: c.image ? await picture((i * 37) % 360) : undefined,
      })),
    ),
    credits: ['text-model', 'image-model'],
    modified: '2025-06-07T08:09:10Z',
    ...extra,
  };
}

const LATIN = 'Crème brûlée à Zürich: Ångström, Łódź & "Øresund" <naïve> l\'été';
const CYRILLIC = 'Глава первая: Ёжик и медвежонок';
const GREEK = 'Κεφάλαιο δεύτερο: Ἀθῆναι καὶ Σπάρτη';
const CHINESE = '第一章 山中的小村庄';
const JAPANESE = '第二章 ひらがなとカタカナの村';
const KOREAN = '제3장 산속 마을의 이야기';
const ARABIC = 'الفصل الأول القرية في الجبال';
const ARABIC_MIXED = 'الفصل الثاني عام 2024 مع Tom';
const HEBREW = 'פרק ראשון הכפר בהרים';
const HEBREW_MIXED = 'פרק שני: 2024 ו-Dana';
const EMOJI = 'Smiles 😀 and stars ★ for everyone 🎉';
const SPECIALS = `Tags <b>&amp; "double" 'single' & more`;

const prose = {
  latin: 'Amélie walked along the river while the evening light turned the water gold, and nobody in the village could say where the path would lead next.',
  cyrillic: 'Ёжик шёл по лесу, а туман становился всё гуще и гуще, и медвежонок ждал его у костра с самоваром.',
  greek: 'Ὁ ἥλιος ἔδυ πίσω ἀπὸ τὰ βουνά, καὶ ἡ πόλις ἡσύχασε μέχρι τὸ πρωί.',
  chinese: '从前，有一个小村庄，村里住着一位老人。他每天早上都去河边钓鱼，晚上给孩子们讲故事。',
  japanese: 'むかしむかし、ある山の村に、おじいさんとおばあさんが住んでいました。毎日、川へ洗濯に行きました。',
  korean: '옛날 옛적에 산속 작은 마을에 할아버지와 할머니가 살고 있었습니다. 매일 아침 강가에 갔습니다.',
  arabic: 'كان يا ما كان في قديم الزمان، قرية صغيرة في الجبال يعيش فيها رجل عجوز يحب الحكايات.',
  arabicMixed: 'وفي عام 2024 زارها كاتب اسمه Tom Smith من لندن.',
  hebrew: 'היה היה פעם כפר קטן בהרים, ובו גר איש זקן וחכם שאהב לספר סיפורים.',
};

/** Script tags in a title/paragraph mix: several lines' worth of each. */
const para = (s: string, n = 4) => Array.from({ length: n }, () => s).join(' ');

interface Case {
  name: string;
  make: () => Promise<RenderBook>;
  pdfOptions?: RenderPdfOptions;
  /** Titles that read right to left: compared word by word (see rtlWords). */
  rtl?: boolean;
  epubcheck?: boolean;
  print?: { trimWidthIn: number; trimHeightIn: number; bleedIn: number };
}

const LTR_CHAPTERS: Chapter[] = [
  { title: LATIN, paragraphs: [para(prose.latin), 'Line one of a verse\nline two'], image: true },
  { title: CYRILLIC, paragraphs: [para(prose.cyrillic)] },
  { title: GREEK, paragraphs: [para(prose.greek)], image: true },
  { title: CHINESE, paragraphs: [para(prose.chinese, 6), `Mixed ${prose.chinese} with English words.`] },
  { title: JAPANESE, paragraphs: [para(prose.japanese, 6)], image: true },
  { title: KOREAN, paragraphs: [para(prose.korean)] },
  { title: EMOJI, paragraphs: ['Emoji 😀🎉👍🏽 and symbols ☀ ♫ ✓ in a sentence.'] },
  { title: SPECIALS, paragraphs: ['Five specials: < > & " \' in running text.'] },
];

/** 24 chapters cycling through the scripts (titles numbered so they stay distinct). */
function longChapters(): Chapter[] {
  const titles = [LATIN, CYRILLIC, GREEK, CHINESE, JAPANESE, KOREAN, SPECIALS, 'Chapter in plain English'];
  const bodies = [prose.latin, prose.cyrillic, prose.greek, prose.chinese, prose.japanese, prose.korean, prose.latin, prose.latin];
  return Array.from({ length: 24 }, (_, i) => ({
    title: `${i + 1}. ${titles[i % titles.length]}`,
    paragraphs: [para(bodies[i % bodies.length], 3)],
    image: i % 3 === 0,
  }));
}

const cases: Case[] = [
  {
    name: 'mixed LTR scripts',
    make: () => book('en', 'Tales — Сказки, Μύθοι, 故事, 物語, 이야기', 'Zoë Ångström & 王小明', LTR_CHAPTERS),
  },
  {
    // Only what npm installs: DejaVu plus the npm CJK fonts, as on a fresh machine.
    name: 'CJK with bundled fonts only',
    make: () =>
      book('ja', '竜の物語', '山田太郎', [
        { title: JAPANESE, paragraphs: [para(prose.japanese, 6)], image: true },
        { title: CHINESE, paragraphs: [para(prose.chinese, 6)] },
        { title: KOREAN, paragraphs: [para(prose.korean)] },
      ]),
    pdfOptions: { fallbackFonts: 'bundled' },
  },
  {
    name: 'Arabic (right to left)',
    make: () =>
      book('ar', 'حكاية التنين والقرية', 'أحمد علي', [
        { title: ARABIC, paragraphs: [para(prose.arabic), prose.arabicMixed], image: true },
        { title: ARABIC_MIXED, paragraphs: [para(prose.arabic, 2)] },
      ], { watermark: 'صنع بالنسخة المجانية — free tier' }),
    rtl: true,
    epubcheck: true,
  },
  {
    name: 'Hebrew (right to left, bundled fonts)',
    make: () =>
      book('he', 'סיפור הדרקון', 'דנה כהן', [
        { title: HEBREW, paragraphs: [para(prose.hebrew)] },
        { title: HEBREW_MIXED, paragraphs: [para(prose.hebrew, 2)], image: true },
      ]),
    pdfOptions: { fallbackFonts: 'bundled' },
    rtl: true,
  },
  {
    name: '24-chapter book',
    make: () => book('en', 'A Long Book of Many Scripts', 'Sam Writer', longChapters()),
    epubcheck: true,
  },
  {
    name: 'print-ready PDF',
    make: () => book('en', 'Print Edition', 'Sam Writer', LTR_CHAPTERS.slice(0, 4)),
    print: { trimWidthIn: 5.5, trimHeightIn: 8.5, bleedIn: 0.125 },
  },
];

function squash(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/** pdftotext joins a word hyphenated at a line end; compare without hyphens. */
function comparable(s: string): string {
  return squash(s.replace(/-\s*/g, ''));
}

/**
 * Right-to-left text as pdftotext returns it: logical order, wrapped in bidi embedding
 * controls (U+202A–U+202E), with neutral punctuation and spaces sometimes moved across a
 * number and brackets mirrored. Compared as its letters and digits in order.
 */
function rtlWords(s: string): string {
  // Spaces too: poppler puts the space between an RTL word and a number on the number's other side.
  return (s.replace(/[\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '').match(/[\p{L}\p{M}\p{N}]+/gu) ?? []).join('');
}

/** Emoji come back as themselves when a font had them, else as U+FFFD: compare without them. */
function withoutEmoji(s: string): string {
  return squash(s.replace(/[\p{Extended_Pictographic}\uFFFD]/gu, ' '));
}

interface QpdfOutline {
  title: string;
  destpageposfrom1: number;
  kids: QpdfOutline[];
}

async function hasTool(cmd: string, args: string[]): Promise<boolean> {
  try {
    await run(cmd, args);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

async function pdftotext(file: string, first?: number, last?: number): Promise<string> {
  const range = first ? ['-f', String(first), '-l', String(last ?? first)] : [];
  return (await run('pdftotext', ['-enc', 'UTF-8', ...range, file, '-'], { maxBuffer: 64 * 1024 * 1024 })).stdout;
}

describe('renderers: scripts, long books, print', function () {
  let dir: string;
  const files = new Map<string, { book: RenderBook; pdf: string; epub: string }>();
  const epubReports = new Map<string, Promise<Awaited<ReturnType<typeof epubcheck>>>>();

  before(async function () {
    const tools = await Promise.all([
      hasTool('qpdf', ['--version']),
      hasTool('pdftotext', ['-v']),
      hasTool('pdfinfo', ['-v']),
      hasTool('pdfimages', ['-v']),
      hasTool('java', ['-version']).then(async (ok) => ok && (await fs.stat(process.env.EPUBCHECK_JAR ?? '/usr/share/java/epubcheck.jar').then(() => true, () => false))),
    ]);
    if (tools.includes(false)) {
      const msg = 'render tests need qpdf, poppler-utils, java and epubcheck (apt-get install qpdf poppler-utils default-jre-headless epubcheck)';
      if (process.env.CI) throw new Error(msg);
      console.warn(`skipping: ${msg}`);
      this.skip();
    }
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'render-scripts-'));
    for (const c of cases) {
      const b = await c.make();
      const slug = c.name.replace(/\W+/g, '-');
      const pdf = path.join(dir, `${slug}.pdf`);
      const epub = path.join(dir, `${slug}.epub`);
      const t = performance.now();
      await fs.writeFile(pdf, await renderPdf(b, { ...c.pdfOptions, print: c.print }));
      const pdfMs = performance.now() - t;
      await fs.writeFile(epub, await renderEpub(b));
      console.log(`      ${c.name}: PDF ${pdfMs.toFixed(0)} ms`);
      files.set(c.name, { book: b, pdf, epub });
      // epubcheck costs seconds per run: start the ones wanted now, in parallel, and await them in their tests.
      if (c.epubcheck) {
        const report = epubcheck(epub);
        report.catch(() => undefined);
        epubReports.set(c.name, report);
      }
    }
  });

  after(async () => {
    if (dir && !process.env.KEEP_RENDER_OUTPUT) await fs.rm(dir, { recursive: true, force: true });
  });

  for (const c of cases) {
    describe(c.name, () => {
      const get = () => files.get(c.name)!;

      it('passes qpdf --check without warnings', async () => {
        // execFile rejects on any non-zero exit (2 = errors, 3 = warnings).
        const { stdout, stderr } = await run('qpdf', ['--check', get().pdf]);
        assert.match(stdout, /No syntax or stream encoding errors/);
        assert.equal(stderr, '');
      });

      it('has every chapter title in the outline, pointing at the page whose text starts with it', async () => {
        const { book: b, pdf } = get();
        const { stdout } = await run('qpdf', ['--json=2', '--json-key=outlines', pdf]);
        const outlines = (JSON.parse(stdout) as { outlines: QpdfOutline[] }).outlines;
        assert.deepEqual(
          outlines.map((o) => o.title),
          b.chapters.map((ch) => squash(ch.title)),
        );
        for (const [i, o] of outlines.entries()) {
          const pageText = await pdftotext(pdf, o.destpageposfrom1);
          const title = b.chapters[i].title;
          if (c.rtl) {
            assert.ok(rtlWords(pageText).startsWith(rtlWords(title)), `page ${o.destpageposfrom1}: ${JSON.stringify(pageText.slice(0, 120))} vs ${title}`);
          } else {
            assert.ok(
              withoutEmoji(comparable(pageText)).startsWith(withoutEmoji(comparable(title))),
              `page ${o.destpageposfrom1}: ${JSON.stringify(pageText.slice(0, 120))} vs ${title}`,
            );
          }
        }
      });

      it('round-trips the chapter titles and the body text through pdftotext', async () => {
        const { book: b, pdf } = get();
        const text = await pdftotext(pdf);
        for (const ch of b.chapters) {
          // Once in the table of contents, once as the heading.
          if (c.rtl) {
            assert.ok(rtlWords(text).split(rtlWords(ch.title)).length - 1 >= 2, `title missing or only once: ${ch.title}`);
          } else {
            const all = withoutEmoji(comparable(text));
            assert.ok(all.split(withoutEmoji(comparable(ch.title))).length - 1 >= 2, `title missing or only once: ${ch.title}`);
          }
        }
        // A sentence of each script's body text, across line breaks.
        const body = c.rtl ? rtlWords(text) : comparable(text).replace(/ /g, '');
        for (const ch of b.chapters) {
          const first = ch.paragraphs[0].split(/(?<=[.。])/)[0];
          if (/\p{Extended_Pictographic}/u.test(first)) continue;
          const want = c.rtl ? rtlWords(first) : comparable(first).replace(/ /g, '');
          assert.ok(body.includes(want), `body text missing: ${first}`);
        }
      });

      if (c.rtl) {
        it('sets right-to-left lines flush right', async () => {
          const { stdout } = await run('pdftotext', ['-enc', 'UTF-8', '-bbox', get().pdf, '-'], { maxBuffer: 64 * 1024 * 1024 });
          // Body lines of the first chapter (page 5) end at the right margin.
          const page = stdout.split('<page ')[5];
          const xMax = [...page.matchAll(/<word xMin="[\d.]+" yMin="[\d.]+" xMax="([\d.]+)"/g)].map((m) => Number(m[1]));
          assert.ok(xMax.filter((x) => Math.abs(x - (432 - 54)) < 1.5).length >= 3, `few words at the right margin: ${xMax.join(',')}`);
        });

        it('marks every EPUB document right to left with its language', async () => {
          const { book: b, epub } = get();
          const opf = (await run('unzip', ['-p', epub, 'EPUB/package.opf'])).stdout;
          assert.match(opf, /page-progression-direction="rtl"/);
          const { stdout: list } = await run('unzip', ['-Z1', epub]);
          const docs = list.split('\n').filter((f) => f.endsWith('.xhtml'));
          assert.ok(docs.length >= 4 + b.chapters.length);
          for (const d of docs) {
            const xhtml = (await run('unzip', ['-p', epub, d])).stdout;
            assert.match(xhtml, new RegExp(`<html [^>]*xml:lang="${b.language}"[^>]*dir="rtl"`), d);
          }
        });
      }

      if (c.epubcheck) {
        it('EPUB passes epubcheck with no errors and no warnings', async () => {
          const report = await epubReports.get(c.name)!;
          const summary = epubcheckSummary(report);
          assert.equal(report.checker.nFatal + report.checker.nError, 0, summary);
          assert.equal(report.checker.nWarning, 0, summary);
          const { book: b, epub } = get();
          const nav = (await run('unzip', ['-p', epub, 'EPUB/nav.xhtml'])).stdout;
          for (const ch of b.chapters) assert.ok(nav.includes(`>${escapeXml(ch.title)}</a>`), `nav lacks ${ch.title}`);
        });
      }

      if (c.print) {
        const p = c.print;
        it('has MediaBox = trim + bleed and TrimBox/BleedBox on every page', async () => {
          const { pdf } = get();
          const { stdout: info } = await run('pdfinfo', [pdf]);
          const pages = Number(info.match(/^Pages:\s*(\d+)/m)![1]);
          const { stdout } = await run('pdfinfo', ['-box', '-f', '1', '-l', String(pages), pdf]);
          const w = (p.trimWidthIn + 2 * p.bleedIn) * 72;
          const h = (p.trimHeightIn + 2 * p.bleedIn) * 72;
          const b = p.bleedIn * 72;
          const box = (name: string) =>
            [...stdout.matchAll(new RegExp(`^Page\\s+\\d+ ${name}:\\s+([-\\d. ]+)$`, 'gm'))].map((m) => m[1].trim().split(/\s+/).map(Number));
          const close = (a: number[], e: number[]) => a.length === 4 && a.every((v, i) => Math.abs(v - e[i]) < 0.01);
          for (const [name, expected] of [
            ['MediaBox', [0, 0, w, h]],
            ['BleedBox', [0, 0, w, h]],
            ['TrimBox', [b, b, b + p.trimWidthIn * 72, b + p.trimHeightIn * 72]],
          ] as const) {
            const boxes = box(name);
            assert.equal(boxes.length, pages, `${name} on every page`);
            for (const bx of boxes) assert.ok(close(bx, [...expected]), `${name} ${bx.join(' ')} != ${expected.join(' ')}`);
          }
        });

        it('has no cover inside, and every picture at 300 ppi or more at its printed size', async () => {
          const { pdf, book: b } = get();
          const { stdout } = await run('pdfimages', ['-list', pdf]);
          const rows = stdout.split('\n').slice(2).filter((l) => l.trim()).map((l) => l.trim().split(/\s+/));
          assert.equal(rows.length, b.chapters.filter((c) => c.image).length, 'one image a picture of a chapter, no cover');
          assert.ok(rows.every((r) => Number(r[0]) > 1), 'no image on page 1');
          for (const r of rows) assert.ok(Number(r[12]) >= 300 && Number(r[13]) >= 300, `page ${r[0]}: ${r[12]}×${r[13]} ppi`);
        });
      }
    });
  }
});
