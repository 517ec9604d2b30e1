/**
 * The Temporal Web UI (dev server, UI 2.42) in a real headless Chromium, on a real runbook: `form` on a lab of
 * fresh nodes (3 control planes, 1 worker behind real sshd) has run its pre-flight over SSH and waits for its plan
 * to be approved. An SRE can find the runbook by cluster, read what each activity did from its summary, and see
 * that it waits for an approval. Screenshots and the page HTML of each view land in test-artifacts/ui/runbook-ui/
 * (and `failure-*` ones when an assertion fails). test/e2e/ui-codec-browser.test.ts does the same with encryption on.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { progressQuery } from '../../common/messages';
import type { Lab } from '../../lab';
import { expectText, expectVisible, freePort, openBrowser, UI_TIMEOUT, type UiBrowser } from '../support/browser';
import { useServerSuite } from '../support/e2e';
import { waitFor } from '../support/lab';
import { startRunbook } from '../support/temporal';
import { commandsOf, FAST_TIMING } from './form-support';

describe('Temporal Web UI in a browser', () => {
  let uiUrl: string;
  const suite = useServerSuite({
    name: 'ui-browser',
    temporal: async () => {
      const uiPort = await freePort();
      uiUrl = `http://127.0.0.1:${uiPort}`;
      return { uiPort };
    },
  });
  let lab: Lab;
  let cluster: string;
  let handle: WorkflowHandle;
  let runId: string;
  let ui: UiBrowser;
  const activitySummary = 'pre-flight and plan for 4 nodes';
  let staticSummary: string;

  beforeAll(async () => {
    lab = await suite.lab({ name: 'ui', controlPlanes: 3, workers: 1, channel: '1.28/stable', profile: 'fast' });
    cluster = lab.inventory.cluster;
    // The worker must stay up while the browser looks: current details are served by a query to it.
    const worker = await suite.worker();
    staticSummary = `form ${cluster}: 3 control-plane, 1 worker node(s)`;
    handle = await startRunbook(
      suite.env,
      { kind: 'form', workflowType: 'form', inventory: lab.inventory, input: { timing: FAST_TIMING }, summary: staticSummary },
      worker.taskQueue,
    );
    suite.defer(async () => {
      await handle.terminate('ui test done').catch(() => undefined);
    });
    runId = (await handle.describe()).runId;
    await waitFor('the plan approval', async () => (await handle.query(progressQuery)).pendingApproval?.summary.startsWith('start: form'), 60_000, 200);
    ui = await openBrowser('runbook-ui');
    suite.defer(() => ui.close());
  }, 180_000);

  test('the workflow list filtered by cluster shows the runbook', async () => {
    // The pre-flight ran over SSH on every node; nothing joined before the plan is approved.
    expect(new Set(lab.journal().filter((e) => Array.isArray(e.argv)).map((e) => e.node))).toEqual(new Set(['k8s-1', 'k8s-2', 'k8s-3', 'k8s-w1']));
    expect(commandsOf(lab, 'join')).toEqual([]);
    await ui.check('workflow-list', async (page) => {
      const query = `RunbookCluster="${cluster}" AND ExecutionStatus="Running"`;
      await page.goto(`${uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(query)}`);
      const row = page.locator('tr', { hasText: handle.workflowId });
      await expectVisible(row, 'workflow list');
      await expectVisible(row.getByText('form', { exact: true }), 'workflow list row');
      await expectVisible(row.getByText('Running'), 'workflow list row');
    });
  });

  test('a query for another cluster does not show it', async () => {
    await ui.check('workflow-list-other-cluster', async (page) => {
      const query = `RunbookCluster="not-${cluster}"`;
      await page.goto(`${uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(query)}`);
      await expectText(page, 'No Results', 'workflow list of another cluster');
      expect(await page.getByText(handle.workflowId).count()).toBe(0);
    });
  });

  test('the event history shows the activity summaries', async () => {
    await ui.check('event-history', async (page) => {
      await page.goto(`${uiUrl}/namespaces/default/workflows/${handle.workflowId}/${runId}/history`);
      // The ActivityTaskScheduled row of the event table carries the call's summary next to the activity type.
      const row = page.locator('tr', { hasText: 'Activity Task Scheduled' }).filter({ hasText: 'surveyFormation' });
      await expectVisible(row.getByText(activitySummary, { exact: true }), 'event history row of surveyFormation');
      // The workflow's own static summary heads the history too.
      const started = page.locator('tr', { hasText: 'Workflow Execution Started' });
      await expectVisible(started.getByText(staticSummary), 'Workflow Execution Started row');
    });
  });

  test('the pending approval is visible in the current details', async () => {
    await ui.check('pending-approval', async (page) => {
      await page.goto(`${uiUrl}/namespaces/default/workflows/${handle.workflowId}/${runId}/user-metadata`);
      // UI 2.42 renders current details (setCurrentDetails markdown, fetched by a query to the worker) in an iframe.
      const panel = page
        .locator('div')
        .filter({ has: page.locator('h3', { hasText: 'Current Details' }) })
        .filter({ has: page.locator('iframe') })
        .last();
      const details = panel.locator('iframe').contentFrame();
      const approval = details.getByText(`Waiting for approval: start: form ${cluster} from k8s-1`);
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
      await expectText(page, activitySummary, 'events with metadata');
    });
  });
});
