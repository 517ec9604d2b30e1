/**
 * Typed failures of the SSH layer. The type decides retrying: the worker's retry policy and the workflows'
 * `nonRetryableErrorTypes` both read `FailureType`, and the non-retryable ones are also flagged here so a
 * policy that forgets them still stops.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../common/constants';

export const REDACTED = '<redacted>';

/** Replace every secret by `<redacted>`; empty strings are ignored (they would match everywhere). */
export function redactor(secrets: readonly string[] = []): (text: string) => string {
  const list = secrets.filter((s) => typeof s === 'string' && s.length > 0).sort((a, b) => b.length - a.length);
  if (list.length === 0) return (text) => text;
  return (text) => list.reduce((acc, secret) => acc.split(secret).join(REDACTED), text);
}

export function invalidInput(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, FailureType.InvalidInput);
}

export function authFailed(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, FailureType.SshAuthFailed);
}

export function hostKeyMismatch(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, FailureType.HostKeyMismatch);
}

export function hostKeyUnknown(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, FailureType.HostKeyUnknown);
}

/** Refused, reset, timed out or lost: the network may heal, so Temporal retries. */
export function connectionFailed(message: string): ApplicationFailure {
  return ApplicationFailure.retryable(message, FailureType.SshConnectionFailed);
}

export function commandTimedOut(message: string): ApplicationFailure {
  return ApplicationFailure.retryable(message, FailureType.CommandTimedOut);
}

/**
 * A non-zero exit is retryable: most failures on a node are transient (apt lock, API not ready yet).
 * Activities that recognise a permanent condition convert it to PreconditionFailed, which is not.
 */
/** `details` may carry `{ commands }`: the session's redacted records, so a failed attempt still shows in the audit. */
export function commandFailed(message: string, ...details: unknown[]): ApplicationFailure {
  return ApplicationFailure.retryable(message, FailureType.CommandFailed, ...details);
}
