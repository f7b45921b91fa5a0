// The workflow bundle's entry point: every workflow type the worker registers.
export { ebookWorkflow } from './ebook';
export { regenerateChapterWorkflow } from './regenerate-chapter';
export { batchRegenerateWorkflow } from './batch';
