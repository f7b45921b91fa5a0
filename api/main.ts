/**
 * `npm run api`: the HTTP API against TEMPORAL_ADDRESS (or the embedded dev
 * server). Stateless: run as many as the load needs.
 */
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../lib/config';
import { clerkSettings, ensureDevKeys } from '../lib/dev-keys';
import { createLogger } from '../lib/logger';
import { createServices } from '../wiring/services';
import { connectClient } from '../wiring/temporal';
import { createApp } from './app';
import { endAllStreams } from './sse';
import { createApiRedis } from '../wiring/redis';

/** How long a stopping API lets in-flight requests run before it closes their connections. */
const SHUTDOWN_GRACE_MS = 10_000;

async function main() {
  const config = loadConfig();
  const log = createLogger('api', config.logLevel);
  const services = await createServices(config);
  const temporal = await connectClient(config);
  const clerk = clerkSettings(config);
  const redis = config.redisUrl ? createApiRedis(config.redisUrl, log) : undefined;
  const app = createApp({
    services,
    temporal,
    auth: clerk,
    log,
    taskQueue: config.temporal.taskQueue,
    priorityTaskQueue: config.temporal.priorityTaskQueue,
    chapterConcurrency: config.chapterConcurrency,
    reviewTimeoutMs: config.reviewTimeoutMs,
    corsOrigins: config.corsOrigins,
    webhookSigningSecret: config.clerk.webhookSigningSecret,
    rateLimits: config.rateLimits,
    redis,
    // Shared by every API process of this deployment, and secret.
    streamTokenSecret: clerk.local ? ensureDevKeys(config.dataDir).privateKeyPem : clerk.secretKey,
    web: { dataDir: config.dataDir, clerkPublishableKey: clerk.local ? undefined : clerk.publishableKey },
  });
  const server = app.listen(config.port, '0.0.0.0', () => {
    const { port } = server.address() as AddressInfo;
    log.info({ port, auth: clerk.local ? 'local dev key' : 'clerk' }, `API listening on http://127.0.0.1:${port}`);
  });
  server.on('error', (err) => {
    log.error({ err }, 'API could not listen');
    process.exit(1);
  });

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'API stopping');
    // Stop accepting; end the event streams at once (their clients reconnect to another
    // process with Last-Event-ID); let in-flight requests finish, cutting what is left
    // after SHUTDOWN_GRACE_MS (inside compose's 15 s stop_grace_period).
    server.close();
    const streams = endAllStreams();
    if (streams > 0) log.info({ streams }, 'event streams ended');
    setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS).unref();
    server.closeIdleConnections();
    await new Promise((r) => server.once('close', r));
    await temporal.connection.close();
    redis?.disconnect();
    await services.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
