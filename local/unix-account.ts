/**
 * A system account's ids, and making a directory reachable for it: the lab's SSH user and the stack's PostgreSQL
 * (which refuses to run as root) both need to pass through the directories above their own.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export interface Ids {
  uid: number;
  gid: number;
}

export function idsOf(user: string): Ids {
  const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

/**
 * Directories above `dir` that `user` could not pass through, made passable (o+x: search, not list). Returns them so
 * the caller can say what it changed.
 */
export function grantTraversal(dir: string, uid: number): string[] {
  const changed: string[] = [];
  for (let d = path.dirname(path.resolve(dir)); ; d = path.dirname(d)) {
    const st = fs.statSync(d);
    const passable = st.uid === uid ? (st.mode & 0o100) !== 0 : (st.mode & 0o001) !== 0;
    if (!passable) {
      fs.chmodSync(d, (st.mode & 0o7777) | 0o001);
      changed.push(d);
    }
    if (d === path.dirname(d)) return changed;
  }
}
