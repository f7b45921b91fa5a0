/**
 * The throughput benchmark's baseline: a workflow with the ebook workflow's shape
 * (three steps, the cover alongside `chapters` × (chapter → picture), four
 * steps) whose activities do nothing, so what is left is Temporal's own cost.
 */
import { proxyActivities } from '@temporalio/workflow';

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '1 minute' });

export async function bareBookWorkflow(chapters: number): Promise<number> {
  let n = 0;
  const step = async () => {
    await noop();
    n++;
  };
  await step(); // moderatePrompt
  await step(); // startEbook
  await step(); // writeOutline
  const cover = step(); // drawCover
  await Promise.all(
    Array.from({ length: chapters }, async () => {
      await step(); // writeChapter
      await step(); // drawIllustration
    }),
  );
  await cover;
  for (let i = 0; i < 4; i++) await step(); // renderPdf, renderEpub, storeFiles, publishEbook
  return n;
}
