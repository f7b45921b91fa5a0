/**
 * The reusable parts of the OpenAPI document: the answer schemas (from the zod
 * schemas in api/schemas/, the ones the routes type their answers with), the
 * headers and the path parameters, and the rules that apply to every route
 * (401 where a token is needed, 429 where a rate limit applies, 204/304 with no
 * content). api/openapi.ts lists the routes.
 */
import { z } from 'zod';
import {
  bookPageSchema,
  bookSchema,
  editedBookSchema,
  publicationSchema,
  revisionSchema,
  sharedBookSchema,
  startedSchema,
  statusSchema,
  streamTokenSchema,
} from './schemas/ebooks';
import { problemSchema } from './schemas/problem';
import { FILE_KINDS } from './files';
import { profileAnswerSchema, subscriptionAnswerSchema } from './schemas/users';
import { EBOOK_EVENT_SCHEMAS, eventComponentName } from './schemas/events';
import { storyAnalyticsSchema, storyPageSchema, storySchema, storyViewSchema, storylineSchema } from './schemas/stories';
import {
  breakersClosedSchema,
  chaptersJobSchema,
  chaptersStartedSchema,
  enhancedPromptSchema,
  pictureSchema,
  providerOrderSchema,
  providerStatusSchema,
  upscaledPictureSchema,
} from './schemas/ai';

const COMPONENTS = {
  Problem: problemSchema,
  Revision: revisionSchema,
  Status: statusSchema,
  Book: bookSchema,
  EditedBook: editedBookSchema,
  Started: startedSchema,
  Publication: publicationSchema,
  SharedBook: sharedBookSchema,
  BookPage: bookPageSchema,
  Subscription: subscriptionAnswerSchema,
  Profile: profileAnswerSchema,
  StreamToken: streamTokenSchema,
  Story: storySchema,
  StoryPage: storyPageSchema,
  StoryAnalytics: storyAnalyticsSchema,
  StoryView: storyViewSchema,
  Storyline: storylineSchema,
  EnhancedPrompt: enhancedPromptSchema,
  Picture: pictureSchema,
  UpscaledPicture: upscaledPictureSchema,
  ChaptersJob: chaptersJobSchema,
  ChaptersStarted: chaptersStartedSchema,
  ProviderStatus: providerStatusSchema,
  ProviderOrder: providerOrderSchema,
  BreakersClosed: breakersClosedSchema,
} as const;

export type ComponentName = keyof typeof COMPONENTS;

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** Every answer schema and event payload as JSON Schema, cross-referenced by component name. */
function componentSchemas(): Record<string, unknown> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(COMPONENTS)) registry.add(schema, { id });
  for (const [type, schema] of Object.entries(EBOOK_EVENT_SCHEMAS)) registry.add(schema, { id: eventComponentName(type) });
  const { schemas } = z.toJSONSchema(registry, { io: 'output', uri: (id) => `#/components/schemas/${id}` });
  const out: Record<string, unknown> = {};
  for (const [id, schema] of Object.entries(schemas)) {
    // A component is a schema inside this document, not a document of its own.
    const { $schema: _s, $id: _i, ...rest } = schema as Record<string, unknown>;
    out[id] = rest;
  }
  // One event of a book's stream as sent (as schemathesis and OpenAPI 3.2's itemSchema
  // read a stream's schema): its type (the SSE `event:` field), its id (digits, the resume
  // point) and its `data:`, a JSON text whose schema is that type's payload.
  out.EbookEvent = {
    description: 'One server-sent event of a book: `event:` is the type, `id:` the resume point, `data:` the JSON payload of that type',
    oneOf: Object.keys(EBOOK_EVENT_SCHEMAS).map((type) => ({
      type: 'object',
      required: ['event', 'id', 'data'],
      properties: {
        event: { const: type },
        id: { type: 'string', pattern: '^\\d+$' },
        data: { type: 'string', contentMediaType: 'application/json', contentSchema: ref(eventComponentName(type)) },
      },
    })),
  };
  return out;
}

const HEADERS = {
  Location: { description: 'The resource to follow', schema: { type: 'string' } },
  ETag: { description: 'Validator for If-None-Match', schema: { type: 'string' } },
  'Content-Disposition': { description: 'attachment (or inline) with the file name', schema: { type: 'string' } },
  'Idempotent-Replayed': { description: 'true when this is the stored answer to an earlier request with the same Idempotency-Key', schema: { type: 'string', enum: ['true'] } },
  'Retry-After': { description: 'Seconds to wait before trying again', schema: { type: 'integer' } },
  'RateLimit-Limit': { description: 'Requests allowed in the window (IETF RateLimit header fields draft)', schema: { type: 'integer' } },
  'RateLimit-Remaining': { description: 'Requests left in the window', schema: { type: 'integer' } },
  'RateLimit-Reset': { description: 'Seconds until the window resets', schema: { type: 'integer' } },
  'RateLimit-Policy': { description: 'The policy, e.g. `600;w=60`', schema: { type: 'string' } },
} as const;

export type ResponseHeader = keyof typeof HEADERS;
const RATE_LIMIT_HEADERS: ResponseHeader[] = ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'RateLimit-Policy'];
const headerKey = (h: string) => h.replace(/-/g, '');

const REQUEST_HEADERS = {
  'Idempotency-Key': 'A key (1-255 visible ASCII characters) that makes retrying this request safe: the same key answers the first answer again',
  'If-None-Match': 'The ETag of an answer you have: 304 when it is still current',
  'Last-Event-ID': 'The id of the last event you received: the stream resumes after it (`?lastEventId=` where headers cannot be set)',
} as const;

export type RequestHeader = keyof typeof REQUEST_HEADERS;

/** What the API accepts in a request header, where it checks more than "a string" (api/idempotency.ts). */
const REQUEST_HEADER_SCHEMAS: Partial<Record<RequestHeader, Record<string, unknown>>> = {
  'Idempotency-Key': { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7E]+$' },
  'Last-Event-ID': { type: 'string', pattern: '^\\d{1,15}$' },
};

/** Path parameters, by name, as the routes accept them. */
function pathParameter(path: string, name: string): Record<string, unknown> {
  const schema: Record<string, unknown> =
    name === 'n'
      ? { type: 'integer', minimum: 1, maximum: 24, description: 'A chapter number, from 1 (a book has at most 24)' }
      : name === 'kind'
        ? { type: 'string', enum: path.startsWith('/shared/') ? FILE_KINDS.filter((k) => !k.startsWith('print')) : [...FILE_KINDS] }
        : name === 'userId'
          ? { type: 'string', description: 'A Clerk user id, or `me` for the caller', examples: ['me'] }
          : name === 'id' && /^\/(v1|shared)\/(ebooks|stories)\//.test(path)
            ? { type: 'string', format: 'uuid' }
            : { type: 'string' };
  return { name, in: 'path', required: true, schema };
}

const PROBLEM_TITLES: Record<string, string> = {
  '401': 'No valid bearer token',
  '429': 'Too many requests: wait Retry-After seconds',
};

interface OperationSpec {
  path: string;
  auth?: false;
  produces?: string | string[];
  body?: unknown;
  headers?: RequestHeader[];
  responses: Record<string, string | { description: string; schema?: ComponentName; produces?: string; headers?: ResponseHeader[] }>;
}

/**
 * One media type of an answer. An event stream's schema is that of one event as
 * sent (as schemathesis and OpenAPI 3.2's itemSchema read it): a book's is
 * EbookEvent; a story's names the same three fields.
 */
function mediaType(path: string, type: string, schema?: ComponentName): Record<string, unknown> {
  if (type === 'text/event-stream') {
    if (path.startsWith('/v1/ebooks/')) return { schema: ref('EbookEvent') };
    return {
      schema: {
        type: 'object',
        description: 'One event as sent: `event:` its type, `id:` the resume point, `data:` its JSON payload (each names its run, `revision`)',
        required: ['event', 'id', 'data'],
        properties: {
          event: { type: 'string' },
          id: { type: 'string', pattern: '^\\d+$' },
          data: { type: 'string', contentMediaType: 'application/json' },
        },
      },
    };
  }
  return schema ? { schema: ref(schema) } : {};
}

/** The parameters and responses of one operation, with the rules every route shares. */
export function operationParts(op: OperationSpec): { parameters: unknown[]; responses: Record<string, unknown> } {
  const parameters: unknown[] = [...op.path.matchAll(/\{(\w+)\}/g)].map((m) => pathParameter(op.path, m[1]));
  for (const h of op.headers ?? []) {
    parameters.push({ name: h, in: 'header', required: false, description: REQUEST_HEADERS[h], schema: REQUEST_HEADER_SCHEMAS[h] ?? { type: 'string' } });
  }
  const limited = op.path.startsWith('/v1/') || op.path.startsWith('/shared/');
  const all: OperationSpec['responses'] = { ...op.responses };
  if (op.auth !== false && !all['401']) all['401'] = PROBLEM_TITLES['401'];
  if (limited && !all['429']) all['429'] = PROBLEM_TITLES['429'];
  // Any JSON body: the size limit, and JSON only (api/http-rules.ts).
  if (op.body && !all['413']) all['413'] = 'Body over 64 kB';
  if (op.body && !all['415']) all['415'] = 'Body not application/json';
  // Any Idempotency-Key: checked before the route runs (api/idempotency.ts).
  if (op.headers?.includes('Idempotency-Key')) {
    if (!all['400']) all['400'] = 'Invalid request (names the field, e.g. headers.idempotency-key)';
    if (!all['422']) all['422'] = 'Idempotency-Key reused for another request';
  }
  const responses: Record<string, unknown> = {};
  for (const [code, answer] of Object.entries(all).sort(([a], [b]) => a.localeCompare(b))) {
    const a = typeof answer === 'string' ? { description: answer } : answer;
    const status = Number(code);
    const headerNames = new Set<ResponseHeader>(a.headers ?? []);
    if (limited && status < 400 && op.auth !== false) for (const h of RATE_LIMIT_HEADERS) headerNames.add(h);
    if (status === 429) for (const h of [...RATE_LIMIT_HEADERS, 'Retry-After' as const]) headerNames.add(h);
    if (status === 503) headerNames.add('Retry-After');
    if (status === 304) headerNames.add('ETag');
    if ((op.headers ?? []).includes('Idempotency-Key') && status < 500) headerNames.add('Idempotent-Replayed');
    const headers = Object.fromEntries([...headerNames].map((h) => [h, { $ref: `#/components/headers/${headerKey(h)}` }]));
    const body =
      status === 204 || status === 304
        ? {}
        : status >= 400
          ? { content: { 'application/problem+json': { schema: ref('Problem') } } }
          : { content: Object.fromEntries([a.produces ?? op.produces ?? 'application/json'].flat().map((type) => [type, mediaType(op.path, type, a.schema)])) };
    responses[code] = { description: a.description, ...(headerNames.size ? { headers } : {}), ...body };
  }
  return { parameters, responses };
}

/** `components` of the document. */
export function components(): Record<string, unknown> {
  return {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT (Clerk session token)' } },
    headers: Object.fromEntries(Object.entries(HEADERS).map(([name, h]) => [headerKey(name), h])),
    schemas: componentSchemas(),
  };
}
