/**
 * Replays committed histories of real runs against today's workflow code: a
 * change that would make running books non-deterministic fails here, before
 * it reaches a worker with books in flight.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { loadWorkflowBundle } from '../../workers/bundle';

const FIXTURES = path.resolve(__dirname, '..', 'fixtures');

describe('workflow replay', function () {
  const files = fs.readdirSync(FIXTURES).filter((f) => f.endsWith('.history.json'));

  it('has recorded histories to replay', () => {
    assert.ok(files.length > 0);
  });

  for (const file of files) {
    it(`replays ${file} without non-determinism`, async () => {
      // The JSON that `temporal workflow show -o json` prints; the worker parses it.
      const history = JSON.parse(fs.readFileSync(path.join(FIXTURES, file), 'utf8'));
      const workflowBundle = await loadWorkflowBundle(path.join(os.tmpdir(), 'ebook-engine-test-bundles'));
      // Rejects with a DeterminismViolationError when the code no longer matches the history.
      await Worker.runReplayHistory({ workflowBundle }, history);
    });
  }
});
