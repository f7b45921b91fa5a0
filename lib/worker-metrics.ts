/**
 * The worker's own Prometheus metrics (books, chapters, images, provider latency
 * and spend) and the one scrape endpoint that serves them together with the
 * Temporal runtime's worker metrics.
 *
 * The counters live in one registry per process: activities report into it with
 * a single call (see `timeProviderCall`, `recordProviderSpend`), the activity
 * interceptor in workers/metrics.ts counts finished steps, and
 * `startWorkerMetricsServer` exposes it on WORKER_METRICS_PORT.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { costOf } from '../core/pricing';
import type { Usage } from '../core/pricing';

export const workerRegistry = new Registry();
let defaultsCollected = false;

const booksStarted = new Counter({
  name: 'ebook_books_started_total',
  help: 'Books whose generation started on this worker (startEbook completed)',
  registers: [workerRegistry],
});
const booksCompleted = new Counter({
  name: 'ebook_books_completed_total',
  help: 'Books published by this worker (publishEbook of a whole-book workflow completed)',
  registers: [workerRegistry],
});
const booksFailed = new Counter({
  name: 'ebook_books_failed_total',
  help: 'Books this worker marked failed or cancelled, by status and error type',
  labelNames: ['status', 'error_type'] as const,
  registers: [workerRegistry],
});
const chaptersWritten = new Counter({
  name: 'ebook_chapters_written_total',
  help: 'Chapters written (writeChapter completed), by the provider that wrote them',
  labelNames: ['provider'] as const,
  registers: [workerRegistry],
});
const imagesDrawn = new Counter({
  name: 'ebook_images_drawn_total',
  help: 'Illustrations and covers drawn, by kind and the provider that drew them',
  labelNames: ['kind', 'provider'] as const,
  registers: [workerRegistry],
});
const providerCallSeconds = new Histogram({
  name: 'ebook_provider_call_duration_seconds',
  help: 'Time of one provider call as the activity sees it (failover included), by step, provider and outcome',
  labelNames: ['step', 'provider', 'outcome'] as const,
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120],
  registers: [workerRegistry],
});
const providerSpendUsd = new Counter({
  name: 'ebook_provider_spend_usd_total',
  help: 'Estimated provider spend in USD (core/pricing.ts), by provider and model',
  labelNames: ['provider', 'model'] as const,
  registers: [workerRegistry],
});
const providerCalls = new Counter({
  name: 'ebook_provider_calls_total',
  help: 'Provider calls recorded in the cost ledger, by step, provider and model',
  labelNames: ['step', 'provider', 'model'] as const,
  registers: [workerRegistry],
});

/** What the activity interceptor reports when an activity completed or failed for good. */
export const bookMetrics = {
  started: () => booksStarted.inc(),
  completed: () => booksCompleted.inc(),
  failed: (status: string, errorType: string) => booksFailed.inc({ status, error_type: errorType || 'unknown' }),
  chapterWritten: (provider: string) => chaptersWritten.inc({ provider: provider || 'unknown' }),
  imageDrawn: (kind: 'illustration' | 'cover', provider: string) => imagesDrawn.inc({ kind, provider: provider || 'unknown' }),
};

/** The provider named by a result or a failure's details, else `fallback`. */
function providerOf(value: unknown, fallback: string): string {
  const direct = (value as { provider?: unknown } | undefined)?.provider;
  if (typeof direct === 'string' && direct) return direct;
  const detail = (value as { details?: Array<{ provider?: unknown }> } | undefined)?.details?.[0]?.provider;
  return typeof detail === 'string' && detail ? detail : fallback;
}

/** Runs one provider call and observes its duration, labelled with the provider that answered (or failed). */
export async function timeProviderCall<T>(step: string, fallbackProvider: string, fn: () => Promise<T>): Promise<T> {
  const started = process.hrtime.bigint();
  const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
  try {
    const result = await fn();
    providerCallSeconds.observe({ step, provider: providerOf(result, fallbackProvider), outcome: 'ok' }, seconds());
    return result;
  } catch (err) {
    providerCallSeconds.observe({ step, provider: providerOf(err, fallbackProvider), outcome: 'error' }, seconds());
    throw err;
  }
}

/** Counts one provider call's estimated spend (called where the call is written to the ledger). */
export function recordProviderSpend(step: string, provider: string, model: string, usage: Usage): void {
  providerCalls.inc({ step, provider, model });
  providerSpendUsd.inc({ provider, model }, costOf(provider, model, usage).costUsd);
}

/** WORKER_METRICS_PORT: unset or empty means no endpoint; 0 picks a free port. */
export function parseMetricsPort(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const port = Number(raw.trim());
  if (!/^\d+$/.test(raw.trim()) || port > 65535) {
    throw new Error(`WORKER_METRICS_PORT: expected a port number 0-65535, got "${raw}"`);
  }
  return port;
}

export interface WorkerMetricsServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

/**
 * One HTTP endpoint per worker process: `GET /metrics` answers the engine's
 * metrics followed by the Temporal runtime's exposition (fetched from its
 * exporter on `temporalMetricsUrl`, a loopback port nobody else scrapes), and
 * `GET /healthz` answers 200 while the process is up.
 */
export async function startWorkerMetricsServer(opts: {
  port: number;
  host?: string;
  temporalMetricsUrl?: string;
}): Promise<WorkerMetricsServer> {
  if (!defaultsCollected) {
    defaultsCollected = true;
    collectDefaultMetrics({ register: workerRegistry });
  }
  const temporalPart = async (): Promise<string> => {
    if (!opts.temporalMetricsUrl) return '';
    try {
      const res = await fetch(opts.temporalMetricsUrl, { signal: AbortSignal.timeout(2000) });
      if (!res.ok) return `# Temporal runtime metrics unavailable: HTTP ${res.status}\n`;
      return await res.text();
    } catch (err) {
      return `# Temporal runtime metrics unavailable: ${(err as Error).message.replace(/\s+/g, ' ')}\n`;
    }
  };
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    Promise.all([workerRegistry.metrics(), temporalPart()]).then(
      ([own, temporal]) => {
        res.writeHead(200, { 'content-type': workerRegistry.contentType });
        res.end(`${own.endsWith('\n') ? own : `${own}\n`}${temporal}`);
      },
      (err) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${(err as Error).message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '0.0.0.0', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://127.0.0.1:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
