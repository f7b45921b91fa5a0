/**
 * The flags of `npm run regenerate`: parsed and checked, each error naming its flag.
 */
import { parseArgs } from 'node:util';
import { REGENERABLE, type BookSelection, type Regenerable } from '../db/regeneration';

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

export class FlagError extends Error {
  constructor(
    readonly flag: string,
    message: string,
  ) {
    super(`${flag}: ${message}`);
    this.name = 'FlagError';
  }
}

export const USAGE = `Usage: npm run regenerate -- [options]

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
