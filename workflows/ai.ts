/**
 * The AI routes' short workflows: one activity each, run while the API waits
 * for the answer. Their retries are short so an answer (or a failure) comes
 * within the API's wait; failover still moves to the next provider.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities';
import { ErrorTypes } from './shared';
import type { DrawnPicture, DrawPictureInput, EnhancedPrompt, EnhancePromptInput } from './story-ai-shared';

const interactive = proxyActivities<ReturnType<typeof createActivities>>({
  startToCloseTimeout: '45 seconds',
  heartbeatTimeout: '20 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '5 seconds',
    maximumAttempts: 6,
    nonRetryableErrorTypes: Object.values(ErrorTypes),
  },
});

export async function enhancePromptWorkflow(input: EnhancePromptInput): Promise<EnhancedPrompt> {
  return interactive.enhancePrompt(input);
}

export async function drawPictureWorkflow(input: DrawPictureInput): Promise<DrawnPicture> {
  return interactive.drawPicture(input);
}
