/**
 * The secret scan every test run ends with (README "No secret in any history"): before a test's Temporal server shuts
 * down, every workflow execution in its namespace is listed and its full history read as
 * `temporal workflow show --output json` prints it; the run fails when any history holds
 *
 *  - a join token: 32 hex characters standing alone (what `microk8s add-node` issues and the lab writes to each
 *    node's `credentials/cluster-tokens.txt`), or exactly a token some lab of this test file issued;
 *  - a private-key marker (`PRIVATE KEY-----`, `BEGIN OPENSSH`, a base64-encoded PEM header) or a line of a
 *    lab's private key;
 *  - a password-like field (`password: …`, `api_key=…`, `Authorization: Bearer …`, codec key variables) or a
 *    registered secret (e.g. a test's codec key, as base64 or hex);
 *  - with encryption on (`expectEncryptedHistories`), or in any workflow that has one encrypted payload, a payload
 *    that is not encrypted. Search attributes are the documented exception: Temporal indexes them in the clear.
 *
 * Payload bytes are base64 in the JSON; the scan reads them decoded (and decrypted, when the test registered its
 * keyring). A finding names the workflow, run, event and field and what matched, never the matched text.
 *
 * `startTemporal` (test/support/temporal.ts) wires this into `env.teardown()`; tests that run a server some other
 * way call `assertNoSecretsInHistories` themselves.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import { promisify } from 'util';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { findTemporalCli } from '../../cli/temporal-cli';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING } from '../../codec/encryption';
import { isJsonPayload, payloadFromJson, type JsonPayload } from '../../codec/json-payload';
import type { Keyring } from '../../codec/keys';
import { Lab } from '../../lab';
import { snapPaths } from '../../lab/sim/backend';

const run = promisify(execFile);

// ---------------------------------------------------------------------------------------------------------------
// patterns

export interface SecretPattern {
  id: string;
  /** What matched, as the failure message says it: never the matched text. */
  description: string;
  regex: RegExp;
}

/** Generic shapes of the secrets this project handles. Every one has a positive and a negative case in test/unit/history-scan.test.ts. */
export const SECRET_PATTERNS: readonly SecretPattern[] = [
  {
    id: 'join-token',
    description: 'a join token (32 hex characters)',
    // 64-hex sha256 sums, UUIDs (dashed) and 12-hex key ids do not match.
    regex: /(?<![0-9A-Fa-f])[0-9A-Fa-f]{32}(?![0-9A-Fa-f])/,
  },
  {
    id: 'private-key',
    description: 'a private-key marker',
    // PEM and OpenSSH headers, and a PEM file base64-encoded whole ("-----BEGIN" in base64).
    regex: /PRIVATE KEY-----|BEGIN OPENSSH|LS0tLS1CRUdJT/,
  },
  {
    id: 'password-field',
    description: 'a password-like field (password, passphrase, secret, api key, codec key, token with a value)',
    // Also inside JSON-escaped JSON (`\"password\":\"…`). `<redacted>` (what the SSH layer writes in place of a token) is not a value.
    regex: /(?<![A-Za-z])(?:pass(?:word|wd|phrase)|secret|api[_-]?key|codec[_-]?key|token)(?:\\?["'])?\s*[:=]\s*(?:\\?["'])?(?!<redacted>)[^\s"'<>,;}\]]{6,}/i,
  },
  {
    id: 'bearer',
    description: 'an Authorization bearer credential',
    regex: /\bBearer\s+[A-Za-z0-9._~+/-]{8,}/,
  },
];

export const PLAINTEXT_PAYLOAD = 'a payload in plaintext where encryption is on';

// ---------------------------------------------------------------------------------------------------------------
// secrets this test file knows about

interface KnownSecret {
  label: string;
  value: string;
}

const known: KnownSecret[] = [];
const sources: Array<() => KnownSecret[]> = [];

/** Scan for this exact value too (at least 8 characters). `label` says what it is in a finding; the value never shows. */
export function registerSecret(label: string, value: string): void {
  if (value.length >= 8 && !known.some((k) => k.value === value)) known.push({ label, value });
}

/** A codec key: its base64 and hex forms, and the key file's text as written. */
export function registerKeyring(label: string, keyring: Keyring): void {
  for (const k of keyring.byId.values()) {
    registerSecret(`${label} ${k.id} (base64)`, k.key.toString('base64'));
    registerSecret(`${label} ${k.id} (hex)`, k.key.toString('hex'));
  }
}

function knownSecrets(): KnownSecret[] {
  for (const source of sources) for (const s of source()) registerSecret(s.label, s.value);
  return [...known];
}

/** The tokens every node of the lab issued (`credentials/cluster-tokens.txt`, `<token>[|<expiry>]` per line) and its key's body. */
export function labSecrets(lab: Lab): KnownSecret[] {
  const out: KnownSecret[] = [];
  for (const n of lab.nodes) {
    const file = snapPaths(lab.dir, n.name).tokens;
    if (!fs.existsSync(file)) continue;
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      const token = line.split('|')[0].trim();
      if (token) out.push({ label: `a join token lab ${lab.name} issued on ${n.name}`, value: token });
    }
  }
  if (fs.existsSync(lab.keyPath)) {
    for (const line of fs.readFileSync(lab.keyPath, 'utf8').split('\n')) {
      if (line && !line.startsWith('-----')) out.push({ label: `a line of lab ${lab.name}'s private key`, value: line.trim() });
    }
  }
  return out;
}

/**
 * Every lab this test file brings up registers its tokens and key: read whenever a scan runs, and once more just
 * before `lab.down()` removes the files (afterAll hooks may take the lab down before or after the server).
 */
function watchLabs(): void {
  const marked = Lab as unknown as { __secretScanWatch?: boolean };
  if (marked.__secretScanWatch) return;
  marked.__secretScanWatch = true;
  const up = Lab.up.bind(Lab);
  Lab.up = async (...args: Parameters<typeof Lab.up>) => {
    const lab = await up(...args);
    sources.push(() => labSecrets(lab));
    return lab;
  };
  const down = Lab.prototype.down;
  Lab.prototype.down = async function (this: Lab) {
    try {
      for (const s of labSecrets(this)) registerSecret(s.label, s.value);
    } catch {
      // A lab whose directory is already gone has nothing left to read.
    }
    return down.call(this);
  };
}
watchLabs();

// ---------------------------------------------------------------------------------------------------------------
// the scan of one history

export interface SecretFinding {
  workflowId: string;
  runId: string;
  eventId: string;
  eventType: string;
  /** JSON path of the field inside the event, e.g. `activityTaskScheduledEventAttributes.input.payloads[0]`. */
  field: string;
  /** What matched: a SECRET_PATTERNS description, a known secret's label, or PLAINTEXT_PAYLOAD. */
  what: string;
}

export interface ScanOptions {
  known?: KnownSecret[];
  /** Every payload (search attributes aside) must be `binary/encrypted`. */
  encrypted?: boolean;
  /** Decrypts encrypted payloads so that the plaintext is scanned too. */
  codec?: AesGcmPayloadCodec;
}

interface HistoryJson {
  events?: Array<Record<string, unknown> & { eventId?: string; eventType?: string }>;
}

interface Text {
  field: string;
  text: string;
}

interface PayloadAt {
  field: string;
  payload: JsonPayload;
}

const isSearchAttribute = (field: string) => /(^|\.)searchAttributes\b/.test(field);

/** Strings the server and SDK generate that look like tokens but are not: the sticky task queue (`<identity>-<uuid hex>`). */
function isMachineName(field: string, value: string, parent: Record<string, unknown>): boolean {
  return field.endsWith('.name') && parent.kind === 'TASK_QUEUE_KIND_STICKY' && typeof value === 'string';
}

function collect(value: unknown, field: string, texts: Text[], payloads: PayloadAt[], parent?: Record<string, unknown>): void {
  if (typeof value === 'string') {
    if (!(parent && isMachineName(field, value, parent))) texts.push({ field, text: value });
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => collect(v, `${field}[${i}]`, texts, payloads));
  } else if (isJsonPayload(value)) {
    payloads.push({ field, payload: value });
  } else if (value && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    for (const [k, v] of Object.entries(record)) collect(v, field ? `${field}.${k}` : k, texts, payloads, record);
  }
}

function payloadTexts(at: PayloadAt, decoded: Array<{ metadata?: Record<string, Uint8Array | null | undefined> | null; data?: Uint8Array | null }>): Text[] {
  const out: Text[] = [];
  for (const p of decoded) {
    for (const [k, v] of Object.entries(p.metadata ?? {})) if (v) out.push({ field: `${at.field}.metadata.${k}`, text: Buffer.from(v).toString('utf8') });
    if (p.data) out.push({ field: at.field, text: Buffer.from(p.data).toString('utf8') });
  }
  return out;
}

function encodingOf(p: JsonPayload): string {
  return Buffer.from(p.metadata?.encoding ?? '', 'base64').toString('utf8');
}

/** Every finding in one history (`temporal workflow show --output json`, or `historyToJSON`). */
export async function scanHistory(history: HistoryJson | string, where: { workflowId: string; runId: string }, opts: ScanOptions = {}): Promise<SecretFinding[]> {
  const parsed: HistoryJson = typeof history === 'string' ? (JSON.parse(history) as HistoryJson) : history;
  const secrets = opts.known ?? [];
  const findings: SecretFinding[] = [];
  const events = parsed.events ?? [];
  const perEvent = events.map((event) => {
    const texts: Text[] = [];
    const payloads: PayloadAt[] = [];
    for (const [k, v] of Object.entries(event)) collect(v, k, texts, payloads, event);
    return { event, texts, payloads };
  });
  // One encrypted payload anywhere in the run means the run is encrypted: then a plaintext payload is a leak.
  const encrypted = opts.encrypted || perEvent.some((e) => e.payloads.some((p) => encodingOf(p.payload) === ENCRYPTED_ENCODING));
  for (const { event, texts, payloads } of perEvent) {
    const add = (field: string, what: string) => {
      const f: SecretFinding = { ...where, eventId: String(event.eventId ?? '?'), eventType: String(event.eventType ?? '?').replace(/^EVENT_TYPE_/, ''), field, what };
      if (!findings.some((x) => x.eventId === f.eventId && x.field === f.field && x.what === f.what)) findings.push(f);
    };
    const all = [...texts];
    for (const at of payloads) {
      const isEnc = encodingOf(at.payload) === ENCRYPTED_ENCODING;
      if (encrypted && !isEnc && !isSearchAttribute(at.field)) add(at.field, PLAINTEXT_PAYLOAD);
      let decoded = [payloadFromJson(at.payload)];
      if (isEnc && opts.codec) decoded = await opts.codec.decode(decoded);
      all.push(...payloadTexts(at, decoded));
    }
    for (const { field, text } of all) {
      for (const p of SECRET_PATTERNS) if (p.regex.test(text)) add(field, p.description);
      for (const s of secrets) if (text.includes(s.value)) add(field, s.label);
    }
  }
  return findings;
}

/** The failure message: which workflow, run, event and field, and what matched. Never the secret. */
export function describeFindings(findings: SecretFinding[], namespace = 'default'): string {
  const lines = findings.map((f) => `  workflow ${f.workflowId} (run ${f.runId}) event ${f.eventId} ${f.eventType} at ${f.field}: ${f.what}`);
  return `secret scan (test/support/history-scan.ts): ${findings.length} finding(s) in the histories of namespace ${namespace}\n${lines.join('\n')}`;
}

// ---------------------------------------------------------------------------------------------------------------
// the scan of a namespace, through the real `temporal` CLI

export interface ServerTarget {
  address: string;
  namespace?: string;
}

export interface NamespaceScan {
  findings: SecretFinding[];
  workflows: number;
  events: number;
  ms: number;
}

async function cli(args: string[], target: ServerTarget): Promise<string> {
  const path = findTemporalCli().path;
  if (!path) throw new Error('secret scan: the Temporal CLI is not installed (runbook temporal-cli --install)');
  const { stdout } = await run(path, [...args, '--address', target.address, '--namespace', target.namespace ?? 'default', '--output', 'json'], {
    maxBuffer: 256 * 1024 * 1024,
  });
  return stdout;
}

/** List every execution (every run, open or closed, children included) and scan its full history. */
export async function scanNamespace(target: ServerTarget, opts: Omit<ScanOptions, 'known'> = {}): Promise<NamespaceScan> {
  const t0 = performance.now();
  const listed = JSON.parse((await cli(['workflow', 'list'], target)) || '[]') as Array<{ execution: { workflowId: string; runId: string } }>;
  const known = knownSecrets();
  const findings: SecretFinding[] = [];
  let events = 0;
  const queue = listed.map((w) => w.execution);
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const history = JSON.parse(await cli(['workflow', 'show', '-w', next.workflowId, '-r', next.runId], target)) as HistoryJson;
      events += history.events?.length ?? 0;
      findings.push(...(await scanHistory(history, next, { ...opts, known })));
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  const ms = Math.round(performance.now() - t0);
  if (process.env.HISTORY_SCAN_REPORT) process.stderr.write(`secret scan: ${listed.length} workflows, ${events} events, ${ms} ms\n`);
  return { findings, workflows: listed.length, events, ms };
}

/** Throws with `describeFindings` when any history in the namespace holds a secret. */
export async function assertNoSecretsInHistories(target: ServerTarget, opts: Omit<ScanOptions, 'known'> = {}): Promise<NamespaceScan> {
  const scan = await scanNamespace(target, opts);
  if (scan.findings.length > 0) throw new Error(describeFindings(scan.findings, target.namespace));
  return scan;
}

// ---------------------------------------------------------------------------------------------------------------
// the hook in env.teardown()

const encryptedEnvs = new WeakMap<TestWorkflowEnvironment, ScanOptions>();

/** This server's histories must be encrypted throughout; with the keyring, their plaintext is scanned as well. */
export function expectEncryptedHistories(env: TestWorkflowEnvironment, keyring?: Keyring): void {
  if (keyring) registerKeyring('the codec key', keyring);
  encryptedEnvs.set(env, { encrypted: true, ...(keyring ? { codec: new AesGcmPayloadCodec(keyring) } : {}) });
}

/**
 * `env.teardown()` scans every history first, then always shuts the server down, then fails (the test file's
 * afterAll) if the scan found anything. A second teardown is a no-op.
 */
export function scanOnTeardown(env: TestWorkflowEnvironment): TestWorkflowEnvironment {
  const teardown = env.teardown.bind(env);
  let done: Promise<void> | undefined;
  env.teardown = () => {
    done ??= (async () => {
      let failure: unknown;
      try {
        await assertNoSecretsInHistories({ address: env.address, namespace: env.namespace ?? 'default' }, encryptedEnvs.get(env) ?? {});
      } catch (e) {
        failure = e;
      }
      await teardown();
      if (failure) throw failure;
    })();
    return done;
  };
  return env;
}
