/**
 * `npx tsx scripts/fuzz-api.ts [--max-examples n] [--max-time s]`: schemathesis (PyPI)
 * against the served /openapi.json of a whole engine started the way `npm start`
 * starts it (embedded Temporal and PostgreSQL, a worker, the API) in a throwaway
 * DATA_DIR, with an admin token, the Clerk webhook secret set, rate limits raised,
 * and fixtures (a finished public book, a story, a generated story, a picture) so
 * operations are reached with real ids rather than only answering 404.
 * Exits non-zero on any failed check (a 5xx among them). FUZZ_BASE_URL plus
 * FUZZ_TOKEN and FUZZ_DATA_DIR fuzz a running engine instead.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
/** The user the fuzzed erasures erase: not the admin, whose fixtures every other operation uses. */
const DOOMED_USER = 'fuzz-doomed';
/** The user whose session the fuzzed sign-out ends: signing the admin out would leave every later operation a 401. */
const SIGNOUT_USER = 'fuzz-signout';
/** The user an admin's fuzzed PUT /v1/auth/users/{userId} changes: demoting the admin would sign it out. */
const SUBJECT_USER = 'fuzz-subject';
const SCHEMATHESIS_VERSION = '4.32.5';
const VENV = path.join(ROOT, '.tools', 'schemathesis');
const PYTHON = path.join(VENV, 'bin', 'python3');
/**
 * schemathesis's CLI through the virtualenv's python, not its `bin/schemathesis`
 * script, whose `#!` names the absolute path the virtualenv was made at: a
 * `.tools` copied or linked from another checkout still runs.
 */
const CLI = ['-c', 'import sys; from schemathesis.cli import schemathesis; sys.argv[0] = "schemathesis"; sys.exit(schemathesis())'];

function say(msg: string) {
  process.stdout.write(`[fuzz] ${msg}\n`);
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} needs a positive integer`);
  return v;
}

/** schemathesis in a project-local virtualenv, as scripts/install-temporal.sh does for the Temporal CLI. */
function installSchemathesis(): void {
  try {
    if (execFileSync(PYTHON, [...CLI, '--version'], { encoding: 'utf8' }).includes(SCHEMATHESIS_VERSION)) return;
  } catch {
    // Not installed yet.
  }
  say(`installing schemathesis ${SCHEMATHESIS_VERSION} into .tools/schemathesis…`);
  if (!fs.existsSync(PYTHON)) execFileSync('python3', ['-m', 'venv', VENV], { stdio: 'inherit' });
  execFileSync(
    PYTHON,
    ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', `schemathesis==${SCHEMATHESIS_VERSION}`],
    { stdio: 'inherit' },
  );
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

interface Engine {
  base: string;
  token: string;
  dataDir: string;
  /** A token for another user, whom the fuzzed DELETE /v1/users/{userId} may erase. */
  doomedToken?: string;
  /** A token for the user the fuzzed DELETE /v1/auth/sessions/destroy signs out. */
  signoutToken?: string;
  /** A token for the user whom the fuzzed PUT /v1/auth/users/{userId} changes. */
  subjectToken?: string;
  stop(): Promise<void>;
}

/** The engine as `npm start` runs it (without the web build), in a fresh data folder. */
async function startEngine(): Promise<Engine> {
  // Under the repository, not a 0700 mktemp folder: the embedded PostgreSQL runs as
  // another user when we are root and must be able to reach its data.
  fs.mkdirSync(path.join(ROOT, '.test-data'), { recursive: true });
  const dataDir = fs.mkdtempSync(path.join(ROOT, '.test-data', 'fuzz-'));
  fs.chmodSync(dataDir, 0o755);
  const [port, temporalPort, uiPort, pgPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const env: NodeJS.ProcessEnv = { ...process.env };
  // Embedded everything: none of the caller's own services or provider keys.
  for (const k of Object.keys(env)) {
    if (/^(TEMPORAL_|DATABASE_URL|S3_|AWS_|REDIS_URL|GROQ_|OPENAI_|RUNWARE_|CLERK_|TEXT_PROVIDERS|IMAGE_PROVIDERS)/.test(k)) delete env[k];
  }
  Object.assign(env, {
    DATA_DIR: dataDir,
    PORT: String(port),
    TEMPORAL_PORT: String(temporalPort),
    TEMPORAL_UI_PORT: String(uiPort),
    EMBEDDED_PG_PORT: String(pgPort),
    // Without it the webhook answers 503 to everything; a fuzzer cannot sign, so expect 400s.
    CLERK_WEBHOOK_SIGNING_SECRET: `whsec_${Buffer.from('fuzz-webhook-secret-0123456789').toString('base64')}`,
    // The instant offline writer, not the local model: fuzzing holds the API to its
    // document, and the fixtures' books need not take minutes on a small machine.
    TEXT_PROVIDERS: 'offline',
    RATE_LIMIT_USER_PER_MINUTE: '1000000',
    RATE_LIMIT_IP_PER_MINUTE: '1000000',
    LOG_LEVEL: 'warn',
  });
  const logFile = path.join(dataDir, 'engine.log');
  const log = fs.openSync(logFile, 'w');
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 40_000);
      await exited;
      clearTimeout(timer);
    }
    if (!process.env.FUZZ_KEEP) fs.rmSync(dataDir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 240_000;
  while (!fs.readFileSync(logFile, 'utf8').includes('[engine] ready')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      const out = fs.readFileSync(logFile, 'utf8').slice(-3000);
      await stop();
      throw new Error(`the engine did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  const mint = (...args: string[]) =>
    execFileSync('npm', ['run', '--silent', 'token', '--', ...args], { cwd: ROOT, env: { ...env, DATA_DIR: dataDir }, encoding: 'utf8' }).trim();
  return {
    base: `http://127.0.0.1:${port}`,
    token: mint('fuzz-admin', '--role', 'admin'),
    doomedToken: mint(DOOMED_USER),
    signoutToken: mint(SIGNOUT_USER),
    subjectToken: mint(SUBJECT_USER),
    dataDir,
    stop,
  };
}

async function call(engine: Engine, method: string, p: string, body?: unknown): Promise<any> {
  const res = await fetch(engine.base + p, {
    method,
    headers: { authorization: `Bearer ${engine.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`fixture ${method} ${p}: ${res.status} ${text.slice(0, 500)}`);
  return text ? JSON.parse(text) : undefined;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 180_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`fixture: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Real ids for the path parameters, so operations do more than answer 404. */
async function fixtures(engine: Engine): Promise<Record<string, string>> {
  // An unlimited plan, so the fixtures' books are not refused by the monthly allowance
  // (the GET makes the admin's profile first: a plan is set on an existing profile).
  await call(engine, 'GET', '/v1/users/me/subscription');
  await call(engine, 'PUT', '/v1/users/me/subscription', { tier: 'eras_tour' });
  const startBook = async () =>
    (await call(engine, 'POST', '/v1/ebooks', { prompt: 'A lighthouse keeper befriends a clockwork gull', chapterCount: 1 })).id as string;
  const [book, doomed] = [await startBook(), await startBook()];
  // A profile for the user DELETE /v1/users/{userId} erases (a profile is made on a user's first request).
  for (const [who, token] of [['doomed', engine.doomedToken], ['subject', engine.subjectToken]]) {
    if (!token) continue;
    const res = await fetch(`${engine.base}/v1/users/me/profile`, { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) throw new Error(`fixture: the ${who} user's profile: ${res.status}`);
  }
  const story = await call(engine, 'POST', '/v1/stories', { title: 'Fixture', content: 'One paragraph.\n\nAnother one.' });
  const generated = await call(engine, 'POST', '/v1/stories/generate', { prompt: 'A fox learns to sail', chapterCount: 1 });
  const picture = await call(engine, 'POST', '/v1/ai/generate/image', { prompt: 'A red kite over a hill' });
  for (const id of [book, doomed]) {
    await until(`book ${id}`, async () => {
      const s = await call(engine, 'GET', `/v1/ebooks/${id}/status`);
      if (s.status === 'failed' || s.status === 'cancelled') throw new Error(`fixture book ${id} ended ${s.status}`);
      return s.status === 'completed' ? true : undefined;
    });
  }
  await until(`story ${generated.id}`, async () => {
    const s = await call(engine, 'GET', `/v1/stories/${generated.id}`);
    return s.status === 'completed' ? true : undefined;
  });
  await call(engine, 'POST', `/v1/ebooks/${book}/publish`);
  // Back to the free plan, used up: fuzzed book requests answer 402 instead of each starting a book.
  await call(engine, 'PUT', '/v1/users/me/subscription', { tier: 'free' });
  return {
    FUZZ_BOOK_ID: book,
    FUZZ_DOOMED_BOOK_ID: doomed,
    FUZZ_STORY_ID: story.id,
    FUZZ_DOOMED_STORY_ID: (await call(engine, 'POST', '/v1/stories', { title: 'Doomed', content: 'Gone soon.' })).id,
    FUZZ_GENERATED_STORY_ID: generated.id,
    FUZZ_IMAGE_ID: picture.id,
    FUZZ_USER_ID: 'fuzz-admin',
  };
}

/** The checks and generation settings; the token and the ids per operation are added by `configFor`. */
const BASE_CONFIG = `
# NUL is refused in every string (README, "Text rule"), which JSON Schema could only say
# with a pattern on each one; test/api/unsafe-text.test.ts covers it instead.
[generation]
allow-x00 = false

# Every check but these (docs/operations.md, "Fuzzing the API"): the four that hold the
# responses to the document, whose response side is being rewritten (issue 21), and the
# object-level one, which needs a second user's token (test/api/authz-matrix.test.ts
# checks that on every operation).
[checks]
object_level_authorization.enabled = false
`;

/** Valid-looking data that the route must refuse, which no schema can say. */
const SPECIAL: Record<string, string> = {
  // Whether a valid-looking book request may start depends on data, not shape: the plan's
  // allowance (402; the fuzzing user's is used up on purpose, so fuzzing starts no books)
  // and, from a story, its paragraphs (more chapters than paragraphs is a 400).
  postV1Ebooks: 'checks.positive_data_acceptance.enabled = false',
  // A list's cursor is valid only when this API gave it out; a webhook only when Svix signed it.
  getV1UsersUserIdEbooks: 'checks.positive_data_acceptance.enabled = false',
  getV1UsersUserIdStories: 'checks.positive_data_acceptance.enabled = false',
  postV1AuthClerkWebhook: 'checks.positive_data_acceptance.enabled = false',
  // The fixtures' book id stands in for every id, the invalid ones the coverage phase
  // sends too, so "invalid id accepted" is the fixture answering; n and the id's
  // format are checked by the routes' own tests (test/api/ebook-images.test.ts).
  getV1EbooksIdChaptersNImage: 'checks.negative_data_rejection.enabled = false',
  getSharedEbooksIdChaptersNImage: 'checks.negative_data_rejection.enabled = false',
};

/**
 * One [[operations]] table per operation of the served document, naming the real id
 * each path parameter gets. DELETE and unpublish get ids of their own, so they cannot
 * take the fixtures away from the operations that run after them.
 */
function configFor(
  doc: { paths: Record<string, Record<string, { operationId: string; parameters?: Array<{ name: string; in: string }> }>> },
  ids: Record<string, string>,
  engine: Pick<Engine, 'token' | 'signoutToken'>,
): string {
  const quote = (v: string) => JSON.stringify(v);
  // In the file, not on the command line (which would win over every operation's own):
  // the sign-out is fuzzed with a user of its own.
  const bearer = (token: string) => `headers = { Authorization = ${quote(`Bearer ${token}`)} }`;
  const tables: string[] = [bearer(engine.token) + '\n' + BASE_CONFIG];
  for (const [p, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const params: Record<string, string> = {};
      // Erasing a user (DELETE /v1/users/{userId}, /v1/auth/users/{userId}) erases the doomed one.
      if (p.includes('{userId}')) {
        params['path.userId'] = method === 'delete' ? DOOMED_USER : p === '/v1/auth/users/{userId}' && method === 'put' ? SUBJECT_USER : ids.FUZZ_USER_ID;
      }
      // Not `n`: a fixed value would stand in for the invalid ones the coverage phase sends
      // (n is 1-24 in the document, and its boundaries reach the fixtures' chapter 1).
      if (p.includes('{kind}')) params['path.kind'] = 'pdf';
      if (p.includes('{id}')) {
        if (/^\/(v1|shared)\/ebooks\//.test(p)) {
          params['path.id'] = method === 'delete' || p.endsWith('/unpublish') ? ids.FUZZ_DOOMED_BOOK_ID : ids.FUZZ_BOOK_ID;
        } else if (/^\/v1\/stories\/\{id\}\/(regenerate|cancel|events)$/.test(p)) {
          params['path.id'] = ids.FUZZ_GENERATED_STORY_ID;
        } else if (p.startsWith('/v1/stories/')) {
          params['path.id'] = method === 'delete' ? ids.FUZZ_DOOMED_STORY_ID : ids.FUZZ_STORY_ID;
        } else if (p.startsWith('/v1/ai/images/')) {
          params['path.id'] = ids.FUZZ_IMAGE_ID;
        }
      }
      const lines = [`[[operations]]`, `include-operation-id = ${quote(op.operationId)}`];
      if (Object.keys(params).length) {
        lines.push(`parameters = { ${Object.entries(params).map(([k, v]) => `${quote(k)} = ${quote(v)}`).join(', ')} }`);
      }
      if (p === '/v1/auth/sessions/destroy' && engine.signoutToken) lines.push(bearer(engine.signoutToken));
      // An event stream never ends by itself: schemathesis reads it for the request timeout,
      // then checks what it got; 70 s per example of two streams would be most of the run.
      if (p.endsWith('/events') && method === 'get') lines.push('request-timeout = 4');
      if (SPECIAL[op.operationId]) lines.push(SPECIAL[op.operationId]);
      else if (op.parameters?.some((x) => x.in === 'header' && x.name === 'Idempotency-Key')) {
        // The generator sends the same Idempotency-Key with different bodies, which the route
        // answers with its documented 422 (the key was used for another request); the key's
        // rules are tested in test/api (idempotency), so acceptance is not judged here.
        lines.push('checks.positive_data_acceptance.enabled = false');
      }
      if (lines.length > 2) tables.push(lines.join('\n'));
    }
  }
  return tables.join('\n\n') + '\n';
}

async function main() {
  const maxExamples = arg('--max-examples', 20);
  const maxTime = process.argv.includes('--max-time') ? arg('--max-time', 1) : undefined;
  installSchemathesis();
  let engine: Engine;
  if (process.env.FUZZ_BASE_URL) {
    engine = {
      base: process.env.FUZZ_BASE_URL,
      token: process.env.FUZZ_TOKEN ?? '',
      dataDir: process.env.FUZZ_DATA_DIR ?? '',
      stop: async () => {},
    };
  } else {
    say('starting the engine (embedded Temporal and PostgreSQL, a worker, the API)…');
    engine = await startEngine();
  }
  const stopOnSignal = () => void engine.stop().finally(() => process.exit(130));
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  let code = 1;
  try {
    say(`engine at ${engine.base}; making fixtures…`);
    const ids = await fixtures(engine);
    const workDir = engine.dataDir || fs.mkdtempSync(path.join(ROOT, '.test-data', 'fuzz-'));
    const configFile = path.join(workDir, 'schemathesis.toml');
    const doc = (await (await fetch(`${engine.base}/openapi.json`)).json()) as Parameters<typeof configFor>[0];
    fs.writeFileSync(configFile, configFor(doc, ids, engine));
    say(`running schemathesis (${maxExamples} examples per operation)…`);
    const args = [
      '--config-file', configFile,
      'run', `${engine.base}/openapi.json`,
      '--max-examples', String(maxExamples),
      ...(maxTime ? ['--max-time', String(maxTime)] : []),
      '--phases', 'examples,coverage,fuzzing',
      '--request-timeout', '70',
      '--workers', '2',
      '--seed', process.env.FUZZ_SEED ?? '1',
      '--no-color',
      '--output-sanitize', 'true',
      '--report', 'junit',
      '--report-dir', path.join(workDir, 'report'),
    ];
    const result = spawn(PYTHON, [...CLI, ...args], { cwd: ROOT, stdio: 'inherit' });
    code = await new Promise<number>((r) => result.once('exit', (c) => r(c ?? 1)));
    say(code === 0 ? 'no failures' : `schemathesis failed (exit ${code})`);
  } catch (err) {
    process.stderr.write(`[fuzz] ${(err as Error).message}\n`);
  } finally {
    await engine.stop();
  }
  process.exit(code);
}

void main();
