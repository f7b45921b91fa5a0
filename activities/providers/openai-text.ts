/**
 * Text from OpenAI, or any OpenAI-compatible server at `baseURL` (Ollama, llama.cpp's
 * llama-server, LM Studio, vLLM), through the `openai` SDK. Such servers differ from
 * OpenAI in a few places, handled where they show: a refused `json_schema` response
 * format (chat-text.ts steps down to JSON mode, then the prompt alone, with the zod
 * check and its repair round after), no moderation endpoint (moderation.ts uses the
 * local rules), no usage in streams (the tokens are estimated from the text).
 */
import OpenAI from 'openai';
import type { TextProvider } from './types';
import { createChatTextProvider } from './chat-text';
import { createLogger } from '../../lib/logger';

/** The key sent to a server that needs none (OPENAI_BASE_URL without OPENAI_API_KEY). */
export const NO_KEY = 'no-key';

const log = createLogger('providers');

export interface OpenAITextOptions {
  /** Absent: a local server that needs no key (a placeholder is sent). */
  apiKey?: string;
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
    apiKey: opts.apiKey ?? NO_KEY,
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
    baseURL: opts.baseURL,
    onNotice: (message) => log.warn(message),
  });
}
