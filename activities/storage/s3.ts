import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type PutObjectCommandInput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { contentTypeFor, type Storage, type StoredObject } from './types';

export interface S3StorageOptions {
  bucket: string;
  /** Unset: AWS's regional endpoint. Set for MinIO, R2, s3rver, ... */
  endpoint?: string;
  region: string;
  /** Path-style URLs (`endpoint/bucket/key`): what most S3-compatible servers want. */
  forcePathStyle: boolean;
  /** Unset: the SDK's default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profile, IAM role). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/** Bodies above this go up in parts: a failed part is retried alone, not the whole file. */
export const MULTIPART_THRESHOLD = 8 * 1024 * 1024;
const PART_SIZE = 8 * 1024 * 1024;
/** User metadata holding the body's SHA-256, so copy() can describe an object without reading it. */
const SHA_META = 'sha256';
/** Never written: ping() reads it to learn whether the bucket answers. */
const PING_KEY = '.ping-probe-never-written';

/**
 * Retries: the SDK's default standard mode (3 attempts in all, with backoff). Every call
 * runs inside a Temporal activity that has its own retry policy, so stacking a large SDK
 * retry budget on top would multiply attempts and push a stuck call past the activity's
 * timeout instead of failing it fast; a few SDK attempts still absorb a dropped connection
 * or a 503 SlowDown without burning a whole activity attempt (and its heartbeat history).
 */
const MAX_ATTEMPTS = 3;

export interface S3Storage extends Storage {
  readonly kind: 's3';
  /** The SDK client, for tests and tooling (e.g. to add middleware). */
  readonly client: S3Client;
  presignedUrl(key: string, o: { expiresInSeconds: number; downloadName?: string }): Promise<string>;
}

export function createS3Storage(opts: S3StorageOptions): S3Storage {
  const client = new S3Client({
    region: opts.region,
    endpoint: opts.endpoint,
    forcePathStyle: opts.forcePathStyle,
    credentials: opts.credentials,
    maxAttempts: MAX_ATTEMPTS,
    // The SDK waits forever on a silent socket by default; a hung connection should fail
    // (and be retried) long before the activity's own timeout. The request timeout is the
    // socket's idle time, so a long upload that keeps sending is never cut off.
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 60_000 },
  });
  const Bucket = opts.bucket;
  let headBucketRefused = false;

  const checkKey = (key: string): string => {
    // Same rule as local storage: keys are ours, a stray ".." or "//" is a bug upstream.
    if (!/^[\w\-./]+$/.test(key) || key.split('/').some((p) => p === '..' || p === '' || p === '.')) {
      throw new Error(`invalid storage key: ${key}`);
    }
    return key;
  };

  /** Downloads get a file name; images and JSON are shown inline. */
  const dispositionFor = (key: string, downloadName?: string): string | undefined => {
    const ext = key.slice(key.lastIndexOf('.') + 1).toLowerCase();
    if (!downloadName && ext !== 'pdf' && ext !== 'epub') return undefined;
    const name = downloadName ?? key.slice(key.lastIndexOf('/') + 1);
    const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
    // RFC 6266 `filename*` only when the name needs it: besides being shorter, it keeps
    // presigned URLs of ASCII names free of ' and *, which some S3-compatible servers
    // (s3rver among them) mis-encode when they check a signature.
    return ascii === name
      ? `attachment; filename="${name}"`
      : `attachment; filename="${ascii}"; filename*=UTF-8''${encodeRfc5987(name)}`;
  };

  const put = async (key: string, body: Buffer, o?: { contentType?: string }): Promise<StoredObject> => {
    checkKey(key);
    const described = describeBody(key, body, o?.contentType);
    const input: PutObjectCommandInput = {
      Bucket,
      Key: key,
      Body: body,
      ContentType: described.contentType,
      ContentDisposition: dispositionFor(key),
      Metadata: { [SHA_META]: described.sha256 },
    };
    if (body.length <= MULTIPART_THRESHOLD) {
      await client.send(new PutObjectCommand({ ...input, ContentLength: body.length }));
    } else {
      // lib-storage aborts the multipart upload on failure, so no orphaned parts accrue.
      await new Upload({ client, params: input, partSize: PART_SIZE, queueSize: 4, leavePartsOnError: false }).done();
    }
    return described;
  };

  const getStream = async (key: string): Promise<Readable> => {
    const res = await client.send(new GetObjectCommand({ Bucket, Key: checkKey(key) }));
    return res.Body as Readable;
  };

  const head = async (key: string) => {
    try {
      return await client.send(new HeadObjectCommand({ Bucket, Key: checkKey(key) }));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  };

  const listPage = async (prefix: string, ContinuationToken?: string) => {
    const res = await client.send(new ListObjectsV2Command({ Bucket, Prefix: checkPrefix(prefix), ContinuationToken }));
    const keys = (res.Contents ?? []).map((o) => o.Key!).filter(Boolean);
    return Object.assign(keys, { next: res.IsTruncated ? res.NextContinuationToken : undefined });
  };
  const listKeys = async (prefix: string): Promise<string[]> => {
    const all: string[] = [];
    let token: string | undefined;
    do {
      const page = await listPage(prefix, token);
      all.push(...page);
      token = page.next;
    } while (token);
    return all.sort();
  };
  // A prefix names a folder of our own keys: never empty, so erasure can never list the whole bucket.
  const checkPrefix = (prefix: string): string => {
    if (!prefix.endsWith('/')) throw new Error(`invalid storage prefix: ${prefix}`);
    checkKey(prefix.slice(0, -1));
    return prefix;
  };

  return {
    kind: 's3',
    client,
    put,
    async get(key) {
      const chunks: Buffer[] = [];
      for await (const chunk of await getStream(key)) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    },
    async head(key) {
      const h = await head(key);
      if (!h) return undefined;
      return { bytes: h.ContentLength ?? 0, contentType: h.ContentType ?? contentTypeFor(key) };
    },
    stream: getStream,
    async copy(fromKey, toKey) {
      checkKey(toKey);
      const src = await head(fromKey);
      if (!src) throw Object.assign(new Error(`no such key: ${fromKey}`), { code: 'ENOENT' });
      let sha256 = src.Metadata?.[SHA_META];
      if (!sha256) {
        // Written by something else: hash it once by streaming (never the whole body in memory).
        const hash = createHash('sha256');
        for await (const chunk of await getStream(fromKey)) hash.update(chunk as Buffer);
        sha256 = hash.digest('hex');
      }
      const contentType = contentTypeFor(toKey) === 'application/octet-stream' ? (src.ContentType ?? contentTypeFor(toKey)) : contentTypeFor(toKey);
      // Server-side copy: the bytes never pass through the worker. REPLACE so the target's
      // type and file name follow its own key, as local storage does. (CopyObject handles
      // up to 5 GB, far above any book.)
      await client.send(
        new CopyObjectCommand({
          Bucket,
          Key: toKey,
          CopySource: `${Bucket}/${fromKey.split('/').map(encodeURIComponent).join('/')}`,
          MetadataDirective: 'REPLACE',
          ContentType: contentType,
          ContentDisposition: dispositionFor(toKey),
          Metadata: { [SHA_META]: sha256 },
        }),
      );
      return { key: toKey, bytes: src.ContentLength ?? 0, sha256, contentType };
    },
    async delete(key) {
      // S3 answers 204 for a missing key too: delete is idempotent like local rm -f.
      await client.send(new DeleteObjectCommand({ Bucket, Key: checkKey(key) }));
    },
    list: listKeys,
    async deletePrefix(prefix) {
      let deleted = 0;
      // A page at a time (at most 1000 keys, DeleteObjects' own limit), until none is left.
      for (;;) {
        const page = await listPage(prefix);
        if (page.length === 0) return deleted;
        const res = await client.send(
          new DeleteObjectsCommand({ Bucket, Delete: { Objects: page.map((Key) => ({ Key })), Quiet: true } }),
        );
        if (res.Errors?.length) {
          const e = res.Errors[0];
          throw new Error(`S3 refused to delete ${res.Errors.length} object(s) under ${prefix}: ${e.Code} ${e.Message ?? ''}`.trim());
        }
        deleted += page.length;
      }
    },
    async ping() {
      // HeadBucket: one cheap signed request that proves endpoint, credentials and bucket.
      // Some S3-compatible servers (s3rver) refuse it with a bare 403 although object
      // requests work; then a GET of a key that does not exist tells the same thing: its
      // error body says NoSuchKey (all good) or NoSuchBucket / AccessDenied (not good).
      // (A HEAD cannot: its 404 has no body to tell a missing key from a missing bucket.)
      if (!headBucketRefused) {
        try {
          await client.send(new HeadBucketCommand({ Bucket }));
          return;
        } catch (err) {
          if (!(err instanceof S3ServiceException) || err.$metadata?.httpStatusCode !== 403) throw err;
          headBucketRefused = true;
        }
      }
      try {
        const res = await client.send(new GetObjectCommand({ Bucket, Key: PING_KEY }));
        (res.Body as Readable | undefined)?.destroy();
      } catch (err) {
        if (err instanceof S3ServiceException && err.name === 'NoSuchKey') return;
        throw err;
      }
    },
    async presignedUrl(key, o) {
      const cmd = new GetObjectCommand({
        Bucket,
        Key: checkKey(key),
        ResponseContentDisposition: o.downloadName ? dispositionFor(key, o.downloadName) : undefined,
      });
      return getSignedUrl(client, cmd, { expiresIn: o.expiresInSeconds });
    },
  };
}

function isNotFound(err: unknown): boolean {
  if (err instanceof S3ServiceException) {
    return err.$metadata?.httpStatusCode === 404 || err.name === 'NotFound' || err.name === 'NoSuchKey';
  }
  return false;
}

/** RFC 5987 value: encodeURIComponent leaves ' ( ) * unescaped, which the grammar forbids. */
function encodeRfc5987(s: string): string {
  return encodeURIComponent(s).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function describeBody(key: string, body: Buffer, contentType?: string): StoredObject {
  return {
    key,
    bytes: body.length,
    sha256: createHash('sha256').update(body).digest('hex'),
    contentType: contentType ?? contentTypeFor(key),
  };
}
