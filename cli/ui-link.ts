/** Links into the Temporal Web UI. */
import { runbookEnv } from '../local/environment';


/** `http://localhost:8233/namespaces/<ns>/workflows/<id>/<runId>/history`; RUNBOOK_UI_URL overrides the base. */
export function uiLink(namespace: string, workflowId: string, runId?: string): string {
  const base = (runbookEnv('RUNBOOK_UI_URL') || 'http://localhost:8233').replace(/\/+$/, '');
  const wf = `${base}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${wf}/${encodeURIComponent(runId)}/history` : wf;
}
