import type { RegisterCommands } from '../context';

/** Placeholder until the recovery runbook's commands land. */
export const registerRecoveryCommands: RegisterCommands = () => undefined;
