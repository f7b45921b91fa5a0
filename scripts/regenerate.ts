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
import { parseArgs } from 'node:util';
import {
  Client,
  Connection,
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  WorkflowNotFoundError,
  type WorkflowHandle,
} from '@temporalio/client';
import { loadConfig, ConfigError, type Config } from '../lib/config';
import { createServices, type Services } from '../wiring/services';
import { describeTemporalConnection, temporalConnectionOptions } from '../lib/temporal-connection';
import {
  EBOOK_WORKFLOW_TYPE,
  type EbookWorkflowInput,
} from '../workflows/shared';
import type { ebookWorkflow, EbookWorkflowResult } from '../workflows/ebook';
import {
  BATCH_REGENERATE_WORKFLOW_TYPE,
  batchWorkflowId,
  regenerationSearchAttributes,
  regenWorkflowId,
  type BatchRegenerateInput,
  type BatchSelection,
} from '../workflows/batch-shared';
import { REGENERABLE, type BookRow, type BookSelection, type Regenerable } from '../db/regeneration';
import { briefOf, regenerationInput } from '../activities/batch';

// ---------------------------------------------------------------- flags

/** Cancelled books were stopped on purpose; they are regenerated only when asked for. */
const DEFAULT_STATUSES: Regenerable[] = ['completed', 'failed'];

export interface Flags extends Omit<BookSelection, 'ids'> {
  run: string;
  concurrency: number;
  dryRun: boolean;
  /** Create or update a Temporal Schedule that runs this selection on a cron instead of now. */
  schedule?: { cron: string; id: string };
  /** Delete this schedule. */
  unschedule?: string;
  /** List the re-generation schedules. */
  listSchedules?: boolean;
}

/** The selection part of the flags: what a scheduled batch run carries (dates as ISO strings in its input). */

export class FlagError extends Error {
  constructor(
    readonly flag: string,
    message: string,
  ) {
    super(`${flag}: ${message}`);
    this.name = 'FlagError';
  }
}

const USAGE = `Usage: npm run regenerate -- [options]

Selects finished books and re-runs the whole generation for each (a new file version).

Selection (all optional, combined with AND):
  --status <s>[,<s>]   completed | failed | cancelled (default: completed,failed)
  --since <date>       created at or after (ISO 8601, e.g. 2025-01-31 or 2025-01-31T12:00:00Z)
  --until <date>       created before (ISO 8601)
  --user <id>          the owner's Clerk user id
  --style <style>      generation settings' style
  --era <era>          generation settings' era
  --provider <name>    a text or image provider used by any chapter (e.g. offline, groq, runware)
  --limit <n>          at most n books (oldest first)

Run:
  --run <label>        names the run; workflow ids are regen-<label>-<ebookId> (default: today, UTC, YYYYMMDD).
                       The same label again skips books already started under it.
  --concurrency <n>    books in flight at once (default 4)
  --dry-run            list what would run; start nothing

Recurring runs (a Temporal Schedule starting a batch workflow on the workers):
  --schedule <cron> --schedule-id <id>
                       create the schedule, or update it when the id exists, with the selection
                       and --concurrency above (e.g. --schedule "0 3 * * *" --status failed);
                       each run's label is <id>-<scheduled time>, so no run re-runs a book twice
  --unschedule <id>    delete the schedule (runs already started finish)
  --list-schedules     the re-generation schedules with their next run times
  --help
`;

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;
const LABEL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function dateFlag(flag: string, raw: string | undefined): Date | undefined {
  if (raw === undefined) return undefined;
  const d = new Date(raw.trim());
  if (!ISO_DATE.test(raw.trim()) || Number.isNaN(d.getTime())) {
    throw new FlagError(flag, `expected an ISO 8601 date such as 2025-01-31 or 2025-01-31T12:00:00Z, got "${raw}"`);
  }
  return d;
}

function intFlag(flag: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw.trim())) throw new FlagError(flag, `expected an integer, got "${raw}"`);
  const n = Number(raw.trim());
  if (n < min || n > max) throw new FlagError(flag, `expected ${min}..${max}, got ${n}`);
  return n;
}

function textFlag(flag: string, raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (raw.trim() === '') throw new FlagError(flag, 'must not be empty');
  return raw.trim();
}

export function defaultRunLabel(now = new Date()): string {
  return now.toISOString().slice(0, 10).replace(/-/g, '');
}

/** Parses argv (without node and the script); throws FlagError naming the flag. */
export function parseFlags(argv: string[], now = new Date()): Flags | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        status: { type: 'string', multiple: true },
        since: { type: 'string' },
        until: { type: 'string' },
        user: { type: 'string' },
        style: { type: 'string' },
        era: { type: 'string' },
        provider: { type: 'string' },
        limit: { type: 'string' },
        run: { type: 'string' },
        concurrency: { type: 'string' },
        'dry-run': { type: 'boolean' },
        schedule: { type: 'string' },
        'schedule-id': { type: 'string' },
        unschedule: { type: 'string' },
        'list-schedules': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    // node:util's messages quote the offending option: name it first, as every other flag error does.
    const message = (err as Error).message;
    const flag = /'(-{1,2}[^'\s<]+)/.exec(message)?.[1] ?? /"(-{1,2}[^"\s]+)"/.exec(message)?.[1];
    const code = (err as { code?: string }).code;
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      const arg = /'([^']+)'/.exec(message)?.[1] ?? 'argument';
      throw new FlagError(arg, 'unexpected argument (flags take the form --name value)');
    }
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new FlagError(flag ?? 'flag', 'unknown flag (see --help)');
    throw new FlagError(flag ?? 'flags', message);
  }
  const v = parsed.values;
  if (v.help) return 'help';
  const statuses = (v.status ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  for (const s of statuses) {
    if (!(REGENERABLE as readonly string[]).includes(s)) {
      throw new FlagError('--status', `"${s}" is not one of ${REGENERABLE.join(', ')} (books in flight cannot be regenerated)`);
    }
  }
  const since = dateFlag('--since', v.since);
  const until = dateFlag('--until', v.until);
  if (since && until && since >= until) throw new FlagError('--until', 'must be later than --since');
  const run = v.run ?? defaultRunLabel(now);
  if (!LABEL.test(run)) throw new FlagError('--run', `expected 1-64 letters, digits, ".", "_" or "-", got "${run}"`);
  return {
    statuses: statuses.length ? ([...new Set(statuses)] as Regenerable[]) : DEFAULT_STATUSES,
    since,
    until,
    user: textFlag('--user', v.user),
    style: textFlag('--style', v.style),
    era: textFlag('--era', v.era),
    provider: textFlag('--provider', v.provider),
    limit: intFlag('--limit', v.limit, 1, 1_000_000),
    run,
    concurrency: intFlag('--concurrency', v.concurrency, 1, 256) ?? 4,
    dryRun: v['dry-run'] ?? false,
    ...scheduleFlags(v),
  };
}

const CRON = /^(@\w+|\S+(\s+\S+){4,6})$/;

/** --schedule/--schedule-id, --unschedule and --list-schedules, which exclude each other. */
function scheduleFlags(v: {
  schedule?: string;
  'schedule-id'?: string;
  unschedule?: string;
  'list-schedules'?: boolean;
  run?: string;
}): Pick<Flags, 'schedule' | 'unschedule' | 'listSchedules'> {
  const given = [v.schedule !== undefined && '--schedule', v.unschedule !== undefined && '--unschedule', v['list-schedules'] && '--list-schedules'].filter(Boolean);
  if (given.length > 1) throw new FlagError(String(given[1]), `cannot be combined with ${given[0]}`);
  const id = (flag: string, raw: string | undefined) => {
    if (raw === undefined) throw new FlagError(flag, 'a schedule id is needed');
    if (!LABEL.test(raw)) throw new FlagError(flag, `expected 1-64 letters, digits, ".", "_" or "-", got "${raw}"`);
    return raw;
  };
  if (v.schedule !== undefined) {
    const cron = v.schedule.trim();
    if (!CRON.test(cron)) throw new FlagError('--schedule', `expected a cron expression such as "0 3 * * *" or "@daily", got "${v.schedule}"`);
    if (v.run !== undefined) throw new FlagError('--run', 'a schedule labels each run by its scheduled time; leave --run out');
    return { schedule: { cron, id: id('--schedule-id', v['schedule-id']) } };
  }
  if (v['schedule-id'] !== undefined) throw new FlagError('--schedule-id', 'only with --schedule');
  if (v.unschedule !== undefined) return { unschedule: id('--unschedule', v.unschedule) };
  return v['list-schedules'] ? { listSchedules: true } : {};
}

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

// ---------------------------------------------------------------- schedules

/** Schedules this command made carry this memo key, so the listing shows only them. */
const SCHEDULE_MEMO_KEY = 'ebookRegenerate';

/** The batch workflow's input for a schedule: the flags' selection, dates as ISO strings. */
export function batchInputOf(flags: Flags, config: Config, scheduleId: string): BatchRegenerateInput {
  const { statuses, since, until, user, style, era, provider, limit } = flags;
  // Only the flags given: undefined would not survive the trip through JSON anyway.
  const selection = JSON.parse(
    JSON.stringify({ statuses, since: since?.toISOString(), until: until?.toISOString(), user, style, era, provider, limit }),
  ) as BatchSelection;
  return {
    selection,
    labelPrefix: scheduleId,
    concurrency: flags.concurrency,
    chapterConcurrency: config.chapterConcurrency,
    taskQueue: config.temporal.taskQueue,
  };
}

function describeSelection(s: BatchSelection): string {
  return Object.entries(s)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : v}`)
    .join(' ');
}

/** --schedule (create or update), --unschedule, --list-schedules. */
async function manageSchedules(client: Client, flags: Flags, config: Config): Promise<number> {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  if (flags.listSchedules) {
    let n = 0;
    for await (const s of client.schedule.list()) {
      if (!s.memo || !(SCHEDULE_MEMO_KEY in s.memo)) continue;
      n++;
      const next = s.info.nextActionTimes[0]?.toISOString() ?? 'none';
      const last = s.info.recentActions.at(-1);
      out(
        `${s.scheduleId}  ${s.state.paused ? 'paused' : 'active'}  next ${next}` +
          `${last ? `  last ${last.takenAt.toISOString()}` : ''}  ${s.state.note ?? ''}`,
      );
    }
    out(`${n} re-generation schedule(s)`);
    return 0;
  }
  if (flags.unschedule) {
    try {
      await client.schedule.getHandle(flags.unschedule).delete();
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) {
        process.stderr.write(`regenerate: --unschedule: no schedule "${flags.unschedule}"\n`);
        return 1;
      }
      throw err;
    }
    out(`schedule ${flags.unschedule} deleted (runs already started finish)`);
    return 0;
  }
  const { cron, id } = flags.schedule!;
  const input = batchInputOf(flags, config, id);
  const note = `cron "${cron}": ${describeSelection(input.selection)} concurrency=${flags.concurrency}`;
  const action = {
    type: 'startWorkflow' as const,
    workflowType: BATCH_REGENERATE_WORKFLOW_TYPE,
    workflowId: batchWorkflowId(id),
    taskQueue: config.temporal.taskQueue,
    args: [input],
  };
  if (flags.dryRun) {
    out(`dry run: would create or update schedule ${id}: ${note}; changed nothing`);
    return 0;
  }
  let verb = 'created';
  try {
    await client.schedule.create({
      scheduleId: id,
      spec: { cronExpressions: [cron] },
      action,
      // A run still going when the next is due: the next one is skipped, never stacked.
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 hour' },
      state: { note },
      memo: { [SCHEDULE_MEMO_KEY]: 1 },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    verb = 'updated';
    await client.schedule.getHandle(id).update((prev) => ({
      ...prev,
      spec: { cronExpressions: [cron] },
      action,
      state: { ...prev.state, note },
    }));
  }
  const described = await client.schedule.getHandle(id).describe();
  const next = described.info.nextActionTimes.slice(0, 3).map((d) => d.toISOString());
  out(`schedule ${id} ${verb}: ${note}; next runs ${next.join(', ') || 'none'}`);
  return 0;
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
