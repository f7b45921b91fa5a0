/**
 * `npm run worker`: one worker process for the ebook task queue, against
 * TEMPORAL_ADDRESS (or the embedded dev server). Run as many as the load needs.
 */
import path from 'node:path';
import net from 'node:net';
import { NativeConnection, Runtime } from '@temporalio/worker';
import { loadConfig, temporalAddress } from '../lib/config';
import { createLogger } from '../lib/logger';
import { createProviders } from '../wiring/providers';
import { createServices } from '../wiring/services';
import { connectClient, ensureSearchAttributes } from '../wiring/temporal';
import { temporalConnectionOptions } from '../lib/temporal-connection';
import { parseMetricsPort, startWorkerMetricsServer, type WorkerMetricsServer } from '../lib/worker-metrics';
import { createEngineWorker } from './worker';
import { startReconciler } from './reconcile';
import { installUnhandledRejectionPolicy } from './rejections';

/** A free loopback port for the Temporal runtime's own exporter (only our endpoint reads it). */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/**
 * With WORKER_METRICS_PORT set: installs the Temporal runtime with a Prometheus
 * exporter on a private loopback port (before any connection exists, as the
 * runtime requires) and serves it with the engine's metrics on that port.
 */
async function startMetrics(): Promise<WorkerMetricsServer | undefined> {
  const port = parseMetricsPort(process.env.WORKER_METRICS_PORT);
  if (port === undefined) return undefined;
  const corePort = await freeLoopbackPort();
  Runtime.install({
    telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${corePort}`, useSecondsForDurations: true } } },
  });
  return startWorkerMetricsServer({ port, temporalMetricsUrl: `http://127.0.0.1:${corePort}/metrics` });
}

/**
 * WORKER_ACTIVITY_SLOTS: activities one worker runs at once per task queue
 * (default 16). Provider calls mostly wait on the network, so more slots help
 * until the CPU (rendering) or the providers' rate limits say otherwise.
 */
function parseActivitySlots(raw: string | undefined): number | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw.trim());
  if (!/^\d+$/.test(raw.trim()) || n < 1 || n > 10_000) {
    throw new Error(`WORKER_ACTIVITY_SLOTS: expected a whole number 1-10000, got "${raw}"`);
  }
  return n;
}

async function main() {
  const config = loadConfig();
  const log = createLogger('worker', config.logLevel);
  // A lost database connection rejecting unobserved is logged; anything else still ends the process.
  installUnhandledRejectionPolicy(log);
  const activitySlots = parseActivitySlots(process.env.WORKER_ACTIVITY_SLOTS);
  const metrics = await startMetrics();
  if (metrics) log.info({ port: metrics.port }, 'worker metrics on /metrics');
  const services = await createServices(config);
  const connection = await NativeConnection.connect({ ...temporalConnectionOptions(), address: temporalAddress(config) });
  await ensureSearchAttributes(connection, config.temporal.namespace);
  const providers = createProviders(config);
  // One worker per queue in this process: the plans with a priority queue get
  // their own pollers, so free books queued up never hold them back.
  const queues = [config.temporal.taskQueue, config.temporal.priorityTaskQueue];
  const workers = [];
  for (const taskQueue of queues) {
    workers.push(
      await createEngineWorker({
        connection,
        namespace: config.temporal.namespace,
        taskQueue,
        deps: { ...services, ...providers, print: config.print },
        bundleCacheDir: path.join(config.dataDir, 'cache'),
        maxConcurrentActivityTaskExecutions: activitySlots,
      }),
    );
  }
  log.info(
    {
      address: temporalAddress(config),
      taskQueues: queues,
      text: `${providers.text.name}${providers.text.offline ? ' (offline)' : ''}`,
      image: `${providers.image.name}${providers.image.offline ? ' (offline)' : ''}`,
    },
    'worker polling',
  );
  // The Temporal runtime stops listening for SIGINT/SIGTERM after the first one; a second
  // (Ctrl-C reaches `npm start`'s whole process group, whose script then sends SIGTERM
  // too) would take the signal's default action and kill the worker mid-drain. These
  // listeners keep the process's own handling on; Worker.run() still does the stopping.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => log.info({ signal }, 'stop requested: the worker finishes its running activities, then exits'));
  }
  // The workers started the warm-up (the local model's load); say when it is done.
  const warmStart = Date.now();
  providers.warmUp?.().then(
    () => {
      if (providers.text.name.includes('local')) log.info({ ms: Date.now() - warmStart }, 'local model loaded');
    },
    (err: unknown) => log.warn({ err: String(err) }, 'local model warm-up failed; the first chapter that needs it tries again'),
  );
  // Books whose workflow was terminated or timed out (no workflow code runs then) are marked failed.
  const client = await connectClient(config);
  const reconciler = startReconciler({ ...services, temporal: client, log });
  // Worker.run returns after SIGINT/SIGTERM once running activities drained (or the grace time passed).
  await Promise.all(workers.map((w) => w.run()));
  await reconciler.stop();
  await client.connection.close();
  await connection.close();
  await services.close();
  // The local model's memory and native threads go once no activity can use them.
  await providers.disposeProviders?.();
  await metrics?.close();
  log.info('worker stopped');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
