import assert from 'node:assert/strict';
import sharp from 'sharp';
import { createOfflineTextProvider, keyWords } from '../../activities/providers/offline-text';
import { createOfflineImageProvider } from '../../activities/providers/offline-image';
import type { ImageRequest, Outline } from '../../activities/providers/types';
import { ERAS, getEra, isEraId, findArchetype } from '../../core/eras';
import type { BookBrief } from '../../core/brief';

const text = createOfflineTextProvider();
const image = createOfflineImageProvider();

const WHALE: BookBrief = {
  prompt: 'Write a story about a brave lighthouse keeper who befriends a lonely whale',
  chapterCount: 7,
  era: 'folklore-evermore',
};
const CAT: BookBrief = {
  prompt: 'A detective cat solving mysteries in neon-lit Tokyo at midnight',
  chapterCount: 7,
  era: 'midnights',
  characterName: 'Juno',
};
const MIXED: BookBrief = {
  prompt: 'Маленькая лиса ищет звезду <script>&"\' 一只住在灯塔里的猫 قطة صغيرة تبحث عن القمر',
  chapterCount: 3,
};

const words = (s: string) => s.split(/\s+/).filter(Boolean).length;

async function writeBook(brief: BookBrief): Promise<{ outline: Outline; chapters: string[][] }> {
  const { outline } = await text.writeOutline(brief);
  const chapters: string[][] = [];
  for (const chapter of outline.chapters) {
    const res = await text.writeChapter({
      brief,
      outline,
      chapter,
      previousSummaries: outline.chapters.filter((c) => c.index < chapter.index).map((c) => c.summary),
    });
    chapters.push(res.paragraphs);
  }
  return { outline, chapters };
}

describe('offline text provider', () => {
  it('identifies itself as offline', () => {
    assert.equal(text.name, 'offline');
    assert.equal(text.offline, true);
  });

  it('writes the same book for the same brief', async () => {
    const a = await writeBook(WHALE);
    const b = await writeBook({ ...WHALE });
    assert.deepEqual(a, b);
  });

  it('writes different books for different prompts', async () => {
    const a = await writeBook(WHALE);
    const b = await writeBook(CAT);
    assert.notEqual(a.outline.title, b.outline.title);
    const titlesA = new Set(a.outline.chapters.map((c) => c.title));
    const titlesB = b.outline.chapters.map((c) => c.title);
    assert.ok(titlesB.filter((t) => titlesA.has(t)).length < titlesB.length / 2, 'chapter titles mostly differ');
    assert.notDeepEqual(a.outline.characters, b.outline.characters);
    for (let i = 0; i < a.chapters.length; i++) assert.notDeepEqual(a.chapters[i], b.chapters[i]);
  });

  it('draws the title and text from the prompt’s key words', async () => {
    const { outline, chapters } = await writeBook(WHALE);
    const all = chapters.flat().join(' ').toLowerCase();
    assert.match(`${outline.title} ${outline.logline}`.toLowerCase(), /keeper|whale|lighthouse/);
    assert.ok(all.includes('whale') && all.includes('keeper'), 'prose mentions the prompt’s nouns');
  });

  it('uses the brief’s character, place and era', async () => {
    const { outline } = await text.writeOutline({ ...CAT, place: 'Lisbon' });
    assert.equal(outline.characters[0].name, 'Juno');
    assert.ok(outline.setting.startsWith('Lisbon'));
    assert.deepEqual(outline.palette, getEra('midnights')?.colors);
    assert.match(outline.style, /Midnights/);
  });

  for (const count of [1, 3, 24]) {
    it(`outlines exactly ${count} chapter(s) with distinct titles`, async () => {
      const { outline, usage, model } = await text.writeOutline({ ...WHALE, chapterCount: count });
      assert.equal(outline.chapters.length, count);
      assert.deepEqual(
        outline.chapters.map((c) => c.index),
        Array.from({ length: count }, (_, i) => i + 1),
      );
      assert.equal(new Set(outline.chapters.map((c) => c.title)).size, count);
      for (const c of outline.chapters) {
        assert.ok(c.title.length > 0 && c.summary.length > 20, `chapter ${c.index} has a title and summary`);
        assert.ok(c.targetWords >= 250 && c.targetWords <= 400, `targetWords ${c.targetWords}`);
      }
      assert.ok(outline.characters.length >= 2 && outline.characters.length <= 3);
      for (const ch of outline.characters) assert.ok(ch.name && ch.look && ch.personality);
      assert.ok(outline.title && outline.logline && outline.setting && outline.style);
      assert.ok(outline.palette.every((c) => /^#[0-9a-f]{6}$/i.test(c)));
      assert.equal(model, 'offline-writer-1');
      assert.ok((usage.inputTokens ?? 0) > 0 && (usage.outputTokens ?? 0) > 0);
    });
  }

  it('keeps the story when only the chapter count changes', async () => {
    const a = await text.writeOutline({ ...WHALE, chapterCount: 3 });
    const b = await text.writeOutline({ ...WHALE, chapterCount: 12 });
    assert.equal(a.outline.title, b.outline.title);
    assert.deepEqual(a.outline.characters, b.outline.characters);
  });

  it('rejects a chapter count out of range', async () => {
    await assert.rejects(text.writeOutline({ ...WHALE, chapterCount: 0 }), RangeError);
  });

  it('writes chapters near their target length, all different', async () => {
    const { outline, chapters } = await writeBook({ ...WHALE, chapterCount: 12 });
    chapters.forEach((paragraphs, i) => {
      const target = outline.chapters[i].targetWords;
      const n = words(paragraphs.join(' '));
      assert.ok(paragraphs.length >= 4 && paragraphs.length <= 8, `chapter ${i + 1}: ${paragraphs.length} paragraphs`);
      assert.ok(n >= target * 0.7 && n <= target * 1.4, `chapter ${i + 1}: ${n} words for a target of ${target}`);
      assert.equal(new Set(paragraphs).size, paragraphs.length, 'no repeated paragraph');
      assert.ok(paragraphs.some((p) => p.includes('“')), 'has some dialogue');
      for (const p of paragraphs) assert.doesNotMatch(p, /\{\w+\}|undefined|\s{2}/);
    });
    assert.equal(new Set(chapters.map((c) => c.join('\n'))).size, chapters.length);
  });

  it('streams one delta per paragraph and reports usage', async () => {
    const { outline } = await text.writeOutline(CAT);
    const deltas: string[] = [];
    const res = await text.writeChapter(
      { brief: CAT, outline, chapter: outline.chapters[2], previousSummaries: [outline.chapters[0].summary, outline.chapters[1].summary] },
      (d) => deltas.push(d),
    );
    assert.equal(deltas.length, res.paragraphs.length);
    assert.equal(deltas.join(''), res.paragraphs.map((p) => `${p}\n\n`).join(''));
    assert.equal(res.model, 'offline-writer-1');
    assert.equal(res.usage.outputTokens, words(res.paragraphs.join(' ')));
    assert.ok((res.usage.inputTokens ?? 0) > 0);
  });

  it('rejects when the signal is already aborted', async () => {
    const { outline } = await text.writeOutline(WHALE);
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(text.writeOutline(WHALE, ac.signal));
    await assert.rejects(text.writeChapter({ brief: WHALE, outline, chapter: outline.chapters[0], previousSummaries: [] }, undefined, ac.signal));
  });

  it('stops mid-chapter when aborted while streaming', async () => {
    const { outline } = await text.writeOutline(WHALE);
    const ac = new AbortController();
    const deltas: string[] = [];
    await assert.rejects(
      text.writeChapter(
        { brief: WHALE, outline, chapter: outline.chapters[0], previousSummaries: [] },
        (d) => {
          deltas.push(d);
          ac.abort();
        },
        ac.signal,
      ),
    );
    assert.equal(deltas.length, 1);
  });

  it('handles any script and markup characters in the prompt', async () => {
    const { outline, chapters } = await writeBook(MIXED);
    assert.equal(outline.chapters.length, 3);
    const kws = keyWords(MIXED.prompt).map((k) => k.text);
    assert.ok(kws.some((k) => /\p{Script=Cyrillic}/u.test(k)), `Cyrillic kept: ${kws.join(', ')}`);
    assert.ok(kws.some((k) => /\p{Script=Han}/u.test(k)), `Han kept: ${kws.join(', ')}`);
    assert.match(outline.title, /[\p{Script=Cyrillic}\p{Script=Han}\p{Script=Arabic}]/u);
    assert.ok(!kws.includes('script'), 'markup is not a key word when real words exist');
    for (const p of chapters.flat()) assert.doesNotMatch(p, /[\u0000-\u0008]/);
  });

  it('survives prompts with no usable words', async () => {
    for (const prompt of ['!!!', '12345 <> & " \'', '🙂🙂🙂', 'the and of a']) {
      const { outline } = await writeBook({ prompt, chapterCount: 2 });
      assert.equal(outline.chapters.length, 2);
      assert.ok(outline.title.length > 0);
    }
  });

  it('picks salient nouns from an English prompt', () => {
    const kws = keyWords(WHALE.prompt).map((k) => k.text);
    assert.deepEqual(kws.slice(0, 2).sort(), ['keeper', 'whale']);
    assert.ok(!kws.slice(0, 3).includes('write') && !kws.includes('story'));
  });
});

describe('eras', () => {
  it('has the seven eras as data', () => {
    assert.deepEqual(
      ERAS.map((e) => e.id),
      ['showgirl', 'folklore-evermore', '1989', 'red', 'reputation', 'lover', 'midnights'],
    );
    for (const era of ERAS) {
      assert.ok(era.name && era.mood);
      assert.equal(era.colors.length, 2);
      for (const c of era.colors) assert.match(c, /^#[0-9a-f]{6}$/i);
      assert.ok(era.moodWords.length >= 3);
      assert.equal(era.archetypes.length, 5);
      for (const a of era.archetypes) {
        assert.ok(a.id && a.name.startsWith('the ') && a.description);
        assert.equal(a.traits.length, 4);
      }
    }
  });

  it('looks eras and archetypes up', () => {
    assert.equal(isEraId('1989'), true);
    assert.equal(isEraId('disco'), false);
    assert.equal(isEraId(undefined), false);
    assert.equal(getEra('red')?.name, 'Red');
    assert.equal(getEra('nope'), undefined);
    assert.equal(findArchetype('The Dreamer')?.id, 'the-dreamer');
    assert.equal(findArchetype('the-phoenix')?.name, 'the phoenix');
    assert.equal(findArchetype('dreamer')?.id, 'the-dreamer');
  });

  it('gives unknown or absent eras a neutral palette', async () => {
    const eraPalettes = new Set(ERAS.flatMap((e) => e.colors));
    for (const era of [undefined, 'disco']) {
      const { outline } = await text.writeOutline({ prompt: 'A gardener and a fox', chapterCount: 2, era });
      assert.ok(outline.palette.every((c) => !eraPalettes.has(c)), `neutral palette for ${era}`);
    }
  });

  it('uses the archetype in the hero’s personality', async () => {
    const { outline } = await text.writeOutline({ ...WHALE, archetype: 'the-storyteller' });
    assert.match(outline.characters[0].personality, /storyteller/i);
  });
});

describe('offline image provider', () => {
  const base: ImageRequest = {
    kind: 'illustration',
    prompt: 'Illustration for chapter 1, "The Way Things Were": a lighthouse keeper at dusk by the sea',
    width: 1024,
    height: 1024,
    seed: 12345,
    palette: ['#6b4f3a', '#d4a03c'],
    caption: 'Chapter 1: The Way Things Were',
  };

  before(async () => {
    // Warm up librsvg and fontconfig so the timing test measures steady state.
    await image.generateImage({ ...base, width: 64, height: 64 });
  });

  it('identifies itself as offline', () => {
    assert.equal(image.name, 'offline');
    assert.equal(image.offline, true);
  });

  it('draws a PNG illustration of the requested size, quickly', async () => {
    const t0 = performance.now();
    const res = await image.generateImage(base);
    const ms = performance.now() - t0;
    assert.equal(res.mime, 'image/png');
    assert.equal(res.model, 'offline-painter-1');
    assert.deepEqual(res.usage, { images: 1 });
    const meta = await sharp(res.data).metadata();
    assert.equal(meta.format, 'png');
    assert.equal(meta.width, 1024);
    assert.equal(meta.height, 1024);
    assert.equal(res.width, 1024);
    assert.equal(res.height, 1024);
    assert.ok(ms < 1500, `1024x1024 took ${ms.toFixed(0)} ms`);
    // Not a flat fill: the picture has real variation.
    const stats = await sharp(res.data).stats();
    assert.ok(stats.channels.slice(0, 3).every((c) => c.stdev > 5));
  });

  it('draws a JPEG cover with the title, including XML special characters', async () => {
    const res = await image.generateImage({
      ...base,
      kind: 'cover',
      width: 1200,
      height: 1800,
      caption: undefined,
      title: 'Tom & Jerry <script>"quoted" it\'s a very long title that surely needs to wrap across several lines',
      subtitle: 'A subtitle with <b>markup</b> & "quotes" and \'apostrophes\' that also wraps over more than one line of text',
    });
    assert.equal(res.mime, 'image/jpeg');
    const meta = await sharp(res.data).metadata();
    assert.equal(meta.format, 'jpeg');
    assert.equal(meta.width, 1200);
    assert.equal(meta.height, 1800);
  });

  it('renders non-Latin titles and odd sizes', async () => {
    const res = await image.generateImage({
      ...base,
      kind: 'cover',
      width: 333,
      height: 517,
      title: 'Звезду & 灯塔 — قطة <>&"\'',
      subtitle: 'Маленькая лиса ищет звезду',
    });
    const meta = await sharp(res.data).metadata();
    assert.equal(meta.width, 333);
    assert.equal(meta.height, 517);
  });

  it('is deterministic per request and varies with the prompt', async () => {
    const a = await image.generateImage(base);
    const b = await image.generateImage({ ...base });
    const c = await image.generateImage({ ...base, prompt: 'Illustration for chapter 2: a storm over the mountains at night' });
    assert.ok(a.data.equals(b.data));
    assert.ok(!a.data.equals(c.data));
  });

  it('copes with a bad palette and rejects bad sizes', async () => {
    const res = await image.generateImage({ ...base, width: 200, height: 120, palette: ['red', 'nope'] as [string, string] });
    assert.equal((await sharp(res.data).metadata()).width, 200);
    await assert.rejects(image.generateImage({ ...base, width: 0 }), RangeError);
    await assert.rejects(image.generateImage({ ...base, height: 100_000 }), RangeError);
  });

  it('rejects when the signal is already aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(image.generateImage(base, ac.signal));
  });
});
