/**
 * The offline painter's time per picture: the illustrations of a 24-chapter book
 * (the offline writer's outline, 1024x1024 PNG, as activities/pictures.ts asks for
 * them) and its cover (1200x1800 JPEG), after one warm-up picture. Prints the
 * median and mean wall time per illustration, the process's CPU time per
 * illustration, and the cover's time.
 *
 *   npx tsx bench/painter.ts                    # BENCH_ROUNDS=3
 *   BENCH_PAINTER=./some/other-painter.ts npx tsx bench/painter.ts   # another painter module, for before/after
 */
import os from 'node:os';
import path from 'node:path';
import { bible, seedOf } from '../activities/book-reads';
import { createOfflineTextProvider } from '../activities/providers/offline-text';
import type { ImageProvider } from '../activities/providers/types';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

async function main() {
  const module = process.env.BENCH_PAINTER ? path.resolve(process.env.BENCH_PAINTER) : '../activities/providers/offline-image';
  const { createOfflineImageProvider } = (await import(module)) as { createOfflineImageProvider: () => ImageProvider };
  const painter = createOfflineImageProvider();
  const { outline } = await createOfflineTextProvider().writeOutline({ prompt: 'A lighthouse keeper befriends a clockwork gull', chapterCount: 24, era: 'folklore-evermore' });
  const seed = seedOf('5b0f6c1e-4a1b-4c55-9d7e-2f1e8a9b0c3d');
  const request = (index: number) => {
    const c = outline.chapters[index - 1];
    return {
      kind: 'illustration' as const,
      prompt: `Illustration for chapter ${index}, "${c.title}": ${c.summary} ${bible(outline)}`,
      width: 1024,
      height: 1024,
      seed,
      palette: outline.palette,
      caption: `Chapter ${index}: ${c.title}`,
      scene: `${c.title}. ${c.summary}`,
      index,
    };
  };
  console.log(`machine: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} load average, ${os.cpus().length} CPUs`);
  await painter.generateImage(request(1));
  const times: number[] = [];
  // CPU time of the whole process (librsvg and libvips threads included): less at the mercy of a
  // shared machine's load than the wall time.
  const cpu0 = process.cpuUsage();
  for (let r = 0; r < ROUNDS; r++) {
    for (const c of outline.chapters) {
      const t0 = performance.now();
      await painter.generateImage(request(c.index));
      times.push(performance.now() - t0);
    }
  }
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000 / times.length;
  const t0 = performance.now();
  await painter.generateImage({ ...request(1), kind: 'cover', width: 1200, height: 1800, caption: undefined, title: outline.title, subtitle: outline.logline, prompt: `Book cover for "${outline.title}": ${bible(outline)}` });
  const cover = performance.now() - t0;
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  const mean = times.reduce((s, t) => s + t, 0) / times.length;
  console.log(`${process.env.BENCH_PAINTER ?? 'offline-image.ts'}: ${times.length} illustrations, median ${median.toFixed(0)} ms, mean ${mean.toFixed(0)} ms, slowest ${times.at(-1)!.toFixed(0)} ms, CPU ${cpuMs.toFixed(0)} ms each; cover ${cover.toFixed(0)} ms`);
  console.log(`machine after: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} load average`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
