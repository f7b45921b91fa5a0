/**
 * The local language model in the engine, measured:
 *
 * 1. Tokens/s of the `local` provider inside the worker (a book through HTTP,
 *    Temporal and the worker; each chapter's completion tokens from the ledger
 *    over its writeChapter activity's time in history) against node-llama-cpp's
 *    bare generation loop (LlamaCompletion on the same model, context size,
 *    threads and sampling, in this process, before and after the book). Goal ≥ 90%.
 * 2. First words on screen: POST → the first `chapter.text` SSE event. Goal < 1.5 s.
 * 3. The book's wall time: POST → `completed`.
 * 4. How often each chapter names the prompt's people and things.
 *
 * Chapters run one at a time (CHAPTER_CONCURRENCY=1, one sequence), so each
 * chapter's time is its own generation, comparable with the bare loop.
 *
 * The worker loads the model as it starts (in the background); the book is posted
 * after the first bare loop, so the model is warm. BENCH_COLD=1 posts it as soon as
 * the worker polls instead (both bare loops after the book): a book that arrives
 * while the model is still loading. LOCAL_MODEL_PLAN=true: the model fills the plan
 * (a model call before the first chapter), as before issue 18's item 9.
 *
 *   TEST_DATABASE_URL=... npx tsx bench/local-model.ts   # BENCH_CHAPTERS=3, BENCH_CHAPTER_WORDS=120, LOCAL_MODEL_THREADS=1
 */
import { createLocalTextProvider } from '../activities/providers/local-text';
import { chapterOpening, planFromBrief } from '../activities/providers/local-plan';
import { loadConfig } from '../lib/config';
import { activityTimes, firstEvent, machine, runBench } from './harness';

const CHAPTERS = Number(process.env.BENCH_CHAPTERS ?? 3);
const WORDS = Number(process.env.BENCH_CHAPTER_WORDS ?? 120);
const THREADS = Number(process.env.LOCAL_MODEL_THREADS ?? 1);
const COLD = process.env.BENCH_COLD === '1';
const PROMPT = 'A lighthouse keeper befriends a clockwork gull';

/** node-llama-cpp's own loop: one completion per opening, same settings as the provider's chapters. */
async function bareLoop(openings: string[], maxTokens: number): Promise<{ tokens: number; ms: number }> {
  const modelPath = loadConfig({}).providers.localModelPath;
  // The provider's model wrapper only loads the model; the generation below is the library's loop.
  const provider = createLocalTextProvider({ modelPath, threads: THREADS, sequences: 1 });
  await provider.warmUp();
  const { LlamaCompletion } = await import('node-llama-cpp');
  const model = await provider.model.model();
  const context = await model.createContext({ contextSize: 2048, threads: THREADS, sequences: 1 });
  let tokens = 0;
  let ms = 0;
  for (const [i, text] of openings.entries()) {
    const seq = context.getSequence();
    const completion = new LlamaCompletion({ contextSequence: seq });
    const t0 = performance.now();
    await completion.generateCompletion(text, {
      maxTokens,
      temperature: 0.8,
      topK: 40,
      topP: 0.92,
      minP: 0.05,
      seed: 1000 + i,
      repeatPenalty: { penalty: 1.15, frequencyPenalty: 0.05, presencePenalty: 0.05, lastTokens: 192, penalizeNewLine: false },
    });
    ms += performance.now() - t0;
    tokens += seq.tokenMeter.usedOutputTokens;
    completion.dispose();
    seq.dispose();
  }
  await context.dispose();
  await provider.dispose();
  return { tokens, ms };
}

runBench(
  {
    env: {
      TEXT_PROVIDERS: 'local',
      // The test helpers point LOCAL_MODEL_PATH nowhere (so tests never load the model by accident).
      LOCAL_MODEL_PATH: loadConfig({}).providers.localModelPath,
      IMAGE_PROVIDERS: 'offline',
      LOCAL_MODEL_THREADS: String(THREADS),
      LOCAL_MODEL_SEQUENCES: '1',
      LOCAL_MODEL_CHAPTER_WORDS: String(WORDS),
      CHAPTER_CONCURRENCY: '1',
      LOCAL_MODEL_PLAN: process.env.LOCAL_MODEL_PLAN ?? 'false',
      // OFFLINE_PROVIDER_DELAY_MS=3000: the offline pictures (the cover among them) start 3 s late,
      // to see what drawing them alongside the first chapter costs its first words.
      OFFLINE_PROVIDER_DELAY_MS: process.env.OFFLINE_PROVIDER_DELAY_MS ?? '0',
    },
  },
  async (bench) => {
    const brief = { prompt: PROMPT, chapterCount: CHAPTERS };
    const plan = planFromBrief(brief);
    const openings = plan.chapters.map((chapter) => chapterOpening({ brief, outline: plan, chapter, previousSummaries: [] }).prompt);
    const maxTokens = Math.round(WORDS * 1.35);

    console.log(`machine before: ${machine()}`);
    const bareBefore = COLD ? await Promise.resolve({ tokens: 0, ms: 0 }) : await bareLoop(openings, maxTokens);
    if (!COLD) {
      console.log(`bare loop (before): ${bareBefore.tokens} tokens in ${(bareBefore.ms / 1000).toFixed(1)} s = ${((bareBefore.tokens / bareBefore.ms) * 1000).toFixed(1)} tok/s`);
    }

    const { id, workflowId, postedAt } = await bench.createBook(CHAPTERS, PROMPT);
    const [firstWords, done] = await Promise.all([
      firstEvent(bench.url, bench.token, id, 'chapter.text', 1_800_000),
      firstEvent(bench.url, bench.token, id, 'completed', 1_800_000),
    ]);
    const rows = await bench.stack.services.knex('cost_ledger').where({ ebook_id: id, provider: 'local', step: 'chapter' });
    const acts = (await activityTimes(bench.stack, workflowId)).filter((a) => a.type === 'writeChapter' && a.completed);
    const outline = (await activityTimes(bench.stack, workflowId)).find((a) => a.type === 'writeOutline');
    const workerTokens = rows.reduce((s: number, r: { output_tokens: number }) => s + r.output_tokens, 0);
    const workerMs = acts.reduce((s, a) => s + (a.completed! - a.started!), 0);

    // Where the first words' time went, on the server's clock: the workflow's start → the first
    // chapter's activity started (outline, moderation, stores) → its first words (the rest).
    const history = await bench.stack.client.workflow.getHandle(workflowId).fetchHistory();
    const at = (t: any) => Number(t.seconds) * 1000 + Math.round((t.nanos ?? 0) / 1e6);
    const wfStart = at(history.events![0].eventTime!);
    const firstChapter = acts.find((a) => a.started !== undefined);
    console.log(
      `workflow started → first writeChapter started: ${firstChapter?.started ? firstChapter.started - wfStart : '?'} ms; ` +
        `outline activity scheduled at +${outline ? outline.scheduled - wfStart : '?'} ms`,
    );

    let bareAfter = await bareLoop(openings, maxTokens);
    console.log(`bare loop (after): ${bareAfter.tokens} tokens in ${(bareAfter.ms / 1000).toFixed(1)} s = ${((bareAfter.tokens / bareAfter.ms) * 1000).toFixed(1)} tok/s`);
    if (COLD) {
      const again = await bareLoop(openings, maxTokens);
      console.log(`bare loop (after, again): ${again.tokens} tokens in ${(again.ms / 1000).toFixed(1)} s = ${((again.tokens / again.ms) * 1000).toFixed(1)} tok/s`);
      bareAfter = { tokens: bareAfter.tokens + again.tokens, ms: bareAfter.ms + again.ms };
    }

    const bareRate = ((bareBefore.tokens + bareAfter.tokens) / (bareBefore.ms + bareAfter.ms)) * 1000;
    const workerRate = (workerTokens / workerMs) * 1000;
    console.log(
      `worker: ${workerTokens} completion tokens in ${acts.length} writeChapter activities, ${(workerMs / 1000).toFixed(1)} s = ${workerRate.toFixed(1)} tok/s ` +
        `(${((workerRate / bareRate) * 100).toFixed(0)}% of the bare loop's ${bareRate.toFixed(1)} tok/s; goal >= 90%)`,
    );
    console.log(`outline activity: ${outline?.completed && outline.started ? outline.completed - outline.started : '?'} ms`);
    console.log(`first words: ${(firstWords - postedAt).toFixed(0)} ms after the POST (goal < 1500)`);
    console.log(`${CHAPTERS}-chapter book (${WORDS} words a chapter, one at a time): ${((done - postedAt) / 1000).toFixed(1)} s POST → completed`);

    // How often each chapter names the prompt's people and things.
    const book = await fetch(`${bench.url}/v1/ebooks/${id}`, { headers: { authorization: `Bearer ${bench.token}` } }).then((r) => r.json() as Promise<any>);
    const terms = ['keeper', 'gull', 'lighthouse'];
    const counts = book.chapters.map((c: { index: number; paragraphs: string[] }) => {
      const text = c.paragraphs.join(' ');
      return { index: c.index, words: text.split(/\s+/).length, ...Object.fromEntries(terms.map((t) => [t, (text.match(new RegExp(`\\b${t}s?\\b`, 'gi')) ?? []).length])) };
    });
    console.log('mentions per chapter:', JSON.stringify(counts));
    console.log(`chapters naming the keeper or lighthouse: ${counts.filter((c: any) => c.keeper + c.lighthouse > 0).length}/${counts.length}, the gull: ${counts.filter((c: any) => c.gull > 0).length}/${counts.length}`);
    console.log(`machine after: ${machine()}`);
  },
);
