/**
 * Benchmarks 1 and 4 on one book at a time: provider latencies fixed in the
 * local provider server (outline 1.0 s, chapter 2.0 s with its first token at
 * FIRST_TOKEN_MS, image 1.5 s), 8 chapters, all chapters in flight at once.
 *
 * 1. Critical path: POST → the workflow's result, against outline + one chapter
 *    + one image + rendering (renderPdf + renderEpub, timed from the book's own
 *    history), and against the strictly sequential time (outline + 8 × (chapter
 *    + image) + cover + rendering). Targets: within 15% of the critical path, at
 *    most a quarter of the sequential time.
 * 4. First words: POST → the first `chapter.text` event at an SSE client that
 *    connected right after the POST, minus the outline call and the provider's
 *    time to first token. Target: the engine adds under 150 ms.
 *
 *   npx tsx bench/critical-path.ts          # BENCH_RUNS=3 (default), BENCH_CHAPTERS=8
 */
import { activityTimes, firstEvent, median, runBench } from './harness';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const CHAPTERS = Number(process.env.BENCH_CHAPTERS ?? 8);
const OUTLINE_MS = 1000;
const CHAPTER_MS = 2000;
const FIRST_TOKEN_MS = Number(process.env.FIRST_TOKEN_MS ?? 300);
const IMAGE_MS = 1500;

// As in production, the API and the worker each run as a process of their own, with
// REDIS_URL (BENCH_IN_PROCESS=1: both in this process, PostgreSQL carrying events).
const separate = !process.env.BENCH_IN_PROCESS;
runBench({ env: { CHAPTER_CONCURRENCY: String(CHAPTERS) }, apiProcess: separate }, async (bench) => {
  // Warm-up with instant providers: the workflow bundle, connections and code paths are loaded.
  const warm = await bench.createBook(2);
  await bench.stack.client.workflow.getHandle(warm.workflowId).result();
  bench.provider.latency = { outline: OUTLINE_MS, chapter: CHAPTER_MS, firstToken: FIRST_TOKEN_MS, image: IMAGE_MS };

  const rows: Array<Record<string, number>> = [];
  for (let run = 1; run <= RUNS; run++) {
    const book = await bench.createBook(CHAPTERS);
    const firstText = firstEvent(bench.url, bench.token, book.id, 'chapter.text');
    await bench.stack.client.workflow.getHandle(book.workflowId).result();
    const done = performance.now();
    const e2e = done - book.postedAt;
    const acts = await activityTimes(bench.stack, book.workflowId);
    const execMs = (type: string) =>
      acts.filter((a) => a.type === type).reduce((sum, a) => sum + ((a.completed ?? 0) - (a.started ?? a.scheduled)), 0);
    const render = execMs('renderPdf') + execMs('renderEpub');
    const critical = OUTLINE_MS + CHAPTER_MS + IMAGE_MS + render;
    const sequential = OUTLINE_MS + CHAPTERS * (CHAPTER_MS + IMAGE_MS) + IMAGE_MS + render;
    const firstWords = (await firstText) - book.postedAt;
    // Where the first-words time goes, from when the provider server saw each request.
    const postedWall = performance.timeOrigin + book.postedAt;
    const chats = bench.provider.calls.filter((c) => c.route === 'chat' && c.at >= postedWall);
    const outlineAt = chats[0]?.at ?? NaN;
    const chapterAt = chats.find((c) => (c.body as { stream?: boolean }).stream === true)?.at ?? NaN;
    const firstTextWall = performance.timeOrigin + (await firstText);
    // Chapter text reaches readers a whole word at a time, the first piece once it has a few
    // words (24 characters) and passed moderation: the provider's own time from its first
    // token to those first words is waited for, whatever the engine does.
    const streams = chats.filter((c) => (c.body as { stream?: boolean }).stream === true);
    const firstWordsAt = Math.min(...streams.map((c) => c.firstWordsAt ?? Infinity));
    const firstTokenAt = Math.min(...streams.map((c) => c.firstTokenAt ?? Infinity));
    const row = {
      run,
      e2eMs: Math.round(e2e),
      renderMs: render,
      criticalMs: critical,
      sequentialMs: sequential,
      overCritical: e2e / critical - 1,
      ofSequential: e2e / sequential,
      firstWordsMs: Math.round(firstWords),
      firstWordsOverheadMs: Math.round(firstWords - OUTLINE_MS - FIRST_TOKEN_MS),
      // The overhead in three parts: POST → outline request; outline answer → first chapter
      // request; the chapter's first token → the client.
      postToOutlineMs: Math.round(outlineAt - postedWall),
      outlineToChapterMs: Math.round(chapterAt - outlineAt - OUTLINE_MS),
      tokenToClientMs: Math.round(firstTextWall - chapterAt - FIRST_TOKEN_MS),
      // Of which: the provider writing its first few words, and the engine after that.
      firstWordsWaitMs: Math.round(firstWordsAt - firstTokenAt),
      wordsToClientMs: Math.round(firstTextWall - firstWordsAt),
      engineOverheadMs: Math.round(firstWords - OUTLINE_MS - FIRST_TOKEN_MS - (firstWordsAt - firstTokenAt)),
      storeAndPublishMs: execMs('storeFiles') + execMs('publishEbook'),
    };
    if (process.env.BENCH_TIMELINE || run === RUNS) {
      // One book's steps (the first chapter's only): scheduled (ms from the first step), queue wait, run time.
      const t0 = Math.min(...acts.map((a) => a.scheduled));
      const shown = acts.filter((a) => !['writeChapter', 'drawIllustration'].includes(a.type) || acts.find((b) => b.type === a.type) === a);
      for (const a of shown) {
        const started = a.started ?? a.scheduled;
        console.log(`  ${a.type.padEnd(17)} +${a.scheduled - t0} ms, waited ${started - a.scheduled} ms, ran ${(a.completed ?? 0) - started} ms`);
      }
    }
    rows.push(row);
    console.log(JSON.stringify(row));
  }
  const m = (k: string) => median(rows.map((r) => Number(r[k])));
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  console.log(`\nmedian of ${RUNS} runs, ${CHAPTERS} chapters, latencies outline ${OUTLINE_MS} ms, chapter ${CHAPTER_MS} ms (first token ${FIRST_TOKEN_MS} ms), image ${IMAGE_MS} ms`);
  console.log(`1. end to end ${m('e2eMs')} ms; critical path ${m('criticalMs')} ms (rendering ${m('renderMs')} ms); sequential ${m('sequentialMs')} ms`);
  console.log(`   over the critical path: ${pct(m('overCritical'))} (target ≤ 15%) ${m('overCritical') <= 0.15 ? 'PASS' : 'MISS'}`);
  console.log(`   of the sequential time: ${pct(m('ofSequential'))} (target ≤ 25%) ${m('ofSequential') <= 0.25 ? 'PASS' : 'MISS'}`);
  console.log(`4. first chapter token at the SSE client ${m('firstWordsMs')} ms after POST; minus outline and first token ${m('firstWordsOverheadMs')} ms (target < 150 ms) ${m('firstWordsOverheadMs') < 150 ? 'PASS' : 'MISS'}`);
  console.log(
    `   of which the provider writing its first few words ${m('firstWordsWaitMs')} ms (the first piece moderated is 24 characters of whole words), ` +
      `the engine's own ${m('engineOverheadMs')} ms: POST → outline request ${m('postToOutlineMs')}, outline → chapter request ${m('outlineToChapterMs')}, ` +
      `first words written → client ${m('wordsToClientMs')}`,
  );
});
