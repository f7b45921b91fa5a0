/**
 * What the browser tests share: the built SPA (api/web.ts) in front of the real
 * engine app on a loopback port, Debian's chromium, and screenshots.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type RequestHandler } from 'express';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { TestStack } from '../helpers/stack';
import { createApp } from '../../api/app';
import { createWebRouter } from '../../api/web';
import { clerkSettings } from '../../lib/dev-keys';
import { createLogger } from '../../lib/logger';
import { buildWeb } from '../../scripts/build-web';

const ROOT = path.resolve(__dirname, '..', '..');
export const DIST = path.join(ROOT, 'web', 'dist');
export const SHOTS = path.join(ROOT, 'test-output', 'screenshots');
export const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

/** Builds the SPA once per test file and makes the screenshot folder. */
export async function prepareWeb(): Promise<void> {
  buildWeb({ quiet: true });
  await fs.access(path.join(DIST, 'index.html'));
  await fs.mkdir(SHOTS, { recursive: true });
}

export interface WebServer {
  base: string;
  close(): Promise<void>;
}

/**
 * Listens on a loopback port with the web router, then (unless `api: false`)
 * the engine's app. `before` runs ahead of both (to disturb requests on purpose).
 */
export async function startWebServer(
  stack: TestStack,
  opts: { before?: RequestHandler; clerkPublishableKey?: string; api?: false } = {},
): Promise<WebServer> {
  const app = express();
  if (opts.before) app.use(opts.before);
  app.use(createWebRouter({ devKeys: stack.devKeys, dataDir: stack.dataDir, distDir: DIST, clerkPublishableKey: opts.clerkPublishableKey }));
  if (opts.api !== false) {
    app.use(
      createApp({
        services: stack.services,
        temporal: stack.client,
        auth: clerkSettings(stack.config),
        log: createLogger('web-test', 'warn'),
        taskQueue: stack.taskQueue,
        chapterConcurrency: stack.config.chapterConcurrency,
      }),
    );
  }
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

export const shot = (page: Page, name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
