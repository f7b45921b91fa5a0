/**
 * `npm run regenerate -- --schedule …`: the Temporal Schedules that run a selection on the
 * workers (workflows/batch.ts), created, updated, deleted and listed.
 */
import { Client, ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy } from '@temporalio/client';
import { type Config } from '../lib/config';
import {
  BATCH_REGENERATE_WORKFLOW_TYPE,
  batchWorkflowId,
  type BatchRegenerateInput,
  type BatchSelection,
} from '../workflows/batch-shared';
import type { Flags } from './regenerate-flags';

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
export async function manageSchedules(client: Client, flags: Flags, config: Config): Promise<number> {
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
