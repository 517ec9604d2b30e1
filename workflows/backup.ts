// Runbook workflow: see docs/design.md. Placeholder until it lands.
export {};
