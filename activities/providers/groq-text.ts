/** Text from Groq through `groq-sdk` (OpenAI-compatible; it posts to `${baseURL}/openai/v1/...`). */
import Groq from 'groq-sdk';
import type { TextProvider } from './types';
import { createChatTextProvider } from './chat-text';

export interface GroqTextOptions {
  apiKey: string;
  baseURL?: string;
  model: string;
  temperature?: number;
  maxTokens?: number;
  timeoutMs?: number;
}

export function createGroqTextProvider(opts: GroqTextOptions): TextProvider {
  // Retries belong to Temporal: the SDK makes exactly one attempt per call.
  const client = new Groq({
    apiKey: opts.apiKey,
    baseURL: opts.baseURL,
    maxRetries: 0,
    timeout: opts.timeoutMs ?? 120_000,
  });
  return createChatTextProvider({
    name: 'groq',
    client,
    model: opts.model,
    temperature: opts.temperature,
    maxTokens: opts.maxTokens,
    timeoutMs: opts.timeoutMs,
    // Groq reports streamed usage in `x_groq.usage` without being asked.
    streamUsageOption: false,
  });
}
