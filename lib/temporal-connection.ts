/**
 * Options for `Connection.connect` (client) and `NativeConnection.connect`
 * (worker) from the environment alone, so the same image talks to the embedded
 * dev server, a self-hosted cluster (plain, TLS or mTLS) or Temporal Cloud (mTLS
 * or API key) without code changes.
 *
 * Variables (empty means unset):
 * - TEMPORAL_ADDRESS            host:port (unset: the embedded dev server on 127.0.0.1:$TEMPORAL_PORT)
 * - TEMPORAL_NAMESPACE          namespace (default `default`)
 * - TEMPORAL_TLS                `true` for server-side TLS with the system roots; implied by the others
 * - TEMPORAL_TLS_CERT / _KEY    client certificate and key files (mTLS)
 * - TEMPORAL_TLS_CERT_DATA / _KEY_DATA  the same as PEM text (secrets managers that inject values)
 * - TEMPORAL_TLS_CA             the server's root CA file, when not a public one
 * - TEMPORAL_TLS_SERVER_NAME    TLS server name (SNI) override
 * - TEMPORAL_API_KEY            Temporal Cloud API key (TLS on, bearer auth, temporal-namespace header)
 *
 * A bad combination fails with a ConfigError naming the variable. Secrets never
 * appear in errors or in `describeTemporalConnection`.
 */
import fs from 'node:fs';
import { ConfigError } from './config';

type Env = Record<string, string | undefined>;

export interface TemporalTlsOptions {
  serverNameOverride?: string;
  serverRootCACertificate?: Buffer;
  clientCertPair?: { crt: Buffer; key: Buffer };
}

/** Structurally accepted by both `Connection.connect` and `NativeConnection.connect`. */
export interface TemporalConnectionOptions {
  address: string;
  tls?: TemporalTlsOptions | true;
  apiKey?: string;
  metadata?: Record<string, string>;
}

function str(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----/;
const PEM_KEY = /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/;

/** Reads a PEM file named by `name`; the path may be logged, the contents never. */
function readPem(env: Env, name: string, kind: 'certificate' | 'key'): Buffer {
  const file = str(env, name)!;
  let data: Buffer;
  try {
    data = fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(name, `cannot read ${file} (${code})`);
  }
  checkPem(name, data.toString('utf8'), kind, `${file} is`);
  return data;
}

function checkPem(name: string, text: string, kind: 'certificate' | 'key', what: string): void {
  const re = kind === 'certificate' ? PEM_CERT : PEM_KEY;
  if (!re.test(text)) throw new ConfigError(name, `${what} not a PEM ${kind === 'key' ? 'private key' : 'certificate'}`);
}

/** A PEM value passed inline; escaped newlines (one-line env files) are restored. */
function inlinePem(env: Env, name: string, kind: 'certificate' | 'key'): Buffer {
  const text = str(env, name)!.replace(/\\n/g, '\n');
  checkPem(name, text, kind, 'the value is');
  return Buffer.from(text.endsWith('\n') ? text : `${text}\n`, 'utf8');
}

/** Either the file variable or the inline one, never both. */
function pemFrom(env: Env, fileVar: string, dataVar: string, kind: 'certificate' | 'key'): Buffer | undefined {
  const file = str(env, fileVar);
  const data = str(env, dataVar);
  if (file && data) throw new ConfigError(fileVar, `set either ${fileVar} or ${dataVar}, not both`);
  if (file) return readPem(env, fileVar, kind);
  if (data) return inlinePem(env, dataVar, kind);
  return undefined;
}

export function temporalNamespace(env: Env = process.env): string {
  return str(env, 'TEMPORAL_NAMESPACE') ?? 'default';
}

export function temporalConnectionOptions(env: Env = process.env): TemporalConnectionOptions {
  const explicitAddress = str(env, 'TEMPORAL_ADDRESS');
  if (explicitAddress !== undefined && !/^[\w.\-[\]:]+:\d+$/.test(explicitAddress)) {
    throw new ConfigError('TEMPORAL_ADDRESS', `expected host:port, got "${explicitAddress}"`);
  }
  const portRaw = str(env, 'TEMPORAL_PORT') ?? '7233';
  if (!/^\d+$/.test(portRaw) || Number(portRaw) < 1 || Number(portRaw) > 65535) {
    throw new ConfigError('TEMPORAL_PORT', `expected 1..65535, got "${portRaw}"`);
  }
  const address = explicitAddress ?? `127.0.0.1:${portRaw}`;

  const tlsFlag = str(env, 'TEMPORAL_TLS');
  if (tlsFlag !== undefined && !/^(true|false|1|0)$/i.test(tlsFlag)) {
    throw new ConfigError('TEMPORAL_TLS', `expected true or false, got "${tlsFlag}"`);
  }
  const apiKey = str(env, 'TEMPORAL_API_KEY');
  const certSet = str(env, 'TEMPORAL_TLS_CERT') ?? str(env, 'TEMPORAL_TLS_CERT_DATA');
  const keySet = str(env, 'TEMPORAL_TLS_KEY') ?? str(env, 'TEMPORAL_TLS_KEY_DATA');
  const caSet = str(env, 'TEMPORAL_TLS_CA');
  const serverName = str(env, 'TEMPORAL_TLS_SERVER_NAME');

  const anySecurity = Boolean(apiKey || certSet || keySet || caSet || serverName || /^(true|1)$/i.test(tlsFlag ?? ''));
  if (anySecurity && explicitAddress === undefined) {
    // The embedded dev server speaks plain gRPC only: credentials there are a mistake.
    const which = apiKey ? 'TEMPORAL_API_KEY' : certSet ? 'TEMPORAL_TLS_CERT' : caSet ? 'TEMPORAL_TLS_CA' : 'TEMPORAL_TLS';
    throw new ConfigError(which, 'needs TEMPORAL_ADDRESS (the embedded dev server takes no TLS or credentials)');
  }
  if (/^(false|0)$/i.test(tlsFlag ?? '') && (apiKey || certSet || keySet || caSet || serverName)) {
    throw new ConfigError('TEMPORAL_TLS', 'is false, but TLS variables or TEMPORAL_API_KEY are set');
  }
  if (apiKey && (certSet || keySet)) {
    throw new ConfigError('TEMPORAL_API_KEY', 'set either an API key or a client certificate (TEMPORAL_TLS_CERT), not both');
  }
  if (certSet && !keySet) throw new ConfigError('TEMPORAL_TLS_KEY', 'is required with TEMPORAL_TLS_CERT');
  if (keySet && !certSet) throw new ConfigError('TEMPORAL_TLS_CERT', 'is required with TEMPORAL_TLS_KEY');

  const options: TemporalConnectionOptions = { address };
  if (!anySecurity) return options;

  const tls: TemporalTlsOptions = {};
  if (certSet) {
    tls.clientCertPair = {
      crt: pemFrom(env, 'TEMPORAL_TLS_CERT', 'TEMPORAL_TLS_CERT_DATA', 'certificate')!,
      key: pemFrom(env, 'TEMPORAL_TLS_KEY', 'TEMPORAL_TLS_KEY_DATA', 'key')!,
    };
  }
  if (caSet) tls.serverRootCACertificate = readPem(env, 'TEMPORAL_TLS_CA', 'certificate');
  if (serverName) tls.serverNameOverride = serverName;
  options.tls = Object.keys(tls).length > 0 ? tls : true;

  if (apiKey) {
    options.apiKey = apiKey;
    // Temporal Cloud routes API-key requests by this header.
    options.metadata = { 'temporal-namespace': temporalNamespace(env) };
  }
  return options;
}

/** What is safe to log about a connection: address and kind of security, no secrets. */
export function describeTemporalConnection(options: TemporalConnectionOptions): {
  address: string;
  security: 'none' | 'tls' | 'mtls' | 'api-key';
} {
  const tls = options.tls;
  const security = options.apiKey
    ? 'api-key'
    : tls && tls !== true && tls.clientCertPair
      ? 'mtls'
      : tls
        ? 'tls'
        : 'none';
  return { address: options.address, security };
}
