/**
 * dqlite membership as every layer speaks it (workflow-safe): the three roles, spelt as go-dqlite spells them, and
 * one member of the datastore. `microk8s status` says `standby`; every parser maps it to `stand-by`.
 */
export type DqliteRole = 'voter' | 'stand-by' | 'spare';

export const ROLE_BY_NUMBER: Readonly<Record<number, DqliteRole>> = { 0: 'voter', 1: 'stand-by', 2: 'spare' };
export const NUMBER_BY_ROLE: Readonly<Record<DqliteRole, number>> = { voter: 0, 'stand-by': 1, spare: 2 };

export interface DqliteMember {
  /** Decimal uint64, as in info.yaml/cluster.yaml. */
  id: string;
  /** `<ip>:19001` or `[<ipv6>]:19001`. */
  address: string;
  role: DqliteRole;
}

/** Normalise a role from a number (0/1/2), go-dqlite's names, or status's `standby`. */
export function toDqliteRole(value: unknown): DqliteRole | undefined {
  if (typeof value === 'bigint') value = Number(value);
  if (typeof value === 'number') return ROLE_BY_NUMBER[value];
  if (typeof value !== 'string') return undefined;
  const s = value.trim().toLowerCase();
  if (/^\d+$/.test(s)) return ROLE_BY_NUMBER[Number(s)];
  if (s === 'voter') return 'voter';
  if (s === 'stand-by' || s === 'standby') return 'stand-by';
  if (s === 'spare') return 'spare';
  return undefined;
}
