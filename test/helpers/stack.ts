/**
 * The real services the workflow, API and end-to-end tests run against:
 * a Temporal dev server (the project's own CLI binary, never a download), a
 * PostgreSQL database, local file storage, and the engine's worker and API.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { NativeConnection, Runtime, DefaultLogger, type Worker } from '@temporalio/worker';
import { Client } from '@temporalio/client';
import { startDevServer } from '../../wiring/temporal';
import { loadConfig, type Config } from '../../lib/config';
import { createServices, type Services } from '../../wiring/services';
import { createLogger } from '../../lib/logger';
import { ensureDevKeys, clerkSettings, type DevKeys } from '../../lib/dev-keys';
import { createProviders, type Providers } from '../../wiring/providers';
import { createEngineWorker } from '../../workers/worker';
import { createApp } from '../../api/app';
import { onGlobalTeardown } from './global';
import { createTestDatabase, freePort } from './postgres';

let runtimeInstalled = false;
let envPromise: Promise<TestWorkflowEnvironment> | undefined;

/** One Temporal dev server for the whole mocha run (or TEMPORAL_TEST_ADDRESS's). */
export function getTemporalEnv(): Promise<TestWorkflowEnvironment> {
  if (!runtimeInstalled) {
    runtimeInstalled = true;
    Runtime.install({ logger: new DefaultLogger('WARN') });
  }
  envPromise ??= (async () => {
    let address = process.env.TEMPORAL_TEST_ADDRESS;
    if (!address) {
      // The project's own CLI binary, started here and waited for up to a minute:
      // the testing package's own launcher gives up after 5 s, which a loaded
      // 2-core machine can exceed on a cold start.
      const server = await startDevServer({ port: await freePort(), namespace: 'default' });
      onGlobalTeardown(() => server.stop());
      address = server.address;
    }
    const env = await TestWorkflowEnvironment.createFromExistingServer({ address });
    onGlobalTeardown(() => env.teardown());
    return env;
  })();
  return envPromise;
}

export interface TestStack {
  env: TestWorkflowEnvironment;
  config: Config;
  services: Services;
  client: Client;
  dataDir: string;
  databaseUrl: string;
  taskQueue: string;
  devKeys: DevKeys;
  close(): Promise<void>;
}

let seq = 0;

/**
 * A fresh database, data folder and task queue on the shared Temporal server:
 * tests in different files never see each other's books.
 */
export async function createTestStack(extraEnv: Record<string, string> = {}): Promise<TestStack> {
  const env = await getTemporalEnv();
  const db = await createTestDatabase();
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ebook-test-'));
  const taskQueue = `ebooks-test-${process.pid}-${++seq}-${Date.now()}`;
  const config = loadConfig({
    DATA_DIR: dataDir,
    DATABASE_URL: db.url,
    TEMPORAL_ADDRESS: env.address,
    TEMPORAL_TASK_QUEUE: taskQueue,
    LOG_LEVEL: 'warn',
    LOCAL_MODEL_PATH: process.env.LOCAL_MODEL_PATH,
    ...extraEnv,
  });
  const services = await createServices(config);
  const devKeys = ensureDevKeys(dataDir);
  return {
    env,
    config,
    services,
    client: env.client,
    dataDir,
    databaseUrl: db.url,
    taskQueue,
    devKeys,
    async close() {
      await services.close();
      await db.drop();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A describe block's stack, filled in by its `before` hook: the stack itself, plus
 * an API and workers that stop on their own before it closes.
 */
export interface SuiteStack extends TestStack {
  /** The real API on a loopback port (see `startApi`), stopped at teardown. */
  startApi(extra?: Parameters<typeof startApi>[1]): ReturnType<typeof startApi>;
  /** An in-process worker (see `startWorker`), stopped at teardown. */
  startWorker(providers?: Providers): ReturnType<typeof startWorker>;
  /** Something more to undo at teardown, after the APIs stop, before what was started earlier. */
  defer(undo: () => unknown): void;
}

/**
 * The stack start/stop of a describe block: `createTestStack(extraEnv)` in a
 * `before` hook; in an `after` hook the APIs stop first (as most tests did by
 * hand, and as a deployment shuts down: no new request while workers stop), then
 * everything else started or deferred through it, last first, then the stack closes. Pass
 * `extraEnv` as a function when it names something that a `before` hook
 * registered earlier starts (a mock provider).
 */
export function useTestStack(extraEnv: Record<string, string> | (() => Record<string, string>) = {}): SuiteStack {
  let created: TestStack | undefined;
  const apiStops: Array<() => Promise<void>> = [];
  const undos: Array<() => unknown> = [];
  const suite = {
    async startApi(extra) {
      const api = await startApi(suite, extra);
      apiStops.push(api.stop);
      return api;
    },
    async startWorker(providers) {
      const worker = await startWorker(suite, providers);
      undos.push(worker.stop);
      return worker;
    },
    defer(undo) {
      undos.push(undo);
    },
  } as SuiteStack;
  before(async () => {
    created = await createTestStack(typeof extraEnv === 'function' ? extraEnv() : extraEnv);
    Object.assign(suite, created);
  });
  after(async () => {
    for (const stop of apiStops.splice(0).reverse()) await stop();
    for (const undo of undos.splice(0).reverse()) await undo();
    await created?.close();
  });
  return suite;
}

/** An in-process worker for the stack's task queue; stop it with `stopWorker`. */
export async function startWorker(
  stack: TestStack,
  providers: Providers = createProviders(stack.config),
): Promise<{ worker: Worker; stop(): Promise<void> }> {
  const connection = await NativeConnection.connect({ address: stack.env.address });
  // Both queues, as workers/main.ts polls them.
  const workers: Worker[] = [];
  for (const taskQueue of [stack.taskQueue, stack.config.temporal.priorityTaskQueue]) {
    workers.push(
      await createEngineWorker({
        connection,
        namespace: stack.config.temporal.namespace,
        taskQueue,
        deps: { ...stack.services, ...providers },
        bundleCacheDir: path.join(os.tmpdir(), 'ebook-engine-test-bundles'),
        shutdownGraceTime: '2 seconds',
      }),
    );
  }
  const running = Promise.all(workers.map((w) => w.run()));
  return {
    worker: workers[0],
    async stop() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await running;
      await connection.close();
    },
  };
}

/** The real API app on a loopback port. */
export async function startApi(
  stack: TestStack,
  extra: { redis?: import('ioredis').default } = {},
): Promise<{ url: string; server: Server; stop(): Promise<void> }> {
  const app = createApp({
    services: stack.services,
    temporal: stack.client,
    auth: clerkSettings(stack.config),
    log: createLogger('api-test', 'warn'),
    taskQueue: stack.taskQueue,
    priorityTaskQueue: stack.config.temporal.priorityTaskQueue,
    chapterConcurrency: stack.config.chapterConcurrency,
    reviewTimeoutMs: stack.config.reviewTimeoutMs,
    corsOrigins: stack.config.corsOrigins,
    webhookSigningSecret: stack.config.clerk.webhookSigningSecret,
    rateLimits: stack.config.rateLimits,
    redis: extra.redis,
  });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
