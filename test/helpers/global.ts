/**
 * Mocha global fixtures. Services (Temporal, PostgreSQL, ...) are started lazily
 * by the helpers that need them and register their teardown here, so running
 * one unit test file starts nothing it does not use.
 */
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
