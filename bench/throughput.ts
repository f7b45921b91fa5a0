/**
 * Benchmark 2: throughput. BENCH_BOOKS books (default 100) of 3 chapters, all
 * posted at once through the API, with providers that answer at once; books per
 * minute from the first POST to the last workflow result. Side by side, on the
 * same Temporal dev server and machine: the same number of bare workflows
 * (bench/bare-workflows.ts) running the same number of no-op activities per
 * book (14) with the same activity slots. Target: at least 70% of the bare rate.
 * BENCH_ROUNDS rounds (default 2) of both, alternating which runs first; the rates are
 * over all rounds.
 *
 *   npx tsx bench/throughput.ts            # BENCH_BOOKS=100 BENCH_ROUNDS=2
 */
import path from 'node:path';
import { NativeConnection, Worker } from '@temporalio/worker';
import { activityTimes, cpuByProcess, cpuSpent, machine, runBench } from './harness';

const BOOKS = Number(process.env.BENCH_BOOKS ?? 100);
const CHAPTERS = 3;
/** Rounds of bare and engine runs, alternating which goes first (default 2). */
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 2));

runBench({}, async (bench) => {
  const { stack } = bench;
  // Warm-up: one book, so the bundle, pools and code paths are loaded.
  const warm = await bench.createBook(1);
  await stack.client.workflow.getHandle(warm.workflowId).result();

  // Bare Temporal: the same number of workflows and activities, no work in them.
  const connection = await NativeConnection.connect({ address: stack.env.address });
  const taskQueue = `${stack.taskQueue}-bare`;
  const bare = await Worker.create({
    connection,
    taskQueue,
    workflowsPath: path.join(__dirname, 'bare-workflows.ts'),
    activities: { noop: async () => undefined },
    maxConcurrentActivityTaskExecutions: 16,
  });
  const bareRun = bare.run();
  await stack.client.workflow.execute('bareBookWorkflow', { workflowId: `bare-warm-${Date.now()}`, taskQueue, args: [CHAPTERS] });

  const runBare = async () => {
    const cpu0 = cpuByProcess();
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: BOOKS }, (_, i) =>
        stack.client.workflow.execute('bareBookWorkflow', { workflowId: `bare-${Date.now()}-${i}`, taskQueue, args: [CHAPTERS] }),
      ),
    );
    return { ms: performance.now() - t0, cpu: cpuSpent(cpu0, cpuByProcess()) };
  };
  // The engine: books through the API, the real workflow and activities (rendering included).
  const allBooks: Array<{ id: string; workflowId: string }> = [];
  const runEngine = async () => {
    const cpu0 = cpuByProcess();
    const t0 = performance.now();
    const books = await Promise.all(Array.from({ length: BOOKS }, () => bench.createBook(CHAPTERS)));
    const posted = performance.now() - t0;
    await Promise.all(books.map((b) => stack.client.workflow.getHandle(b.workflowId).result()));
    allBooks.push(...books);
    return { ms: performance.now() - t0, posted, cpu: cpuSpent(cpu0, cpuByProcess()) };
  };

  // Rounds of both, the order alternating (bare first, then engine first, ...): this
  // machine's speed drifts by ±20% from minute to minute, and a single pair of runs can
  // land on two different speeds.
  const perMin = (ms: number) => (BOOKS / ms) * 60_000;
  const bareRounds: Array<Awaited<ReturnType<typeof runBare>>> = [];
  const engineRounds: Array<Awaited<ReturnType<typeof runEngine>>> = [];
  for (let round = 1; round <= ROUNDS; round++) {
    if (round % 2 === 1) {
      bareRounds.push(await runBare());
      engineRounds.push(await runEngine());
    } else {
      engineRounds.push(await runEngine());
      bareRounds.push(await runBare());
    }
    const b = bareRounds.at(-1)!;
    const e = engineRounds.at(-1)!;
    console.log(
      `round ${round}: bare ${perMin(b.ms).toFixed(1)} books/min, engine ${perMin(e.ms).toFixed(1)} books/min ` +
        `(POSTs ${(e.posted / 1000).toFixed(1)} s): ${((perMin(e.ms) / perMin(b.ms)) * 100).toFixed(1)}%  [${machine()}]`,
    );
  }
  bare.shutdown();
  await bareRun;
  await connection.close();

  const statuses = await stack.services.knex('memory_books').whereIn('id', allBooks.map((b) => b.id)).select('status');
  const completed = statuses.filter((s) => s.status === 'completed').length;

  // Where the engine's time goes: activity execution time summed over all books, by type.
  const byType = new Map<string, number>();
  for (const b of allBooks) {
    for (const a of await activityTimes(stack, b.workflowId)) {
      byType.set(a.type, (byType.get(a.type) ?? 0) + ((a.completed ?? 0) - (a.started ?? a.scheduled)));
    }
  }
  const total = (rs: Array<{ ms: number }>) => rs.reduce((n, r) => n + r.ms, 0);
  const bareMs = total(bareRounds);
  const engineMs = total(engineRounds);
  const books = BOOKS * ROUNDS;
  const rate = (ms: number) => (books / ms) * 60_000;
  const ratio = rate(engineMs) / rate(bareMs);
  console.log(`\n${ROUNDS} rounds of ${BOOKS} books of ${CHAPTERS} chapters (14 activities each)`);
  console.log(`bare Temporal: ${(bareMs / 1000).toFixed(1)} s, ${rate(bareMs).toFixed(1)} books/min`);
  console.log(`engine:        ${(engineMs / 1000).toFixed(1)} s, ${rate(engineMs).toFixed(1)} books/min, ${completed}/${books} completed`);
  console.log(
    `engine activity time summed over books (s): ${[...byType].sort((a, b) => b[1] - a[1]).map(([t, ms]) => `${t} ${(ms / 1000).toFixed(1)}`).join(', ')}`,
  );
  // Where the CPU went: 'node' is this process (the engine's API and worker, and the local
  // provider server; during the bare runs, the bare worker), 'temporal' the dev server.
  const summed = (rs: Array<{ cpu: Array<[string, number]> }>) => {
    const m = new Map<string, number>();
    for (const r of rs) for (const [name, sec] of r.cpu) m.set(name, (m.get(name) ?? 0) + sec);
    return [...m].sort((a, b) => b[1] - a[1]);
  };
  const perBook = (spent: Array<[string, number]>) =>
    spent.map(([name, sec]) => `${name} ${Math.round((sec * 1000) / books)}`).join(', ') +
    ` (all ${Math.round((spent.reduce((n, [, sec]) => n + sec, 0) * 1000) / books)})`;
  console.log(`CPU ms per book, bare:   ${perBook(summed(bareRounds))}`);
  console.log(`CPU ms per book, engine: ${perBook(summed(engineRounds))}`);
  console.log(`engine / bare: ${(ratio * 100).toFixed(1)}% (target ≥ 70%) ${ratio >= 0.7 ? 'PASS' : 'MISS'}`);
});
