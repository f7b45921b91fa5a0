/**
 * Benchmark 3: status under load. BENCH_BOOKS books (default 100) kept running
 * (chapters stream slowly from the local provider server, so every book keeps
 * making progress), BENCH_SSE subscribers (default 1,000) on their event
 * streams, then `wrk` at about BENCH_RATE (default 1,000) req/s against
 * GET /v1/ebooks/{id}/status for BENCH_SECONDS, and the same load against a bare
 * Express endpoint in a process of its own. Targets: p99 under 50 ms, no errors.
 * The API and the worker run as their own processes, as in production (with
 * REDIS_URL: events, rate limits and caches on Redis); BENCH_IN_PROCESS=1 runs
 * the API in this process, beside the provider server and the subscribers.
 * The status route reads the book's database row (no Temporal call per request).
 *
 *   apt-get install -y wrk
 *   npx tsx bench/status-load.ts          # BENCH_BOOKS=100 BENCH_SSE=1000 BENCH_RATE=1000 BENCH_SECONDS=30
 */
import { execFile, spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { machine, runBench } from './harness';

const BOOKS = Number(process.env.BENCH_BOOKS ?? 100);
const SSE = Number(process.env.BENCH_SSE ?? 1000);
const RATE = Number(process.env.BENCH_RATE ?? 1000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
/**
 * Between two books' POSTs (default 200 ms: 100 books over 20 s). Books started in the same
 * millisecond with the provider's fixed latencies write in lockstep, so every chapter's
 * next piece of text, and its fan-out to ten readers, would land in the same second.
 */
const STAGGER_MS = Number(process.env.BENCH_STAGGER_MS ?? 200);
const CONNECTIONS = 50;

function wrk(
  url: string,
  env: Record<string, string>,
  { connections = CONNECTIONS, rate = RATE, threads = 2 } = {},
): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    execFile(
      'wrk',
      [`-t${threads}`, `-c${connections}`, `-d${SECONDS}s`, '--timeout', '5s', '-s', `${__dirname}/wrk-status.lua`, url],
      { env: { ...process.env, ...env, BENCH_DELAY_MS: String(Math.round((connections * 1000) / rate)) } },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`wrk: ${err.message}\n${stderr}`));
        const line = /^RESULT (.*)$/m.exec(stdout)?.[1];
        if (!line) return reject(new Error(`wrk printed no RESULT:\n${stdout}`));
        resolve(Object.fromEntries(line.split(' ').map((kv) => [kv.split('=')[0], Number(kv.split('=')[1])])));
      },
    );
  });
}

/** The API's own view of a window: event-loop lag (prom-client resets it at each scrape) and GC time. */
async function apiMetrics(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) =>
    text
      .split('\n')
      .filter((l) => l.startsWith(name))
      .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
  // The status route's own latency histogram: how many answers took over 25 / 50 ms inside the API.
  const bucket = (le: string) =>
    value(`http_request_duration_seconds_bucket{le="${le}",method="GET",route="/v1/ebooks/:id/status"}`);
  return {
    served: value('http_request_duration_seconds_count{method="GET",route="/v1/ebooks/:id/status"}'),
    within25: bucket('0.025'),
    within50: bucket('0.05'),
    within100: bucket('0.1'),
    within250: bucket('0.25'),
    lagMaxMs: value('nodejs_eventloop_lag_max_seconds') * 1000,
    lagP99Ms: value('nodejs_eventloop_lag_p99_seconds') * 1000,
    gcMs: value('nodejs_gc_duration_seconds_sum') * 1000,
    cpuS: value('process_cpu_seconds_total'),
  };
}

const pct = (m0: Record<string, number>, m1: Record<string, number>, within: string) => {
  const served = m1.served - m0.served;
  return `${(served ? (100 * (served - (m1[within] - m0[within]))) / served : 0).toFixed(2)}%`;
};

interface Subscriber {
  events: number;
  /** Events that arrived inside the measuring window. */
  live: number;
  error?: string;
}

const options = {
  // A chapter (~1,700 characters) streams for 60 s: its text reaches readers in moderated
  // pieces (a few words, then ≥ 600 characters, then growing), so every book sends progress
  // while we measure, and is still writing when the window closes.
  latency: { outline: 500, firstToken: 1000, chapter: 60_000, image: 1000 },
  activitySlots: BOOKS * 4 + 50,
  // As in production: the API and the worker each in a process of their own (BENCH_IN_PROCESS=1: the API in this one).
  workerProcess: true,
  apiProcess: !process.env.BENCH_IN_PROCESS,
};

/** bench/bare-status-server.ts as a child process; resolves to its URL. */
function startBareServer(): Promise<{ url: string; stop(): void }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'bare-status-server.ts')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.once('exit', (code) => reject(new Error(`the bare server exited with ${code}`)));
    child.stdout!.setEncoding('utf8').on('data', (line: string) => {
      const port = /listening (\d+)/.exec(line)?.[1];
      if (port) resolve({ url: `http://127.0.0.1:${port}`, stop: () => child.kill('SIGTERM') });
    });
  });
}

runBench(options, async (bench) => {
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const requests: http.ClientRequest[] = [];
  const bareServer = await startBareServer();
  try {
    const books = await Promise.all(
      Array.from({ length: BOOKS }, async (_, i) => {
        await new Promise((r) => setTimeout(r, i * STAGGER_MS));
        return bench.createBook(4);
      }),
    );
    // Running: every book past its outline and into its chapters.
    const deadline = Date.now() + 180_000;
    for (;;) {
      const rows = await bench.stack.services.knex('memory_books').whereIn('id', books.map((b) => b.id)).select('status', 'stage');
      const inChapters = rows.filter((r) => r.stage === 'chapters').length;
      if (inChapters === BOOKS) break;
      if (Date.now() > deadline) throw new Error(`only ${inChapters}/${BOOKS} books reached their chapters`);
      await new Promise((r) => setTimeout(r, 500));
    }
    console.log(`${BOOKS} books writing their chapters: ${machine()}`);

    // SSE subscribers, spread evenly over the books.
    let windowOpen = false;
    const subs: Subscriber[] = [];
    await Promise.all(
      Array.from({ length: SSE }, (_, i) => {
        const sub: Subscriber = { events: 0, live: 0 };
        subs.push(sub);
        return new Promise<void>((resolve) => {
          const req = http.get(
            `${bench.url}/v1/ebooks/${books[i % BOOKS].id}/events`,
            { agent, headers: { authorization: `Bearer ${bench.token}` } },
            (res) => {
              if (res.statusCode !== 200) sub.error = `HTTP ${res.statusCode}`;
              res.setEncoding('utf8');
              res.on('data', (chunk: string) => {
                const n = chunk.match(/^event: /gm)?.length ?? 0;
                sub.events += n;
                if (windowOpen) sub.live += n;
              });
              resolve();
            },
          );
          req.on('error', (err) => {
            sub.error = err.message;
            resolve();
          });
          requests.push(req);
        });
      }),
    );
    const connected = subs.filter((s) => !s.error).length;
    console.log(`${connected}/${SSE} SSE subscribers connected`);

    windowOpen = true;
    const env = { BENCH_IDS: books.map((b) => b.id).join(','), BENCH_TOKEN: bench.token };
    const m0 = await apiMetrics(bench.url);
    // Alongside, a light load (100 req/s) on the bare endpoint: the machine's own latency at the same moments.
    const [status, bareDuring] = await Promise.all([
      wrk(bench.url, env),
      wrk(bareServer.url, env, { connections: 5, rate: 100, threads: 1 }),
    ]);
    const m1 = await apiMetrics(bench.url);
    windowOpen = false;
    const receiving = subs.filter((s) => s.live > 0).length;
    const liveEvents = subs.reduce((n, s) => n + s.live, 0);
    console.log(`machine after the status run: ${machine()}`);
    const baseline = await wrk(bareServer.url, env);

    const line = (name: string, r: Record<string, number>) =>
      `| ${name} | ${r.rate.toFixed(0)} | ${r.p50_ms.toFixed(1)} | ${r.p90_ms.toFixed(1)} | ${r.p99_ms.toFixed(1)} | ${r.max_ms.toFixed(1)} | ${r.non2xx + r.connect_err + r.read_err + r.write_err + r.timeouts} |`;
    console.log(`\n${BOOKS} books running, ${connected} SSE subscribers, wrk -t2 -c${CONNECTIONS} -d${SECONDS}s at about ${RATE} req/s`);
    console.log('| endpoint | req/s | p50 ms | p90 ms | p99 ms | max ms | errors |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    console.log(line('GET /v1/ebooks/{id}/status', status));
    console.log(line('bare Express endpoint (a process of its own)', baseline));
    console.log(line('bare endpoint at 100 req/s, at the same time as the status run', bareDuring));
    console.log(
      `API process during the window: CPU ${(((m1.cpuS - m0.cpuS) / SECONDS) * 100).toFixed(0)}% of a core, ` +
        `GC ${(m1.gcMs - m0.gcMs).toFixed(0)} ms, event-loop lag p99 ${m1.lagP99Ms.toFixed(1)} ms, max ${m1.lagMaxMs.toFixed(1)} ms; ` +
        `status answers taking over 25 ms inside the API ${pct(m0, m1, 'within25')}, over 50 ms ${pct(m0, m1, 'within50')}, ` +
        `over 100 ms ${pct(m0, m1, 'within100')}, over 250 ms ${pct(m0, m1, 'within250')}`,
    );
    const errors = status.non2xx + status.connect_err + status.read_err + status.write_err + status.timeouts;
    console.log(`status p99 ${status.p99_ms.toFixed(1)} ms (target < 50 ms) ${status.p99_ms < 50 ? 'PASS' : 'MISS'}; errors ${errors} ${errors === 0 ? 'PASS' : 'MISS'}`);
    console.log(`SSE: ${receiving}/${SSE} subscribers received progress during the ${SECONDS} s window (${liveEvents} events, ${(liveEvents / SECONDS).toFixed(0)}/s in all) ${receiving === SSE ? 'PASS' : 'MISS'}`);
  } finally {
    for (const r of requests) r.destroy();
    bareServer.stop();
  }
});
