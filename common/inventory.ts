/**
 * The inventory: which nodes make up a cluster and how to reach them. Validated with zod at every
 * boundary (CLI before start, workflow entry). It holds references (key file paths, agent), never secrets.
 * Workflow-safe: no Node built-ins.
 */
import { z } from 'zod';
import { SHELL_META } from './shell';

/** The most nodes one inventory may list: one runbook's history and the payload limit stay bounded. */
export const MAX_NODES = 1000;
const NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const ABS_PATH = /^\/[A-Za-z0-9._/+-]*$/;
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}=?$/;

export function isIPv4(s: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  return !!m && m.slice(1).every((o) => Number(o) <= 255 && String(Number(o)) === o);
}

const nodeName = z
  .string()
  .regex(NAME, { error: 'must be a lowercase DNS label (a-z, 0-9, "-"), as Kubernetes node names are' });
/** Why an IPv4 address cannot be a node's: "this network", broadcast, multicast and reserved addresses reach no one host. */
export function unusableIPv4(s: string): string | undefined {
  const first = Number(s.split('.')[0]);
  if (first === 0) return 'is a "this network" address (0.x.x.x), not a host; give the node\'s own IP';
  if (s === '255.255.255.255') return 'is the broadcast address, not a host; give the node\'s own IP';
  if (first >= 224 && first <= 239) return 'is a multicast address, not a host; give the node\'s own IP';
  if (first >= 240) return 'is a reserved address (240.0.0.0/4), not a host; give the node\'s own IP';
  return undefined;
}

const ipv4 = z
  .string()
  .refine(isIPv4, { error: (iss) => `${JSON.stringify(iss.input)} is not an IPv4 address (microk8s join needs an IP literal)` })
  .superRefine((s, ctx) => {
    const why = unusableIPv4(s);
    if (why) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(s)} ${why}` });
  });
const port = z.number().int().min(1).max(65535);
const user = z.string().regex(USER, { error: 'must be a plain POSIX user name (a-z, 0-9, "_", "-")' });
const absPath = z
  .string()
  .regex(ABS_PATH, { error: 'must be an absolute path of letters, digits and . _ / + - only' })
  .refine((p) => !p.split('/').includes('..'), { error: 'must not contain ".."' });
/** A path on the engine's machine (a key file, known_hosts): "~/" is allowed, shell metacharacters are not. */
const localPath = z
  .string()
  .min(1)
  .refine((p) => !SHELL_META.test(p.replace(/^~\//, '')), { error: 'must not contain spaces or shell metacharacters' });
const hostKey = z.string().regex(FINGERPRINT, { error: 'must be an OpenSSH fingerprint like "SHA256:<43 base64 chars>"' });

export const HostKeyPolicy = z.enum(['strict', 'accept-new']);
export type HostKeyPolicy = z.infer<typeof HostKeyPolicy>;
export const Role = z.enum(['controlplane', 'worker']);
export type Role = z.infer<typeof Role>;

const Paths = z.strictObject({
  /** Where the `microk8s` command lives (`/snap/bin`). */
  snapBin: absPath.optional(),
  /** The snap mount (`/snap/microk8s`); the dqlite client is `<snap>/current/bin/dqlite`. */
  snap: absPath.optional(),
  /** The snap data directory (`/var/snap/microk8s`). */
  snapData: absPath.optional(),
  /** Ubuntu's reboot sentinel (`/var/run/reboot-required`; its package list is the same name + `.pkgs`). */
  rebootRequired: absPath.optional(),
  /** The kernel's boot id (`/proc/sys/kernel/random/boot_id`): it changes on every boot. */
  bootId: absPath.optional(),
});

const Connection = {
  port: port.optional(),
  user: user.optional(),
  identityFile: localPath.optional(),
  agent: z.boolean().optional(),
};

const Jump = z.strictObject({ address: ipv4, ...Connection, hostKey: hostKey.optional() });

const NodeInput = z.strictObject({
  name: nodeName,
  address: ipv4,
  role: Role.default('controlplane'),
  ...Connection,
  jump: Jump.optional(),
  hostKey: hostKey.optional(),
  become: z.enum(['sudo', 'none']).optional(),
  failureDomain: z.number().int().min(0).max(2 ** 31).optional(),
  paths: Paths.optional(),
});

const Defaults = z.strictObject({
  ...Connection,
  become: z.enum(['sudo', 'none']).optional(),
  jump: Jump.optional(),
  paths: Paths.optional(),
});

/** What a webhook is told about (README "Notifications"): each target may pick a subset with `on`. */
export const NOTIFICATION_EVENTS = ['approval', 'pause', 'failure', 'end'] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];
export const NotificationFormat = z.enum(['webhook', 'slack'], {
  error: 'must be webhook (a generic JSON body) or slack (Slack\'s incoming-webhook format)',
});
export type NotificationFormat = z.infer<typeof NotificationFormat>;
/** The most webhook targets one inventory may name: every event is one delivery per target. */
export const MAX_NOTIFICATION_TARGETS = 10;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const WHERE_THE_URL_GOES = 'urlEnv: NAME (an environment variable of the worker that holds the URL) or urlFile: /abs/path (a file on the worker that holds it)';

/**
 * One webhook. The inventory names where the worker finds the URL, never the URL itself: a webhook URL usually
 * carries its token, and the inventory is the workflow's input, kept in history.
 */
const NotificationTargetInput = z
  .strictObject({
    format: NotificationFormat,
    urlEnv: z
      .string()
      .regex(ENV_NAME, { error: 'must be an environment variable name (letters, digits and "_", not starting with a digit), e.g. SLACK_WEBHOOK_URL' })
      .refine((n) => !n.startsWith('RUNBOOK_'), { error: "names one of the engine's own variables (RUNBOOK_*); give the URL a variable of its own, e.g. SLACK_WEBHOOK_URL" })
      .optional(),
    urlFile: absPath.optional(),
    url: z
      .unknown()
      .refine(() => false, { error: `the URL itself never goes in the inventory (it usually holds a token, and the inventory is kept in the workflow history); name where the worker finds it instead: ${WHERE_THE_URL_GOES}` })
      .optional(),
    on: z
      .array(z.enum(NOTIFICATION_EVENTS, { error: `must be one of ${NOTIFICATION_EVENTS.join(', ')}` }))
      .min(1, { error: `lists no event; list some of ${NOTIFICATION_EVENTS.join(', ')}, or leave "on" out for all of them` })
      .optional(),
  })
  .superRefine((t, ctx) => {
    if (t.urlEnv !== undefined && t.urlFile !== undefined) ctx.addIssue({ code: 'custom', message: 'has both urlEnv and urlFile; keep the one the worker should read' });
    else if (t.urlEnv === undefined && t.urlFile === undefined) ctx.addIssue({ code: 'custom', message: `names no URL; add ${WHERE_THE_URL_GOES}` });
  });

export const InventoryInput = z
  .strictObject({
    cluster: nodeName,
    knownHosts: localPath.optional(),
    hostKeyPolicy: HostKeyPolicy.default('strict'),
    defaults: Defaults.optional(),
    notifications: z
      .array(NotificationTargetInput)
      .max(MAX_NOTIFICATION_TARGETS, { error: `names more than ${MAX_NOTIFICATION_TARGETS} webhooks; every event is sent to each one, so point them at fewer (a chat channel can fan out)` })
      .optional(),
    nodes: z
      .array(NodeInput)
      .min(1, { error: 'must list at least one node' })
      .max(MAX_NODES, { error: `lists more than ${MAX_NODES} nodes, the most one runbook drives; split the cluster's inventory or run a fleet` }),
  })
  .superRefine((inv, ctx) => {
    const seen = new Map<string, number>();
    inv.nodes.forEach((n, i) => {
      for (const [key, value] of [
        ['name', n.name],
        ['address', `${n.address}:${n.port ?? inv.defaults?.port ?? 22}`],
      ] as const) {
        const k = `${key}=${value}`;
        const first = seen.get(k);
        if (first !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['nodes', i, key],
            message: `${JSON.stringify(key === 'name' ? n.name : n.address)} duplicates nodes[${first}].${key}; every node needs its own`,
          });
        } else seen.set(k, i);
      }
    });
  });
export type InventoryInput = z.input<typeof InventoryInput>;

export interface NodePaths {
  snapBin: string;
  snap: string;
  snapData: string;
  rebootRequired: string;
  bootId: string;
}

export interface JumpSpec {
  address: string;
  port: number;
  user: string;
  identityFile?: string;
  agent?: boolean;
  hostKey?: string;
}

/** A node with every default applied: what activities receive. No secrets, only references. */
export interface NodeSpec {
  name: string;
  address: string;
  port: number;
  user: string;
  role: Role;
  identityFile?: string;
  agent?: boolean;
  jump?: JumpSpec;
  hostKey?: string;
  become: 'sudo' | 'none';
  failureDomain?: number;
  paths: NodePaths;
}

/** A webhook with its defaults applied: exactly one of `urlEnv` and `urlFile`, read by the worker at each delivery. */
export interface NotificationTarget {
  format: NotificationFormat;
  urlEnv?: string;
  urlFile?: string;
  /** The events sent to it (all of them unless the inventory says `on`). */
  on: NotificationEvent[];
}

export interface Inventory {
  cluster: string;
  knownHosts?: string;
  hostKeyPolicy: HostKeyPolicy;
  /** Absent when the inventory names no webhook: then a runbook schedules no notification at all. */
  notifications?: NotificationTarget[];
  nodes: NodeSpec[];
}

export const DEFAULT_PATHS: NodePaths = {
  snapBin: '/snap/bin',
  snap: '/snap/microk8s',
  snapData: '/var/snap/microk8s',
  rebootRequired: '/var/run/reboot-required',
  bootId: '/proc/sys/kernel/random/boot_id',
};

export class InventoryError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(problems.map((p) => `${file}: ${p}`).join('\n'));
    this.name = 'InventoryError';
  }
}

/** `nodes[2].address` from a zod path. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join('');
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.length ? formatPath(issue.path) : '(top level)';
  if (issue.code === 'unrecognized_keys') {
    return `${where}: unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}; remove ${issue.keys.length > 1 ? 'them' : 'it'} or check the spelling`;
  }
  if (issue.code === 'invalid_type') {
    return `${where}: expected ${issue.expected}; fix the value's type`;
  }
  return `${where}: ${issue.message}`;
}

/** Validate a parsed inventory and apply defaults. Throws InventoryError naming the file, path and fix. */
export function resolveInventory(raw: unknown, file = 'inventory'): Inventory {
  const parsed = InventoryInput.safeParse(raw);
  if (!parsed.success) throw new InventoryError(file, parsed.error.issues.map(describeIssue));
  const inv = parsed.data;
  const d = inv.defaults ?? {};
  return {
    cluster: inv.cluster,
    knownHosts: inv.knownHosts,
    hostKeyPolicy: inv.hostKeyPolicy,
    ...(inv.notifications?.length
      ? {
          notifications: inv.notifications.map((t) => ({
            format: t.format,
            ...(t.urlEnv !== undefined ? { urlEnv: t.urlEnv } : { urlFile: t.urlFile }),
            on: t.on ? NOTIFICATION_EVENTS.filter((e) => t.on!.includes(e)) : [...NOTIFICATION_EVENTS],
          })),
        }
      : {}),
    nodes: inv.nodes.map((n) => {
      const jump = n.jump ?? d.jump;
      return {
        name: n.name,
        address: n.address,
        port: n.port ?? d.port ?? 22,
        user: n.user ?? d.user ?? 'root',
        role: n.role,
        identityFile: n.identityFile ?? d.identityFile,
        agent: n.agent ?? d.agent,
        jump: jump && { ...jump, port: jump.port ?? 22, user: jump.user ?? 'root' },
        hostKey: n.hostKey,
        become: n.become ?? d.become ?? 'sudo',
        failureDomain: n.failureDomain,
        paths: { ...DEFAULT_PATHS, ...d.paths, ...n.paths },
      };
    }),
  };
}

/** Paths a runbook uses on a node. */
export function nodePaths(node: NodeSpec) {
  const data = `${node.paths.snapData}/current`;
  const backend = `${data}/var/kubernetes/backend`;
  return {
    microk8s: `${node.paths.snapBin}/microk8s`,
    dqlite: `${node.paths.snap}/current/bin/dqlite`,
    snapData: data,
    backend,
    clusterYaml: `${backend}/cluster.yaml`,
    infoYaml: `${backend}/info.yaml`,
    clusterCrt: `${backend}/cluster.crt`,
    clusterKey: `${backend}/cluster.key`,
    haConf: `${data}/args/ha-conf`,
    locks: `${data}/var/lock`,
    rebootRequired: node.paths.rebootRequired,
    rebootRequiredPkgs: `${node.paths.rebootRequired}.pkgs`,
    bootId: node.paths.bootId,
  };
}
