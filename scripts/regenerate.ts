/**
 * `npm run regenerate -- [filters] [--run <label>] [--concurrency N] [--dry-run]`
 *
 * Re-runs the whole pipeline for a selection of finished books (new outline,
 * chapters, pictures and a new file version), each as a new workflow run with the
 * deterministic id `regen-<label>-<ebookId>`. Temporal refuses a second start of
 * an id (REJECT_DUPLICATE + FAIL), so running the same command again starts
 * nothing twice: books already done under that label are skipped, the rest run.
 *
 * Ctrl-C stops starting books and stops waiting; workflows already started keep
 * running in Temporal. Exit codes: 0 all good, 1 some book failed, 2 bad flags
 * or configuration, 130 interrupted.
 *
 * `--schedule "<cron>" --schedule-id <id>` instead creates (or updates) a Temporal
 * Schedule whose runs do the same on the workers (workflows/batch.ts);
 * `--unschedule <id>` and `--list-schedules` manage them.
 */
import {
  Client,
  Connection,
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  WorkflowNotFoundError,
  type WorkflowHandle,
} from '@temporalio/client';
import { loadConfig, ConfigError, type Config } from '../lib/config';
import { createServices, type Services } from '../wiring/services';
import { describeTemporalConnection, temporalConnectionOptions } from '../lib/temporal-connection';
import { EBOOK_WORKFLOW_TYPE } from '../workflows/shared';
import type { ebookWorkflow, EbookWorkflowResult } from '../workflows/ebook';
import { regenerationSearchAttributes, regenWorkflowId } from '../workflows/batch-shared';
import type { BookRow } from '../db/regeneration';
import { briefOf, regenerationInput } from '../activities/batch';

import { FlagError, parseFlags, USAGE, type Flags } from './regenerate-flags';
import { manageSchedules } from './regenerate-schedules';

export { defaultRunLabel, FlagError, parseFlags, type Flags } from './regenerate-flags';
export { batchInputOf } from './regenerate-schedules';

export { regenWorkflowId };

// ---------------------------------------------------------------- progress

type Outcome =
  | { kind: 'completed'; version: number }
  | { kind: 'failed'; message: string }
  | { kind: 'skipped'; reason: string }
  | { kind: 'interrupted' };

class Progress {
  completed = 0;
  failed = 0;
  skipped = 0;
  running = 0;
  private workDone = 0;
  private readonly started = Date.now();
  private readonly tty: boolean;
  private timer?: NodeJS.Timeout;

  constructor(readonly total: number) {
    this.tty = Boolean(process.stderr.isTTY) && process.env.TERM !== 'dumb';
    if (this.tty) this.timer = setInterval(() => this.draw(), 1000);
  }

  /** A line of its own: printed above the bar on a TTY, as is otherwise. */
  line(text: string) {
    if (this.tty) process.stderr.write('\r\x1b[K');
    process.stdout.write(`${text}\n`);
    this.draw();
  }

  record(id: string, outcome: Outcome) {
    if (outcome.kind === 'completed') {
      this.completed++;
      this.workDone++;
      this.line(`completed ${id} (file version ${outcome.version})`);
    } else if (outcome.kind === 'failed') {
      this.failed++;
      this.workDone++;
      this.line(`failed    ${id}: ${outcome.message}`);
    } else if (outcome.kind === 'skipped') {
      this.skipped++;
      this.line(`skipped   ${id}: ${outcome.reason}`);
    }
  }

  private eta(): string {
    const finished = this.completed + this.failed + this.skipped;
    const remaining = this.total - finished;
    if (remaining <= 0) return '0s';
    // Skips finish instantly: the rate counts only books that ran.
    if (this.workDone === 0) return '…';
    const perBook = (Date.now() - this.started) / this.workDone;
    return duration(perBook * remaining);
  }

  draw() {
    if (!this.tty) return;
    const finished = this.completed + this.failed + this.skipped;
    const width = 24;
    const filled = this.total ? Math.round((finished / this.total) * width) : width;
    const bar = '#'.repeat(filled) + '.'.repeat(width - filled);
    process.stderr.write(
      `\r\x1b[K[${bar}] ${finished}/${this.total}  ok ${this.completed}  failed ${this.failed}  skipped ${this.skipped}  running ${this.running}  ETA ${this.eta()}`,
    );
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    if (this.tty) process.stderr.write('\r\x1b[K');
  }

  elapsed(): string {
    return duration(Date.now() - this.started);
  }
}

function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

/** The innermost failure message: the workflow failure wraps the activity's, which wraps the cause. */
function causeMessage(err: unknown): string {
  let cur = err as { cause?: unknown; message?: string } | undefined;
  while (cur && typeof cur === 'object' && cur.cause) cur = cur.cause as typeof cur;
  return (cur && cur.message) || String(err);
}

// ---------------------------------------------------------------- run

interface RunContext {
  flags: Flags;
  config: Config;
  services: Services;
  client: Client;
  progress: Progress;
  interrupted: Promise<void>;
  isInterrupted(): boolean;
}

/** One book: skip if its run id exists, else reset the row, start, and wait for the result. */
async function regenerateOne(ctx: RunContext, book: BookRow): Promise<Outcome> {
  const { client, services, config, flags } = ctx;
  const workflowId = regenWorkflowId(flags.run, book.id);
  try {
    const existing = await client.workflow.getHandle(workflowId).describe();
    const status = existing.status.name;
    return {
      kind: 'skipped',
      reason:
        status === 'COMPLETED'
          ? 'already done'
          : status === 'RUNNING'
            ? 'already running'
            : `already ran (${status.toLowerCase()}); use another --run label to try again`,
    };
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
  const brief = briefOf(book);
  if (!brief) return { kind: 'failed', message: 'the row has no prompt or generation settings to regenerate from' };
  if (!(await services.repos.regeneration.reset(book, workflowId))) {
    return { kind: 'skipped', reason: 'no longer finished (it is in flight)' };
  }
  const input = regenerationInput(book, brief, config.chapterConcurrency);
  let handle: WorkflowHandle<typeof ebookWorkflow>;
  try {
    handle = await client.workflow.start<typeof ebookWorkflow>(EBOOK_WORKFLOW_TYPE, {
      workflowId,
      taskQueue: config.temporal.taskQueue,
      args: [input],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
      typedSearchAttributes: regenerationSearchAttributes(book),
      memo: { title: book.title, regeneration: flags.run },
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      // Another regenerate with the same label won the race: its workflow owns the row
      // while it runs; a closed one will not touch it again, so put the row back.
      const d = await client.workflow.getHandle(workflowId).describe().catch(() => undefined);
      if (d && d.status.name !== 'RUNNING') await services.repos.regeneration.restoreAfterFailedStart(book, workflowId);
      return { kind: 'skipped', reason: 'already started by another run' };
    }
    await services.repos.regeneration.restoreAfterFailedStart(book, workflowId);
    return { kind: 'failed', message: `could not start: ${causeMessage(err)}` };
  }
  ctx.progress.running++;
  try {
    const result = await Promise.race([handle.result(), ctx.interrupted.then(() => undefined)]);
    if (result === undefined) return { kind: 'interrupted' };
    return { kind: 'completed', version: (result as EbookWorkflowResult).files.version };
  } catch (err) {
    return { kind: 'failed', message: causeMessage(err) };
  } finally {
    ctx.progress.running--;
  }
}

async function main(): Promise<number> {
  let flags: Flags | 'help';
  let config: Config;
  let connectionOptions;
  try {
    flags = parseFlags(process.argv.slice(2));
    if (flags === 'help') {
      process.stdout.write(USAGE);
      return 0;
    }
    config = loadConfig();
    connectionOptions = temporalConnectionOptions();
  } catch (err) {
    if (err instanceof FlagError || err instanceof ConfigError) {
      process.stderr.write(`regenerate: ${err.message}\n`);
      if (err instanceof FlagError) process.stderr.write('regenerate: see --help\n');
      return 2;
    }
    throw err;
  }

  if (flags.schedule || flags.unschedule || flags.listSchedules) {
    const connection = await Connection.connect(connectionOptions);
    try {
      const client = new Client({ connection, namespace: config.temporal.namespace });
      return await manageSchedules(client, flags, config);
    } finally {
      await connection.close();
    }
  }

  const services = await createServices(config, { migrate: false });
  let connection: Connection | undefined;
  try {
    const books = await services.repos.regeneration.select(flags);
    connection = await Connection.connect(connectionOptions);
    const client = new Client({ connection, namespace: config.temporal.namespace });
    const where = describeTemporalConnection(connectionOptions);
    process.stdout.write(
      `regenerate run "${flags.run}": ${books.length} book(s) selected (status ${flags.statuses.join(',')}), ` +
        `Temporal ${where.address} (${where.security}), task queue ${config.temporal.taskQueue}\n`,
    );

    if (flags.dryRun) {
      let wouldStart = 0;
      for (const book of books) {
        const workflowId = regenWorkflowId(flags.run, book.id);
        const existing = await client.workflow
          .getHandle(workflowId)
          .describe()
          .then((d) => d.status.name)
          .catch((err) => {
            if (err instanceof WorkflowNotFoundError) return undefined;
            throw err;
          });
        if (!existing) wouldStart++;
        process.stdout.write(
          `${existing ? `would skip  (${existing.toLowerCase()})` : 'would start'} ${workflowId}  ${book.status}  ` +
            `${book.createdAt}  user ${book.clerkUserId}  "${book.title}"\n`,
        );
      }
      process.stdout.write(`dry run: would start ${wouldStart}, skip ${books.length - wouldStart}; started nothing\n`);
      return 0;
    }

    const progress = new Progress(books.length);
    let interruptedFlag = false;
    let onInterrupt!: () => void;
    const interrupted = new Promise<void>((r) => (onInterrupt = r));
    const handler = (signal: NodeJS.Signals) => {
      if (interruptedFlag) process.exit(130); // a second Ctrl-C: leave now
      interruptedFlag = true;
      progress.line(`${signal}: starting no more books and no longer waiting; started workflows keep running in Temporal`);
      onInterrupt();
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);

    const ctx: RunContext = {
      flags,
      config,
      services,
      client,
      progress,
      interrupted,
      isInterrupted: () => interruptedFlag,
    };
    const failures: string[] = [];
    let notWaited = 0;
    let next = 0;
    progress.draw();
    // At most --concurrency books in flight: also bounds the load this run puts on the providers.
    const lane = async () => {
      while (next < books.length && !ctx.isInterrupted()) {
        const book = books[next++];
        let outcome: Outcome;
        try {
          outcome = await regenerateOne(ctx, book);
        } catch (err) {
          outcome = { kind: 'failed', message: causeMessage(err) };
        }
        if (outcome.kind === 'interrupted') notWaited++;
        if (outcome.kind === 'failed') failures.push(`${book.id}: ${outcome.message}`);
        progress.record(book.id, outcome);
      }
    };
    await Promise.all(Array.from({ length: Math.min(flags.concurrency, Math.max(books.length, 1)) }, lane));
    progress.stop();
    process.removeListener('SIGINT', handler);
    process.removeListener('SIGTERM', handler);

    const notStarted = books.length - progress.completed - progress.failed - progress.skipped - notWaited;
    process.stdout.write(
      `summary: run "${flags.run}": ${books.length} selected, ${progress.completed} completed, ${progress.failed} failed, ` +
        `${progress.skipped} skipped` +
        (interruptedFlag ? `, ${notWaited} still running (not waited for), ${notStarted} not started` : '') +
        ` in ${progress.elapsed()}\n`,
    );
    for (const f of failures) process.stdout.write(`  failed ${f}\n`);
    if (interruptedFlag) {
      process.stdout.write(`interrupted: run the same command (--run ${flags.run}) again to pick up the rest\n`);
      return 130;
    }
    return progress.failed > 0 ? 1 : 0;
  } finally {
    await connection?.close();
    await services.close();
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`regenerate: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
