/** Text from OpenAI (or any OpenAI-compatible server at `baseURL`) through the `openai` SDK. */
import OpenAI from 'openai';
import type { TextProvider } from './types';
import { createChatTextProvider } from './chat-text';

export interface OpenAITextOptions {
  apiKey: string;
  baseURL?: string;
  model: string;
  temperature?: number;
  maxTokens?: number;
  timeoutMs?: number;
  /** Defaults to 'openai'; another name for another OpenAI-compatible service. */
  name?: string;
}

export function createOpenAITextProvider(opts: OpenAITextOptions): TextProvider {
  // Retries belong to Temporal: the SDK makes exactly one attempt per call.
  const client = new OpenAI({
    apiKey: opts.apiKey,
    baseURL: opts.baseURL,
    maxRetries: 0,
    timeout: opts.timeoutMs ?? 120_000,
  });
  return createChatTextProvider({
    name: opts.name ?? 'openai',
    client,
    model: opts.model,
    temperature: opts.temperature,
    maxTokens: opts.maxTokens,
    timeoutMs: opts.timeoutMs,
    streamUsageOption: true,
  });
}
