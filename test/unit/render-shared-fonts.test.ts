/**
 * A worker renders book after book with the fonts parsed once (activities/render/fonts.ts):
 * a book rendered after others in the same process must come out exactly as it does in a
 * fresh process, and every letter must still read back through pdftotext.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { renderPdf } from '../../activities/render/pdf';
import type { RenderBook } from '../../activities/render/types';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');

async function book(title: string, paragraphs: string[]): Promise<RenderBook> {
  const png = await sharp({ create: { width: 128, height: 128, channels: 3, background: '#335577' } }).png().toBuffer();
  const image = { data: png, mime: 'image/png' as const, alt: 'A dark blue square' };
  return {
    id: '2b0f2f0e-7d0c-4c8e-9a53-5d7b2c1e4f10',
    title,
    author: 'Zoë Test',
    language: 'en',
    description: 'Shared fonts.',
    keywords: ['fonts'],
    cover: image,
    chapters: [
      { index: 1, title, paragraphs, image },
      { index: 2, title: 'Глава вторая: Ἀθῆναι', paragraphs: ['Ёжик шёл по лесу. Ὁ ἥλιος ἔδυ. 第一章 山中的小村庄'] },
    ],
    credits: ['offline'],
    modified: '2026-01-01T00:00:00Z',
  };
}

// The first book draws "ü" (a composite glyph whose component is "u") without a plain "u"
// in bold; the second needs "u" in bold.
const FIRST = ['Zürich', ['Über die Brücke: Zürich, München, Düsseldorf.']] as const;
const SECOND = ['Crème brûlée & "Øresund" à Łódź', ['The sun rose over Øresund; nobody hurried, and the harbour was quiet.']] as const;

// The child process below loads this file for `book` alone, outside mocha (no describe there).
if (!process.env.RENDER_SHARED_FONTS_CHILD) describe('renderers: fonts shared across the books of one process', function () {
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'render-shared-'));
  });
  after(async () => {
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('renders a book after others exactly as a fresh process does, every letter extractable', async () => {
    await renderPdf(await book(FIRST[0], [...FIRST[1]]));
    const warm = await renderPdf(await book(SECOND[0], [...SECOND[1]]));

    // The same book in a process that has rendered nothing before.
    const fresh = path.join(dir, 'fresh.pdf');
    const script = `
      const { renderPdf } = require(${JSON.stringify(path.join(ROOT, 'activities/render/pdf.ts'))});
      const { book } = require(${JSON.stringify(__filename)});
      book(${JSON.stringify(SECOND[0])}, ${JSON.stringify(SECOND[1])})
        .then((b) => renderPdf(b))
        .then((buf) => require('node:fs').writeFileSync(${JSON.stringify(fresh)}, buf));`;
    await run(process.execPath, ['--import', 'tsx', '-e', script], { cwd: ROOT, env: { ...process.env, RENDER_SHARED_FONTS_CHILD: '1' } });
    const freshPdf = await fs.readFile(fresh);
    assert.ok(warm.equals(freshPdf), `same bytes (warm ${warm.length} B, fresh ${freshPdf.length} B)`);

    const file = path.join(dir, 'warm.pdf');
    await fs.writeFile(file, warm);
    await run('qpdf', ['--check', file]);
    const { stdout } = await run('pdftotext', ['-enc', 'UTF-8', file, '-']);
    const text = stdout.replace(/\s+/g, ' ');
    assert.ok(text.includes(SECOND[0]), `title reads back: ${text.slice(0, 300)}`);
    assert.ok(text.includes(SECOND[1][0]), 'body reads back');
  });
});

export { book };
