/**
 * Counts books, chapters and images from the activities as they complete, for
 * the worker's Prometheus endpoint (lib/worker-metrics.ts). An interceptor, so
 * the activities themselves stay free of bookkeeping.
 */
import type { Context } from '@temporalio/activity';
import type { ActivityInterceptors } from '@temporalio/worker';
import { bookMetrics } from '../lib/worker-metrics';
import { EBOOK_WORKFLOW_TYPE } from '../workflows/shared';

type Args = unknown[];

/** What one successful activity adds to the counters. */
function count(ctx: Context, args: Args, result: unknown): void {
  const provider = (result as { provider?: string } | undefined)?.provider ?? '';
  switch (ctx.info.activityType) {
    case 'startEbook':
      bookMetrics.started();
      break;
    case 'publishEbook':
      // A chapter rewrite publishes too; only a whole book counts as a book completed.
      if (ctx.info.workflowType === EBOOK_WORKFLOW_TYPE) bookMetrics.completed();
      break;
    case 'finishEbook': {
      const input = args[0] as { status?: string; error?: { type?: string } } | undefined;
      bookMetrics.failed(input?.status ?? 'failed', input?.error?.type ?? '');
      break;
    }
    case 'writeChapter':
      bookMetrics.chapterWritten(provider);
      break;
    case 'drawIllustration':
      bookMetrics.imageDrawn('illustration', provider);
      break;
    case 'drawCover':
      bookMetrics.imageDrawn('cover', provider);
      break;
  }
}

export function metricsInterceptor(ctx: Context): ActivityInterceptors {
  return {
    inbound: {
      async execute(input, next) {
        const result = await next(input);
        try {
          count(ctx, input.args as Args, result);
        } catch {
          // Metrics never fail an activity.
        }
        return result;
      },
    },
  };
}
