import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import { createBatchActivities } from '../activities/batch';
import { loadWorkflowBundle } from './bundle';
import { metricsInterceptor } from './metrics';
import { storageWaitInterceptor } from '../activities/storage/waits';

export interface EngineWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** Where the built workflow bundle is cached between starts. */
  bundleCacheDir: string;
  maxConcurrentActivityTaskExecutions?: number;
  /** How long a stopping worker lets running activities finish. */
  shutdownGraceTime?: string;
}

/** A worker for the ebook task queue: the workflow bundle plus activities wired to `deps`. */
export async function createEngineWorker(opts: EngineWorkerOptions): Promise<Worker> {
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
