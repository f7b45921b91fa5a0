/**
 * What the book routes are built from. Each file in this folder registers its
 * routes on the one router index.ts makes, with these deps (caches resolved).
 */
import type { Router } from 'express';
import type { Client } from '@temporalio/client';
import type { Services } from '../../../wiring/services';
import type { Logger } from '../../../lib/logger';
import type { BookCache } from '../../book-cache';
import type { StatusCache } from '../../status-cache';

export interface EbookRouterDeps {
  services: Services;
  temporal: Client;
  taskQueue: string;
  priorityTaskQueue?: string;
  chapterConcurrency: number;
  /** How long a book started with `review` waits for its owner (REVIEW_TIMEOUT). */
  reviewTimeoutMs?: number;
  log: Logger;
  /** Chapter text read by GET /ebooks/{id}; a process-local one when not given. */
  bookCache?: BookCache;
  /** Recent status answers (api/status-cache.ts); a process-local one when not given. */
  statusCache?: StatusCache;
}

export type EbookRoutesDeps = EbookRouterDeps & { bookCache: BookCache; statusCache: StatusCache };

/** One file's routes, added to the shared router in the order index.ts gives. */
export type EbookRoutes = (router: Router, deps: EbookRoutesDeps) => void;
