/**
 * The offline painter follows the chapter (issue 18, item 7): each picture's scene
 * comes from its chapter's words, and no two chapters of a book look alike.
 */
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { createOfflineImageProvider, sceneOf } from '../../activities/providers/offline-image';
import { planScene } from '../../activities/providers/offline-scene';
import { createOfflineTextProvider } from '../../activities/providers/offline-text';
import { planFromBrief } from '../../activities/providers/local-plan';
import { bible } from '../../activities/book-reads';
import type { ImageRequest, Outline } from '../../activities/providers/types';
import type { BookBrief } from '../../core/brief';

const painter = createOfflineImageProvider();
const SIZE = 256;

/** The request activities/pictures.ts makes for a chapter's illustration. */
function illustration(outline: Outline, index: number, seed = 0xdeadbeef): ImageRequest {
  const c = outline.chapters[index - 1];
  return {
    kind: 'illustration',
    prompt: `Illustration for chapter ${index}, "${c.title}": ${c.summary} ${bible(outline)}`,
    width: SIZE,
    height: SIZE,
    seed,
    palette: outline.palette,
    caption: `Chapter ${index}: ${c.title}`,
    scene: `${c.title}. ${c.summary}`,
    index,
  };
}

/** A 32x32 colour thumbnail: what the eye takes in at a glance, not the bytes. */
async function thumbnail(png: Buffer): Promise<Buffer> {
  return sharp(png).resize(32, 32, { fit: 'fill' }).removeAlpha().raw().toBuffer();
}

/** Mean absolute difference of two thumbnails, 0 (same) to 1 (black against white). */
function distance(a: Buffer, b: Buffer): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d += Math.abs(a[i] - b[i]);
  return d / a.length / 255;
}

/**
 * The smallest distance between two chapters' pictures. Measured: the painter before
 * issue 18 (one scene for every chapter) came to 0.014-0.017 on these books, this one
 * to 0.024-0.042; below 0.02 two pictures read as the same scene.
 */
const DIFFERENT = 0.02;

async function closestPair(outline: Outline): Promise<{ d: number; pair: string }> {
  const thumbs: Buffer[] = [];
  for (const c of outline.chapters) thumbs.push(await thumbnail((await painter.generateImage(illustration(outline, c.index))).data));
  let closest = { d: 1, pair: '' };
  for (let i = 0; i < thumbs.length; i++) {
    for (let j = i + 1; j < thumbs.length; j++) {
      const d = distance(thumbs[i], thumbs[j]);
      if (d < closest.d) closest = { d, pair: `${i + 1} and ${j + 1}` };
    }
  }
  return closest;
}

/** Mean R, G, B of the picture's lower part (below the horizon, above the caption band). */
async function lowerColour(req: ImageRequest): Promise<[number, number, number]> {
  const png = (await painter.generateImage(req)).data;
  const band = await sharp(png).extract({ left: 0, top: Math.round(SIZE * 0.6), width: SIZE, height: Math.round(SIZE * 0.3) }).png().toBuffer();
  const { channels } = await sharp(band).stats();
  return [channels[0].mean, channels[1].mean, channels[2].mean];
}

describe('offline painter: the scene follows the chapter', function () {
  this.timeout(120_000);

  it('reads the setting, time, weather, landmarks, people and animals from the words', () => {
    const plan = (text: string) => planScene({ text, index: 1, seed: 7 });
    assert.equal(plan('A lighthouse at sea; the keeper watches the waves').setting, 'sea');
    assert.deepEqual(plan('A lighthouse at sea; the keeper watches the waves').landmarks, ['lighthouse']);
    assert.equal(plan('Deep in the forest among the old trees').setting, 'forest');
    assert.equal(plan('Rain on the city streets').setting, 'city');
    assert.equal(plan('Rain on the city streets').weather, 'rain');
    assert.equal(plan('In the library, she reads by the fireplace').setting, 'room');
    assert.equal(plan('Across the desert dunes').setting, 'desert');
    assert.equal(plan('A rocket lands on a strange planet').setting, 'space');
    assert.deepEqual(plan('A rocket lands on a strange planet').landmarks, ['rocket']);
    assert.equal(plan('Snow on the frozen pond').setting, 'snow');
    assert.equal(plan('The garden is full of flowers').setting, 'garden');
    assert.equal(plan('They cross the river').setting, 'river');
    assert.equal(plan('A storm over the mountains').weather, 'storm');
    assert.equal(plan('Under the stars at midnight').time, 'night');
    assert.equal(plan('At dawn the fields are wet').time, 'dawn');
    assert.equal(plan('The crowd gathers for the festival').figures, 3);
    assert.deepEqual(plan('A fox and a gull').animals.sort(), ['beast', 'bird']);
    // The chapter's own words come first; the book's setting fills in only where they name none.
    assert.equal(planScene({ text: 'In the city at night', context: 'A lighthouse by the sea', index: 2, seed: 7 }).setting, 'city');
    assert.equal(planScene({ text: 'Trouble ahead', context: 'A lighthouse by the sea', index: 2, seed: 7 }).setting, 'sea');
  });

  it('without the scene field, reads the prompt before its style bible (the same for every chapter)', () => {
    const req = (prompt: string): ImageRequest => ({ kind: 'illustration', prompt, width: SIZE, height: SIZE, seed: 1, palette: ['#000000', '#ffffff'], index: 2 });
    const bible = 'Style: ink. Palette: #000000 and #ffffff. Setting: a lighthouse by the sea.';
    assert.equal(sceneOf(req(`Illustration for chapter 2, "In the Woods": deep in the forest. ${bible}`)).setting, 'forest');
    assert.deepEqual(sceneOf(req(`Illustration for chapter 2, "In the Woods": deep in the forest. ${bible}`)).landmarks.includes('lighthouse'), false);
    // Own words that name no place: the book's setting.
    assert.equal(sceneOf(req(`Illustration for chapter 2, "Trouble Ahead": trouble comes. ${bible}`)).setting, 'sea');
  });

  for (const [name, outlineOf] of [
    ['the offline writer', async (b: BookBrief) => (await createOfflineTextProvider().writeOutline(b)).outline],
    // The local model's engine plan repeats a summary across the chapters of one arc stage.
    ['the local model’s engine plan', async (b: BookBrief) => planFromBrief(b)],
  ] as const) {
    it(`draws 24 pairwise different pictures for a 24-chapter book planned by ${name}`, async () => {
      const outline = await outlineOf({ prompt: 'A lighthouse keeper befriends a clockwork gull', chapterCount: 24, era: 'folklore-evermore' });
      assert.equal(outline.chapters.length, 24);
      const { d, pair } = await closestPair(outline);
      assert.ok(d > DIFFERENT, `chapters ${pair} look alike: distance ${d.toFixed(4)} <= ${DIFFERENT}`);
    });
  }

  it('paints a lighthouse at sea and a forest in different colours: water bluer, woods greener', async () => {
    const palettes: Array<[string, string]> = [
      ['#6b4f3a', '#d4a03c'],
      ['#8b1a1a', '#cc5500'],
      ['#2f5d7c', '#e8b04a'],
      ['#1b1b3a', '#6a5acd'],
    ];
    for (const palette of palettes) {
      for (const index of [1, 2, 3, 4]) {
        const base = { kind: 'illustration' as const, width: SIZE, height: SIZE, seed: 42, palette, index };
        const sea = await lowerColour({ ...base, prompt: 'The keeper climbs the lighthouse above the sea', scene: 'The keeper climbs the lighthouse above the sea' });
        const forest = await lowerColour({ ...base, prompt: 'Deep in the forest among the old trees', scene: 'Deep in the forest among the old trees' });
        const where = `palette ${palette.join(' ')}, chapter ${index}: sea rgb ${sea.map(Math.round)}, forest rgb ${forest.map(Math.round)}`;
        // Blue over red: the water's; green over blue: the trees'.
        assert.ok(sea[2] - sea[0] > forest[2] - forest[0] + 10, where);
        assert.ok(forest[1] - forest[2] > sea[1] - sea[2] + 6, where);
      }
    }
  });

  it('is the same picture for the same chapter, and a different one for another chapter number', async () => {
    const outline = planFromBrief({ prompt: 'A girl and her dog in a seaside town', chapterCount: 4 });
    const a = await painter.generateImage(illustration(outline, 2));
    const b = await painter.generateImage(illustration(outline, 2));
    assert.ok(a.data.equals(b.data));
    // The same words under another number: another view of them.
    const c = await painter.generateImage({ ...illustration(outline, 2), index: 3 });
    assert.ok(distance(await thumbnail(a.data), await thumbnail(c.data)) > DIFFERENT);
  });
});
