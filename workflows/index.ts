// The workflow bundle's entry point: every workflow type the worker registers.
export { ebookWorkflow } from './ebook';
export { regenerateChapterWorkflow } from './regenerate-chapter';
export { reviseEbookWorkflow } from './revise-ebook';
export { storyWorkflow } from './story';
export { enhancePromptWorkflow, drawPictureWorkflow } from './ai';
export { batchRegenerateWorkflow } from './batch';
export { splitChaptersWorkflow, enhanceImageWorkflow } from './ai-services';
export { eraseEbookWorkflow, eraseUserWorkflow } from './erase';
