/**
 * Draws covers for test/unit/svg-fonts.test.ts in a process of its own (fontconfig's state
 * is per process): `handed` through the offline painter, which hands the SVG renderer its
 * fonts; `bare` the same SVG rasterised without them. Writes `<i>.jpg` per subtitle into
 * the directory given.
 */
import fs from 'node:fs';
import path from 'node:path';
import { composeSvg, createOfflineImageProvider, rasteriseSvg } from '../../activities/providers/offline-image';
import type { ImageRequest } from '../../activities/providers/types';

const [mode, outDir, samplesJson] = process.argv.slice(2);
const samples: string[] = JSON.parse(samplesJson);
const request = (subtitle: string): ImageRequest =>
  ({ kind: 'cover', prompt: 'a quiet harbour', title: 'Maps', subtitle, width: 360, height: 540, seed: 7, palette: ['#2f4858', '#f6ae2d'], language: 'en' }) as ImageRequest;

(async () => {
  const painter = createOfflineImageProvider();
  if (mode === 'handed') {
    // The painter's first picture carries every sample, as a cover whose blurb mixes scripts would.
    await painter.generateImage(request(samples.join(' ')));
  }
  for (const [i, subtitle] of samples.entries()) {
    const data = mode === 'handed' ? (await painter.generateImage(request(subtitle))).data : await rasteriseSvg(composeSvg(request(subtitle)).svg, 'cover');
    fs.writeFileSync(path.join(outDir, `${i}.jpg`), data);
  }
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
