/**
 * Benchmark 2: throughput. BENCH_BOOKS books (default 100) of 3 chapters, all
 * posted at once through the API, with providers that answer at once; books per
 * minute from the first POST to the last workflow result. Side by side, on the
 * same Temporal dev server and machine: the same number of bare workflows
 * (bench/bare-workflows.ts) running the same number of no-op activities per
 * book (14) with the same activity slots. Target: at least 70% of the bare rate.
 *
 *   npx tsx bench/throughput.ts            # BENCH_BOOKS=100
 */
import path from 'node:path';
import { NativeConnection, Worker } from '@temporalio/worker';
import { activityTimes, cpuByProcess, cpuSpent, machine, runBench } from './harness';

const BOOKS = Number(process.env.BENCH_BOOKS ?? 100);
const CHAPTERS = 3;

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
  const bareCpu0 = cpuByProcess();
  const b0 = performance.now();
  await Promise.all(
    Array.from({ length: BOOKS }, (_, i) =>
      stack.client.workflow.execute('bareBookWorkflow', { workflowId: `bare-${Date.now()}-${i}`, taskQueue, args: [CHAPTERS] }),
    ),
  );
  const bareMs = performance.now() - b0;
  const bareCpu = cpuSpent(bareCpu0, cpuByProcess());
  bare.shutdown();
  await bareRun;
  await connection.close();
  console.log(`machine after bare: ${machine()}`);

  // The engine: books through the API, the real workflow and activities (rendering included).
  const engineCpu0 = cpuByProcess();
  const e0 = performance.now();
  const books = await Promise.all(Array.from({ length: BOOKS }, () => bench.createBook(CHAPTERS)));
  const posted = performance.now() - e0;
  await Promise.all(books.map((b) => stack.client.workflow.getHandle(b.workflowId).result()));
  const engineMs = performance.now() - e0;
  const engineCpu = cpuSpent(engineCpu0, cpuByProcess());
  const statuses = await stack.services.knex('memory_books').whereIn('id', books.map((b) => b.id)).select('status');
  const completed = statuses.filter((s) => s.status === 'completed').length;

  // Where the engine's time goes: activity execution time summed over all books, by type.
  const byType = new Map<string, number>();
  for (const b of books) {
    for (const a of await activityTimes(stack, b.workflowId)) {
      byType.set(a.type, (byType.get(a.type) ?? 0) + ((a.completed ?? 0) - (a.started ?? a.scheduled)));
    }
  }
  const perMin = (ms: number) => (BOOKS / ms) * 60_000;
  const ratio = perMin(engineMs) / perMin(bareMs);
  console.log(`\n${BOOKS} books of ${CHAPTERS} chapters (14 activities each)`);
  console.log(`bare Temporal: ${(bareMs / 1000).toFixed(1)} s, ${perMin(bareMs).toFixed(1)} books/min`);
  console.log(`engine:        ${(engineMs / 1000).toFixed(1)} s (POSTs took ${(posted / 1000).toFixed(1)} s), ${perMin(engineMs).toFixed(1)} books/min, ${completed}/${BOOKS} completed`);
  console.log(
    `engine activity time summed over books (s): ${[...byType].sort((a, b) => b[1] - a[1]).map(([t, ms]) => `${t} ${(ms / 1000).toFixed(1)}`).join(', ')}`,
  );
  // Where the CPU went: 'node' is this process (the engine's API and worker, and the local
  // provider server; during the bare run, the bare worker), 'temporal' the dev server.
  const perBook = (spent: Array<[string, number]>) =>
    spent.map(([name, s]) => `${name} ${Math.round((s * 1000) / BOOKS)}`).join(', ') +
    ` (all ${Math.round((spent.reduce((n, [, s]) => n + s, 0) * 1000) / BOOKS)})`;
  console.log(`CPU ms per book, bare:   ${perBook(bareCpu)}`);
  console.log(`CPU ms per book, engine: ${perBook(engineCpu)}`);
  console.log(`engine / bare: ${(ratio * 100).toFixed(1)}% (target ≥ 70%) ${ratio >= 0.7 ? 'PASS' : 'MISS'}`);
});
