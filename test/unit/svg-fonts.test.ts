/**
 * Cover lettering in every script (issue 17: 美咲 in a blurb showed as boxes). The offline
 * painter's SVG goes through librsvg, which knows only fontconfig's fonts. Here fontconfig
 * is given a configuration with DejaVu Serif alone (FONTCONFIG_FILE), as on a machine
 * without the Noto or npm fonts on its path; a cover whose subtitle is in one script is
 * drawn twice, each in a fresh process: through the painter (which hands the renderer the
 * PDF's font files) and as the same SVG rasterised bare. Without a font for its script the
 * bare one draws boxes; the painter's must differ from it in every script, and equal it
 * where DejaVu Serif draws the text itself (the control). Without the hand-over both would
 * be the same boxes, and the test fails.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { resolveFonts } from '../../activities/render/fonts';

const run = promisify(execFile);

const SAMPLES: Array<{ script: string; text: string; needsFont: boolean }> = [
  { script: 'Latin (control)', text: 'Letters from the harbour', needsFont: false },
  { script: 'Cyrillic (control)', text: 'Письмо пришло утром', needsFont: false },
  { script: 'Japanese', text: '美咲の手紙', needsFont: true },
  { script: 'Chinese', text: '北京的秋天很短', needsFont: true },
  { script: 'Hangul', text: '안녕하세요', needsFont: true },
  { script: 'Arabic', text: 'الرسالة وصلت في الصباح', needsFont: true },
  { script: 'Hebrew', text: 'המכתב הגיע בבוקר', needsFont: true },
  { script: 'Devanagari', text: 'नमस्ते दुनिया', needsFont: true },
  { script: 'Thai', text: 'สวัสดีชาวโลก', needsFont: true },
];

/** Pixels (of all channels) that differ by more than a JPEG's noise. */
async function differingPixels(a: string, b: string): Promise<number> {
  const [ra, rb] = await Promise.all([sharp(a).raw().toBuffer(), sharp(b).raw().toBuffer()]);
  assert.equal(ra.length, rb.length);
  let n = 0;
  for (let i = 0; i < ra.length; i++) if (Math.abs(ra[i] - rb[i]) > 48) n++;
  return n;
}

describe('offline painter: cover lettering in every script (fonts handed to the SVG renderer)', function () {
  this.timeout(180_000);
  let dir: string;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'svg-fonts-'));
    const fonts = path.join(dir, 'fonts');
    await fs.mkdir(fonts);
    const { serif, serifBold } = resolveFonts();
    await fs.copyFile(serif, path.join(fonts, path.basename(serif)));
    await fs.copyFile(serifBold, path.join(fonts, path.basename(serifBold)));
    await fs.writeFile(
      path.join(dir, 'fonts.conf'),
      `<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">\n<fontconfig><dir>${fonts}</dir><cachedir>${path.join(dir, 'cache')}</cachedir></fontconfig>\n`,
    );
    const child = path.join(__dirname, '..', 'helpers', 'svg-cover-child.ts');
    const env = { ...process.env, FONTCONFIG_FILE: path.join(dir, 'fonts.conf') };
    const texts = JSON.stringify(SAMPLES.map((s) => s.text));
    for (const mode of ['handed', 'bare']) await fs.mkdir(path.join(dir, mode));
    await Promise.all(
      ['handed', 'bare'].map((mode) => run(process.execPath, ['--require', 'tsx/cjs', child, mode, path.join(dir, mode), texts], { env, cwd: path.join(__dirname, '..', '..') })),
    );
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  for (const [i, sample] of SAMPLES.entries()) {
    it(`${sample.needsFont ? 'draws' : 'draws the same as before'} ${sample.script}: ${sample.text}`, async () => {
      const diff = await differingPixels(path.join(dir, 'handed', `${i}.jpg`), path.join(dir, 'bare', `${i}.jpg`));
      if (sample.needsFont) {
        // A line of real glyphs in place of hex boxes changes hundreds of pixels.
        assert.ok(diff > 300, `${sample.script}: only ${diff} channel values differ from the boxes of the bare render`);
      } else {
        assert.ok(diff < 50, `${sample.script}: ${diff} channel values differ although DejaVu Serif draws it`);
      }
    });
  }
});
