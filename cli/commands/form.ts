import type { RegisterCommands } from '../context';

/** Placeholder until the form runbook's commands land. */
export const registerFormCommands: RegisterCommands = () => undefined;
