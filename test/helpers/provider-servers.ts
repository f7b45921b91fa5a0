/**
 * Local stand-ins for the provider services, speaking their wire protocols so
 * the real SDKs can be tested against them: an OpenAI-compatible HTTP server
 * (also mounted under /openai/v1 for groq-sdk) and a Runware WebSocket server.
 * Each can be scripted per request (status codes, hangs, dropped connections,
 * malformed output) and records the calls it received with timestamps.
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { WebSocketServer, type WebSocket } from 'ws';

export type Fault =
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: unknown }
  /** Accept the request and never answer. */
  | { kind: 'hang' }
  /** Close the socket without an answer. */
  | { kind: 'drop' }
  /** HTTP 200 whose body is not JSON. */
  | { kind: 'garbage' }
  /** A chat answer whose content is this text (e.g. a broken outline). */
  | { kind: 'content'; content: string }
  /** A streamed chapter of this many words ending with this finish reason. */
  | {
      kind: 'chapter';
      words: number;
      finish?: 'stop' | 'length';
      stallAfter?: number;
      dropAfter?: number;
      /** Stream exactly this text instead of generated prose. */
      text?: string;
      /** Wait this long before each chunk (a slow model). */
      chunkDelayMs?: number;
    }
  /** Runware: an `errors` reply with this code. */
  | { kind: 'ws-error'; code: string; message?: string };

/** 'chapter' queues a fault for the next streamed chat request only (an outline request passes it by). */
export type Route = 'chat' | 'chapter' | 'images' | 'moderations' | 'runware' | 'runware-upscale';

export interface Call {
  route: Route;
  path: string;
  body: any;
  at: number;
  /** When the answer (or the stream) ended; unset while it runs or when it never ended. */
  endAt?: number;
  /** The HTTP status answered (the OpenAI-compatible server; set when the answer ended). */
  status?: number;
  /**
   * A streamed chapter: when its first content went out, and when its first `FIRST_WORDS_CHARS`
   * characters of whole words had (the engine's first moderated piece).
   */
  firstTokenAt?: number;
  firstWordsAt?: number;
  /** The client closed the connection before the answer was complete (e.g. aborted a stream). */
  abandoned?: boolean;
}

class Script {
  readonly calls: Call[] = [];
  private readonly queued: Array<{ route: Route; fault: Fault }> = [];
  private readonly always = new Map<Route, Fault>();
  /** Answer the next request(s) on `route` with these faults, in order. */
  queue(route: Route, ...faults: Fault[]): void {
    for (const fault of faults) this.queued.push({ route, fault });
  }
  /** Answer every request on `route` with `fault` (undefined: back to normal). */
  setAlways(route: Route, fault: Fault | undefined): void {
    if (fault) this.always.set(route, fault);
    else this.always.delete(route);
  }
  reset(): void {
    this.calls.length = 0;
    this.queued.length = 0;
    this.always.clear();
  }
  callsTo(route: Route): Call[] {
    return this.calls.filter((c) => c.route === route);
  }
  protected next(route: Route): Fault | undefined {
    const i = this.queued.findIndex((q) => q.route === route);
    if (i >= 0) return this.queued.splice(i, 1)[0].fault;
    return this.always.get(route);
  }
}

// ---------------------------------------------------------------------------
// Deterministic chapter-like prose

const SENTENCES = [
  'The wind came in off the water and rattled the shutters of the old house.',
  '{name} stood at the window and counted the lights along the harbour.',
  'Somewhere below, a bell rang twice and then fell silent.',
  'Nobody in the village remembered who had built the tower, only that it had always been there.',
  '{name} pulled on a coat that smelled of salt and lamp oil.',
  'The stairs creaked in the places they always creaked, like an old song.',
  'At the top, the great lens waited, patient as the moon.',
  '"We will find it before morning," {name} said, though no one was there to hear.',
  'Gulls wheeled over the rocks, crying out the news of the tide.',
  'A small brass key lay on the table where no key had been before.',
  'The clock on the wall ticked a little faster, as if it were in a hurry.',
  'Far out at sea, a light answered, once, twice, and again.',
];

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/**
 * About `words` words in paragraphs of four sentences, the same for the same seed.
 * The seed orders the sentences (one of 12! orders), so two different prompts (a
 * chapter and its rewrite) practically never get the same text; with only a
 * starting sentence picked, one pair in twelve did.
 */
export function prose(seedText: string, words: number, name = 'Mara'): string {
  const order = SENTENCES.map((_, k) => k);
  let state = hash(seedText) || 1;
  for (let k = order.length - 1; k > 0; k--) {
    state = Math.imul(state ^ (state >>> 15), 2246822519) >>> 0; // a small deterministic mix
    const j = state % (k + 1);
    [order[k], order[j]] = [order[j], order[k]];
  }
  const out: string[] = [];
  let count = 0;
  for (let i = 0; count < words; i++) {
    const s = SENTENCES[order[i % order.length]].replace('{name}', name);
    out.push(s);
    count += s.split(/\s+/).length;
  }
  const paras: string[] = [];
  for (let k = 0; k < out.length; k += 4) paras.push(out.slice(k, k + 4).join(' '));
  return paras.join('\n\n');
}

/** Arabic prose for a server that writes the language it is asked for (`followLanguage`). */
const ARABIC_SENTENCES = [
  'هبّت الريح من جهة البحر وهزّت نوافذ البيت القديم.',
  'وقفت {name} عند النافذة تعدّ أضواء الميناء واحدًا بعد الآخر.',
  'في مكان ما في الأسفل دقّ جرس مرتين ثم سكت.',
  'لم يتذكّر أحد في القرية من بنى البرج، لكنهم عرفوا أنه كان هناك دائمًا.',
  'لبست {name} معطفًا تفوح منه رائحة الملح وزيت المصباح.',
  'صرّت الدرجات في الأماكن التي اعتادت أن تصرّ فيها، كأنها أغنية قديمة.',
  'في الأعلى كانت العدسة الكبيرة تنتظر صابرة مثل القمر.',
  'قالت {name}: «سنجده قبل الصباح»، مع أنه لم يكن هناك أحد ليسمعها.',
];

/** Whether a request asks for Arabic (the engine names the book's language in its prompts). */
const asksArabic = (body: any) =>
  (body?.messages ?? []).some((m: any) => /\bArabic\b|\(ar\)|: ar\b/.test(String(m?.content ?? '')));

function arabicProse(words: number, name = 'مارا'): string {
  const out: string[] = [];
  for (let i = 0, count = 0; count < words; i++) {
    const s = ARABIC_SENTENCES[i % ARABIC_SENTENCES.length].replace('{name}', name);
    out.push(s);
    count += s.split(/\s+/).length;
  }
  const paras: string[] = [];
  for (let k = 0; k < out.length; k += 4) paras.push(out.slice(k, k + 4).join(' '));
  return paras.join('\n\n');
}

/**
 * An outline that fits the request: the chapter count from the json_schema's minItems,
 * or, without one (JSON mode, the prompt alone), from the prompt's "exactly N chapters".
 */
function outlineFor(body: any, arabic = false): string {
  const schema = body?.response_format?.json_schema?.schema;
  const prompt = String(body?.messages?.find((m: any) => m.role === 'user')?.content ?? '');
  const n = Number(schema?.properties?.chapters?.minItems ?? /exactly (\d+) chapters/.exec(prompt)?.[1] ?? 3);
  const h = hash(prompt);
  if (arabic) {
    return JSON.stringify({
      title: 'حارسة المنارة والنورس النحاسي',
      logline: 'حارسة منارة ونورس من نحاس يطاردان ضوءًا عبر البحر.',
      characters: [
        { name: 'مارا', look: 'امرأة طويلة في معطف أزرق', personality: 'صبورة وعنيدة' },
        { name: 'توك', look: 'نورس نحاسي بجناحين من نحاس أحمر', personality: 'فضولي وصاخب' },
      ],
      setting: 'جزيرة صخرية قبالة ساحل ضبابي',
      style: 'soft watercolour with ink outlines',
      palette: ['#1f4e79', '#ff8c42'],
      chapters: Array.from({ length: n }, (_, i) => ({
        index: i + 1,
        title: `الفصل ${i + 1}: الضوء في البحر`,
        summary: `يحدث أمر جديد في الجزء ${i + 1} من الحكاية.`,
        targetWords: 300,
      })),
    });
  }
  return JSON.stringify({
    title: `The Keeper of the ${['Lamp', 'Tide', 'Bell', 'Key'][h % 4]}`,
    logline: 'A lighthouse keeper and a clockwork gull chase a light across the sea.',
    characters: [
      { name: 'Mara', look: 'a tall woman in a blue oilskin coat', personality: 'patient and stubborn' },
      { name: 'Tock', look: 'a brass gull with copper wings', personality: 'curious and loud' },
    ],
    setting: 'A rocky island off a foggy coast',
    style: 'soft watercolour with ink outlines',
    palette: ['#1f4e79', '#ff8c42'],
    chapters: Array.from({ length: n }, (_, i) => ({
      index: i + 1,
      title: `Chapter title ${i + 1}`,
      summary: `Something happens in part ${i + 1} of the story.`,
      targetWords: 300,
    })),
  });
}

/** The outline with its chapters' summaries left out (a small model's first try). */
function withoutSummaries(outline: string): string {
  const o = JSON.parse(outline);
  o.chapters = o.chapters.map(({ summary: _summary, ...c }: Record<string, unknown>) => c);
  return JSON.stringify(o);
}

async function png(width: number, height: number, format: 'png' | 'jpeg' = 'png'): Promise<Buffer> {
  const img = sharp({ create: { width, height, channels: 3, background: { r: 31, g: 78, b: 121 } } });
  return format === 'png' ? img.png().toBuffer() : img.jpeg().toBuffer();
}

/** Characters of whole words a streamed chapter's first moderated piece needs (ModeratedStream's `firstChars`). */
export const FIRST_WORDS_CHARS = 24;

// ---------------------------------------------------------------------------
// OpenAI-compatible HTTP server

/**
 * Fixed response times (ms) for the OpenAI-compatible server, for benchmarks:
 * an outline (structured chat) answers after `outline`; a streamed chapter sends
 * its first token after `firstToken` and its last at `chapter`, the rest spread
 * evenly between; an image answers after `image`. Unset: answer at once.
 */
export interface Latency {
  outline?: number;
  chapter?: number;
  firstToken?: number;
  image?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

/**
 * What an OpenAI-compatible server supports, where such servers differ from OpenAI
 * (all true: OpenAI itself). A server without a feature answers as those servers do:
 * an unknown `response_format` type is refused with HTTP 400 and an error body, a
 * missing /v1/moderations is a 404, and `stream_options.include_usage` is ignored
 * (no usage chunk at the end of a stream).
 */
export interface Dialect {
  /** `response_format: {type: 'json_schema'}` (structured output). */
  jsonSchema: boolean;
  /** `response_format: {type: 'json_object'}` (JSON mode). */
  jsonObject: boolean;
  /** POST /v1/moderations. */
  moderation: boolean;
  /** Usage in the last chunk of a stream when `stream_options.include_usage` asks. */
  usageInStream: boolean;
  /** `stream_options` known at all (false: a request carrying it is refused with HTTP 400; default true). */
  streamOptions?: boolean;
}

export const OPENAI_DIALECT: Dialect = { jsonSchema: true, jsonObject: true, moderation: true, usageInStream: true };

export class OpenAICompatServer extends Script {
  url = '';
  /** Response times; change at any time (applies to requests that arrive afterwards). */
  latency: Latency = {};
  /** What the server supports (default: everything, as OpenAI). */
  dialect: Dialect = { ...OPENAI_DIALECT };
  /** Write Arabic outlines and chapters when a request asks for Arabic (default: English whatever is asked). */
  followLanguage = false;
  private server?: http.Server;

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let body: any;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    } catch {
      body = undefined;
    }
    const path = (req.url ?? '').replace(/^\/openai/, '').split('?')[0];
    const route: Route | undefined =
      path === '/v1/chat/completions' ? 'chat' : path === '/v1/images/generations' ? 'images' : path === '/v1/moderations' ? 'moderations' : undefined;
    if (!route || req.method !== 'POST') return this.json(res, 404, { error: { message: 'not found', type: 'invalid_request_error' } });
    const arrived = Date.now();
    const call: Call = { route, path: req.url ?? '', body, at: arrived };
    this.calls.push(call);
    res.on('finish', () => {
      call.endAt = Date.now();
      call.status = res.statusCode;
    });
    res.on('close', () => {
      if (!res.writableFinished) call.abandoned = true;
    });
    const fault = (route === 'chat' && body?.stream ? this.next('chapter') : undefined) ?? this.next(route);
    const latency = { ...this.latency };
    if (fault?.kind === 'hang') return; // never answers; closed by close()
    if (fault?.kind === 'drop') return req.socket.destroy();
    if (fault?.kind === 'garbage') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end('{"choices": [ this is not json');
    }
    if (fault?.kind === 'status') {
      const err = fault.body ?? { error: { message: `scripted ${fault.status}`, type: 'server_error', code: null } };
      return this.json(res, fault.status, err, fault.headers);
    }
    if (route === 'moderations' && !this.dialect.moderation) {
      // As vLLM answers a route it does not have (Ollama and llama.cpp answer a plain 404 too).
      return this.json(res, 404, { detail: 'Not Found' });
    }
    if (route === 'chat' && body?.stream && body.stream_options && this.dialect.streamOptions === false) {
      return this.json(res, 400, {
        error: { message: 'Unrecognized request argument supplied: stream_options', type: 'invalid_request_error', param: 'stream_options', code: 400 },
      });
    }
    if (route === 'chat' && !body?.stream) {
      const type = body?.response_format?.type;
      if ((type === 'json_schema' && !this.dialect.jsonSchema) || (type === 'json_object' && !this.dialect.jsonObject)) {
        return this.json(res, 400, {
          object: 'error',
          error: { message: `response_format type '${type}' is not supported`, type: 'invalid_request_error', param: 'response_format', code: 400 },
        });
      }
    }
    if (route === 'moderations') {
      const input = String(body?.input ?? '');
      return this.json(res, 200, {
        id: 'modr-1',
        model: 'omni-moderation-latest',
        results: [{ flagged: /forbidden/i.test(input), categories: {}, category_scores: {} }],
      });
    }
    if (route === 'images') {
      const [w, h] = String(body?.size ?? '1024x1024').split('x').map(Number);
      const data = await png(Math.round(w / 8), Math.round(h / 8)); // small but the right shape
      if (latency.image) await sleep(arrived + latency.image - Date.now());
      return this.json(res, 200, { created: Math.floor(Date.now() / 1000), data: [{ b64_json: data.toString('base64') }] });
    }
    // chat
    const model = String(body?.model ?? 'test-model');
    const usage = { prompt_tokens: 42, completion_tokens: 0, total_tokens: 42 };
    const arabic = this.followLanguage && asksArabic(body);
    if (!body?.stream) {
      const format = body?.response_format?.type;
      const asksOutline = /Plan an illustrated book/.test(String(body?.messages?.find((m: any) => m.role === 'user')?.content ?? ''));
      const repairing = (body?.messages ?? []).some((m: any) => m.role === 'assistant');
      const content =
        fault?.kind === 'content'
          ? fault.content
          : format === 'json_schema' || format === 'json_object'
            ? outlineFor(body, arabic)
            : asksOutline
              ? // Asked by the prompt alone, a small model wraps its JSON in words and forgets the
                // chapters' summaries; shown what is missing, it answers as told.
                repairing
                ? outlineFor(body, arabic)
                : `Sure! Here is the plan for your book:\n\n${withoutSummaries(outlineFor(body, arabic))}\n\nI hope you like it.`
              : prose(model, 40);
      usage.completion_tokens = Math.ceil(content.length / 4);
      if (latency.outline) await sleep(arrived + latency.outline - Date.now());
      return this.json(res, 200, {
        id: 'chatcmpl-1',
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model,
        choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
        usage,
      });
    }
    // Streamed chapter: length from the prompt's "about N (more) words" unless scripted.
    const last = String(body.messages?.at(-1)?.content ?? '');
    const asked = Number(/about (\d+) (?:more )?words/.exec(last)?.[1] ?? 200);
    const words = fault?.kind === 'chapter' ? fault.words : asked;
    const finish = fault?.kind === 'chapter' ? (fault.finish ?? 'stop') : 'stop';
    let text = fault?.kind === 'chapter' && fault.text !== undefined ? fault.text : arabic ? arabicProse(words) : prose(last, words);
    if (finish === 'length') text += ' And then the keeper turned toward the';
    usage.completion_tokens = Math.ceil(text.length / 4);
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const send = (obj: unknown) => res.write(`data: ${JSON.stringify(obj)}\n\n`);
    const base = { id: 'chatcmpl-2', object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model };
    send({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] });
    const pieces = text.match(/\S+\s*/g) ?? [];
    const deltas = Math.ceil(pieces.length / 3);
    let sent = '';
    for (let i = 0, n = 0; i < pieces.length; i += 3, n++) {
      if (latency.chapter || latency.firstToken) {
        // Chunk n leaves at its own fixed moment, so timer slack never accumulates.
        const first = latency.firstToken ?? 0;
        const last = Math.max(latency.chapter ?? first, first);
        await sleep(arrived + first + (deltas > 1 ? ((last - first) * n) / (deltas - 1) : 0) - Date.now());
      }
      // Mid-stream faults: go silent (connection kept open) or cut the connection.
      if (fault?.kind === 'chapter' && fault.stallAfter === n) return;
      if (fault?.kind === 'chapter' && fault.dropAfter === n) return req.socket.destroy();
      if (fault?.kind === 'chapter' && fault.chunkDelayMs) {
        await new Promise((r) => setTimeout(r, fault.chunkDelayMs));
        if (call.abandoned) return; // the client went away (aborted the stream)
      }
      const content = pieces.slice(i, i + 3).join('');
      send({ ...base, choices: [{ index: 0, delta: { content }, finish_reason: null }] });
      call.firstTokenAt ??= Date.now();
      sent += content;
      if (call.firstWordsAt === undefined && /\s/.test(sent.slice(FIRST_WORDS_CHARS - 1))) call.firstWordsAt = Date.now();
    }
    const groq = (req.url ?? '').startsWith('/openai/');
    send({ ...base, choices: [{ index: 0, delta: {}, finish_reason: finish }], ...(groq ? { x_groq: { usage } } : {}) });
    if (body.stream_options?.include_usage && this.dialect.usageInStream) send({ ...base, choices: [], usage });
    res.end('data: [DONE]\n\n');
  }

  private json(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  }
}

// ---------------------------------------------------------------------------
// Runware-protocol WebSocket server

export class RunwareServerStub extends Script {
  url = '';
  private wss?: WebSocketServer;
  private readonly sockets = new Set<WebSocket>();
  /** API keys refused at authentication. */
  readonly badKeys = new Set<string>(['bad-key']);

  async start(): Promise<this> {
    this.wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => this.wss!.once('listening', () => resolve()));
    this.url = `ws://127.0.0.1:${(this.wss.address() as AddressInfo).port}/v1`;
    this.wss.on('connection', (ws) => {
      this.sockets.add(ws);
      ws.on('close', () => this.sockets.delete(ws));
      ws.on('message', (raw) => void this.onMessage(ws, raw.toString()));
    });
    return this;
  }

  async close(): Promise<void> {
    for (const ws of this.sockets) ws.terminate();
    await new Promise((r) => this.wss?.close(r));
  }

  private async onMessage(ws: WebSocket, raw: string) {
    let tasks: any[];
    try {
      tasks = JSON.parse(raw);
    } catch {
      return;
    }
    for (const task of Array.isArray(tasks) ? tasks : [tasks]) {
      if (task.taskType === 'ping') {
        ws.send(JSON.stringify({ data: [{ taskType: 'ping', pong: true }] }));
      } else if (task.taskType === 'authentication') {
        if (this.badKeys.has(task.apiKey)) {
          ws.send(JSON.stringify({ errors: [{ taskType: 'authentication', code: 'invalidApiKey', message: 'Invalid API key' }] }));
        } else {
          ws.send(JSON.stringify({ data: [{ taskType: 'authentication', connectionSessionUUID: randomUUID() }] }));
        }
      } else if (task.taskType === 'upscale' || task.taskType === 'imageUpscale') {
        // The SDK's `upscale` task (`imageUpscale` in Runware's older API): the input
        // inline as a data URI or base64, enlarged by `upscaleFactor`.
        this.calls.push({ route: 'runware-upscale', path: task.taskType, body: task, at: Date.now() });
        const fault = this.next('runware-upscale');
        if (fault?.kind === 'hang') continue;
        if (fault?.kind === 'ws-error') {
          ws.send(JSON.stringify({ errors: [{ taskType: task.taskType, taskUUID: task.taskUUID, code: fault.code, message: fault.message ?? fault.code }] }));
          continue;
        }
        const input = Buffer.from(String(task.inputImage ?? '').replace(/^data:[^,]*,/, ''), 'base64');
        const meta = await sharp(input).metadata();
        const factor = Number(task.upscaleFactor ?? 2);
        const out = sharp(input).resize(meta.width! * factor, meta.height! * factor);
        const data = await (task.outputFormat === 'JPG' ? out.jpeg() : out.png()).toBuffer();
        ws.send(
          JSON.stringify({
            data: [{ taskType: task.taskType, taskUUID: task.taskUUID, imageUUID: randomUUID(), imageBase64Data: data.toString('base64') }],
          }),
        );
      } else if (task.taskType === 'imageInference') {
        this.calls.push({ route: 'runware', path: 'imageInference', body: task, at: Date.now() });
        const fault = this.next('runware');
        if (fault?.kind === 'hang') continue;
        if (fault?.kind === 'drop') {
          ws.terminate();
          return;
        }
        if (fault?.kind === 'ws-error') {
          ws.send(JSON.stringify({ errors: [{ taskType: 'imageInference', taskUUID: task.taskUUID, code: fault.code, message: fault.message ?? fault.code }] }));
          continue;
        }
        const data = await png(Math.round(task.width / 8), Math.round(task.height / 8), task.outputFormat === 'JPG' ? 'jpeg' : 'png');
        ws.send(
          JSON.stringify({
            data: [
              {
                taskType: 'imageInference',
                taskUUID: task.taskUUID,
                imageUUID: randomUUID(),
                imageBase64Data: data.toString('base64'),
                seed: task.seed,
              },
            ],
          }),
        );
      }
    }
  }
}

export async function startOpenAICompatServer(latency: Latency = {}): Promise<OpenAICompatServer> {
  const server = new OpenAICompatServer();
  server.latency = latency;
  return server.start();
}

export async function startRunwareServer(): Promise<RunwareServerStub> {
  return new RunwareServerStub().start();
}

/**
 * The environment that points the engine's providers at these local servers:
 * Groq at `groq` (its SDK adds /openai/v1 itself), OpenAI at `openai`'s /v1.
 */
export function providerEnv(servers: { groq?: { url: string }; openai?: { url: string } }): Record<string, string> {
  return {
    ...(servers.groq ? { GROQ_API_KEY: 'gsk-test', GROQ_BASE_URL: servers.groq.url } : {}),
    ...(servers.openai ? { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: `${servers.openai.url}/v1` } : {}),
    PROVIDER_TIMEOUT_MS: '10000',
  };
}
