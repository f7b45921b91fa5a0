/**
 * Images from Runware through `@runware/sdk-js` (a WebSocket protocol). The SDK's
 * own retries are limited to one attempt and its silent waits are bounded by our
 * timeout; failures are classified for Temporal (errors.ts). Note: the SDK
 * rejects with plain objects (`{ error: {...} }`) and strings, not Errors.
 */
import { RunwareServer } from '@runware/sdk-js';
import type { ImageProvider, ImageRequest, ImageResult, UpscaleRequest } from './types';
import { classifyProviderError, ProviderErrorTypes } from './errors';
import { ApplicationFailure } from '@temporalio/common';
import sharp from 'sharp';

export interface RunwareImageOptions {
  apiKey: string;
  /** WebSocket URL (defaults to the SDK's production endpoint). */
  url?: string;
  model: string;
  timeoutMs?: number;
}

/**
 * Turns whatever bytes came back into a PNG or JPEG of known size (shared with
 * openai-image): the format comes from the bytes, never from what was asked for.
 */
export async function normaliseImage(data: Buffer): Promise<Pick<ImageResult, 'data' | 'mime' | 'width' | 'height'>> {
  const isPng = data.length > 8 && data.readUInt32BE(0) === 0x89504e47;
  const isJpeg = data.length > 3 && data[0] === 0xff && data[1] === 0xd8 && data[2] === 0xff;
  // Anything else (WebP, …) becomes PNG: the renderers take PNG and JPEG only.
  const out = isPng || isJpeg ? data : await sharp(data).png().toBuffer();
  const meta = await sharp(out).metadata();
  if (!meta.width || !meta.height) throw new Error('the image has no dimensions');
  return { data: out, mime: isJpeg ? 'image/jpeg' : 'image/png', width: meta.width, height: meta.height };
}

/** Smooths noise and compression artefacts (a 3x3 median), keeping the format. */
export async function denoise(data: Buffer): Promise<Buffer> {
  const isJpeg = data[0] === 0xff && data[1] === 0xd8;
  const img = sharp(data).median(3);
  return isJpeg ? img.jpeg({ quality: 92 }).toBuffer() : img.png().toBuffer();
}

export type RunwareImageProvider = ImageProvider & { close(): Promise<void> };

/** Runware wants sides that are multiples of 64 within 128..2048. */
function side(n: number): number {
  return Math.min(2048, Math.max(128, Math.round(n / 64) * 64));
}

export function createRunwareImageProvider(opts: RunwareImageOptions): RunwareImageProvider {
  const name = 'runware';
  const timeoutMs = opts.timeoutMs ?? 120_000;
  let client: RunwareServer | undefined;

  // The SDK connects in its constructor; one connection serves every call until it fails.
  const connect = () =>
    (client ??= new RunwareServer({
      apiKey: opts.apiKey,
      url: opts.url,
      globalMaxRetries: 1, // one attempt per request (0 would fall back to the SDK default of 2)
      timeoutDuration: timeoutMs,
    }));
  const drop = async () => {
    const c = client;
    client = undefined;
    await c?.disconnect().catch(() => undefined);
  };

  /**
   * One request on the shared connection, bounded by the timeout and the caller's
   * abort (the SDK has neither for a connection it is still waiting for), with its
   * failure classified for Temporal.
   */
  async function bounded<T>(call: (c: RunwareServer) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const c = connect();
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const stop = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(ApplicationFailure.create({
          message: `${name}: no answer within ${timeoutMs} ms`,
          type: ProviderErrorTypes.ProviderTimeout,
          details: [{ provider: name }],
        })),
        timeoutMs,
      );
      onAbort = () => reject(signal?.reason ?? new Error('aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([call(c), stop]);
    } catch (err) {
      if (signal?.aborted) {
        await drop(); // the request may still be running on the old connection
        throw signal.reason ?? err;
      }
      const failure = classifyProviderError(err, name);
      // A connection that timed out or failed may be stale: start a fresh one next time.
      if (failure instanceof ApplicationFailure && failure.type !== ProviderErrorTypes.ContentRefused && failure.type !== ProviderErrorTypes.BadInput) {
        await drop();
      }
      throw failure;
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  }

  async function generate(req: ImageRequest, signal?: AbortSignal): Promise<ImageResult> {
    return bounded(async (c) => {
      const images = await c.imageInference({
        positivePrompt: req.prompt,
        width: side(req.width),
        height: side(req.height),
        model: opts.model,
        numberResults: 1,
        outputType: 'base64Data',
        outputFormat: 'JPG',
        seed: req.seed,
        retry: 1,
      });
      const image = images?.[0] as { imageBase64Data?: string; NSFWContent?: boolean } | undefined;
      if (image?.NSFWContent) {
        throw ApplicationFailure.create({
          message: `${name}: the image was flagged as NSFW`,
          type: ProviderErrorTypes.ContentRefused,
          nonRetryable: true,
          details: [{ provider: name }],
        });
      }
      if (!image?.imageBase64Data) throw new Error('the reply held no image data');
      const picture = await normaliseImage(Buffer.from(image.imageBase64Data, 'base64'));
      return { ...picture, usage: { images: 1 }, model: opts.model };
    }, signal);
  }

  /**
   * Runware's upscaler (the SDK's `upscale` task): the picture goes inline as a data
   * URI. It has no denoise switch, so a denoised upscale is smoothed here first.
   */
  async function upscale(req: UpscaleRequest, signal?: AbortSignal): Promise<ImageResult> {
    const source = req.denoise ? await denoise(req.data) : req.data;
    const isJpeg = source[0] === 0xff && source[1] === 0xd8;
    return bounded(async (c) => {
      const image = (await c.upscaleGan({
        inputImage: `data:${isJpeg ? 'image/jpeg' : 'image/png'};base64,${source.toString('base64')}`,
        upscaleFactor: req.scale,
        outputType: 'base64Data',
        outputFormat: isJpeg ? 'JPG' : 'PNG',
        retry: 1,
      })) as { imageBase64Data?: string } | undefined;
      if (!image?.imageBase64Data) throw new Error('the reply held no image data');
      const picture = await normaliseImage(Buffer.from(image.imageBase64Data, 'base64'));
      return { ...picture, usage: { images: 1 }, model: `${name}:upscale` };
    }, signal);
  }

  return {
    name,
    offline: false,
    generateImage: generate,
    upscaleImage: upscale,
    close: drop,
  };
}
