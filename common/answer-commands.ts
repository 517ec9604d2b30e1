/**
 * The commands that answer a runbook waiting for someone, worded once: `runbook watch`, the UI's current details and
 * the webhook notifications all print these, so what an operator copies from any of them is the same command.
 * Workflow-safe.
 */
export interface AnswerCommands {
  approve: string;
  reject: string;
  resume: string;
  decide: string;
  status: string;
}

export function answerCommands(workflowId: string): AnswerCommands {
  return {
    approve: `runbook approve ${workflowId}`,
    reject: `runbook reject ${workflowId} --reason "..."`,
    resume: `runbook resume ${workflowId}`,
    // The three decisions the controller takes (common/messages.ts FailureDecision); the operator picks one.
    decide: `runbook decide ${workflowId} retry|rollback|abort`,
    status: `runbook status ${workflowId}`,
  };
}
