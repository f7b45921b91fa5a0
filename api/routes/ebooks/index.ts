/**
 * Everything under `/v1/ebooks`: one router, its routes added file by file
 * (create, read, manage, change part of a book, publish, illustrations, the
 * outline's review). For each
 * HTTP method the routes are tried in the order they always were, and no two paths
 * overlap anyway. The public `/shared/ebooks` router lives in sharing.ts; app.ts
 * mounts it outside /v1.
 */
import { Router } from 'express';
import { createBookCache } from '../../book-cache';
import { createStatusCache } from '../../status-cache';
import type { EbookRouterDeps, EbookRoutes } from './deps';
import { createRoutes } from './create';
import { readRoutes } from './read';
import { manageRoutes } from './manage';
import { stepRoutes } from './steps';
import { publishRoutes } from './sharing';
import { imageRoutes } from './images';
import { reviewRoutes } from './review';

export type { EbookRouterDeps } from './deps';
export { sharedRouter } from './sharing';

const ROUTES: readonly EbookRoutes[] = [createRoutes, readRoutes, manageRoutes, stepRoutes, publishRoutes, imageRoutes, reviewRoutes];

export function ebookRouter(deps: EbookRouterDeps): Router {
  const router = Router();
  const resolved = {
    ...deps,
    bookCache: deps.bookCache ?? createBookCache(),
    statusCache: deps.statusCache ?? createStatusCache(),
  };
  for (const add of ROUTES) add(router, resolved);
  return router;
}
