/**
 * The SDK-backed image providers: Runware over its WebSocket protocol
 * (`@runware/sdk-js`) and OpenAI's images endpoint (`openai`), both against
 * local servers.
 */
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import {
  startOpenAICompatServer,
  startRunwareServer,
  type OpenAICompatServer,
  type RunwareServerStub,
} from '../helpers/provider-servers';
import { createRunwareImageProvider, type RunwareImageProvider } from '../../activities/providers/runware-image';
import { createOpenAIImageProvider } from '../../activities/providers/openai-image';
import { createFailoverImageProvider } from '../../activities/providers/failover';
import type { ImageRequest } from '../../activities/providers/types';

const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
const activity = (attempt: number) => ({
  run: <T>(fn: () => Promise<T>) => new MockActivityEnvironment({ attempt }, { logger: quiet }).run(fn) as Promise<T>,
});

const request: ImageRequest = {
  kind: 'cover',
  prompt: 'A lighthouse on a rock, watercolour',
  width: 1200,
  height: 1800,
  seed: 1234,
  palette: ['#1f4e79', '#ff8c42'],
  title: 'The Keeper',
};

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${JSON.stringify(err)}`);
    return err;
  }
  assert.fail('expected a failure');
}

describe('image providers (Runware WebSocket, OpenAI images)', function () {
  this.timeout(30_000);
  let runware: RunwareServerStub;
  let http: OpenAICompatServer;
  const opened: RunwareImageProvider[] = [];
  const rw = (apiKey = 'rw-key', timeoutMs = 5000) => {
    const p = createRunwareImageProvider({ apiKey, url: runware.url, model: 'runware:101@1', timeoutMs });
    opened.push(p);
    return p;
  };
  const oai = (model = 'gpt-image-1') =>
    createOpenAIImageProvider({ apiKey: 'sk-test', baseURL: `${http.url}/v1`, model, timeoutMs: 5000 });

  before(async () => {
    runware = await startRunwareServer();
    http = await startOpenAICompatServer();
  });
  after(async () => {
    await Promise.all(opened.map((p) => p.close()));
    await runware.close();
    await http.close();
  });
  beforeEach(() => {
    runware.reset();
    http.reset();
  });

  it('Runware: imageInference over the WebSocket with base64 output and the seed', async () => {
    const res = await rw().generateImage(request);
    assert.equal(res.mime, 'image/jpeg');
    assert.equal(res.data[0], 0xff);
    assert.deepEqual(res.usage, { images: 1 });
    const [call] = runware.callsTo('runware');
    assert.equal(call.body.taskType, 'imageInference');
    assert.equal(call.body.outputType, 'base64Data');
    assert.equal(call.body.seed, 1234);
    assert.equal(call.body.width % 64, 0);
    assert.equal(call.body.height % 64, 0);
    assert.equal(call.body.positivePrompt, request.prompt);
    // The stub draws at 1/8 scale; the reported size is read from the bytes.
    assert.equal(res.width, call.body.width / 8);
  });

  it('Runware: an error reply is classified (bad parameter → BadInput), and one request only', async () => {
    runware.queue('runware', { kind: 'ws-error', code: 'invalidWidth', message: 'Invalid width' });
    const f = await failureOf(rw().generateImage(request));
    assert.equal(f.type, 'BadInput');
    assert.equal(f.nonRetryable, true);
    assert.equal((f.details?.[0] as any).provider, 'runware');
    assert.equal(runware.callsTo('runware').length, 1, 'the SDK did not retry on its own');
  });

  it('Runware: a server error code is retryable; an NSFW refusal is not', async () => {
    runware.queue('runware', { kind: 'ws-error', code: 'internalError', message: 'boom' });
    const f = await failureOf(rw().generateImage(request));
    assert.equal(f.type, 'ProviderError');
    assert.equal(f.nonRetryable, false);
    runware.queue('runware', { kind: 'ws-error', code: 'contentModerated', message: 'NSFW content detected' });
    const g = await failureOf(rw().generateImage(request));
    assert.equal(g.type, 'ContentRefused');
  });

  it('Runware: a bad key → ProviderUnavailable; a hung request → ProviderTimeout', async () => {
    const f = await failureOf(rw('bad-key').generateImage(request));
    assert.equal(f.type, 'ProviderUnavailable');
    runware.queue('runware', { kind: 'hang' });
    const g = await failureOf(rw('rw-key', 1500).generateImage(request));
    assert.equal(g.type, 'ProviderTimeout');
    assert.equal(g.nonRetryable, false);
  });

  it('OpenAI images: b64_json for DALL·E, size by aspect ratio', async () => {
    const res = await oai('dall-e-3').generateImage(request);
    assert.equal(res.mime, 'image/png');
    const [call] = http.callsTo('images');
    assert.equal(call.body.response_format, 'b64_json');
    assert.equal(call.body.size, '1024x1792');
    assert.equal(res.height, 1792 / 8);
    await oai('gpt-image-1').generateImage(request);
    assert.equal(http.callsTo('images')[1].body.response_format, undefined, 'gpt-image models reject the field');
    assert.equal(http.callsTo('images')[1].body.size, '1024x1536');
  });

  it('OpenAI images: content_policy_violation → ContentRefused', async () => {
    http.queue('images', {
      kind: 'status',
      status: 400,
      body: { error: { message: 'rejected by the safety system', code: 'content_policy_violation' } },
    });
    const f = await failureOf(oai().generateImage(request));
    assert.equal(f.type, 'ContentRefused');
  });

  it('failover: Runware down past the budget → OpenAI draws', async () => {
    runware.setAlways('runware', { kind: 'ws-error', code: 'internalError' });
    const image = createFailoverImageProvider([rw(), oai()], { attemptBudget: 2, breakerThreshold: 100 });
    for (const attempt of [1, 2]) {
      const f = await failureOf(activity(attempt).run(() => image.generateImage(request)));
      assert.equal((f.details?.[0] as any).provider, 'runware');
    }
    const res = await activity(3).run(() => image.generateImage(request));
    assert.equal(res.provider, 'openai');
    assert.equal(runware.callsTo('runware').length, 2);
    assert.equal(http.callsTo('images').length, 1);
  });
});
