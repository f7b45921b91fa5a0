/**
 * Warms a worker process up for rendering: parses the fonts, loads the lazily required
 * modules (line breaking and Unicode tables, zlib) and lets V8 compile the hot layout
 * code by rendering a small book once, so the first real book a worker renders is as fast
 * as the later ones. The parsed fonts and shaped words stay in the process (fonts.ts).
 */
import sharp from 'sharp';
import { renderPdf } from './pdf';
import type { RenderBook } from './types';

let warming: Promise<void> | undefined;

const WORDS =
  'the morning light came slowly over the harbour and she walked along the quiet river ' +
  'remembering every letter her grandmother had written, while gulls turned above the old ' +
  'lighthouse and the wind carried salt, rope, iron and distant voices into the village';

async function warmUpBook(): Promise<RenderBook> {
  const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#8090a0' } }).png().toBuffer();
  const image = { data: png, mime: 'image/png' as const, alt: 'A grey square' };
  const sentence = WORDS.charAt(0).toUpperCase() + WORDS.slice(1) + '.';
  return {
    id: '00000000-0000-4000-8000-000000000000',
    title: 'Warm-up',
    author: 'Ebook engine',
    language: 'en',
    description: 'A book rendered once when a worker starts.',
    keywords: ['warm-up'],
    cover: image,
    chapters: [1, 2, 3].map((index) => ({
      index,
      title: `Chapter ${index}`,
      paragraphs: Array.from({ length: 40 }, (_, i) => `${sentence} ${sentence.split(' ').slice(i % 7).join(' ')}`),
      image,
    })),
    watermark: 'Warm-up',
    credits: ['offline'],
    modified: '2026-01-01T00:00:00Z',
  };
}

/**
 * Renders the warm-up book once per process (later calls return the same promise). Runs
 * in the background when a worker picks up its first book, long before that book reaches
 * rendering; a failure only means no warm-up, never a failed book.
 */
export function warmUpRenderers(): Promise<void> {
  // Twice: V8 optimises the layout code over the first run and settles it over the second.
  warming ??= warmUpBook()
    .then(async (book) => {
      await renderPdf(book);
      await renderPdf(book);
    })
    .then(
      () => undefined,
      () => undefined,
    );
  return warming;
}
