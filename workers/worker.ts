import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import { createBatchActivities } from '../activities/batch';
import { loadWorkflowBundle } from './bundle';
import { metricsInterceptor } from './metrics';
import { storageWaitInterceptor } from '../activities/storage/waits';
import { warmUpRenderers } from '../activities/render/warmup';

export interface EngineWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  /** With `warmUp` (wiring/providers.ts): started in the background as the worker is created. */
  deps: ActivityDeps & { warmUp?: () => Promise<void> };
  /** Where the built workflow bundle is cached between starts. */
  bundleCacheDir: string;
  maxConcurrentActivityTaskExecutions?: number;
  /** How long a stopping worker lets running activities finish. */
  shutdownGraceTime?: string;
}

/** A worker for the ebook task queue: the workflow bundle plus activities wired to `deps`. */
export async function createEngineWorker(opts: EngineWorkerOptions): Promise<Worker> {
  // The local model loads while the bundle loads and the worker starts polling, so the first book
  // does not wait for it. Polling does not wait for it either: books written by other providers,
  // pictures and files need no model, and a chapter that comes early awaits the same load. A load
  // that fails here is tried again, and reported, by the first chapter that needs the model.
  opts.deps.warmUp?.().catch(() => undefined);
  // The renderers' warm-up (two small PDFs, once per process) too: started by the first book's
  // outline, it held that worker's event loop for seconds on busy cores, just as the first
  // chapter was to start streaming (the outline activity took 2 s with the engine's instant plan).
  void warmUpRenderers();
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    workflowBundle: await loadWorkflowBundle(opts.bundleCacheDir),
    activities: {
      ...createActivities(opts.deps),
      ...createBatchActivities(opts.deps),
    },
    // A step waiting for unreachable storage says so on its book's row (and clears it).
    interceptors: { activity: [metricsInterceptor, storageWaitInterceptor(opts.deps.repos.ebooks)] },
    maxConcurrentActivityTaskExecutions: opts.maxConcurrentActivityTaskExecutions ?? 16,
    // A running activity hears of its cancellation (the book cancelled, its workflow failed or
    // gone) only in the answer to a heartbeat, and Temporal throttles heartbeats to 80% of the
    // heartbeat timeout (48 s for a provider call): a cancelled book's chapters kept streaming,
    // and being paid for, that long. Every 5 s at most is a handful of calls per chapter.
    maxHeartbeatThrottleInterval: '5 seconds',
    shutdownGraceTime: (opts.shutdownGraceTime ?? '20 seconds') as `${number} seconds`,
  });
}
