import path from 'node:path';
import { z } from 'zod';
import { parsePriceOverrides, type PriceTable } from '../core/pricing';
import { INTERIOR_BLEEDS, PAPER_THICKNESS_IN, type InteriorBleed, type PaperStock } from '../core/print';

/**
 * The one typed configuration of the engine, read from the environment once and
 * shared by the API, the workers and the scripts. Every variable is optional:
 * unset means the embedded default (see the README). A bad value fails fast
 * with a message naming the variable; secrets are never part of `describe()`.
 */
export interface Config {
  port: number;
  dataDir: string;
  temporal: {
    /** Unset: the embedded dev server on 127.0.0.1:`port` (started by `npm start`). */
    address?: string;
    port: number;
    uiPort: number;
    namespace: string;
    taskQueue: string;
    /** Where the paid plans' books go, so a backlog of free books never delays them. */
    priorityTaskQueue: string;
  };
  /** Unset: the embedded PostgreSQL server that `npm start` runs under `dataDir`. */
  databaseUrl?: string;
  embeddedPostgresPort: number;
  redisUrl?: string;
  clerk: {
    secretKey?: string;
    publishableKey?: string;
    jwtKey?: string;
    webhookSigningSecret?: string;
  };
  providers: {
    groqApiKey?: string;
    groqBaseUrl?: string;
    openaiApiKey?: string;
    /**
     * OPENAI_BASE_URL: another OpenAI-compatible server (Ollama, llama.cpp's server,
     * LM Studio, vLLM). Set without OPENAI_API_KEY it is a local server that needs
     * no key: the `openai` text provider is configured all the same (see
     * `openaiTextConfigured`), its pictures are not (these servers draw none).
     */
    openaiBaseUrl?: string;
    runwareApiKey?: string;
    runwareUrl?: string;
    /** Order tried by the failover (`TEXT_PROVIDERS`, e.g. `groq,openai`); unconfigured ones are skipped. */
    textProviders: string[];
    /** True when TEXT_PROVIDERS was set: unset, a keyless engine picks `local` or `offline` itself. */
    textProvidersSet: boolean;
    /** The `local` provider's model (LOCAL_MODEL_PATH; default: where `npm install` puts it). */
    localModelPath: string;
    /** LOCAL_MODEL_THREADS / LOCAL_MODEL_SEQUENCES; unset: from the machine's cores. */
    localModelThreads?: number;
    localModelSequences?: number;
    /** LOCAL_MODEL_CHAPTER_WORDS: the length a local chapter aims at (default 400). */
    localChapterWords?: number;
    /**
     * LOCAL_MODEL_PLAN=true: the model fills the plan's title, hero and chapter titles (a model
     * call before the first chapter can start); default false: the engine plans from the brief alone.
     */
    localModelPlan: boolean;
    /** Order tried by the failover (`IMAGE_PROVIDERS`, e.g. `runware,openai`). */
    imageProviders: string[];
    textModelGroq: string;
    textModelOpenai: string;
    imageModelRunware: string;
    imageModelOpenai: string;
    textTemperature: number;
    /** Upper bound of completion tokens per text call. */
    textMaxTokens: number;
    /** Per-request timeout of every provider call (and the longest silence inside a stream). */
    timeoutMs: number;
    /** Activity attempts given to one provider before the failover moves to the next. */
    attemptBudget: number;
    /** Consecutive provider faults that open a provider's circuit, and how long it stays open. */
    breakerThreshold: number;
    breakerCooldownMs: number;
    /**
     * PROVIDER_PRICES: per-model prices laid over core/pricing.ts's built-in table
     * (validated here so a typo stops the process at start; the ledger reads the
     * same variable through `activePrices()`).
     */
    priceOverrides: PriceTable;
  };
  /** How many chapters (and illustrations) one book works on at once. */
  chapterConcurrency: number;
  /** REVIEW_TIMEOUT: how long a book waits for its outline review before it is cancelled. */
  reviewTimeoutMs: number;
  /** Added latency of each offline provider call (demos, crash tests, benchmarks). */
  offlineProviderDelayMs: number;
  /**
   * STORAGE_WAIT_MS: the longest one activity attempt waits for unreachable file storage
   * before failing for Temporal to retry it (a last attempt waits as long as its timeout
   * allows). Unset: as long as the attempt's timeout allows.
   */
  storageWaitMs?: number;
  logLevel: string;
  /** Browser origins allowed to call the API (CORS); empty allows none. */
  corsOrigins: string[];
  /** Requests a minute per signed-in user and per client address. */
  rateLimits: { userPerMinute: number; ipPerMinute: number };
  /**
   * The paper of the print-on-demand package (plans with `printReady`): PRINT_PAPER picks a
   * stock (its thickness per page from core/print.ts), PRINT_PAPER_THICKNESS_IN overrides
   * the thickness with the printer's own figure. The wraparound cover's spine is
   * pages × `paperThicknessIn`. PRINT_INTERIOR_BLEED puts the interior's bleed on `all` four
   * sides (Lulu) or the `outside` edges only (KDP, IngramSpark).
   */
  print: { paper: PaperStock; paperThicknessIn: number; interiorBleed: InteriorBleed };
  /** Unset (no S3_BUCKET): files live on local disk under `dataDir/files`. */
  s3?: {
    bucket: string;
    /** Unset: AWS's own endpoint for the region. */
    endpoint?: string;
    region: string;
    forcePathStyle: boolean;
    /**
     * From AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY(/AWS_SESSION_TOKEN) of the environment
     * given to loadConfig, so a test's env reaches the client; unset: the SDK's default
     * chain (shared profile, SSO, IAM role, ...). Never logged.
     */
    credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  };
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/** The providers each failover list may name, in one place: a new provider is one more entry. */
export const TEXT_PROVIDER_NAMES = ['groq', 'openai', 'local', 'offline'] as const;
export const IMAGE_PROVIDER_NAMES = ['runware', 'openai', 'offline'] as const;

// ---------------------------------------------------------------------------
// One zod schema per kind of variable. Every message is the text after
// "VARIABLE: " in the ConfigError, so the variable is named once, by the key.

/** Trimmed; unset and blank both mean "use the default". */
const text = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const textOr = (def: string) => text.transform((v) => v ?? def);

/** A whole number in min..max (digits only: no sign, no exponent). */
const integer = (def: number, min: number, max: number) =>
  bounded(/^\d+$/, 'an integer', def, min, max);

/** Like `integer`, but unset stays undefined (the caller picks from the machine). */
const optionalInteger = (min: number, max: number) => {
  const range = (iss: { input?: unknown }) => `expected ${min}..${max}, got ${String(iss.input)}`;
  return text.pipe(
    z
      .string()
      .regex(/^\d+$/, { error: (iss) => `expected an integer, got "${String(iss.input)}"` })
      .transform(Number)
      .pipe(z.number({ error: range }).min(min, { error: range }).max(max, { error: range }))
      .optional(),
  );
};

/** A plain decimal in min..max. */
const decimal = (def: number, min: number, max: number) =>
  bounded(/^\d+(\.\d+)?$/, 'a number', def, min, max);

function bounded(pattern: RegExp, what: string, def: number, min: number, max: number) {
  const range = (iss: { input?: unknown }) => `expected ${min}..${max}, got ${String(iss.input)}`;
  return text.pipe(
    z
      .string()
      .regex(pattern, { error: (iss) => `expected ${what}, got "${String(iss.input)}"` })
      .transform(Number)
      // Number('9'.repeat(400)) is Infinity, which z.number() rejects as a type: same message.
      .pipe(z.number({ error: range }).min(min, { error: range }).max(max, { error: range }))
      .default(def),
  );
}

/** A comma-separated failover order: known names only, lower-cased, first mention kept. */
function providerList<const T extends readonly [string, ...string[]]>(names: T, def: T[number][]) {
  return text.pipe(
    z
      .string()
      .transform((raw) => raw.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean))
      .pipe(
        z
          .array(z.enum(names, { error: (iss) => `unknown provider "${String(iss.input)}" (expected ${names.join(', ')})` }))
          .min(1, { error: 'lists no provider' }),
      )
      .transform((items) => [...new Set(items)])
      .default(() => [...def]),
  );
}

/**
 * A URL with one of `protocols` (e.g. 'https:'), kept as written. Not z.url(): it
 * rewrites the value (drops tabs and newlines) and its message cannot say which
 * protocol it got.
 */
const urlOf = (...protocols: string[]) =>
  text.pipe(
    z
      .string()
      .refine((raw) => URL.canParse(raw), { error: 'is not a valid URL', abort: true })
      .refine((raw) => protocols.includes(new URL(raw).protocol), {
        error: (iss) => `expected a ${protocols.join(' or ')} URL, got ${new URL(String(iss.input)).protocol}`,
      })
      .optional(),
  );

/** Browser origins, comma-separated, each exactly scheme://host[:port]. */
const origin = z
  .string()
  .transform((o) => o.trim())
  .pipe(
    z
      .string()
      .refine((v) => URL.canParse(v), {
        error: (iss) => `"${String(iss.input)}" is not an origin such as https://app.example.com`,
        abort: true,
      })
      .refine((v) => new URL(v).origin === v.replace(/\/$/, ''), {
        error: (iss) => `"${String(iss.input)}" is not a bare origin (scheme://host[:port])`,
      })
      .transform((v) => new URL(v).origin),
  );
const origins = text.pipe(
  z
    .string()
    .transform((raw) => raw.split(','))
    .pipe(z.array(origin))
    .default(() => []),
);

const flag = (def: boolean) =>
  text.pipe(
    z
      .stringbool({
        truthy: ['true'],
        falsy: ['false'],
        case: 'sensitive',
        error: (iss) => `expected "true" or "false", got "${String(iss.input)}"`,
      })
      .default(def),
  );

const DAY_MS = 24 * 60 * 60 * 1000;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: DAY_MS };

/** A duration with its unit ("7d", "12h", "30s", "500ms"), in milliseconds, within min..max. */
const duration = (def: number, min: number, max: number) => {
  const range = `expected ${min / 1000} s to ${max / DAY_MS} days`;
  return text.pipe(
    z
      .string()
      .regex(/^\d+(\.\d+)?(ms|s|m|h|d)$/, { error: (iss) => `expected a duration such as "7d", "12h" or "30s", got "${String(iss.input)}"` })
      .transform((raw) => {
        const [, amount, unit] = /^([\d.]+)([a-z]+)$/.exec(raw)!;
        return Number(amount) * UNIT_MS[unit];
      })
      .pipe(z.number().min(min, { error: range }).max(max, { error: range }))
      .default(def),
  );
};

const matching = (pattern: RegExp, message: (raw: string) => string) =>
  text.pipe(z.string().regex(pattern, { error: (iss) => message(String(iss.input)) }).optional());

/** PROVIDER_PRICES, checked by core/pricing.ts's own schema; its message loses the repeated variable name. */
const priceOverrides = text.transform((raw, ctx): PriceTable => {
  try {
    return parsePriceOverrides(raw);
  } catch (err) {
    ctx.issues.push({ code: 'custom', input: raw, message: (err as Error).message.replace(/^PROVIDER_PRICES: /, '') });
    return z.NEVER;
  }
});

/**
 * The variables, in the order they are checked: when several are wrong, the
 * error names the first of them.
 */
const envSchema = z.object({
  DATA_DIR: textOr('./data'),
  TEMPORAL_ADDRESS: matching(/^[\w.\-[\]:]+:\d+$/, (raw) => `expected host:port, got "${raw}"`),
  PORT: integer(3000, 0, 65535),
  TEMPORAL_PORT: integer(7233, 1, 65535),
  TEMPORAL_UI_PORT: integer(8233, 1, 65535),
  TEMPORAL_NAMESPACE: textOr('default'),
  TEMPORAL_TASK_QUEUE: textOr('ebooks'),
  TEMPORAL_PRIORITY_TASK_QUEUE: text,
  DATABASE_URL: urlOf('postgres:', 'postgresql:'),
  EMBEDDED_PG_PORT: integer(5488, 1, 65535),
  REDIS_URL: urlOf('redis:', 'rediss:'),
  CLERK_SECRET_KEY: text,
  CLERK_PUBLISHABLE_KEY: text,
  CLERK_JWT_KEY: text,
  CLERK_WEBHOOK_SIGNING_SECRET: text,
  GROQ_API_KEY: text,
  GROQ_BASE_URL: urlOf('http:', 'https:'),
  OPENAI_API_KEY: text,
  OPENAI_BASE_URL: urlOf('http:', 'https:'),
  RUNWARE_API_KEY: text,
  RUNWARE_URL: urlOf('ws:', 'wss:'),
  TEXT_PROVIDERS: providerList(TEXT_PROVIDER_NAMES, ['groq', 'openai']),
  IMAGE_PROVIDERS: providerList(IMAGE_PROVIDER_NAMES, ['runware', 'openai']),
  TEXT_MODEL_GROQ: textOr('openai/gpt-oss-120b'),
  TEXT_MODEL_OPENAI: textOr('gpt-4.1-mini'),
  IMAGE_MODEL_RUNWARE: textOr('runware:101@1'),
  IMAGE_MODEL_OPENAI: textOr('gpt-image-1'),
  TEXT_TEMPERATURE: decimal(0.8, 0, 2),
  TEXT_MAX_TOKENS: integer(4096, 256, 200_000),
  PROVIDER_TIMEOUT_MS: integer(120_000, 1000, 3_600_000),
  PROVIDER_ATTEMPT_BUDGET: integer(3, 1, 100),
  PROVIDER_BREAKER_THRESHOLD: integer(5, 1, 1000),
  PROVIDER_BREAKER_COOLDOWN_MS: integer(30_000, 0, 3_600_000),
  PROVIDER_PRICES: priceOverrides,
  LOCAL_MODEL_PATH: text,
  LOCAL_MODEL_THREADS: optionalInteger(1, 256),
  LOCAL_MODEL_SEQUENCES: optionalInteger(1, 64),
  LOCAL_MODEL_CHAPTER_WORDS: optionalInteger(60, 3000),
  LOCAL_MODEL_PLAN: flag(false),
  CHAPTER_CONCURRENCY: integer(4, 1, 24),
  REVIEW_TIMEOUT: duration(7 * DAY_MS, 1000, 366 * DAY_MS),
  OFFLINE_PROVIDER_DELAY_MS: integer(0, 0, 600_000),
  STORAGE_WAIT_MS: optionalInteger(0, 3_600_000),
  LOG_LEVEL: textOr('info'),
  CORS_ORIGINS: origins,
  RATE_LIMIT_USER_PER_MINUTE: integer(600, 1, 1_000_000),
  RATE_LIMIT_IP_PER_MINUTE: integer(1200, 1, 1_000_000),
  PRINT_PAPER: text.pipe(
    z
      .enum(Object.keys(PAPER_THICKNESS_IN) as [PaperStock, ...PaperStock[]], {
        error: (iss) => `unknown paper "${String(iss.input)}" (expected ${Object.keys(PAPER_THICKNESS_IN).join(', ')})`,
      })
      .default('white'),
  ),
  PRINT_INTERIOR_BLEED: text.pipe(
    z
      .enum(INTERIOR_BLEEDS as [InteriorBleed, ...InteriorBleed[]], {
        error: (iss) => `unknown bleed "${String(iss.input)}" (expected ${INTERIOR_BLEEDS.join(' or ')})`,
      })
      .default('all'),
  ),
  // Inches per page (half a sheet): 0.002252 is 0.0045 in paper, a typical 50-60 lb stock.
  PRINT_PAPER_THICKNESS_IN: text.pipe(
    z
      .string()
      .regex(/^\d*\.\d+$|^\d+$/, { error: (iss) => `expected inches per page such as 0.0025, got "${String(iss.input)}"` })
      .transform(Number)
      .pipe(z.number().gt(0, { error: 'expected more than 0 in per page' }).max(0.01, { error: (iss) => `expected at most 0.01 in per page, got ${String(iss.input)}` }))
      .optional(),
  ),
  // Checked even without S3_BUCKET, so a typo fails at start rather than when S3 is turned on.
  S3_FORCE_PATH_STYLE: flag(false),
  S3_ENDPOINT: urlOf('http:', 'https:'),
  S3_REGION: textOr('us-east-1'),
  S3_BUCKET: matching(/^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$/, (raw) => `"${raw}" is not a valid bucket name`),
  AWS_ACCESS_KEY_ID: text,
  AWS_SECRET_ACCESS_KEY: text,
  AWS_SESSION_TOKEN: text,
});

type ParsedEnv = z.output<typeof envSchema>;

export function loadConfig(env: Env = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const [first] = parsed.error.issues;
    throw new ConfigError(String(first.path[0]), first.message);
  }
  const e = parsed.data;
  return {
    port: e.PORT,
    dataDir: path.resolve(e.DATA_DIR),
    temporal: {
      address: e.TEMPORAL_ADDRESS,
      port: e.TEMPORAL_PORT,
      uiPort: e.TEMPORAL_UI_PORT,
      namespace: e.TEMPORAL_NAMESPACE,
      taskQueue: e.TEMPORAL_TASK_QUEUE,
      priorityTaskQueue: e.TEMPORAL_PRIORITY_TASK_QUEUE ?? `${e.TEMPORAL_TASK_QUEUE}-priority`,
    },
    databaseUrl: e.DATABASE_URL,
    embeddedPostgresPort: e.EMBEDDED_PG_PORT,
    redisUrl: e.REDIS_URL,
    clerk: {
      secretKey: e.CLERK_SECRET_KEY,
      publishableKey: e.CLERK_PUBLISHABLE_KEY,
      jwtKey: e.CLERK_JWT_KEY,
      webhookSigningSecret: e.CLERK_WEBHOOK_SIGNING_SECRET,
    },
    providers: {
      groqApiKey: e.GROQ_API_KEY,
      groqBaseUrl: e.GROQ_BASE_URL,
      openaiApiKey: e.OPENAI_API_KEY,
      openaiBaseUrl: e.OPENAI_BASE_URL,
      runwareApiKey: e.RUNWARE_API_KEY,
      runwareUrl: e.RUNWARE_URL,
      textProviders: e.TEXT_PROVIDERS,
      textProvidersSet: (env.TEXT_PROVIDERS ?? '').trim() !== '',
      localModelPath: path.resolve(e.LOCAL_MODEL_PATH ?? path.join(__dirname, '..', '.tools', 'models', 'gemma-3-270m-q4_k_m.gguf')),
      localModelThreads: e.LOCAL_MODEL_THREADS,
      localModelSequences: e.LOCAL_MODEL_SEQUENCES,
      localChapterWords: e.LOCAL_MODEL_CHAPTER_WORDS,
      localModelPlan: e.LOCAL_MODEL_PLAN,
      imageProviders: e.IMAGE_PROVIDERS,
      textModelGroq: e.TEXT_MODEL_GROQ,
      textModelOpenai: e.TEXT_MODEL_OPENAI,
      imageModelRunware: e.IMAGE_MODEL_RUNWARE,
      imageModelOpenai: e.IMAGE_MODEL_OPENAI,
      textTemperature: e.TEXT_TEMPERATURE,
      textMaxTokens: e.TEXT_MAX_TOKENS,
      timeoutMs: e.PROVIDER_TIMEOUT_MS,
      attemptBudget: e.PROVIDER_ATTEMPT_BUDGET,
      breakerThreshold: e.PROVIDER_BREAKER_THRESHOLD,
      breakerCooldownMs: e.PROVIDER_BREAKER_COOLDOWN_MS,
      priceOverrides: e.PROVIDER_PRICES,
    },
    chapterConcurrency: e.CHAPTER_CONCURRENCY,
    reviewTimeoutMs: e.REVIEW_TIMEOUT,
    offlineProviderDelayMs: e.OFFLINE_PROVIDER_DELAY_MS,
    storageWaitMs: e.STORAGE_WAIT_MS,
    logLevel: e.LOG_LEVEL,
    corsOrigins: e.CORS_ORIGINS,
    rateLimits: {
      userPerMinute: e.RATE_LIMIT_USER_PER_MINUTE,
      ipPerMinute: e.RATE_LIMIT_IP_PER_MINUTE,
    },
    print: {
      paper: e.PRINT_PAPER,
      paperThicknessIn: e.PRINT_PAPER_THICKNESS_IN ?? PAPER_THICKNESS_IN[e.PRINT_PAPER],
      interiorBleed: e.PRINT_INTERIOR_BLEED,
    },
    s3: s3Config(e),
  };
}

function s3Config(e: ParsedEnv): Config['s3'] {
  const bucket = e.S3_BUCKET;
  if (bucket === undefined) return undefined;
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey } = e;
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw new ConfigError(accessKeyId ? 'AWS_SECRET_ACCESS_KEY' : 'AWS_ACCESS_KEY_ID', 'set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither');
  }
  const credentials =
    accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey, sessionToken: e.AWS_SESSION_TOKEN } : undefined;
  return { bucket, endpoint: e.S3_ENDPOINT, region: e.S3_REGION, forcePathStyle: e.S3_FORCE_PATH_STYLE, credentials };
}

/**
 * Whether the `openai` text provider can run: with a key, or with OPENAI_BASE_URL
 * alone (an OpenAI-compatible server on the user's own machine needs no key).
 */
export function openaiTextConfigured(p: Config['providers']): boolean {
  return Boolean(p.openaiApiKey || p.openaiBaseUrl);
}

/** The Temporal frontend address the processes connect to. */
export function temporalAddress(config: Config): string {
  return config.temporal.address ?? `127.0.0.1:${config.temporal.port}`;
}

/** The database URL the processes connect to (the embedded server's when unset). */
export function databaseUrl(config: Config): string {
  return (
    config.databaseUrl ??
    `postgres://postgres:postgres@127.0.0.1:${config.embeddedPostgresPort}/ebooks`
  );
}
