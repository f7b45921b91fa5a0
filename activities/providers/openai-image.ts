/** Images from OpenAI (or a compatible server at `baseURL`) through `openai`'s `images.generate`. */
import OpenAI from 'openai';
import type { ImageProvider, ImageRequest, ImageResult } from './types';
import { classified } from './errors';
import { normaliseImage } from './runware-image';

export interface OpenAIImageOptions {
  apiKey: string;
  baseURL?: string;
  model: string;
  timeoutMs?: number;
}

/** The sizes each model family accepts, closest aspect ratio wins. */
function sizeFor(model: string, req: ImageRequest): string {
  const sizes = /^dall-e-3/.test(model)
    ? ['1024x1024', '1024x1792', '1792x1024']
    : /^dall-e-2/.test(model)
      ? ['1024x1024']
      : ['1024x1024', '1024x1536', '1536x1024'];
  const want = req.width / req.height;
  const ratio = (s: string) => {
    const [w, h] = s.split('x').map(Number);
    return Math.abs(Math.log(w / h / want));
  };
  return sizes.reduce((best, s) => (ratio(s) < ratio(best) ? s : best));
}

export function createOpenAIImageProvider(opts: OpenAIImageOptions): ImageProvider {
  const name = 'openai';
  // Retries belong to Temporal: the SDK makes exactly one attempt per call.
  const client = new OpenAI({
    apiKey: opts.apiKey,
    baseURL: opts.baseURL,
    maxRetries: 0,
    timeout: opts.timeoutMs ?? 120_000,
  });
  return {
    name,
    offline: false,
    generateImage: (req, signal): Promise<ImageResult> =>
      classified(name, signal, async () => {
        const body: Record<string, unknown> = {
          model: opts.model,
          prompt: req.prompt,
          n: 1,
          size: sizeFor(opts.model, req),
        };
        // DALL·E answers with a URL unless asked for base64; gpt-image models always send base64 and reject the field.
        if (/^dall-e/.test(opts.model)) body.response_format = 'b64_json';
        const res = await client.images.generate(body as any, { signal });
        const b64 = (res as { data?: Array<{ b64_json?: string }> }).data?.[0]?.b64_json;
        if (!b64) throw new Error('the reply held no b64_json image');
        const picture = await normaliseImage(Buffer.from(b64, 'base64'));
        return { ...picture, usage: { images: 1 }, model: opts.model };
      }),
  };
}
