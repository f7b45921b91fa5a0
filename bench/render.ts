/**
 * Render benchmark: our renderPdf/renderEpub against headless Chromium (HTML → PDF) and
 * pandoc (Markdown → EPUB) on the same 12-chapter, ~30,000-word book with 13 PNG
 * illustrations of 1024×1024. Every renderer runs in its own child process under
 * /usr/bin/time, so wall time, CPU (user+sys, including reaped descendants) and peak
 * RSS are per renderer; a /proc sampler also sums RSS over the whole process tree,
 * which is what counts for multi-process Chromium.
 *
 *   npx tsx bench/render.ts            # 3 runs each (BENCH_RUNS=n to change)
 *   BENCH_PDF_ONLY=1 npx tsx bench/render.ts   # only our PDF (fresh, warmed-up) and Chromium
 *   BENCH_PRINT_ONLY=1 npx tsx bench/render.ts # only our screen PDF, the print interior and both in one process
 *
 * Child mode (what the parent runs for our renderers):
 *   node --import tsx bench/render.ts --child <mode> <bookDir> <outFile>
 *
 * Only write the book into a folder (for profiling a child by hand):
 *   npx tsx bench/render.ts --make <dir>
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import { readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import type { RenderBook, RenderImage } from '../activities/render/types';

const ROOT = path.resolve(__dirname, '..');
const CHAPTERS = 12;
const WORDS = 30_000;
const IMAGE_PX = 1024;
const PAGE_W = 432;
const PAGE_H = 648;
/** The print interior's trim and bleed, as activities/files.ts passes them. */
const PRINT_FORMAT = { trimWidthIn: 6, trimHeightIn: 9, bleedIn: 0.125 };
const FONT_DIR = path.join(path.dirname(require.resolve('dejavu-fonts-ttf/package.json')), 'ttf');

// ---------------------------------------------------------------------------------------
// The book: deterministic (seeded), so every run and every renderer sees the same input.

function prng(seed: number): () => number {
  // mulberry32: tiny, seedable, good enough to vary prose and scenes.
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VOCAB = (
  'the a an and but or so because while when where under over across beyond through toward ' +
  'lighthouse keeper gull clockwork harbour river lantern village forest mountain storm tide ' +
  'morning evening night winter summer autumn spring window door stair bridge road path field ' +
  'old young quiet bright dark silver golden brass copper cold warm distant hidden broken gentle ' +
  'walked listened remembered whispered carried opened watched followed turned waited answered ' +
  'wondered noticed climbed crossed gathered mended counted painted sang laughed slept dreamed ' +
  'she he they we it her his their its nobody someone everyone nothing something everything ' +
  'water light shadow wind salt stone wood iron glass paper letter map compass clock bell rope ' +
  'sailor baker weaver fisher miller teacher child grandmother stranger traveller friend sister ' +
  'slowly softly suddenly carefully almost never always again still already perhaps together ' +
  'in on at by with from of to into beside behind between among along against without within'
).split(/\s+/);

function sentence(rnd: () => number): string {
  const n = 8 + Math.floor(rnd() * 15);
  const words = Array.from({ length: n }, () => VOCAB[Math.floor(rnd() * VOCAB.length)]);
  if (rnd() < 0.3) words.splice(Math.floor(n / 2), 0, `${words.splice(Math.floor(n / 2), 1)[0]},`);
  const s = words.join(' ');
  return s[0].toUpperCase() + s.slice(1) + (rnd() < 0.1 ? '?' : '.');
}

function chapterParagraphs(rnd: () => number, words: number): string[] {
  const paragraphs: string[] = [];
  let count = 0;
  while (count < words) {
    const sentences = Array.from({ length: 3 + Math.floor(rnd() * 6) }, () => sentence(rnd));
    const p = sentences.join(' ');
    count += p.split(' ').length;
    paragraphs.push(p);
  }
  return paragraphs;
}

/** An illustration-like scene: gradient sky, textured clouds, ridges, trees, water, grain. */
function sceneSvg(rnd: () => number, i: number): string {
  const hue = Math.floor(rnd() * 360);
  const hsl = (dh: number, s: number, l: number) => `hsl(${(hue + dh + 360) % 360},${s}%,${l}%)`;
  const ridge = (base: number, amp: number) => {
    let d = `M0 ${IMAGE_PX}`;
    for (let x = 0; x <= IMAGE_PX; x += 32) d += ` L${x} ${Math.round(base - rnd() * amp)}`;
    return `${d} L${IMAGE_PX} ${IMAGE_PX} Z`;
  };
  const trees = Array.from({ length: 40 + Math.floor(rnd() * 40) }, () => {
    const x = Math.round(rnd() * IMAGE_PX);
    const y = 620 + Math.round(rnd() * 200);
    const h = 40 + Math.round(rnd() * 90);
    return `<path d="M${x} ${y - h} L${x - h / 4} ${y} L${x + h / 4} ${y} Z" fill="${hsl(120 + rnd() * 40, 40, 18 + rnd() * 15)}"/>`;
  }).join('');
  const stars = Array.from({ length: 60 }, () =>
    `<circle cx="${Math.round(rnd() * IMAGE_PX)}" cy="${Math.round(rnd() * 400)}" r="${(1 + rnd() * 2.5).toFixed(1)}" fill="#fff" opacity="${(0.3 + rnd() * 0.6).toFixed(2)}"/>`,
  ).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${IMAGE_PX}" height="${IMAGE_PX}">
  <defs>
    <linearGradient id="sky" x1="0" y1="0" x2="0" y2="1">
      <stop offset="0" stop-color="${hsl(0, 60, 25)}"/><stop offset="0.6" stop-color="${hsl(40, 70, 60)}"/><stop offset="1" stop-color="${hsl(80, 50, 75)}"/>
    </linearGradient>
    <radialGradient id="sun"><stop offset="0" stop-color="#fff8e0"/><stop offset="1" stop-color="#fff8e0" stop-opacity="0"/></radialGradient>
    <filter id="clouds"><feTurbulence type="fractalNoise" baseFrequency="${(0.004 + rnd() * 0.006).toFixed(4)} 0.012" numOctaves="5" seed="${i}"/>
      <feColorMatrix values="0 0 0 0 1  0 0 0 0 1  0 0 0 0 1  0 0 0 1.4 -0.5"/></filter>
    <filter id="grain"><feTurbulence type="fractalNoise" baseFrequency="0.9" numOctaves="2" seed="${i + 100}"/>
      <feColorMatrix values="0 0 0 0 0.5  0 0 0 0 0.5  0 0 0 0 0.5  0 0 0 0.09 0"/></filter>
  </defs>
  <rect width="100%" height="100%" fill="url(#sky)"/>
  ${stars}
  <circle cx="${200 + Math.round(rnd() * 600)}" cy="${150 + Math.round(rnd() * 200)}" r="220" fill="url(#sun)"/>
  <rect width="100%" height="60%" filter="url(#clouds)" opacity="0.7"/>
  <path d="${ridge(520, 220)}" fill="${hsl(200, 30, 40)}"/>
  <path d="${ridge(640, 160)}" fill="${hsl(180, 35, 28)}"/>
  <rect y="820" width="100%" height="204" fill="${hsl(190, 45, 35)}"/>
  ${Array.from({ length: 30 }, (_, k) => `<rect x="${Math.round(rnd() * 900)}" y="${830 + k * 6}" width="${60 + Math.round(rnd() * 200)}" height="2" fill="#fff" opacity="0.25"/>`).join('')}
  ${trees}
  <rect width="100%" height="100%" filter="url(#grain)"/>
</svg>`;
}

interface BookSpec {
  title: string;
  author: string;
  chapters: Array<{ index: number; title: string; paragraphs: string[]; image: string; alt: string }>;
  cover: string;
}

async function makeBook(dir: string): Promise<BookSpec> {
  const rnd = prng(20260401);
  await fs.mkdir(path.join(dir, 'images'), { recursive: true });
  const images = await Promise.all(
    Array.from({ length: CHAPTERS + 1 }, (_, i) => sceneSvg(rnd, i)).map(async (svg, i) => {
      const name = i === 0 ? 'cover.png' : `chapter-${String(i).padStart(2, '0')}.png`;
      // Default zlib level, like a provider's PNG; no palette reduction.
      await fs.writeFile(path.join(dir, 'images', name), await sharp(Buffer.from(svg)).png().toBuffer());
      return `images/${name}`;
    }),
  );
  const spec: BookSpec = {
    title: 'The Keeper of the Northern Light',
    author: 'Bench Writer',
    cover: images[0],
    chapters: Array.from({ length: CHAPTERS }, (_, i) => ({
      index: i + 1,
      title: `Chapter ${i + 1}: ${sentence(rnd).slice(0, 40).replace(/[.?,]$/, '')}`,
      paragraphs: chapterParagraphs(rnd, WORDS / CHAPTERS),
      image: images[i + 1],
      alt: `Illustration for chapter ${i + 1}: a valley at dusk`,
    })),
  };
  await fs.writeFile(path.join(dir, 'book.json'), JSON.stringify(spec));
  await fs.writeFile(path.join(dir, 'book.html'), toHtml(spec));
  await fs.writeFile(path.join(dir, 'book.md'), toMarkdown(spec));
  return spec;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The same book as print HTML: 6×9 in pages, DejaVu Serif, chapter per page, images as PNG. */
function toHtml(b: BookSpec): string {
  const font = (name: string, file: string, extra = '') =>
    `@font-face{font-family:"${name}";src:url("file://${path.join(FONT_DIR, file)}");${extra}}`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(b.title)}</title><style>
${font('DejaVu Serif', 'DejaVuSerif.ttf')}${font('DejaVu Serif', 'DejaVuSerif-Bold.ttf', 'font-weight:bold;')}
@page{size:6in 9in;margin:58pt 54pt 68pt 54pt}
@page cover{margin:0}
body{font-family:"DejaVu Serif";font-size:11.5pt;line-height:1.4;color:#1a1a1a}
.cover{page:cover;width:6in;height:9in;object-fit:cover;display:block}
section{break-before:page}
h1{font-size:20pt;margin:0 0 18pt}
figure{margin:0 0 12pt}
figure img{width:100%;height:auto}
p{margin:0 0 7pt;text-align:justify;hyphens:auto}
nav li{margin:0 0 4pt}
</style></head><body>
<img class="cover" src="${b.cover}" alt="Cover">
<section><h1>${esc(b.title)}</h1><p>${esc(b.author)}</p></section>
<section><nav><h1>Contents</h1><ol>${b.chapters.map((c) => `<li><a href="#ch${c.index}">${esc(c.title)}</a></li>`).join('')}</ol></nav></section>
${b.chapters
  .map(
    (c) => `<section id="ch${c.index}"><h1>${esc(c.title)}</h1>
<figure><img src="${c.image}" alt="${esc(c.alt)}"></figure>
${c.paragraphs.map((p) => `<p>${esc(p)}</p>`).join('\n')}</section>`,
  )
  .join('\n')}
</body></html>`;
}

function toMarkdown(b: BookSpec): string {
  return [
    '---',
    `title: "${b.title}"`,
    `author: "${b.author}"`,
    'lang: en',
    '---',
    '',
    ...b.chapters.flatMap((c) => [`# ${c.title}`, '', `![${c.alt}](${c.image})`, '', ...c.paragraphs.flatMap((p) => [p, ''])]),
  ].join('\n');
}

/** Pre-converted JPEGs for the layout-only profile runs. */
async function preSizedJpegs(dir: string, spec: BookSpec): Promise<void> {
  for (const rel of [spec.cover, ...spec.chapters.map((c) => c.image)]) {
    const img = sharp(path.join(dir, rel));
    const data = rel === spec.cover ? img.resize(682, 1023, { fit: 'cover' }) : img;
    await data.flatten({ background: '#fff' }).jpeg({ quality: 85 }).toFile(path.join(dir, `${rel}.pre.jpg`));
  }
}

// ---------------------------------------------------------------------------------------
// Child mode: one of our renderers (or a profiling slice of one) in this process.

function loadRenderBook(dir: string, spec: BookSpec, readImage: (rel: string) => RenderImage): RenderBook {
  return {
    id: '6f1c1c4e-4a7e-4d43-9a57-3b1f1d9a0b11',
    title: spec.title,
    author: spec.author,
    language: 'en',
    description: 'A benchmark book.',
    keywords: ['bench'],
    cover: readImage(spec.cover),
    chapters: spec.chapters.map((c) => ({ index: c.index, title: c.title, paragraphs: c.paragraphs, image: readImage(c.image) })),
    credits: ['offline'],
    modified: '2026-01-01T00:00:00Z',
  };
}

async function child(mode: string, dir: string, out: string): Promise<void> {
  const spec = JSON.parse(readFileSync(path.join(dir, 'book.json'), 'utf8')) as BookSpec;
  const png = (rel: string): RenderImage => ({ data: readFileSync(path.join(dir, rel)), mime: 'image/png', alt: 'x' });
  // Profiling input: JPEGs already at the size the renderers want, so their converter
  // passes them through and what is left is layout, font subsetting and zipping.
  const pre = (rel: string): RenderImage => ({ data: readFileSync(path.join(dir, `${rel}.pre.jpg`)), mime: 'image/jpeg', alt: 'x' });
  const { renderPdf } = await import('../activities/render/pdf');
  const { renderEpub } = await import('../activities/render/epub');
  const { toJpeg } = await import('../activities/render/common');
  if (mode === 'pdf-warm') {
    // What a worker does once when it picks up its first book (activities/index.ts), long
    // before that book is rendered: a small book rendered twice. Timed apart from the render.
    const { warmUpRenderers } = await import('../activities/render/warmup');
    await warmUpRenderers();
  }
  const t0 = performance.now();
  const u0 = process.resourceUsage();
  let bytes = 0;
  if (mode === 'pdf' || mode === 'pdf-warm' || mode === 'pdf-prejpeg') {
    const buf = await renderPdf(loadRenderBook(dir, spec, mode === 'pdf' ? png : pre));
    await fs.writeFile(out, buf);
    bytes = buf.length;
  } else if (mode === 'pdf-print') {
    // The print interior of a printReady plan (activities/files.ts renderPrintPdf).
    const buf = await renderPdf(loadRenderBook(dir, spec, png), { print: PRINT_FORMAT });
    await fs.writeFile(out, buf);
    bytes = buf.length;
  } else if (mode === 'pdf-both') {
    // What a printReady book's ending renders in one worker: the screen PDF, then the print interior.
    const screen = await renderPdf(loadRenderBook(dir, spec, png));
    const print = await renderPdf(loadRenderBook(dir, spec, png), { print: PRINT_FORMAT });
    await fs.writeFile(out, print);
    bytes = screen.length + print.length;
  } else if (mode === 'epub' || mode === 'epub-prejpeg') {
    const buf = await renderEpub(loadRenderBook(dir, spec, mode === 'epub' ? png : pre));
    await fs.writeFile(out, buf);
    bytes = buf.length;
  } else if (mode === 'jpeg-pdf' || mode === 'jpeg-epub') {
    // The image conversions alone, with the options each renderer uses (1600 px cap;
    // PDF crops the cover to the page's 2:3).
    const book = loadRenderBook(dir, spec, png);
    const cover = await toJpeg(book.cover, { maxWidth: 1600, aspect: mode === 'jpeg-pdf' ? PAGE_H / PAGE_W : undefined });
    bytes += cover.data.length;
    for (const c of book.chapters) bytes += (await toJpeg(c.image!, { maxWidth: 1600 })).data.length;
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  const u1 = process.resourceUsage();
  // Render-only numbers, next to the whole-process ones /usr/bin/time gives the parent.
  process.stdout.write(
    JSON.stringify({
      renderMs: performance.now() - t0,
      renderCpuMs: (u1.userCPUTime + u1.systemCPUTime - u0.userCPUTime - u0.systemCPUTime) / 1000,
      bytes,
    }) + '\n',
  );
}

// ---------------------------------------------------------------------------------------
// Parent: run each renderer in a child under /usr/bin/time, sample the tree's RSS.

interface Sample {
  wallS: number;
  minWallS?: number;
  cpuS: number;
  maxRssMb: number;
  treeRssMb: number;
  treeCpuS: number;
  renderMs?: number;
  renderCpuMs?: number;
  bytes: number;
}

/** All descendants of `root` with their RSS and CPU, read from /proc. */
function procTree(root: number): Array<{ pid: number; rss: number; cpu: number }> {
  const parent = new Map<number, number>();
  const stat = new Map<number, string[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const s = readFileSync(`/proc/${name}/stat`, 'utf8');
      // Fields after the parenthesised command name (which may itself contain spaces).
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(name), Number(f[1]));
      stat.set(Number(name), f);
    } catch {
      // Exited between readdir and read.
    }
  }
  const tick = 100; // USER_HZ on Linux
  const page = 4096;
  const out: Array<{ pid: number; rss: number; cpu: number }> = [];
  for (const [pid, f] of stat) {
    let p: number | undefined = pid;
    while (p && p !== root && p !== 1) p = parent.get(p);
    if (p !== root) continue;
    // f[11]=utime f[12]=stime f[21]=rss (pages), counting from the state field.
    out.push({ pid, rss: Number(f[21]) * page, cpu: (Number(f[11]) + Number(f[12])) / tick });
  }
  return out;
}

async function measure(cmd: string, args: string[], opts: { cwd?: string } = {}): Promise<Sample & { stdout: string }> {
  const timeFile = path.join(os.tmpdir(), `bench-time-${process.pid}-${Date.now()}`);
  const child = spawn('/usr/bin/time', ['-f', '%e %U %S %M', '-o', timeFile, cmd, ...args], {
    cwd: opts.cwd ?? ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  let treePeak = 0;
  const cpuSeen = new Map<number, number>();
  const sampler = setInterval(() => {
    const tree = procTree(child.pid!);
    treePeak = Math.max(treePeak, tree.reduce((a, p) => a + p.rss, 0));
    for (const p of tree) cpuSeen.set(p.pid, p.cpu);
  }, 20);
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  clearInterval(sampler);
  const [e, u, s, m] = (await fs.readFile(timeFile, 'utf8')).trim().split('\n').at(-1)!.split(' ').map(Number);
  await fs.rm(timeFile, { force: true });
  if (code !== 0) throw new Error(`${cmd} exited ${code}: ${stderr.slice(-2000)}`);
  const last = stdout.trim().split('\n').at(-1) ?? '';
  const inner = last.startsWith('{') ? (JSON.parse(last) as { renderMs: number; renderCpuMs: number; bytes: number }) : undefined;
  return {
    wallS: e,
    cpuS: u + s,
    maxRssMb: m / 1024,
    treeRssMb: treePeak / 1024 / 1024,
    // Sampled per-process CPU (last seen): a cross-check on what time(1) got from wait4.
    treeCpuS: [...cpuSeen.values()].reduce((a, b) => a + b, 0),
    renderMs: inner?.renderMs,
    renderCpuMs: inner?.renderCpuMs,
    bytes: inner?.bytes ?? 0,
    stdout,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  // The machine may be shared: record its load so wall times can be read in context.
  console.log(`load average at start: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'render-bench-'));
  const t = performance.now();
  const spec = await makeBook(dir);
  const words = spec.chapters.reduce((a, c) => a + c.paragraphs.join(' ').split(/\s+/).length, 0);
  const pngSizes = await Promise.all([spec.cover, ...spec.chapters.map((c) => c.image)].map(async (p) => (await fs.stat(path.join(dir, p))).size));
  await preSizedJpegs(dir, spec);
  console.log(
    `book: ${spec.chapters.length} chapters, ${words} words, ${pngSizes.length} PNGs ${IMAGE_PX}x${IMAGE_PX} ` +
      `(${(pngSizes.reduce((a, b) => a + b, 0) / 1024 / 1024).toFixed(1)} MB, ${(Math.min(...pngSizes) / 1024).toFixed(0)}-${(Math.max(...pngSizes) / 1024).toFixed(0)} KB each), ` +
      `made in ${((performance.now() - t) / 1000).toFixed(1)} s in ${dir}`,
  );

  const node = (mode: string, out: string): [string, string[]] => [
    process.execPath,
    ['--import', 'tsx', path.join(ROOT, 'bench/render.ts'), '--child', mode, dir, out],
  ];
  const renderers: Array<{ name: string; run: (i: number) => [string, string[]]; cwd?: string }> = [
    { name: 'ours renderPdf', run: (i) => node('pdf', path.join(dir, `ours-${i}.pdf`)) },
    { name: 'ours renderPdf, warmed-up worker', run: (i) => node('pdf-warm', path.join(dir, `warm-${i}.pdf`)) },
    { name: 'ours renderPdf, print interior', run: (i) => node('pdf-print', path.join(dir, `print-${i}.pdf`)) },
    { name: 'ours renderPdf, screen + print interior', run: (i) => node('pdf-both', path.join(dir, `both-${i}.pdf`)) },
    {
      name: 'chromium --print-to-pdf',
      run: (i) => [
        'chromium',
        [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
          '--no-first-run',
          '--no-pdf-header-footer',
          // A fresh profile per run: what a service that spawns one browser per book pays.
          `--user-data-dir=${path.join(dir, `chrome-profile-${i}`)}`,
          `--print-to-pdf=${path.join(dir, `chromium-${i}.pdf`)}`,
          `file://${path.join(dir, 'book.html')}`,
        ],
      ],
    },
    { name: 'ours renderEpub', run: (i) => node('epub', path.join(dir, `ours-${i}.epub`)) },
    {
      name: 'pandoc → epub3',
      cwd: dir,
      run: (i) => [
        'pandoc',
        ['book.md', '-f', 'markdown', '-t', 'epub3', '--epub-cover-image', spec.cover, '-o', path.join(dir, `pandoc-${i}.epub`)],
      ],
    },
    // Profile slices: where our time goes.
    { name: 'profile: PDF image conversions only', run: () => node('jpeg-pdf', '/dev/null') },
    { name: 'profile: renderPdf with pre-sized JPEGs', run: (i) => node('pdf-prejpeg', path.join(dir, `pre-${i}.pdf`)) },
    { name: 'profile: EPUB image conversions only', run: () => node('jpeg-epub', '/dev/null') },
    { name: 'profile: renderEpub with pre-sized JPEGs', run: (i) => node('epub-prejpeg', path.join(dir, `pre-${i}.epub`)) },
    { name: 'profile: node + tsx + imports, no work', run: () => [process.execPath, ['--import', 'tsx', '-e', "require('./activities/render/pdf');require('./activities/render/epub')"]] },
  ];

  const results: Array<{ name: string; s: Sample; outBytes: number }> = [];
  // Round-robin over the renderers, run after run: if the machine's load drifts, every
  // renderer sees the same drift instead of one getting all the quiet minutes.
  // BENCH_PDF_ONLY=1: only our PDF (fresh and warmed-up) and Chromium, for a shorter run
  // when the machine is busy and the PDF's ratio is what is in question.
  if (process.env.BENCH_PDF_ONLY) renderers.splice(0, renderers.length, ...renderers.filter((r) => /renderPdf|chromium/.test(r.name) && !r.name.startsWith('profile')));
  // BENCH_PRINT_ONLY=1: what the print interior adds to a book's render (no Chromium, no EPUB).
  if (process.env.BENCH_PRINT_ONLY) renderers.splice(0, renderers.length, ...renderers.filter((r) => /^ours renderPdf(,| print|$)/.test(r.name) && !/warmed/.test(r.name)));
  const all = renderers.map(() => [] as Sample[]);
  for (let i = 0; i < runs; i++) {
    for (const [k, r] of renderers.entries()) {
      const [cmd, args] = r.run(i);
      all[k].push(await measure(cmd, args, { cwd: r.cwd }));
    }
    console.error(`  run ${i + 1}/${runs} done`);
  }
  for (const [k, r] of renderers.entries()) {
    const samples = all[k];
    const pick = (f: (s: Sample) => number | undefined) => {
      const xs = samples.map(f).filter((x): x is number => x !== undefined);
      return xs.length ? median(xs) : undefined;
    };
    const s: Sample = {
      wallS: pick((x) => x.wallS)!,
      minWallS: Math.min(...samples.map((x) => x.wallS)),
      cpuS: pick((x) => x.cpuS)!,
      maxRssMb: Math.max(...samples.map((x) => x.maxRssMb)),
      treeRssMb: Math.max(...samples.map((x) => x.treeRssMb)),
      treeCpuS: pick((x) => x.treeCpuS)!,
      renderMs: pick((x) => x.renderMs),
      renderCpuMs: pick((x) => x.renderCpuMs),
      bytes: 0,
    };
    const outFile = await lastOutput(dir, r.name);
    results.push({ name: r.name, s, outBytes: outFile });
    console.error(`  ${r.name}: wall ${s.wallS.toFixed(2)} s, cpu ${s.cpuS.toFixed(2)} s, rss ${s.treeRssMb.toFixed(0)} MB`);
  }

  const fmt = (n: number | undefined, d = 2) => (n === undefined ? '–' : n.toFixed(d));
  const lines = [
    `| renderer | wall s | wall s (min) | CPU s (user+sys) | CPU s (tree, sampled) | peak RSS MB (largest process) | peak RSS MB (process tree, sampled) | in-process render wall s | in-process render CPU s | output |`,
    `| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`,
    ...results.map(
      ({ name, s, outBytes }) =>
        `| ${name} | ${fmt(s.wallS)} | ${fmt(s.minWallS)} | ${fmt(s.cpuS)} | ${fmt(s.treeCpuS)} | ${fmt(s.maxRssMb, 0)} | ${fmt(s.treeRssMb, 0)} | ${fmt(s.renderMs && s.renderMs / 1000)} | ${fmt(s.renderCpuMs && s.renderCpuMs / 1000)} | ${outBytes ? `${(outBytes / 1024 / 1024).toFixed(1)} MB` : ''} |`,
    ),
  ];
  console.log(`\nmedian of ${runs} runs (peak RSS: max over runs), ${os.cpus().length} CPUs, ${os.cpus()[0].model}\n`);
  console.log(lines.join('\n'));

  const by = (name: string) => results.find((r) => r.name === name)?.s as Sample;
  const pdf = by('ours renderPdf');
  const print = by('ours renderPdf, print interior');
  const both = by('ours renderPdf, screen + print interior');
  if (print && pdf) {
    console.log('\nthe print interior (printReady plans), render call alone:');
    console.log(`- print interior ${fmt(print.renderMs! / 1000)} s wall, ${fmt(print.renderCpuMs! / 1000)} s CPU; screen PDF ${fmt(pdf.renderMs! / 1000)} s, ${fmt(pdf.renderCpuMs! / 1000)} s CPU`);
    if (both) {
      const pct = (a: number, b: number) => `+${(((a - b) / b) * 100).toFixed(0)}%`;
      console.log(
        `- screen + print in one process ${fmt(both.renderMs! / 1000)} s wall, ${fmt(both.renderCpuMs! / 1000)} s CPU: ` +
          `${pct(both.renderCpuMs!, pdf.renderCpuMs!)} CPU and ${pct(both.renderMs!, pdf.renderMs!)} wall over the screen PDF alone`,
      );
    }
  }
  if (!by('chromium --print-to-pdf')) {
    console.log(`load average at end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    if (!process.env.KEEP_BENCH_OUTPUT) await fs.rm(dir, { recursive: true, force: true });
    return;
  }
  const chrome = by('chromium --print-to-pdf');
  const epub = by('ours renderEpub');
  const pandoc = by('pandoc → epub3');
  const check = (what: string, ours: number, theirs: number, max: number) => {
    const ratio = ours / theirs;
    return `- ${what}: ${ours.toFixed(2)} / ${theirs.toFixed(2)} = ${ratio.toFixed(3)} (target ≤ ${max.toFixed(3)}) ${ratio <= max ? 'PASS' : `MISS by ${((ratio / max - 1) * 100).toFixed(0)}%`}`;
  };
  // Chromium's CPU: the larger of what wait4 reported and the per-process sum sampled from
  // /proc, in case a helper process was not reaped through the chain.
  const chromeCpu = Math.max(chrome.cpuS, chrome.treeCpuS);
  console.log('\ntargets, whole child process (node + tsx start-up and imports included, as a fresh process pays):');
  console.log(check('PDF wall vs Chromium', pdf.wallS, chrome.wallS, 1 / 8));
  console.log(check('PDF CPU vs Chromium', pdf.cpuS, chromeCpu, 1 / 3));
  if (epub) console.log(check('EPUB wall vs pandoc', epub.wallS, pandoc.wallS, 1 / 2));
  console.log('targets, our render call alone (what a long-lived worker pays per book) vs the whole other process:');
  console.log(check('PDF wall vs Chromium', pdf.renderMs! / 1000, chrome.wallS, 1 / 8));
  console.log(check('PDF CPU vs Chromium', pdf.renderCpuMs! / 1000, chromeCpu, 1 / 3));
  if (epub) console.log(check('EPUB wall vs pandoc', epub.renderMs! / 1000, pandoc.wallS, 1 / 2));
  const warm = by('ours renderPdf, warmed-up worker');
  console.log('targets, our render call in a worker that has warmed up (activities/render/warmup.ts) vs the whole other process:');
  console.log(check('PDF wall vs Chromium', warm.renderMs! / 1000, chrome.wallS, 1 / 8));
  console.log(check('PDF CPU vs Chromium', warm.renderCpuMs! / 1000, chromeCpu, 1 / 3));
  console.log(`- PDF peak RSS ${pdf.maxRssMb.toFixed(0)} MB (< 250) ${pdf.maxRssMb < 250 ? 'PASS' : 'MISS'}`);
  if (epub) console.log(`- EPUB peak RSS ${epub.maxRssMb.toFixed(0)} MB (< 250) ${epub.maxRssMb < 250 ? 'PASS' : 'MISS'}`);
  console.log(`- PDF (warmed-up worker) peak RSS ${warm.maxRssMb.toFixed(0)} MB (< 250) ${warm.maxRssMb < 250 ? 'PASS' : 'MISS'}`);
  console.log(`load average at end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  if (!process.env.KEEP_BENCH_OUTPUT) await fs.rm(dir, { recursive: true, force: true });
}

/** Size of the file the renderer's last run wrote (0 for the profile slices without one). */
async function lastOutput(dir: string, name: string): Promise<number> {
  const prefix = name.endsWith('print interior') ? (name.includes('screen') ? 'both-' : 'print-') : name.startsWith('ours renderPdf') ? 'ours-' : name.startsWith('chromium') ? 'chromium-' : name.startsWith('ours renderEpub') ? 'ours-' : name.startsWith('pandoc') ? 'pandoc-' : '';
  const ext = name.includes('Pdf') || name.includes('pdf') ? '.pdf' : '.epub';
  if (!prefix) return 0;
  const files = (await fs.readdir(dir)).filter((f) => f.startsWith(prefix) && f.endsWith(ext));
  return files.length ? (await fs.stat(path.join(dir, files.sort().at(-1)!))).size : 0;
}

if (process.argv[2] === '--make') {
  // Only write the book (JSON, HTML, Markdown, PNGs, pre-sized JPEGs) into a folder, for profiling by hand.
  makeBook(process.argv[3]).then(async (spec) => {
    await preSizedJpegs(process.argv[3], spec);
    console.log(process.argv[3]);
  });
} else if (process.argv[2] === '--child') {
  child(process.argv[3], process.argv[4], process.argv[5]).catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
