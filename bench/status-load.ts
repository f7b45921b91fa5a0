/**
 * Benchmark 3: status under load. BENCH_BOOKS books (default 100) kept running
 * (chapters stream slowly from the local provider server, so every book keeps
 * making progress), BENCH_SSE subscribers (default 1,000) on their event
 * streams, then `wrk` at about BENCH_RATE (default 1,000) req/s against
 * GET /v1/ebooks/{id}/status for BENCH_SECONDS, and the same load against a bare
 * Express endpoint on the same process. Targets: p99 under 50 ms, no errors.
 * The status route reads the book's database row (no Temporal call per request);
 * the subscribers share one LISTEN connection.
 *
 *   apt-get install -y wrk
 *   npx tsx bench/status-load.ts          # BENCH_BOOKS=100 BENCH_SSE=1000 BENCH_RATE=1000 BENCH_SECONDS=30
 */
import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { machine, runBench } from './harness';

const BOOKS = Number(process.env.BENCH_BOOKS ?? 100);
const SSE = Number(process.env.BENCH_SSE ?? 1000);
const RATE = Number(process.env.BENCH_RATE ?? 1000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const CONNECTIONS = 50;

function wrk(url: string, env: Record<string, string>): Promise<Record<string, number>> {
  return new Promise((resolve, reject) => {
    execFile(
      'wrk',
      ['-t2', `-c${CONNECTIONS}`, `-d${SECONDS}s`, '--timeout', '5s', '-s', `${__dirname}/wrk-status.lua`, url],
      { env: { ...process.env, ...env, BENCH_DELAY_MS: String(Math.round((CONNECTIONS * 1000) / RATE)) } },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`wrk: ${err.message}\n${stderr}`));
        const line = /^RESULT (.*)$/m.exec(stdout)?.[1];
        if (!line) return reject(new Error(`wrk printed no RESULT:\n${stdout}`));
        resolve(Object.fromEntries(line.split(' ').map((kv) => [kv.split('=')[0], Number(kv.split('=')[1])])));
      },
    );
  });
}

interface Subscriber {
  events: number;
  /** Events that arrived inside the measuring window. */
  live: number;
  error?: string;
}

const options = {
  // A chapter streams for 5 minutes: every book keeps sending progress while we measure.
  latency: { outline: 500, firstToken: 1000, chapter: 300_000, image: 1000 },
  activitySlots: BOOKS * 4 + 50,
  // As in production: the API's process and database pool are its own (BENCH_IN_PROCESS=1: one process).
  workerProcess: !process.env.BENCH_IN_PROCESS,
};

runBench(options, async (bench) => {
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const requests: http.ClientRequest[] = [];
  const bare = express();
  bare.get('/v1/ebooks/:id/status', (req, res) => {
    res.json({ id: req.params.id, status: 'running', stage: 'chapters', progress: 0.5, chapters: [] });
  });
  const bareServer = await new Promise<http.Server>((resolve) => {
    const s = bare.listen(0, '127.0.0.1', () => resolve(s));
  });
  try {
    const books = await Promise.all(Array.from({ length: BOOKS }, () => bench.createBook(4)));
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
    const status = await wrk(bench.url, env);
    windowOpen = false;
    const receiving = subs.filter((s) => s.live > 0).length;
    const liveEvents = subs.reduce((n, s) => n + s.live, 0);
    console.log(`machine after the status run: ${machine()}`);
    const bareUrl = `http://127.0.0.1:${(bareServer.address() as AddressInfo).port}`;
    const baseline = await wrk(bareUrl, env);

    const line = (name: string, r: Record<string, number>) =>
      `| ${name} | ${r.rate.toFixed(0)} | ${r.p50_ms.toFixed(1)} | ${r.p90_ms.toFixed(1)} | ${r.p99_ms.toFixed(1)} | ${r.max_ms.toFixed(1)} | ${r.non2xx + r.connect_err + r.read_err + r.write_err + r.timeouts} |`;
    console.log(`\n${BOOKS} books running, ${connected} SSE subscribers, wrk -t2 -c${CONNECTIONS} -d${SECONDS}s at about ${RATE} req/s`);
    console.log('| endpoint | req/s | p50 ms | p90 ms | p99 ms | max ms | errors |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    console.log(line('GET /v1/ebooks/{id}/status', status));
    console.log(line('bare Express endpoint (same process)', baseline));
    const errors = status.non2xx + status.connect_err + status.read_err + status.write_err + status.timeouts;
    console.log(`status p99 ${status.p99_ms.toFixed(1)} ms (target < 50 ms) ${status.p99_ms < 50 ? 'PASS' : 'MISS'}; errors ${errors} ${errors === 0 ? 'PASS' : 'MISS'}`);
    console.log(`SSE: ${receiving}/${SSE} subscribers received progress during the ${SECONDS} s window (${liveEvents} events, ${(liveEvents / SECONDS).toFixed(0)}/s in all) ${receiving === SSE ? 'PASS' : 'MISS'}`);
  } finally {
    for (const r of requests) r.destroy();
    bareServer.closeAllConnections();
    bareServer.close();
  }
});
