/**
 * `npm run worker`: one worker process for the ebook task queue, against
 * TEMPORAL_ADDRESS (or the embedded dev server). Run as many as the load needs.
 */
import path from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { loadConfig, temporalAddress } from '../lib/config';
import { createLogger } from '../lib/logger';
import { createProviders } from '../lib/providers';
import { createServices } from '../lib/services';
import { ensureSearchAttributes } from '../lib/temporal';
import { temporalConnectionOptions } from '../lib/temporal-connection';
import { createEngineWorker } from './worker';

async function main() {
  const config = loadConfig();
  const log = createLogger('worker', config.logLevel);
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
        deps: { ...services, ...providers },
        bundleCacheDir: path.join(config.dataDir, 'cache'),
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
  // Worker.run returns after SIGINT/SIGTERM once running activities drained (or the grace time passed).
  await Promise.all(workers.map((w) => w.run()));
  await connection.close();
  await services.close();
  log.info('worker stopped');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
