/**
 * The dqlite CLI and the backend's YAML files (behaviour reference §7): command builders and their parsers.
 * Member IDs are uint64 (e.g. 9373968242441247628 > 2^53), so they are kept as decimal strings everywhere:
 * JSON numbers are quoted before JSON.parse, YAML integers are read as BigInt, tabular hex goes through BigInt.
 */
import { ApplicationFailure } from '@temporalio/common';
import { parse as parseYaml } from 'yaml';
import { FailureType } from '../../common/constants';
import { NodeSpec, nodePaths } from '../../common/inventory';
import { command } from '../../common/shell';
import { type DqliteMember, NUMBER_BY_ROLE, toDqliteRole } from '../../common/dqlite';
import { UnexpectedOutputError, nonBlankLines } from './unexpected-output';

/** The bootstrap ID: always the node that created the cluster (`dqlite.BootstrapID`). */
export const BOOTSTRAP_ID = '3297041220608546238';

const ADDRESS = /^(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/;
const DECIMAL_ID = /^\d{1,20}$/;
const UINT64_MAX = (BigInt(1) << BigInt(64)) - BigInt(1);

function invalid(message: string): ApplicationFailure {
  return ApplicationFailure.create({ message, type: FailureType.InvalidInput, nonRetryable: true });
}

export function isDqliteAddress(s: string): boolean {
  return ADDRESS.test(s);
}

// ---------------------------------------------------------------------------------------------------------------
// The dqlite CLI

export type DqliteFormat = 'json' | 'tabular';

/** The shell commands this project sends. One argv string; the dqlite shell splits on single spaces. */
const SHELL_COMMAND = /^\.(?:cluster|leader|(?:remove|describe) \S+|weight \S+ \d+|reconfigure \S+ \S+)$/;

export function removeShellCommand(address: string): string {
  if (!isDqliteAddress(address)) throw invalid(`address: ${JSON.stringify(address)} is not a dqlite address like "10.0.0.2:19001"`);
  return `.remove ${address}`;
}

export function describeShellCommand(address: string): string {
  if (!isDqliteAddress(address)) throw invalid(`address: ${JSON.stringify(address)} is not a dqlite address like "10.0.0.2:19001"`);
  return `.describe ${address}`;
}

/**
 * `<snap>/current/bin/dqlite -s file://<backend>/cluster.yaml -c <crt> -k <key> -f <format> k8s "<cmd>"`.
 * The cluster.yaml store lets the CLI find the leader from any member.
 */
export function dqliteCommand(
  node: NodeSpec,
  shellCmd: string,
  opts: { format?: DqliteFormat; timeoutMs?: number } = {},
): string {
  if (!SHELL_COMMAND.test(shellCmd) || /[\n\r'"`$;&|<>\\]/.test(shellCmd)) {
    throw invalid(`dqlite shell command ${JSON.stringify(shellCmd)} is not one this project sends (.cluster, .leader, .remove <addr>, …)`);
  }
  const p = nodePaths(node);
  const argv: Array<string | number> = [p.dqlite, '-s', `file://${p.clusterYaml}`, '-c', p.clusterCrt, '-k', p.clusterKey];
  argv.push('-f', opts.format ?? 'json');
  if (opts.timeoutMs !== undefined) {
    if (!Number.isInteger(opts.timeoutMs) || opts.timeoutMs <= 0) throw invalid('timeoutMs: must be a positive integer');
    argv.push('--timeout', opts.timeoutMs);
  }
  argv.push('k8s', shellCmd);
  return command(...argv);
}

/** `.cluster` in JSON, the form `microk8s status` and join use. */
export function clusterMembersCommand(node: NodeSpec, opts: { timeoutMs?: number } = {}): string {
  return dqliteCommand(node, '.cluster', { format: 'json', ...opts });
}

/**
 * `.reconfigure <backend>/ <backend>/cluster.yaml` for quorum recovery (§7 step 5). `-s` is not contacted for
 * `.reconfigure`, so it points at the local default address as the documented procedure does.
 */
export function reconfigureCommand(node: NodeSpec): string {
  const p = nodePaths(node);
  return command(
    p.dqlite,
    '-s',
    '127.0.0.1:19001',
    '-c',
    p.clusterCrt,
    '-k',
    p.clusterKey,
    'k8s',
    `.reconfigure ${p.backend}/ ${p.clusterYaml}`,
  );
}

/** `.reconfigure` prints `OK` on success. */
export function parseReconfigureOutput(stdout: string, exitCode: number): { ok: boolean; message?: string } {
  if (exitCode === 0 && /^\s*OK\s*$/m.test(stdout)) return { ok: true };
  return { ok: false, message: nonBlankLines(stdout).find((l) => l.startsWith('Error:')) ?? nonBlankLines(stdout)[0] };
}

/** Quote every `"ID": <digits>` so JSON.parse keeps all 64 bits. */
function quoteJsonIds(json: string): string {
  return json.replace(/("ID"\s*:\s*)(\d+)/g, '$1"$2"');
}

function hexToDecimal(hex: string): string {
  return BigInt(`0x${hex}`).toString(10);
}

function checkId(id: string, what: string, output: string): string {
  if (!DECIMAL_ID.test(id) || BigInt(id) > UINT64_MAX) throw new UnexpectedOutputError(what, output, `bad ID ${id}`);
  return id;
}

/**
 * `.cluster` output in either format: JSON (tab-indented array, integer Role) or tabular `%x|%s|%s` lines
 * with role names. Empty output or `null` means no members.
 */
export function parseDqliteCluster(stdout: string): DqliteMember[] {
  const text = stdout.trim();
  if (text === '' || text === 'null') return [];
  if (text.startsWith('[')) {
    let raw: unknown;
    try {
      raw = JSON.parse(quoteJsonIds(text));
    } catch {
      throw new UnexpectedOutputError('dqlite .cluster', stdout, 'invalid JSON');
    }
    if (!Array.isArray(raw)) throw new UnexpectedOutputError('dqlite .cluster', stdout, 'not a list');
    return raw.map((entry) => memberFrom(entry, 'dqlite .cluster', stdout));
  }
  return nonBlankLines(text).map((line) => {
    const m = /^([0-9a-f]{1,16})\|([^|\s]+)\|([a-z-]+)$/.exec(line.trim());
    const role = m && toDqliteRole(m[3]);
    if (!m || !role) throw new UnexpectedOutputError('dqlite .cluster', stdout, `unrecognised line ${JSON.stringify(line)}`);
    return { id: hexToDecimal(m[1]), address: m[2], role };
  });
}

/** `.leader` prints the leader's address, or nothing when there is none. */
export function parseLeader(stdout: string): string | undefined {
  const line = nonBlankLines(stdout)[0]?.trim();
  if (!line) return undefined;
  if (!isDqliteAddress(line)) throw new UnexpectedOutputError('dqlite .leader', stdout);
  return line;
}

/** The CLI's error when no leader answers: quorum lost or the cluster never formed (§9 #7). */
export function isNoLeaderError(stderr: string): boolean {
  return /no available dqlite leader server found/i.test(stderr);
}

// ---------------------------------------------------------------------------------------------------------------
// info.yaml / cluster.yaml

function memberFrom(entry: unknown, what: string, output: string): DqliteMember {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new UnexpectedOutputError(what, output, 'member is not a mapping');
  }
  const e = entry as Record<string, unknown>;
  const id = e.ID;
  const address = e.Address;
  if ((typeof id !== 'string' && typeof id !== 'bigint' && typeof id !== 'number') || typeof address !== 'string') {
    throw new UnexpectedOutputError(what, output, 'member lacks ID or Address');
  }
  if (typeof id === 'number' && !Number.isSafeInteger(id)) throw new UnexpectedOutputError(what, output, 'ID lost precision');
  // go-dqlite writes every field, but Role's Go zero value is voter, so a missing Role reads as 0.
  const role = e.Role === undefined || e.Role === null ? 'voter' : toDqliteRole(e.Role);
  if (!role) throw new UnexpectedOutputError(what, output, `unknown Role ${String(e.Role)}`);
  if (!isDqliteAddress(address)) throw new UnexpectedOutputError(what, output, `bad Address ${JSON.stringify(address)}`);
  return { id: checkId(String(id), what, output), address, role };
}

function readYaml(text: string, what: string): unknown {
  try {
    return parseYaml(text, { intAsBigInt: true });
  } catch {
    throw new UnexpectedOutputError(what, text, 'invalid YAML');
  }
}

/** `info.yaml`: this node's `{ID, Address, Role}`, keys in any order. */
export function parseInfoYaml(text: string): DqliteMember {
  return memberFrom(readYaml(text, 'info.yaml'), 'info.yaml', text);
}

/** `cluster.yaml`: the member list, keys in any order (ghodss sorted them, yaml.v2 keeps struct order). */
export function parseClusterYaml(text: string): DqliteMember[] {
  const raw = readYaml(text, 'cluster.yaml');
  if (raw === null || raw === undefined) return [];
  if (!Array.isArray(raw)) throw new UnexpectedOutputError('cluster.yaml', text, 'not a list');
  return raw.map((entry) => memberFrom(entry, 'cluster.yaml', text));
}

function checkMember(m: DqliteMember, i: number): void {
  if (!DECIMAL_ID.test(m.id) || BigInt(m.id) > UINT64_MAX || BigInt(m.id) === BigInt(0)) {
    throw invalid(`members[${i}].id: ${JSON.stringify(m.id)} must be a non-zero decimal uint64, copied from the node's info.yaml`);
  }
  if (!isDqliteAddress(m.address)) throw invalid(`members[${i}].address: ${JSON.stringify(m.address)} must look like "10.0.0.2:19001"`);
  if (NUMBER_BY_ROLE[m.role] === undefined) throw invalid(`members[${i}].role: must be voter, stand-by or spare`);
}

function renderEntry(m: DqliteMember, indent: string): string {
  return `ID: ${m.id}\n${indent}Address: ${m.address}\n${indent}Role: ${NUMBER_BY_ROLE[m.role]}\n`;
}

/** `cluster.yaml` in go-dqlite's yaml.v2 shape: IDs as plain integers, struct key order. */
export function renderClusterYaml(members: DqliteMember[]): string {
  members.forEach(checkMember);
  const ids = new Set<string>();
  const addresses = new Set<string>();
  members.forEach((m, i) => {
    if (ids.has(m.id)) throw invalid(`members[${i}].id: ${m.id} appears twice`);
    if (addresses.has(m.address)) throw invalid(`members[${i}].address: ${m.address} appears twice`);
    ids.add(m.id);
    addresses.add(m.address);
  });
  return members.map((m) => `- ${renderEntry(m, '  ')}`).join('');
}

/** `info.yaml` in the same shape. */
export function renderInfoYaml(member: DqliteMember): string {
  checkMember(member, 0);
  return renderEntry(member, '');
}
