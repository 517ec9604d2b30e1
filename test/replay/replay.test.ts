/**
 * Determinism: every recorded history (test/histories, re-recorded with `npm run record-histories`) replays
 * against the current workflow code. A change that breaks replay fails here; see docs/replay.md for when to use
 * `patched()` instead of re-recording.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Worker, type WorkflowBundle } from '@temporalio/worker';
import * as workflows from '../../workflows';
import { bundle } from '../support/temporal';
import { HISTORIES_DIR, readFixture, readManifest } from './fixtures';

const fixtures = readManifest();
let workflowBundle: WorkflowBundle;

beforeAll(async () => {
  workflowBundle = await bundle();
}, 120_000);

test('there are fixtures, and every workflow the worker registers has at least one', () => {
  const registered = Object.entries(workflows).filter(([, v]) => typeof v === 'function').map(([k]) => k).sort();
  const recorded = [...new Set(fixtures.map((f) => f.workflowType))].sort();
  expect(registered.filter((w) => !recorded.includes(w))).toEqual([]);
  expect(recorded.filter((w) => !registered.includes(w))).toEqual([]);
});

test('the manifest and the files agree: no fixture missing, none unlisted', () => {
  const onDisk = fs
    .readdirSync(HISTORIES_DIR, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.json') && f !== 'manifest.json')
    .map((f) => f.split(path.sep).join('/'))
    .sort();
  expect(onDisk).toEqual(fixtures.map((f) => f.file).sort());
});

test.each(fixtures.map((f) => [f.file, f] as const))('%s replays without a determinism violation', async (_file, fixture) => {
  await Worker.runReplayHistory({ workflowBundle, replayName: fixture.file }, readFixture(fixture), fixture.workflowId);
});
