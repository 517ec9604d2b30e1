/**
 * Failure messages and stack traces are plain text in history unless encoded: this converter moves them into a
 * payload (which the codec encrypts) and leaves "Encoded failure" as the visible message. Loaded by path, in the
 * workflow sandbox too, so it imports nothing but @temporalio/common.
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
