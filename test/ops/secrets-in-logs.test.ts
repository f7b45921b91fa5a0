/**
 * No secret in a log: the whole engine as `npm start` runs it (the start script, its
 * embedded Temporal and PostgreSQL, the worker and the API) with every secret set —
 * provider keys (Groq, OpenAI, Runware against the local protocol servers), the Clerk
 * secret and webhook secret, S3 storage — makes a book at LOG_LEVEL=debug; then every
 * line any of them wrote is searched for those secrets, the bearer token used, and the
 * signatures of the presigned URLs the API handed out.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ensureDevKeys } from '../../lib/dev-keys';
import { signSessionToken } from '../../lib/tokens';
import { api, waitFor } from '../helpers/http';
import { spawnStartScript, type StartScript } from '../helpers/start-script';
import { startOpenAICompatServer, startRunwareServer, type OpenAICompatServer, type RunwareServerStub } from '../helpers/provider-servers';
import { startS3Server, type S3TestServer } from '../helpers/s3';
const secret = (prefix: string) => `${prefix}${randomBytes(18).toString('hex')}`;

/** Every file under a folder, recursively (the engine's own log files). */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => path.join(d.parentPath, d.name));
}

describe('ops: no secret in any log line', function () {
  this.timeout(420_000);
  let openai: OpenAICompatServer;
  let runware: RunwareServerStub;
  let s3: S3TestServer;
  let engine: StartScript | undefined;

  before(async () => {
    [openai, runware, s3] = await Promise.all([startOpenAICompatServer(), startRunwareServer(), startS3Server()]);
  });
  after(async () => {
    await engine?.stop();
    await Promise.all([openai?.close(), runware?.close(), s3?.stop()]);
  });

  it('runs a whole book with every secret set and logs none of them', async () => {
    const secrets: Record<string, string> = {
      GROQ_API_KEY: secret('gsk_'),
      OPENAI_API_KEY: secret('sk-proj-'),
      RUNWARE_API_KEY: secret('rw-'),
      CLERK_SECRET_KEY: secret('sk_test_'),
      CLERK_WEBHOOK_SIGNING_SECRET: `whsec_${randomBytes(24).toString('base64')}`,
    };
    engine = await spawnStartScript(
      {
        ...secrets,
        ...s3.env,
        GROQ_BASE_URL: openai.url,
        OPENAI_BASE_URL: `${openai.url}/v1`,
        RUNWARE_URL: runware.url,
        TEXT_PROVIDERS: 'groq,openai',
        IMAGE_PROVIDERS: 'runware,openai',
        PROVIDER_TIMEOUT_MS: '20000',
        LOG_LEVEL: 'debug',
      },
      // Tokens are signed with the local key; Clerk's settings name its public half, as a real instance's would.
      (dataDir) => ({ CLERK_JWT_KEY: ensureDevKeys(dataDir).publicKeyPem }),
    );
    await engine.ready();

    const url = engine.url;
    const token = await signSessionToken(ensureDevKeys(engine.dataDir), { userId: 'secret-keeper', sessionId: 'sess_secrets' });
    const started = await api(url, 'POST', '/v1/ebooks', { token, body: { prompt: 'A keeper of small secrets', chapterCount: 1 } });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const id = started.body.id as string;
    const status = await waitFor('the book', async () => {
      const s = await api(url, 'GET', `/v1/ebooks/${id}/status`, { token });
      return ['completed', 'failed'].includes(s.body.status) ? s.body : undefined;
    }, 240_000, 500);
    assert.equal(status.status, 'completed', JSON.stringify(status));
    assert.equal(status.providers.text, 'groq', 'the keyed text provider wrote it');
    assert.ok(openai.calls.length > 0, 'the provider server was called');

    // Presigned downloads (S3): their signatures are secrets for five minutes.
    const signatures: string[] = [];
    for (const kind of ['pdf', 'epub', 'cover']) {
      const res = await fetch(`${url}/v1/ebooks/${id}/files/${kind}`, { headers: { authorization: `Bearer ${token}` }, redirect: 'manual' });
      assert.equal(res.status, 302, kind);
      const sig = new URL(res.headers.get('location')!).searchParams.get('X-Amz-Signature');
      assert.ok(sig && sig.length >= 32, `${kind}: a presigned URL`);
      signatures.push(sig);
    }
    // A webhook with a bad signature is logged as refused, with nothing of the secret.
    await api(url, 'POST', '/v1/auth/clerk/webhook', { raw: '{}', headers: { 'svix-id': 'msg_x', 'svix-timestamp': '1', 'svix-signature': 'v1,bad' } });

    // Stop cleanly, so every process flushes its last lines; keep the folder for its log files.
    const dataDir = engine.dataDir;
    await engine.stop({ keepData: true });
    const output = engine.output();
    const logs = [
      { name: 'start script, worker and API (stdout, stderr)', text: output },
      ...filesUnder(path.join(dataDir, 'logs')).map((f) => ({ name: path.relative(dataDir, f), text: fs.readFileSync(f, 'utf8') })),
    ];
    fs.rmSync(dataDir, { recursive: true, force: true });
    assert.ok(output.split('\n').length > 20, 'the processes did log');
    assert.match(output, /"msg":"request"/, 'the API logged its requests');
    // The capture is whole: the request lines name the book, and the worker's its steps.
    assert.ok(output.includes(`/v1/ebooks/${id}/files/pdf`), 'the API request log names the download');
    const looked: Record<string, string> = { ...secrets, bearerToken: token, "an S3 request signature credential": `Credential=${s3.env.AWS_ACCESS_KEY_ID}` };
    signatures.forEach((s, i) => (looked[`presigned signature ${i + 1}`] = s));
    // The JWT's signature alone, too: a log that cut the token short could still hold it.
    looked.bearerTokenSignature = token.split('.')[2];
    const leaks: string[] = [];
    for (const log of logs) {
      for (const [name, value] of Object.entries(looked)) {
        if (log.text.includes(value)) leaks.push(`${name} in ${log.name}: …${log.text.slice(Math.max(0, log.text.indexOf(value) - 200), log.text.indexOf(value) + 50)}`);
      }
    }
    assert.deepEqual(leaks, []);
  });
});
