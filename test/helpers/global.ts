/**
 * Mocha global fixtures. Services (Temporal, PostgreSQL, ...) are started lazily
 * by the helpers that need them and register their teardown here, so running
 * one unit test file starts nothing it does not use.
 */
/**
 * Tests are written against the instant offline writer unless they ask for the local model
 * (TEXT_PROVIDERS=local with LOCAL_MODEL_PATH, as test/e2e/local-model.test.ts does): with the
 * model installed, a keyless engine would otherwise pick it. Spawned engine processes inherit this.
 */
export const NO_LOCAL_MODEL = '/nonexistent/no-local-model-in-tests.gguf';
process.env.LOCAL_MODEL_PATH ??= NO_LOCAL_MODEL;

const teardowns: Array<() => Promise<void>> = [];

export function onGlobalTeardown(fn: () => Promise<void>): void {
  teardowns.push(fn);
}

export async function mochaGlobalTeardown(): Promise<void> {
  for (const fn of teardowns.reverse()) {
    try {
      await fn();
    } catch (err) {
      console.error('teardown failed:', err);
    }
  }
}
