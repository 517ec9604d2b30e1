/**
 * Where `runbook history` reads histories: the server (with the per-node child workflows' histories folded in) or a
 * file exported with `temporal workflow show --output json`. Payload codecs are undone first, so an encrypted
 * history reads as plain text with the worker's key.
 */
import { LocalFileError, readLocalText } from '../../local/files';
import type { Client } from '@temporalio/client';
import type { DataConverter, LoadedDataConverter } from '@temporalio/common';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { decodeHistory } from '../../codec/history';
import { buildAudit, mergeChildAudit } from './history-audit';
import type { RunbookAudit } from './model';

/** Per-node children of per-node children are not expected; this only bounds a runaway tree. */
const MAX_CHILD_DEPTH = 3;

export class HistoryFileError extends Error {}

/** The history is encrypted with a key this process does not have (or was tampered with). */
export class HistoryDecodeError extends Error {}

async function decoded<H extends object>(history: H, dataConverter: DataConverter | undefined, what: string): Promise<H> {
  try {
    return await decodeHistory(history, dataConverter);
  } catch (err) {
    throw new HistoryDecodeError(`cannot decode ${what}: ${(err as Error).message}`);
  }
}

/** Audit of a run on the server; `children: false` skips reading the child workflows' histories. */
export async function auditFromServer(
  client: Client,
  workflowId: string,
  runId?: string,
  opts: { children?: boolean } = {},
): Promise<RunbookAudit> {
  return auditRun(client, workflowId, runId, opts.children === false ? 0 : MAX_CHILD_DEPTH);
}

async function auditRun(client: Client, workflowId: string, runId: string | undefined, depth: number): Promise<RunbookAudit> {
  const converter = client.options.loadedDataConverter;
  const handle = client.workflow.getHandle(workflowId, runId);
  const resolvedRunId = runId ?? (await handle.describe()).runId;
  const stored = await client.workflow.getHandle(workflowId, resolvedRunId).fetchHistory();
  const history = await decoded(stored, asDataConverter(converter), `the history of ${workflowId}`);
  const audit = buildAudit(history, { workflowId, runId: resolvedRunId, payloadConverter: converter.payloadConverter });
  if (depth === 0) {
    if (audit.children.length) audit.warnings.push('child workflow histories not read (--no-children)');
    return audit;
  }
  for (const child of [...audit.children]) {
    if (!child.runId) continue; // never started: no history
    try {
      mergeChildAudit(audit, await auditRun(client, child.workflowId, child.runId, depth - 1));
    } catch (err) {
      audit.warnings.push(`could not read child ${child.workflowId}: ${(err as Error).message}`);
    }
  }
  return audit;
}

/** Audit of a history file (`temporal workflow show -w ID --output json > file`). Child histories are separate files. */
export async function auditFromFile(file: string, dataConverter?: DataConverter): Promise<RunbookAudit> {
  // Never suggest redirecting into the file named: it may be any file (history --file /etc/passwd).
  const howTo = 'export a history with: temporal workflow show -w <ID> --output json > history.json';
  let text: string;
  try {
    text = await readLocalText(file, 'history file');
  } catch (err) {
    if (err instanceof LocalFileError) throw new HistoryFileError(`cannot read ${file}: ${err.reason}; ${howTo}`);
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new HistoryFileError(`${JSON.stringify(file)} is not JSON; ${howTo}`);
  }
  if (!Array.isArray((json as { events?: unknown })?.events)) {
    throw new HistoryFileError(`${JSON.stringify(file)} holds no "events" list; ${howTo}`);
  }
  const plain = await decoded(json as object, dataConverter, file);
  let audit: RunbookAudit;
  try {
    audit = buildAudit(historyFromJSON(plain));
  } catch (err) {
    throw new HistoryFileError(`${file} is not a Temporal history (${(err as Error).message}); export it with: temporal workflow show -w <ID> --output json`);
  }
  if (audit.children.length) {
    audit.warnings.push(
      `child workflow histories are separate: run runbook history <child ID> for each (or --file on its export): ${audit.children.map((c) => c.workflowId).join(', ')}`,
    );
  }
  return audit;
}

/** decodeHistory only needs the codecs; the client's loaded converter has them. */
function asDataConverter(loaded: LoadedDataConverter): DataConverter {
  return { payloadCodecs: loaded.payloadCodecs };
}
