/**
 * Replays committed histories of real runs against today's workflow code: a
 * change that would make running books non-deterministic fails here, before
 * it reaches a worker with books in flight.
 *
 * test/fixtures/*.history.json hold one real run of every workflow type the
 * worker registers (workflows/index.ts). ebook-3-chapters is the main book
 * workflow, ebook-outline-review one that waited for its outline review (issue
 * 19); the others are recorded, on purpose only, with
 *
 *   TEST_DATABASE_URL=postgres://postgres@127.0.0.1:55432/postgres npx tsx scripts/record-histories.ts
 *
 * which runs them through the real stack and overwrites their fixtures. Do not
 * re-record to make this test pass after a workflow change: gate the change
 * behind `patched()` instead, since runs recorded by the old code are still in
 * flight.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { loadWorkflowBundle } from '../../workers/bundle';
import * as workflows from '../../workflows';

const FIXTURES = path.resolve(__dirname, '..', 'fixtures');

// The JSON that `temporal workflow show -o json` prints; the worker parses it.
const readHistory = (file: string) => JSON.parse(fs.readFileSync(path.join(FIXTURES, file), 'utf8'));
const workflowTypeOf = (history: any): string =>
  history.events[0].workflowExecutionStartedEventAttributes.workflowType.name;

describe('workflow replay', function () {
  const files = fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.history.json')).sort();

  it('has a recorded history for every workflow type the worker registers', () => {
    const recorded = new Set(files.map((f) => workflowTypeOf(readHistory(f))));
    const missing = Object.keys(workflows).filter((name) => !recorded.has(name));
    assert.deepEqual(missing, [], 'record them with scripts/record-histories.ts');
  });

  for (const file of files) {
    it(`replays ${file} without non-determinism`, async () => {
      const history = readHistory(file);
      const workflowBundle = await loadWorkflowBundle(path.join(os.tmpdir(), 'ebook-engine-test-bundles'));
      // Rejects with a DeterminismViolationError when the code no longer matches the history.
      await Worker.runReplayHistory({ workflowBundle }, history);
    });
  }
});
