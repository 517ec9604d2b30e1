/** What `runbook stack status` shows: each component's pid, port and whether it is up (running and listening). */
import { LocalFileError, readLocalFileSync } from '../files';
import { portInUse } from '../ports';
import { componentPort, STACK_COMPONENTS, stackPaths, type StackComponent, type StackPaths, type StackPorts } from './layout';
import { runningRecord } from './processes';

export interface ComponentStatus {
  component: StackComponent;
  pid?: number;
  port: number;
  up: boolean;
}

/** The ports the stack was last started with (kept by `down`, so status shows them), if any. */
export function recordedPorts(paths: StackPaths): StackPorts | undefined {
  try {
    const p = JSON.parse(readLocalFileSync(paths.portsFile, 'pid file').data.toString('utf8')) as StackPorts;
    return [p.port, p.uiPort, p.pgPort].every((n) => Number.isInteger(n)) ? p : undefined;
  } catch (e) {
    if (e instanceof LocalFileError || e instanceof SyntaxError) return undefined;
    throw e;
  }
}

export async function stackStatus(stateDir: string, fallback: StackPorts): Promise<ComponentStatus[]> {
  const paths = stackPaths(stateDir);
  const ports = recordedPorts(paths) ?? fallback;
  return Promise.all(
    STACK_COMPONENTS.map(async (component) => {
      const r = runningRecord(paths.runDir, component);
      const port = r?.port ?? componentPort(component, ports);
      return { component, ...(r ? { pid: r.pid } : {}), port, up: !!r && (await portInUse(port)) };
    }),
  );
}
