/**
 * The `local` text provider against the real model (installed by `npm install`
 * into .tools/models; CI installs it). Without the model these tests fail and
 * say how to install it: a skipped test would hide that the provider is untested.
 * The plan's lenient parsing is tested without the model.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../lib/config';
import { createProviders } from '../../wiring/providers';
import { createLocalTextProvider, ENGINE_PLAN, type LocalTextProvider } from '../../activities/providers/local-text';
import { LocalModel } from '../../activities/providers/local-model';
import { lenientPalette, mergeModelFields, parseModelFields, planFromBrief, subjectsOf } from '../../activities/providers/local-plan';
import type { ChapterRequest } from '../../activities/providers/types';
import type { BookBrief } from '../../core/brief';

const MODEL_PATH = loadConfig({}).providers.localModelPath;

/** Does the text name the thing? By its head noun, any case, singular or plural. */
const names = (text: string, word: string) => new RegExp(`\\b${word}s?\\b`, 'i').test(text);

describe('local text provider: the plan, without the model', () => {
  it('finds the people and things of the prompt and puts them in every summary', () => {
    assert.deepEqual(subjectsOf('A lighthouse keeper in 1920s Lisbon befriends a clockwork gull'), {
      phrases: ['lighthouse keeper', 'clockwork gull'],
      place: 'Lisbon',
    });
    const plan = planFromBrief({ prompt: 'A lighthouse keeper befriends a clockwork gull', chapterCount: 5, era: 'midnights' });
    assert.equal(plan.chapters.length, 5);
    assert.deepEqual(plan.chapters.map((c) => c.index), [1, 2, 3, 4, 5]);
    const hero = plan.characters[0].name;
    for (const c of plan.chapters) {
      assert.ok(c.summary.includes(hero), `chapter ${c.index} names the hero: ${c.summary}`);
      assert.ok(names(c.summary, 'gull'), `chapter ${c.index} names the gull: ${c.summary}`);
    }
    assert.ok(names(plan.chapters[0].summary, 'keeper'), 'the first chapter says who the hero is');
    assert.deepEqual(plan.palette, ['#191970', '#b7a6e0'], "the era's palette");
  });

  it('reads a plan the model closed too early, renumbers chapters by position, keeps the plan where a field is unusable', () => {
    const plan = planFromBrief({ prompt: 'A lighthouse keeper befriends a clockwork gull', chapterCount: 2 });
    // As the model wrote it on a first try: the object closed after the title, the chapters run on past two.
    const raw =
      ' {"title":"The Gull of Karn Point"},"hero": {"name": "Ana Reis", "look": "a tall woman in oilskins", "personality": "dry, brave"},' +
      '"chapters":[{"index":3,"title":"Rust on the Rail"},{"index":3,"title":"Rust on the Rail"},{"index":9,"title":"More"}';
    const fields = parseModelFields(raw, 2);
    assert.ok(fields, 'the fields are read where they stand');
    const { outline, used } = mergeModelFields(plan, fields);
    assert.equal(outline.title, 'The Gull of Karn Point');
    assert.equal(outline.characters[0].name, 'Ana Reis');
    assert.ok(outline.chapters.every((c) => c.summary.includes('Ana Reis') || !plan.chapters[c.index - 1].summary.includes(plan.characters[0].name)));
    assert.deepEqual(outline.chapters.map((c) => c.index), [1, 2], 'renumbered by position');
    assert.equal(outline.chapters[0].title, 'Rust on the Rail');
    assert.equal(outline.chapters[1].title, plan.chapters[1].title, 'a repeated title keeps the plan’s');
    assert.ok(used.includes('title') && used.includes('name'));
    assert.equal(parseModelFields('once upon a time', 2), undefined, 'prose is no plan');
    // A name that is no name ("The Keeper") is not taken.
    const bad = mergeModelFields(plan, parseModelFields('{"title":"X Y","hero":{"name":"The Keeper"},"chapters":[]}', 2));
    assert.equal(bad.outline.characters[0].name, plan.characters[0].name);
  });

  it("falls back to the era's palette for an invalid one", () => {
    assert.deepEqual(lenientPalette(['#ff8c42', 'blue'], 'red'), ['#8b1a1a', '#cc5500']);
    assert.deepEqual(lenientPalette(['#ff8c42', '#000000'], 'red'), ['#ff8c42', '#000000']);
  });

  it('plans from the brief alone by default: no model call, no tokens, the first chapter starts at once', async () => {
    // The file is not a model: an engine plan never loads it (its load in the background fails quietly).
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'local-plan-')), 'model.gguf');
    fs.writeFileSync(file, 'not a model');
    const p = createLocalTextProvider({ modelPath: file, chapterWords: 150 });
    const brief: BookBrief = { prompt: 'A lighthouse keeper befriends a clockwork gull', chapterCount: 3, era: 'red' };
    const planned = await p.writeOutline(brief);
    assert.deepEqual(planned.usage, { inputTokens: 0, outputTokens: 0 });
    assert.equal(planned.model, ENGINE_PLAN);
    const plan = planFromBrief(brief);
    assert.equal(planned.outline.title, plan.title);
    assert.deepEqual(planned.outline.chapters.map((c) => [c.index, c.title, c.targetWords]), plan.chapters.map((c) => [c.index, c.title, 150]));
    assert.deepEqual(planned.outline.palette, lenientPalette(plan.palette, 'red'));
    await p.dispose();
  });

  it('is unavailable (for the failover to pass over) when the model file is missing', async () => {
    const p = createLocalTextProvider({ modelPath: '/nonexistent/model.gguf' });
    await assert.rejects(p.writeOutline({ prompt: 'A gull', chapterCount: 1 }), (err: any) => {
      assert.equal(err.type, 'ProviderUnavailable');
      assert.match(err.message, /npm run model:install/);
      return true;
    });
  });
});

describe('local text provider: selection', () => {
  const select = (env: Record<string, string>) => createProviders(loadConfig({ DATA_DIR: os.tmpdir(), ...env }));
  // Any file stands in for the model: choosing `local` only checks that it is there (loading is lazy).
  const present = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'local-model-')), 'model.gguf');
  fs.writeFileSync(present, 'not loaded here');

  it('no keys: `local` when the model is installed, else `offline`', () => {
    const withModel = select({ LOCAL_MODEL_PATH: present });
    assert.equal(withModel.text.name, 'local');
    assert.equal(withModel.text.offline, false);
    assert.equal(withModel.image.name, 'offline');
    assert.equal(select({ LOCAL_MODEL_PATH: '/nonexistent/model.gguf' }).text.name, 'offline');
  });

  it('TEXT_PROVIDERS=offline keeps the template writer; keys alone never add `local`', () => {
    assert.equal(select({ LOCAL_MODEL_PATH: present, TEXT_PROVIDERS: 'offline' }).text.name, 'offline');
    assert.equal(select({ LOCAL_MODEL_PATH: present, GROQ_API_KEY: 'g' }).text.name, 'groq');
    assert.equal(select({ LOCAL_MODEL_PATH: present, GROQ_API_KEY: 'g', TEXT_PROVIDERS: 'groq,local' }).text.name, 'failover(groq,local)');
  });

  it('TEXT_PROVIDERS=local without the model refuses to start, saying how to install it', () => {
    assert.throws(() => select({ LOCAL_MODEL_PATH: '/nonexistent/model.gguf', TEXT_PROVIDERS: 'local' }), /npm run model:install/);
  });
});

describe('local text provider: the real model', function () {
  this.timeout(900_000);
  let provider: LocalTextProvider;
  const brief: BookBrief = { prompt: 'A lighthouse keeper befriends a clockwork gull', chapterCount: 2, era: 'folklore-evermore' };

  before(async () => {
    assert.ok(
      LocalModel.installed(MODEL_PATH),
      `the local model is not installed at ${MODEL_PATH}: run \`npm run model:install\` (CI installs it; EBOOK_SKIP_MODEL must not be set)`,
    );
    // One thread and short chapters: the machines running the suite have two cores, shared.
    provider = createLocalTextProvider({ modelPath: MODEL_PATH, threads: 1, sequences: 2, chapterWords: 120 });
    await provider.warmUp();
  });

  after(async () => {
    await provider?.dispose();
  });

  it('plans a 2-chapter book and streams its chapters, naming the prompt’s people and things, with token usage', async () => {
    // LOCAL_MODEL_PLAN=true: the model fills the plan's title, hero and chapter titles.
    const planner = createLocalTextProvider({ modelPath: MODEL_PATH, model: provider.model, modelPlan: true, chapterWords: 120 });
    const planned = await planner.writeOutline(brief);
    const { outline } = planned;
    assert.equal(outline.chapters.length, 2);
    assert.deepEqual(outline.chapters.map((c) => c.index), [1, 2]);
    assert.match(outline.palette[0], /^#[0-9a-f]{6}$/i);
    assert.ok((planned.usage.inputTokens ?? 0) > 0 && (planned.usage.outputTokens ?? 0) > 0, JSON.stringify(planned.usage));
    assert.match(planned.model, /gemma-3-270m/);

    const hero = outline.characters[0].name;
    // Both chapters at once: the pool serves two sequences.
    const results = await Promise.all(
      outline.chapters.map(async (chapter) => {
        const deltas: string[] = [];
        const req: ChapterRequest = { brief, outline, chapter, previousSummaries: outline.chapters.filter((c) => c.index < chapter.index).map((c) => c.summary) };
        const result = await provider.writeChapter(req, (d) => deltas.push(d));
        return { chapter, deltas, result };
      }),
    );
    for (const { chapter, deltas, result } of results) {
      const text = result.paragraphs.join('\n\n');
      const words = text.split(/\s+/).length;
      assert.ok(deltas.length > 5, `chapter ${chapter.index} was streamed (${deltas.length} deltas)`);
      assert.equal(deltas.join('').replace(/\s+/g, ' ').trim(), result.paragraphs.join(' '), 'what was streamed is the chapter');
      // Near the target: stopped at the first sentence end past it, or the model ended a little early.
      assert.ok(words >= 0.4 * chapter.targetWords && words <= 1.6 * chapter.targetWords, `chapter ${chapter.index}: ${words} words for ${chapter.targetWords}`);
      assert.match(text.trim(), /[.!?…]['"”’)\]]*$/, 'it ends at a sentence end');
      assert.ok(!/\n\s*chapter\b/i.test(text), 'it did not run into another chapter');
      assert.ok(text.includes(hero), `chapter ${chapter.index} names the hero ${hero}`);
      assert.ok(names(text, 'gull'), `chapter ${chapter.index} names the gull`);
      // Not only in the engine's opening sentence: the model's own text names them too.
      const own = text.slice(text.indexOf('\n\n') >= 0 ? text.indexOf('\n\n') : text.indexOf('.') + 1);
      assert.ok(own.includes(hero) || names(own, 'gull') || names(own, 'keeper') || names(own, 'lighthouse'), `chapter ${chapter.index}'s own text names the hero, keeper, lighthouse or gull: ${own.slice(0, 300)}`);
      assert.ok((result.usage.inputTokens ?? 0) > 50, `prompt tokens: ${JSON.stringify(result.usage)}`);
      assert.ok((result.usage.outputTokens ?? 0) > 100, `completion tokens: ${JSON.stringify(result.usage)}`);
    }
  });

  it('stops generating when the signal aborts', async () => {
    const { outline } = await provider.writeOutline({ ...brief, prompt: 'A baker teaches a robot to make bread' });
    const ac = new AbortController();
    const reason = new Error('cancelled by the test');
    let afterAbort = 0;
    let abortedAt = 0;
    const writing = provider.writeChapter({ brief, outline, chapter: outline.chapters[0], previousSummaries: [] }, () => {
      if (ac.signal.aborted) afterAbort++;
      else if (!abortedAt) {
        abortedAt = Date.now();
        ac.abort(reason);
      }
    }, ac.signal);
    await assert.rejects(writing, (err) => err === reason);
    const took = Date.now() - abortedAt;
    assert.ok(abortedAt > 0, 'text came before the abort');
    assert.equal(afterAbort, 0, 'no text after the abort');
    assert.ok(took < 10_000, `the generation ended ${took} ms after the abort`);
    // The sequence went back to the pool: a next chapter is written at once.
    const next = await provider.writeChapter({ brief, outline, chapter: { ...outline.chapters[1], targetWords: 60 }, previousSummaries: [] });
    assert.ok(next.paragraphs.length > 0);
  });
});
