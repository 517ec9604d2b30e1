import type { RegisterCommands } from '../context';

/** Placeholder until the upgrade runbook's commands land. */
export const registerUpgradeCommands: RegisterCommands = () => undefined;
