import path from 'node:path';

/**
 * The one typed configuration of the engine, read from the environment once and
 * shared by the API, the workers and the scripts. Every variable is optional:
 * unset means the embedded default (see CONTRACT.md). A bad value fails fast
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
  };
  /** How many chapters (and illustrations) one book works on at once. */
  chapterConcurrency: number;
  /** Added latency of each offline provider call (demos, crash tests, benchmarks). */
  offlineProviderDelayMs: number;
  logLevel: string;
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
    },
    chapterConcurrency: int(env, 'CHAPTER_CONCURRENCY', 4, 1, 24),
    offlineProviderDelayMs: int(env, 'OFFLINE_PROVIDER_DELAY_MS', 0, 0, 600_000),
    logLevel: str(env, 'LOG_LEVEL') ?? 'info',
  };
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
