/**
 * The Temporal Web UI (dev server, UI 2.42) in a real headless Chromium: an SRE can find a runbook by cluster,
 * read what each activity did from its summary, and see that it waits for an approval. Screenshots and the page
 * HTML of each view land in test-artifacts/ui/runbook-ui/ (and `failure-*` ones when an assertion fails).
 */
import * as net from 'net';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import type { WorkflowHandle } from '@temporalio/client';
import type { Locator, Page } from 'playwright-core';
import { SEARCH_ATTRIBUTES } from '../../common/constants';
import { resolveInventory } from '../../common/inventory';
import { progressQuery } from '../../common/messages';
import { openBrowser, type UiBrowser } from '../support/browser';
import { startRunbook, temporalCliPath } from '../support/temporal';
import type { UiTestActivities } from '../fixtures/ui-workflows';

const UI_TIMEOUT = 15_000;
const quiet = () => undefined;
const quietBundler = { log: quiet, trace: quiet, debug: quiet, info: quiet, warn: quiet, error: console.error };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function expectVisible(locator: Locator, where: string): Promise<void> {
  try {
    await locator.first().waitFor({ state: 'visible', timeout: UI_TIMEOUT });
  } catch {
    throw new Error(`${where}: nothing visible matches ${String(locator)}`);
  }
}

/** Visible text somewhere on the page, with the page's own text in the error when it is not there. */
async function expectText(page: Page, text: string | RegExp, where: string): Promise<void> {
  try {
    await page.getByText(text).first().waitFor({ state: 'visible', timeout: UI_TIMEOUT });
  } catch {
    const body = (await page.locator('body').innerText().catch(() => '')).replace(/\s+/g, ' ').slice(0, 1500);
    throw new Error(`${where}: ${String(text)} is not visible at ${page.url()}\npage text: ${body}`);
  }
}

describe('Temporal Web UI in a browser', () => {
  const suffix = Math.random().toString(36).slice(2, 8);
  const cluster = `ui-${suffix}`;
  const taskQueue = `ui-test-${suffix}`;
  let env: TestWorkflowEnvironment;
  let uiUrl: string;
  let worker: Worker;
  let running: Promise<void>;
  let handle: WorkflowHandle;
  let runId: string;
  let ui: UiBrowser;
  const activityCalls: string[] = [];

  beforeAll(async () => {
    const uiPort = await freePort();
    uiUrl = `http://127.0.0.1:${uiPort}`;
    env = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: temporalCliPath() },
        searchAttributes: SEARCH_ATTRIBUTES,
        ui: true,
        uiPort,
      },
    });
    const activities: UiTestActivities = {
      probeNode: async (node) => (activityCalls.push(`probe ${node}`), `${node} ok`),
      drainNode: async (node) => (activityCalls.push(`drain ${node}`), `${node} drained`),
    };
    worker = await Worker.create({
      connection: env.nativeConnection,
      namespace: env.namespace ?? 'default',
      taskQueue,
      activities,
      workflowBundle: await bundleWorkflowCode({
        workflowsPath: require.resolve('../fixtures/ui-workflows'),
        logger: quietBundler,
      }),
      shutdownGraceTime: '1s',
    });
    // The worker must stay up while the browser looks: current details are served by a query to it.
    running = worker.run();

    const inventory = resolveInventory(
      {
        cluster,
        nodes: [
          { name: 'k8s-1', address: '10.0.0.1' },
          { name: 'k8s-2', address: '10.0.0.2' },
        ],
      },
      'ui-test',
    );
    handle = await startRunbook(
      env,
      { kind: 'check', workflowType: 'uiApprovalRunbook', inventory, input: {}, summary: `ui test on ${cluster}` },
      taskQueue,
    );
    runId = (await handle.describe()).runId;
    await waitFor('the runbook to wait for approval', async () => {
      const p = await handle.query(progressQuery);
      return p.pendingApproval?.summary === 'upgrade k8s-2' ? p : undefined;
    });

    ui = await openBrowser('runbook-ui');
  });

  afterAll(async () => {
    await ui?.close();
    await handle?.terminate('ui test done').catch(() => undefined);
    if (running) {
      worker.shutdown();
      await running.catch(() => undefined);
    }
    await env?.teardown();
  });

  /** Run one UI check; on failure keep a screenshot and the HTML of what the browser showed. */
  async function inBrowser(name: string, check: (page: Page) => Promise<void>): Promise<void> {
    try {
      await check(ui.page);
      await ui.snapshot(name);
    } catch (e) {
      await ui.snapshot(`failure-${name}`);
      throw e;
    }
  }

  test('the workflow list filtered by cluster shows the runbook', async () => {
    expect(activityCalls).toEqual(['probe k8s-1', 'drain k8s-1']);
    await inBrowser('workflow-list', async (page) => {
      const query = `RunbookCluster="${cluster}" AND ExecutionStatus="Running"`;
      await page.goto(`${uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(query)}`);
      const row = page.locator('tr', { hasText: handle.workflowId });
      await expectVisible(row, 'workflow list');
      await expectVisible(row.getByText('uiApprovalRunbook'), 'workflow list row');
      await expectVisible(row.getByText('Running'), 'workflow list row');
    });
  });

  test('a query for another cluster does not show it', async () => {
    await inBrowser('workflow-list-other-cluster', async (page) => {
      const query = `RunbookCluster="not-${cluster}"`;
      await page.goto(`${uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(query)}`);
      await expectText(page, 'No Results', 'workflow list of another cluster');
      expect(await page.getByText(handle.workflowId).count()).toBe(0);
    });
  });

  test('the event history shows the activity summaries', async () => {
    await inBrowser('event-history', async (page) => {
      await page.goto(`${uiUrl}/namespaces/default/workflows/${handle.workflowId}/${runId}/history`);
      // Each ActivityTaskScheduled row of the event table carries the call's summary next to the activity type.
      for (const [type, summary] of [['probeNode', 'probe k8s-1'], ['drainNode', 'drain k8s-1']]) {
        const row = page.locator('tr', { hasText: 'Activity Task Scheduled' }).filter({ hasText: type });
        await expectVisible(row.getByText(summary, { exact: true }), `event history row of ${type}`);
      }
      // The workflow's own static summary heads the history too.
      const started = page.locator('tr', { hasText: 'Workflow Execution Started' });
      await expectVisible(started.getByText(`ui test on ${cluster}`), 'Workflow Execution Started row');
    });
  });

  test('the pending approval is visible in the current details', async () => {
    await inBrowser('pending-approval', async (page) => {
      await page.goto(`${uiUrl}/namespaces/default/workflows/${handle.workflowId}/${runId}/user-metadata`);
      // UI 2.42 renders current details (setCurrentDetails markdown, fetched by a query to the worker) in an iframe.
      const panel = page
        .locator('div')
        .filter({ has: page.locator('h3', { hasText: 'Current Details' }) })
        .filter({ has: page.locator('iframe') })
        .last();
      const details = panel.locator('iframe').contentFrame();
      const approval = details.getByText(/Waiting for approval: upgrade k8s-2/);
      await expectVisible(approval, 'current details');
      // The UI sizes the frame by a guess and scrolls what does not fit: the operator must be able to bring the
      // approval line into the frame's visible box (and the screenshot shows it).
      await approval.scrollIntoViewIfNeeded({ timeout: UI_TIMEOUT });
      const frameBox = await panel.locator('iframe').boundingBox();
      const lineBox = await approval.boundingBox();
      if (!frameBox || !lineBox) throw new Error('current details: the frame or the approval line has no layout box');
      expect(lineBox.y).toBeGreaterThanOrEqual(frameBox.y);
      expect(lineBox.y + lineBox.height).toBeLessThanOrEqual(frameBox.y + frameBox.height + 1);
      await expectVisible(details.getByText(`runbook approve ${handle.workflowId}`), 'current details');
      await expectVisible(details.getByRole('cell', { name: 'pending' }), 'current details node table');
      // The same tab lists the activities by summary, with their outcome.
      await expectText(page, 'drain k8s-1', 'events with metadata');
    });
  });
});
