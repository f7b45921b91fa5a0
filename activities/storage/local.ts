import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { contentTypeFor, type Storage, type StoredObject } from './types';

/** Files under a root folder: the embedded default when no S3 bucket is configured. */
export function createLocalStorage(root: string): Storage {
  const resolve = (key: string): string => {
    if (!/^[\w\-./]+$/.test(key) || key.split('/').some((p) => p === '..' || p === '')) {
      throw new Error(`invalid storage key: ${key}`);
    }
    return path.join(root, key);
  };

  const put = async (key: string, body: Buffer, opts?: { contentType?: string }) => {
    const file = resolve(key);
    await fs.mkdir(path.dirname(file), { recursive: true });
    // Write then rename: a reader never sees a half-written file, and a crash
    // mid-write leaves the previous version in place.
    const tmp = `${file}.${randomUUID()}.tmp`;
    await fs.writeFile(tmp, body);
    await fs.rename(tmp, file);
    return describe(key, body, opts?.contentType);
  };

  return {
    kind: 'local',
    put,
    async get(key) {
      return fs.readFile(resolve(key));
    },
    async head(key) {
      try {
        const st = await fs.stat(resolve(key));
        return { bytes: st.size, contentType: contentTypeFor(key) };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
    async stream(key): Promise<Readable> {
      const file = resolve(key);
      await fs.access(file);
      return createReadStream(file);
    },
    async copy(fromKey, toKey) {
      return put(toKey, await fs.readFile(resolve(fromKey)));
    },
    async delete(key) {
      await fs.rm(resolve(key), { force: true });
    },
    async ping() {
      await fs.mkdir(root, { recursive: true });
      await fs.access(root, fs.constants.W_OK);
    },
  };
}

export function describe(key: string, body: Buffer, contentType?: string): StoredObject {
  return {
    key,
    bytes: body.length,
    sha256: createHash('sha256').update(body).digest('hex'),
    contentType: contentType ?? contentTypeFor(key),
  };
}
