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

  const list = async (prefix: string): Promise<string[]> => {
    // A prefix names a folder (`ebooks/<id>/`): walk it. The temporary files of a write
    // in progress are objects-to-be and are listed (and erased) too.
    if (!prefix.endsWith('/')) throw new Error(`invalid storage prefix: ${prefix}`);
    const dir = resolve(prefix.slice(0, -1));
    try {
      const found = await fs.readdir(dir, { recursive: true, withFileTypes: true });
      return found
        .filter((d) => d.isFile())
        .map((d) => path.relative(root, path.join(d.parentPath, d.name)).split(path.sep).join('/'))
        .sort();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return [];
      throw err;
    }
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
    list,
    async deletePrefix(prefix) {
      const found = await list(prefix);
      await fs.rm(resolve(prefix.slice(0, -1)), { recursive: true, force: true });
      return found.length;
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
