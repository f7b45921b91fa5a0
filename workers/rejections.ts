/**
 * What a worker process does with a promise that rejected with nobody listening.
 *
 * Node's default ends the process (exit 1). That stays the rule for anything we cannot
 * vouch for: an unexpected error may leave the process in a state nobody thought about,
 * and a supervisor (`npm start`, `npm run cluster`, compose's `restart:`) starts a clean
 * one, while Temporal hands its activities to another worker.
 *
 * One kind is known to be harmless: a lost database connection (PostgreSQL restarting,
 * its backends terminated). Whatever query or transaction was on that connection was
 * rolled back by the server with it, and the activity that made it failed or will fail
 * on its own awaited query and be retried. Ending the process for it would only turn a
 * database restart into a worker restart, with every other running activity lost
 * (see docs/operations.md). Those are logged (with the stack, to find the promise) and
 * the process keeps running.
 */
import { isConnectionLoss } from '../db/errors';
import type { Logger } from '../lib/logger';

export type RejectionVerdict = 'keep-running' | 'exit';

/** The policy itself, apart from the process, so it can be tested. */
export function judgeUnhandledRejection(reason: unknown): RejectionVerdict {
  return isConnectionLoss(reason) ? 'keep-running' : 'exit';
}

/** Installs the policy on this process; `exit` is process.exit unless a test says otherwise. */
export function installUnhandledRejectionPolicy(log: Logger, exit: (code: number) => void = (c) => process.exit(c)): void {
  process.on('unhandledRejection', (reason) => {
    if (judgeUnhandledRejection(reason) === 'keep-running') {
      log.warn({ err: reason }, 'a database operation failed unobserved (connection lost); the worker keeps running');
      return;
    }
    log.fatal({ err: reason }, 'unhandled rejection; the worker exits');
    exit(1);
  });
}
