import type { Readable } from 'node:stream';

export interface StoredObject {
  key: string;
  bytes: number;
  sha256: string;
  contentType: string;
}

/**
 * Where chapter text, images and rendered files live. Activities store content
 * here and pass keys around, so workflow history only ever holds references.
 */
export interface Storage {
  readonly kind: 'local' | 's3';
  put(key: string, body: Buffer, opts?: { contentType?: string }): Promise<StoredObject>;
  get(key: string): Promise<Buffer>;
  /** Undefined when the key does not exist. */
  head(key: string): Promise<{ bytes: number; contentType: string } | undefined>;
  stream(key: string): Promise<Readable>;
  copy(fromKey: string, toKey: string): Promise<StoredObject>;
  delete(key: string): Promise<void>;
  /** Every key under a prefix (e.g. `ebooks/<id>/`), so erasure finds what no row names any more. */
  list(prefix: string): Promise<string[]>;
  /** Deletes every object under a prefix; resolves to how many there were. */
  deletePrefix(prefix: string): Promise<number>;
  /** Cheap reachability check for /readyz. */
  ping(): Promise<void>;
  /**
   * A time-limited URL that fetches the object directly from the store (S3 only), so a
   * download need not stream through the API. `downloadName` sets the file name it saves as.
   */
  presignedUrl?(key: string, opts: { expiresInSeconds: number; downloadName?: string }): Promise<string>;
}

const TYPES: Record<string, string> = {
  '.pdf': 'application/pdf',
  '.epub': 'application/epub+zip',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

export function contentTypeFor(key: string): string {
  const dot = key.lastIndexOf('.');
  return (dot >= 0 && TYPES[key.slice(dot).toLowerCase()]) || 'application/octet-stream';
}

/** Keys name the book so an operator can find every object of one book. */
export const keys = {
  outline: (ebookId: string) => `ebooks/${ebookId}/outline.json`,
  // A rewrite gets keys of its own, so the published version's sources stay intact.
  chapter: (ebookId: string, index: number, revision?: number) =>
    `ebooks/${ebookId}/chapters/${String(index).padStart(2, '0')}${revision ? `.r${revision}` : ''}.json`,
  illustration: (ebookId: string, index: number, ext: string, revision?: number) =>
    `ebooks/${ebookId}/images/chapter-${String(index).padStart(2, '0')}${revision ? `.r${revision}` : ''}.${ext}`,
  cover: (ebookId: string, ext: string, revision?: number) =>
    `ebooks/${ebookId}/images/cover${revision ? `.r${revision}` : ''}.${ext}`,
  draft: (ebookId: string, name: string) => `ebooks/${ebookId}/draft/${name}`,
  published: (ebookId: string, version: number, name: string) =>
    `ebooks/${ebookId}/v${version}/${name}`,
};
