import path from 'node:path';
import type { Config } from '../../lib/config';
import { createLocalStorage } from './local';
import { createS3Storage } from './s3';
import type { Storage } from './types';

export type { Storage, StoredObject } from './types';

/**
 * The configured store: S3 when S3_BUCKET is set (credentials from the SDK's default
 * chain), else local files under `$DATA_DIR/files`, the embedded default.
 */
export function createStorage(config: Pick<Config, 'dataDir' | 's3'>): Storage {
  if (config.s3) return createS3Storage(config.s3);
  return createLocalStorage(path.join(config.dataDir, 'files'));
}
