/**
 * With payload encryption on, the Temporal Web UI (dev server, UI 2.42) shows plaintext only through
 * `runbook codec-server`: a real `form` runbook on a lab, run by a worker and started by a client that both use the
 * AES-GCM codec (key file), waits for its plan approval; the dev server's UI has `--ui-codec-endpoint` (as
 * `runbook dev --ui-codec-endpoint` sets it) pointing at the real CLI's codec server, and a headless Chromium reads
 * the pages. The browser calls the codec server itself, so CORS decides: the same pages stay ciphertext when the
 * codec server does not allow the UI's origin, and when it is stopped.
 * Screenshots and page HTML land in test-artifacts/ui/runbook-ui-codec/.
 */
import { spawn } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { Client, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter, METADATA_ENCODING_KEY, type Payload } from '@temporalio/common';
import type { Page } from 'playwright-core';
import type { CommandRecord } from '../../common/audit';
import { progressQuery } from '../../common/messages';
import { runbookStartOptions } from '../../cli/start-options';
import { createDataConverter } from '../../codec/data-converter';
import { ENCRYPTED_ENCODING } from '../../codec/encryption';
import { decodeHistory } from '../../codec/history';
import { loadKeyring } from '../../codec/keys';
import type { Lab } from '../../lab';
import type { FormSurvey } from '../../common/form';
import { expectText, expectVisible, freePort, openBrowser, pageText, UI_TIMEOUT, type UiBrowser } from '../support/browser';
import { useServerSuite } from '../support/e2e';
import { waitFor } from '../support/lab';
import { CLI_MAIN, REPO_ROOT, TEST_IDENTITY } from '../support/temporal';
import { FAST_TIMING } from './form-support';

/** Base64 of "binary/encrypted": how the UI prints the metadata of a payload it could not decode. */
const ENCRYPTED_B64 = Buffer.from(ENCRYPTED_ENCODING).toString('base64');
const CODEC_UNREACHABLE = 'Codec Server could not connect';

/** The UI's data encoder status: the header icon (success or error) and, on error, the banner under the title. */
async function expectCodecStatus(page: Page, ok: boolean): Promise<void> {
  await expectVisible(page.getByTestId(ok ? 'data-encoder-status-success' : 'data-encoder-status-error'), 'data encoder status icon');
  const banner = page.locator('p', { hasText: CODEC_UNREACHABLE });
  if (ok) expect(await banner.count()).toBe(0);
  else await expectVisible(banner, 'codec server banner');
}

interface CodecServerProcess {
  output(): string;
  stop(): Promise<void>;
}

/** `runbook codec-server` as a user starts it, from dist/; resolves once it listens. */
async function spawnCodecServer(port: number, keyFile: string, allowOrigins: string[]): Promise<CodecServerProcess> {
  const args = [CLI_MAIN, 'codec-server', '--port', String(port), ...allowOrigins.flatMap((o) => ['--allow-origin', o])];
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, RUNBOOK_CODEC_KEY_FILE: keyFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await Promise.race([
    waitFor('runbook codec-server to listen', () => out.includes(`listening on http://127.0.0.1:${port}`), 20_000, 50),
    exited.then((code) => Promise.reject(new Error(`runbook codec-server exited with ${code}:\n${out}`))),
  ]);
  return {
    output: () => out,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Every string and byte array in a value, as text: where plaintext would show if it leaked. */
function texts(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (value instanceof Uint8Array) out.push(Buffer.from(value).toString('latin1'));
  else if (Array.isArray(value)) value.forEach((v) => texts(v, out));
  else if (value && typeof value === 'object') Object.values(value).forEach((v) => texts(v, out));
  return out;
}

const encodingOf = (p: Payload | null | undefined) => Buffer.from(p?.metadata?.[METADATA_ENCODING_KEY] ?? []).toString();

describe('Temporal Web UI with payload encryption, through runbook codec-server', () => {
  let uiUrl: string;
  let codecPort: number;
  const suite = useServerSuite({
    name: 'ui-codec',
    temporal: async () => {
      const uiPort = await freePort();
      codecPort = await freePort();
      uiUrl = `http://127.0.0.1:${uiPort}`;
      return { uiPort, uiCodecEndpoint: `http://127.0.0.1:${codecPort}` };
    },
  });
  let keyFile: string;
  let lab: Lab;
  let handle: WorkflowHandle;
  let runId: string;
  let codecServer: CodecServerProcess | undefined;
  let ui: UiBrowser;
  /** Plaintext that only decoding can show: the survey activity's result, with the commands it ran. */
  let survey: FormSurvey & { commands: CommandRecord[] };
  let commandLine: string;
  let primaryLine: string;
  const activitySummary = 'pre-flight and plan for 4 nodes';
  let staticSummary: string;

  async function useCodecServer(allowOrigins: string[] | 'stopped'): Promise<void> {
    await codecServer?.stop();
    codecServer = undefined;
    if (allowOrigins !== 'stopped') codecServer = await spawnCodecServer(codecPort, keyFile, allowOrigins);
  }

  const historyUrl = () => `${uiUrl}/namespaces/default/workflows/${handle.workflowId}/${runId}/history`;
  const metadataUrl = () => `${uiUrl}/namespaces/default/workflows/${handle.workflowId}/${runId}/user-metadata`;

  beforeAll(async () => {
    keyFile = path.join(suite.stateDir, 'codec.key');
    fs.writeFileSync(keyFile, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    lab = await suite.lab({ name: 'uic', controlPlanes: 3, workers: 1, channel: '1.28/stable', profile: 'fast' });
    // The same key file and converter as `runbook worker` and the CLI with RUNBOOK_CODEC_KEY_FILE set.
    const dataConverter = createDataConverter(loadKeyring({ RUNBOOK_CODEC_KEY_FILE: keyFile })!);
    const worker = await suite.worker({ dataConverter });
    const client = new Client({ connection: suite.env.connection, namespace: suite.env.namespace ?? 'default', dataConverter });
    const { inventory } = lab;
    staticSummary = `form ${inventory.cluster}: 3 control-plane, 1 worker node(s)`;
    handle = await client.workflow.start(
      'form',
      runbookStartOptions(
        { kind: 'form', inventory, input: { timing: FAST_TIMING }, summary: staticSummary },
        { taskQueue: worker.taskQueue, identity: TEST_IDENTITY },
      ),
    );
    suite.defer(async () => {
      await handle.terminate('ui test done').catch(() => undefined);
    });
    runId = (await handle.describe()).runId;
    await waitFor('the plan approval', async () => (await handle.query(progressQuery)).pendingApproval?.summary.startsWith('start: form'), 60_000, 200);

    const decoded = await decodeHistory(await handle.fetchHistory(), dataConverter);
    const completed = decoded.events!.find((e) => e.activityTaskCompletedEventAttributes)!.activityTaskCompletedEventAttributes!;
    survey = defaultPayloadConverter.fromPayload(completed.result!.payloads![0]);
    // A command line as run on k8s-1: it holds the node's private paths under the lab directory.
    commandLine = survey.commands.find((c) => c.node === 'k8s-1' && c.command.includes(lab.dir) && !c.command.includes('"'))!.command;
    primaryLine = `primary: k8s-1 (${lab.nodes[0].address}), a new cluster`;
    expect(survey.lines).toContain(primaryLine);

    // Whichever codec server the tests left running.
    suite.defer(async () => {
      await codecServer?.stop();
    });
    await useCodecServer([uiUrl]);
    ui = await openBrowser('runbook-ui-codec');
    suite.defer(() => ui.close());
  }, 180_000);

  /** The history page as the UI shows it once it has tried to decode (the Input panel is filled either way). */
  async function openHistory(page: Page, decodedInput: boolean): Promise<void> {
    await page.goto(historyUrl());
    await expectText(page, decodedInput ? lab.knownHostsPath : ENCRYPTED_B64, 'workflow input');
  }

  /** Opens the activity's group of events (scheduled, started, completed) with its full input and result. */
  async function expandActivity(page: Page): Promise<void> {
    const completed = page.locator('tr', { hasText: 'Activity Task Completed' }).first();
    await expectVisible(completed, 'event history');
    await completed.click();
  }

  /** The frame of the Current Details panel (UI 2.42 renders the markdown in an iframe). */
  function currentDetails(page: Page) {
    return page
      .locator('div')
      .filter({ has: page.locator('h3', { hasText: 'Current Details' }) })
      .filter({ has: page.locator('iframe') })
      .last()
      .locator('iframe')
      .contentFrame();
  }

  test('Temporal stores ciphertext only: payloads, the workflow and activity summaries, and no plaintext', async () => {
    const raw = await suite.env.client.workflow.getHandle(handle.workflowId).fetchHistory();
    const scheduled = raw.events!.find((e) => e.activityTaskScheduledEventAttributes)!;
    const started = raw.events!.find((e) => e.workflowExecutionStartedEventAttributes)!;
    // SDK 1.24 runs user metadata (summaries) through the codec like any payload: the UI must decode them too.
    expect(encodingOf(scheduled.userMetadata?.summary)).toBe(ENCRYPTED_ENCODING);
    expect(encodingOf(started.userMetadata?.summary)).toBe(ENCRYPTED_ENCODING);
    expect(encodingOf(started.workflowExecutionStartedEventAttributes!.input!.payloads![0])).toBe(ENCRYPTED_ENCODING);
    const all = texts(raw);
    for (const plain of [lab.knownHostsPath, commandLine, primaryLine, activitySummary, staticSummary]) {
      expect(all.filter((t) => t.includes(plain))).toEqual([]);
    }
  });

  test('with the codec server, the history shows the decoded input, summaries, result and command lines', async () => {
    await ui.check('decoded-history', async (page) => {
      await openHistory(page, true);
      const scheduled = page.locator('tr', { hasText: 'Activity Task Scheduled' }).filter({ hasText: 'surveyFormation' });
      await expectVisible(scheduled.getByText(activitySummary, { exact: true }), 'Activity Task Scheduled row');
      const started = page.locator('tr', { hasText: 'Workflow Execution Started' });
      await expectVisible(started.getByText(staticSummary), 'Workflow Execution Started row');
      await expandActivity(page);
      await expectText(page, primaryLine, 'activity result');
      await expectText(page, commandLine, 'commands in the activity result');
      await expectCodecStatus(page, true);
    });
  });

  test('with the codec server, the current details show the pending plan approval', async () => {
    await ui.check('decoded-current-details', async (page) => {
      await page.goto(metadataUrl());
      const details = currentDetails(page);
      await expectVisible(details.getByText(`Waiting for approval: start: form ${lab.inventory.cluster} from k8s-1`), 'current details');
      await expectVisible(details.getByText(`runbook approve ${handle.workflowId}`), 'current details');
      await expectVisible(details.getByRole('cell', { name: 'join as control plane' }), 'current details node table');
      await expectText(page, activitySummary, 'events with metadata');
    });
  });

  test('a codec server that does not allow the UI origin (the default --allow-origin) leaves the page encrypted', async () => {
    await useCodecServer([]);
    expect(codecServer!.output()).toContain('browsers allowed from: http://localhost:8233, http://127.0.0.1:8233');
    const blocked: string[] = [];
    const onConsole = (m: { text(): string }) => void (/CORS policy/.test(m.text()) && blocked.push(m.text()));
    ui.page.on('console', onConsole);
    try {
      await ui.check('cors-refused-history', async (page) => {
        await openHistory(page, false);
        await expectCodecStatus(page, false);
        await expandActivity(page);
        await expectText(page, 'Decoding failed', 'the summary of the expanded activity');
        const text = await pageText(page);
        for (const plain of [lab.knownHostsPath, primaryLine, commandLine, activitySummary, staticSummary]) expect(text).not.toContain(plain);
      });
    } finally {
      ui.page.off('console', onConsole);
    }
    expect(blocked.join('\n')).toMatch(new RegExp(`127\\.0\\.0\\.1:${codecPort}/decode.*from origin '${uiUrl}' has been blocked by CORS policy`));
  });

  test('with the codec server stopped, the UI says so and shows the encrypted payloads, not the plaintext', async () => {
    await useCodecServer('stopped');
    await ui.check('codec-stopped-history', async (page) => {
      await openHistory(page, false);
      await expectCodecStatus(page, false);
      const scheduled = page.locator('tr', { hasText: 'Activity Task Scheduled' }).filter({ hasText: 'surveyFormation' });
      await expectVisible(scheduled, 'Activity Task Scheduled row');
      expect(await scheduled.getByText(activitySummary).count()).toBe(0);
      await expandActivity(page);
      await expectText(page, 'Decoding failed', 'the summary of the expanded activity');
      const text = await pageText(page);
      for (const plain of [lab.knownHostsPath, primaryLine, commandLine, activitySummary, staticSummary]) expect(text).not.toContain(plain);
    });
    await ui.check('codec-stopped-current-details', async (page) => {
      await page.goto(metadataUrl());
      await expectCodecStatus(page, false);
      // The query is answered but its result cannot be decoded: the panel says there is nothing to show.
      await expectVisible(currentDetails(page).getByText('No Current Details'), 'current details');
      // With the codec server up the approval shows within about 3 s of opening the page: give it as long here.
      await page.waitForTimeout(3000);
      const frames = await Promise.all(page.frames().map((f) => f.locator('body').innerText({ timeout: UI_TIMEOUT }).catch(() => '')));
      expect(frames.filter((t) => t.includes('Waiting for approval') || t.includes(staticSummary))).toEqual([]);
    });
  });
});
