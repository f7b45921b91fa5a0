/**
 * Stopping the API process (`npm run api`, SIGTERM as `docker compose stop` sends):
 * it stops accepting at once, ends its event streams cleanly so their clients can
 * reconnect to another process, lets a request already in flight finish, and then
 * exits 0. The API runs as its own process against the test stack; the worker runs
 * in this one, with the local OpenAI-protocol server slowed down so that a book and
 * a prompt request are still in progress when the signal comes.
 */
import assert from 'node:assert/strict';
import { useTestStack } from '../helpers/stack';
import { freePort } from '../helpers/postgres';
import { providerEnv, startOpenAICompatServer, type OpenAICompatServer } from '../helpers/provider-servers';
import { api, waitFor } from '../helpers/http';
import { spawnEngineProcess, type EngineProcess } from '../helpers/process';
import { signSessionToken } from '../../lib/tokens';

/** How long the local provider takes to answer a (non-streamed) chat request here. */
const SLOW_MS = 2_500;

describe('stopping the API process', function () {
  this.timeout(240_000);
  let openai: OpenAICompatServer;
  let apiProcess: EngineProcess | undefined;
  let url: string;

  const providers = () => ({ ...providerEnv({ openai }), TEXT_PROVIDERS: 'openai', IMAGE_PROVIDERS: 'openai' });

  before(async () => {
    openai = await startOpenAICompatServer();
  });
  const stack = useTestStack(providers);
  before(async () => {
    await stack.startWorker();
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    apiProcess = spawnEngineProcess(stack, 'api/main.ts', { ...providers(), PORT: String(port) });
    stack.defer(() => apiProcess?.stop(1_000));
    await apiProcess.waitUntil(async () => (await fetch(`${url}/readyz`)).status === 200);
  });

  after(async () => {
    await openai?.close();
  });

  it('stops accepting, ends its event streams cleanly, finishes the request in flight, then exits 0', async () => {
    const token = await signSessionToken(stack.devKeys, { userId: 'stopping-user' });
    openai.latency = { outline: SLOW_MS };
    const created = await api(url, 'POST', '/v1/ebooks', { token, body: { prompt: 'A harbour that moves at night', chapterCount: 1 } });
    assert.equal(created.status, 202, JSON.stringify(created.body));

    // A reader of the book's events, reading until its response ends.
    const stream = await fetch(`${url}/v1/ebooks/${created.body.id}/events`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(stream.status, 200);
    const reader = stream.body!.getReader();
    const streamEnded = (async () => {
      for (;;) {
        const { done } = await reader.read();
        if (done) return Date.now();
      }
    })();

    // A request that takes SLOW_MS: the prompt is improved by a workflow that calls the provider.
    const inFlight = api(url, 'POST', '/v1/ai/enhance/prompt', { token, body: { prompt: 'a lantern maker' } });
    await waitFor(
      'the prompt request to reach the provider',
      async () => openai.callsTo('chat').some((c) => JSON.stringify(c.body).includes('lantern maker')),
      30_000,
      20,
    );

    const signalledAt = Date.now();
    apiProcess!.child.kill('SIGTERM');

    // The stream ends at once, as a response that ended, not one that was cut.
    const streamEndedAt = await streamEnded;
    assert.ok(streamEndedAt - signalledAt < 1_500, `the event stream ended ${streamEndedAt - signalledAt} ms after SIGTERM`);

    // No new connection is taken meanwhile.
    await assert.rejects(fetch(`${url}/healthz`), 'a new request after SIGTERM is refused');

    // The request that was in flight gets its answer.
    const answered = await inFlight;
    const answeredAt = Date.now();
    assert.equal(answered.status, 200, JSON.stringify(answered.body));
    assert.ok(answered.body.prompt.length > 'a lantern maker'.length);
    assert.ok(answeredAt - signalledAt > 500, 'the request was still running when the signal came');

    const { code, at } = await apiProcess!.exited;
    assert.equal(code, 0, apiProcess!.output().slice(-2000));
    assert.ok(at >= answeredAt - 50, 'the process waited for the request in flight');
    assert.ok(at - signalledAt < 10_000, `exited ${at - signalledAt} ms after SIGTERM, within the grace period`);
    assert.match(apiProcess!.output(), /event streams ended/);
  });
});
