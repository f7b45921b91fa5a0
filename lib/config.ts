import path from 'node:path';
import { parsePriceOverrides, type PriceTable } from './pricing';

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
     * PROVIDER_PRICES: per-model prices laid over lib/pricing.ts's built-in table
     * (validated here so a typo stops the process at start; the ledger reads the
     * same variable through `activePrices()`).
     */
    priceOverrides: PriceTable;
  };
  /** How many chapters (and illustrations) one book works on at once. */
  chapterConcurrency: number;
  /** Added latency of each offline provider call (demos, crash tests, benchmarks). */
  offlineProviderDelayMs: number;
  logLevel: string;
  /** Browser origins allowed to call the API (CORS); empty allows none. */
  corsOrigins: string[];
  /** Requests a minute per signed-in user and per client address. */
  rateLimits: { userPerMinute: number; ipPerMinute: number };
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

function str(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return def;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `expected an integer, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `expected ${min}..${max}, got ${n}`);
  return n;
}

function num(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return def;
  if (!/^\d+(\.\d+)?$/.test(raw)) throw new ConfigError(name, `expected a number, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `expected ${min}..${max}, got ${n}`);
  return n;
}

function list(env: Env, name: string, def: string[], allowed: string[]): string[] {
  const raw = str(env, name);
  if (raw === undefined) return def;
  const items = raw.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  const bad = items.find((i) => !allowed.includes(i));
  if (bad !== undefined) throw new ConfigError(name, `unknown provider "${bad}" (expected ${allowed.join(', ')})`);
  if (items.length === 0) throw new ConfigError(name, 'lists no provider');
  return [...new Set(items)];
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = str(env, name);
  if (raw === undefined) return undefined;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ConfigError(name, 'is not a valid URL');
  }
  if (!protocols.includes(u.protocol)) {
    throw new ConfigError(name, `expected a ${protocols.join(' or ')} URL, got ${u.protocol}`);
  }
  return raw;
}

function origins(env: Env, name: string): string[] {
  const raw = str(env, name);
  if (raw === undefined) return [];
  return raw.split(',').map((o) => {
    const v = o.trim();
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      throw new ConfigError(name, `"${v}" is not an origin such as https://app.example.com`);
    }
    if (u.origin !== v.replace(/\/$/, '')) throw new ConfigError(name, `"${v}" is not a bare origin (scheme://host[:port])`);
    return u.origin;
  });
}

export function loadConfig(env: Env = process.env): Config {
  const dataDir = path.resolve(str(env, 'DATA_DIR') ?? './data');
  const temporalAddress = str(env, 'TEMPORAL_ADDRESS');
  if (temporalAddress !== undefined && !/^[\w.\-[\]:]+:\d+$/.test(temporalAddress)) {
    throw new ConfigError('TEMPORAL_ADDRESS', `expected host:port, got "${temporalAddress}"`);
  }
  return {
    port: int(env, 'PORT', 3000, 0, 65535),
    dataDir,
    temporal: {
      address: temporalAddress,
      port: int(env, 'TEMPORAL_PORT', 7233, 1, 65535),
      uiPort: int(env, 'TEMPORAL_UI_PORT', 8233, 1, 65535),
      namespace: str(env, 'TEMPORAL_NAMESPACE') ?? 'default',
      taskQueue: str(env, 'TEMPORAL_TASK_QUEUE') ?? 'ebooks',
      priorityTaskQueue:
        str(env, 'TEMPORAL_PRIORITY_TASK_QUEUE') ?? `${str(env, 'TEMPORAL_TASK_QUEUE') ?? 'ebooks'}-priority`,
    },
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    embeddedPostgresPort: int(env, 'EMBEDDED_PG_PORT', 5488, 1, 65535),
    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:']),
    clerk: {
      secretKey: str(env, 'CLERK_SECRET_KEY'),
      publishableKey: str(env, 'CLERK_PUBLISHABLE_KEY'),
      jwtKey: str(env, 'CLERK_JWT_KEY'),
      webhookSigningSecret: str(env, 'CLERK_WEBHOOK_SIGNING_SECRET'),
    },
    providers: {
      groqApiKey: str(env, 'GROQ_API_KEY'),
      groqBaseUrl: url(env, 'GROQ_BASE_URL', ['http:', 'https:']),
      openaiApiKey: str(env, 'OPENAI_API_KEY'),
      openaiBaseUrl: url(env, 'OPENAI_BASE_URL', ['http:', 'https:']),
      runwareApiKey: str(env, 'RUNWARE_API_KEY'),
      runwareUrl: url(env, 'RUNWARE_URL', ['ws:', 'wss:']),
      textProviders: list(env, 'TEXT_PROVIDERS', ['groq', 'openai'], ['groq', 'openai', 'local', 'offline']),
      textProvidersSet: str(env, 'TEXT_PROVIDERS') !== undefined,
      localModelPath: path.resolve(str(env, 'LOCAL_MODEL_PATH') ?? path.join(__dirname, '..', '.tools', 'models', 'gemma-3-270m-q4_k_m.gguf')),
      localModelThreads: str(env, 'LOCAL_MODEL_THREADS') === undefined ? undefined : int(env, 'LOCAL_MODEL_THREADS', 2, 1, 256),
      localModelSequences: str(env, 'LOCAL_MODEL_SEQUENCES') === undefined ? undefined : int(env, 'LOCAL_MODEL_SEQUENCES', 2, 1, 64),
      localChapterWords: str(env, 'LOCAL_MODEL_CHAPTER_WORDS') === undefined ? undefined : int(env, 'LOCAL_MODEL_CHAPTER_WORDS', 400, 60, 3000),
      imageProviders: list(env, 'IMAGE_PROVIDERS', ['runware', 'openai'], ['runware', 'openai', 'offline']),
      textModelGroq: str(env, 'TEXT_MODEL_GROQ') ?? 'openai/gpt-oss-120b',
      textModelOpenai: str(env, 'TEXT_MODEL_OPENAI') ?? 'gpt-4.1-mini',
      imageModelRunware: str(env, 'IMAGE_MODEL_RUNWARE') ?? 'runware:101@1',
      imageModelOpenai: str(env, 'IMAGE_MODEL_OPENAI') ?? 'gpt-image-1',
      textTemperature: num(env, 'TEXT_TEMPERATURE', 0.8, 0, 2),
      textMaxTokens: int(env, 'TEXT_MAX_TOKENS', 4096, 256, 200_000),
      timeoutMs: int(env, 'PROVIDER_TIMEOUT_MS', 120_000, 1000, 3_600_000),
      attemptBudget: int(env, 'PROVIDER_ATTEMPT_BUDGET', 3, 1, 100),
      breakerThreshold: int(env, 'PROVIDER_BREAKER_THRESHOLD', 5, 1, 1000),
      breakerCooldownMs: int(env, 'PROVIDER_BREAKER_COOLDOWN_MS', 30_000, 0, 3_600_000),
      priceOverrides: prices(env),
    },
    chapterConcurrency: int(env, 'CHAPTER_CONCURRENCY', 4, 1, 24),
    offlineProviderDelayMs: int(env, 'OFFLINE_PROVIDER_DELAY_MS', 0, 0, 600_000),
    logLevel: str(env, 'LOG_LEVEL') ?? 'info',
    corsOrigins: origins(env, 'CORS_ORIGINS'),
    rateLimits: {
      userPerMinute: int(env, 'RATE_LIMIT_USER_PER_MINUTE', 600, 1, 1_000_000),
      ipPerMinute: int(env, 'RATE_LIMIT_IP_PER_MINUTE', 1200, 1, 1_000_000),
    },
    s3: s3Config(env),
  };
}

function prices(env: Env): PriceTable {
  try {
    return parsePriceOverrides(str(env, 'PROVIDER_PRICES'));
  } catch (err) {
    throw new ConfigError('PROVIDER_PRICES', (err as Error).message.replace(/^PROVIDER_PRICES: /, ''));
  }
}

function bool(env: Env, name: string, def: boolean): boolean {
  const raw = str(env, name);
  if (raw === undefined) return def;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw new ConfigError(name, `expected "true" or "false", got "${raw}"`);
}

function s3Config(env: Env): Config['s3'] {
  const bucket = str(env, 'S3_BUCKET');
  // Validate even without a bucket, so a typo fails at start rather than when S3 is turned on.
  const forcePathStyle = bool(env, 'S3_FORCE_PATH_STYLE', false);
  const endpoint = url(env, 'S3_ENDPOINT', ['http:', 'https:']);
  const region = str(env, 'S3_REGION') ?? 'us-east-1';
  if (bucket === undefined) return undefined;
  if (!/^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new ConfigError('S3_BUCKET', `"${bucket}" is not a valid bucket name`);
  }
  const accessKeyId = str(env, 'AWS_ACCESS_KEY_ID');
  const secretAccessKey = str(env, 'AWS_SECRET_ACCESS_KEY');
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw new ConfigError(accessKeyId ? 'AWS_SECRET_ACCESS_KEY' : 'AWS_ACCESS_KEY_ID', 'set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither');
  }
  const credentials =
    accessKeyId && secretAccessKey
      ? { accessKeyId, secretAccessKey, sessionToken: str(env, 'AWS_SESSION_TOKEN') }
      : undefined;
  return { bucket, endpoint, region, forcePathStyle, credentials };
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
