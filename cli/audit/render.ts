/**
 * The audit as people read it: a text timeline for the terminal, markdown for tickets, JSON for tools.
 * Output tails: the last line of a command that succeeded, the last few lines of stdout and stderr of one that
 * did not, each line cut at 240 characters (the JSON keeps the whole bounded tail).
 */
import type { AuditCommand, AuditOrigin, RunbookAudit } from './model';
import { columns } from '../columns';

const FAILED_TAIL_LINES = 5;
/** Output lines are cut for reading; the JSON keeps them whole. */
const MAX_LINE_CHARS = 240;

export function renderJson(audit: RunbookAudit): string {
  return JSON.stringify(audit, null, 2);
}

function clock(iso: string | undefined, sameDay: boolean): string {
  if (!iso) return '';
  return sameDay ? iso.slice(11, 19) : iso.slice(0, 19).replace('T', ' ');
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

function lastLines(text: string, n: number): string[] {
  return text
    .replace(/\s+$/, '')
    .split('\n')
    .filter((l) => l.length > 0)
    .slice(-n)
    .map((l) => (l.length > MAX_LINE_CHARS ? `${l.slice(0, MAX_LINE_CHARS)}…` : l));
}

/** What to show of a command's output: one line when it succeeded, more when it did not. */
export function outputTail(c: AuditCommand): { stdout: string[]; stderr: string[] } {
  const failed = c.exitCode !== 0;
  return {
    stdout: lastLines(c.stdoutTail ?? '', failed ? FAILED_TAIL_LINES : 1),
    stderr: lastLines(c.stderrTail ?? '', failed ? FAILED_TAIL_LINES : 1),
  };
}

function where(x: AuditOrigin): string {
  return x.childNode ? ` [child ${x.childNode}]` : '';
}

function exitText(code: number | null): string {
  return code === null ? 'killed' : String(code);
}

function table(header: string[], rows: string[][], indent = '  '): string[] {
  return columns([header, ...rows]).map((l) => indent + l);
}

function spansOneDay(audit: RunbookAudit): boolean {
  const day = audit.startedAt.slice(0, 10);
  return (audit.endedAt ?? audit.startedAt).slice(0, 10) === day && audit.commands.every((c) => (c.startedAt ?? day).slice(0, 10) === day);
}

function headline(audit: RunbookAudit): { title: string; facts: Array<[string, string]> } {
  const facts: Array<[string, string]> = [];
  if (audit.summary) facts.push(['summary', audit.summary]);
  const who = [audit.requestedBy && `requested by ${audit.requestedBy}`, audit.startedBy && `client ${audit.startedBy}`].filter(Boolean).join(', ');
  facts.push(['started', `${audit.startedAt}${who ? ` (${who})` : ''}`]);
  if (audit.endedAt) {
    const took = formatDuration(Date.parse(audit.endedAt) - Date.parse(audit.startedAt));
    facts.push(['ended', `${audit.endedAt} after ${took}: ${audit.status}`]);
  } else {
    facts.push(['status', audit.status]);
  }
  if (audit.failure) facts.push(['failure', `${audit.failure.message}${audit.failure.type ? ` [${audit.failure.type}]` : ''}`]);
  facts.push(['inputs', JSON.stringify(audit.input.length === 1 ? audit.input[0] : audit.input)]);
  const title = `${audit.workflowId}: ${audit.workflowType}${audit.runId ? ` (run ${audit.runId})` : ''}`;
  return { title, facts };
}

function planDecision(audit: RunbookAudit): string {
  const d = audit.plan?.decision;
  if (!d) return 'no approval recorded';
  return [d.decision, d.by && `by ${d.by}`, d.at && `at ${d.at}`, d.reason && `(${d.reason})`].filter(Boolean).join(' ');
}

export function renderText(audit: RunbookAudit): string {
  const day = spansOneDay(audit);
  const { title, facts } = headline(audit);
  const out: string[] = [title, ...facts.map(([k, v]) => `  ${`${k}:`.padEnd(9)} ${v}`)];

  out.push('', audit.plan ? `Plan (${audit.plan.source}; ${planDecision(audit)}):` : 'Plan: none recorded in history');
  audit.plan?.lines.forEach((l, i) => out.push(`  ${i + 1}. ${l}`));

  out.push('', `Operator actions (${audit.operatorActions.length}):`);
  if (audit.operatorActions.length) {
    out.push(
      ...table(
        ['TIME', 'ACTION', 'BY', 'DECISION', 'ID', 'WHY / WHAT'],
        audit.operatorActions.map((a) => [
          clock(a.at, day),
          a.action,
          a.by ?? a.identity ?? '',
          a.outcome === 'failed' ? `refused: ${a.failure}` : (a.decision ?? a.outcome),
          a.id ?? '',
          [a.reason, a.summary && `(${a.summary})`].filter(Boolean).join(' ') + where(a),
        ]),
      ),
    );
  }

  out.push('', `Remote commands (${audit.commands.length}):`);
  if (audit.commands.length) {
    const [head, ...rows] = table(
      ['TIME', 'NODE', 'EXIT', 'TOOK', 'ACTIVITY', 'COMMAND'],
      audit.commands.map((c) => [
        clock(c.startedAt, day),
        c.node,
        exitText(c.exitCode),
        formatDuration(c.durationMs ?? 0),
        `${c.activity}${c.activityCompleted ? '' : '(failed)'}${where(c)}`,
        c.command,
      ]),
    );
    out.push(head);
    rows.forEach((row, i) => {
      out.push(row);
      const tail = outputTail(audit.commands[i]);
      for (const l of tail.stdout) out.push(`      │ ${l}`);
      for (const l of tail.stderr) out.push(`      ! ${l}`);
    });
  }

  out.push('', `Failures (${audit.failures.length}):`);
  if (audit.failures.length) {
    out.push(
      ...table(
        ['TIME', 'SOURCE', 'NAME', 'ATTEMPT', 'TYPE', 'MESSAGE'],
        audit.failures.map((f) => [
          clock(f.at, day),
          f.source,
          `${f.name}${f.summary ? ` (${f.summary})` : ''}${where(f)}`,
          f.attempt ? `${f.attempt}${f.retryState ? ` ${f.retryState}` : ''}` : (f.retryState ?? ''),
          f.type ?? '',
          f.message,
        ]),
      ),
    );
  }

  out.push('', `Compensations (${audit.compensations.length}):`);
  audit.compensations.forEach((c) => out.push(`  - ${c.line}${where(c)}`));

  out.push('', `Files changed (${audit.fileChanges.length}):`);
  if (audit.fileChanges.length) {
    out.push(
      ...table(
        ['TIME', 'NODE', 'ACTION', 'SIZE', 'SHA256', 'PATH'],
        audit.fileChanges.map((f) => [clock(f.at, day), f.node, f.action, String(f.size), (f.sha256 ?? '').slice(0, 12), f.path]),
      ),
    );
  }

  if (audit.children.length) {
    out.push('', `Child workflows (${audit.children.length}):`);
    out.push(
      ...table(
        ['NODE', 'STATUS', 'STARTED', 'ENDED', 'IN THIS AUDIT', 'WORKFLOW ID'],
        audit.children.map((c) => [c.node ?? '', c.status, clock(c.startedAt, day), clock(c.endedAt, day), c.included ? 'yes' : 'no', c.workflowId]),
      ),
    );
  }
  if (audit.warnings.length) out.push('', 'Warnings:', ...audit.warnings.map((w) => `  - ${w}`));
  return out.join('\n') + '\n';
}

/** Escape for a markdown table cell. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>');
}

function code(text: string): string {
  return text ? `\`${text.replace(/`/g, 'ˋ')}\`` : '';
}

function mdTable(header: string[], rows: string[][]): string[] {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)];
}

export function renderMarkdown(audit: RunbookAudit): string {
  const { title, facts } = headline(audit);
  const out: string[] = [`## Runbook audit: ${title}`, '', ...facts.map(([k, v]) => `- **${k}**: ${k === 'inputs' ? code(v) : v}`)];

  out.push('', '### Plan', '');
  if (audit.plan) out.push(`_${audit.plan.source}; ${planDecision(audit)}_`, '', ...audit.plan.lines.map((l, i) => `${i + 1}. ${l}`));
  else out.push('None recorded in history.');

  out.push('', `### Operator actions (${audit.operatorActions.length})`, '');
  if (audit.operatorActions.length) {
    out.push(
      ...mdTable(
        ['time', 'action', 'by', 'decision', 'id', 'why / what'],
        audit.operatorActions.map((a) => [
          a.at,
          a.action,
          a.by ?? a.identity ?? '',
          a.outcome === 'failed' ? `refused: ${a.failure}` : (a.decision ?? a.outcome),
          a.id ?? '',
          [a.reason, a.summary && `(${a.summary})`].filter(Boolean).join(' ') + where(a),
        ]),
      ),
    );
  }

  out.push('', `### Remote commands (${audit.commands.length})`, '');
  if (audit.commands.length) {
    out.push(
      ...mdTable(
        ['started', 'node', 'exit', 'took', 'activity', 'command', 'output (last line)'],
        audit.commands.map((c) => {
          const tail = outputTail(c);
          return [
            c.startedAt,
            c.node,
            exitText(c.exitCode),
            formatDuration(c.durationMs ?? 0),
            `${c.activity}${c.activityCompleted ? '' : ' (failed)'}${where(c)}`,
            code(c.command),
            code([...tail.stdout, ...tail.stderr].slice(-1)[0] ?? ''),
          ];
        }),
      ),
    );
    const failed = audit.commands.filter((c) => c.exitCode !== 0);
    for (const c of failed) {
      const tail = outputTail(c);
      out.push('', `<details><summary>${c.node}: exit ${exitText(c.exitCode)}: ${code(c.command)}</summary>`, '', '```');
      out.push(...tail.stdout, ...(tail.stderr.length ? ['--- stderr ---', ...tail.stderr] : []), '```', '</details>');
    }
  }

  out.push('', `### Failures (${audit.failures.length})`, '');
  if (audit.failures.length) {
    out.push(
      ...mdTable(
        ['time', 'source', 'name', 'attempt', 'type', 'message'],
        audit.failures.map((f) => [
          f.at,
          f.source,
          `${f.name}${f.summary ? ` (${f.summary})` : ''}${where(f)}`,
          f.attempt ? `${f.attempt}${f.retryState ? ` ${f.retryState}` : ''}` : (f.retryState ?? ''),
          f.type ?? '',
          f.message,
        ]),
      ),
    );
  }

  out.push('', `### Compensations (${audit.compensations.length})`, '');
  audit.compensations.forEach((c) => out.push(`- ${c.line}${where(c)}`));

  out.push('', `### Files changed (${audit.fileChanges.length})`, '');
  if (audit.fileChanges.length) {
    out.push(...mdTable(['time', 'node', 'action', 'size', 'sha256', 'path'], audit.fileChanges.map((f) => [f.at, f.node, f.action, String(f.size), code(f.sha256 ?? ''), code(f.path)])));
  }

  if (audit.children.length) {
    out.push('', `### Child workflows (${audit.children.length})`, '');
    out.push(
      ...mdTable(
        ['node', 'status', 'started', 'ended', 'in this audit', 'workflow id'],
        audit.children.map((c) => [c.node ?? '', c.status, c.startedAt ?? '', c.endedAt ?? '', c.included ? 'yes' : 'no', code(c.workflowId)]),
      ),
    );
  }
  if (audit.warnings.length) out.push('', '### Warnings', '', ...audit.warnings.map((w) => `- ${w}`));
  return out.join('\n') + '\n';
}
