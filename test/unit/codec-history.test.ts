import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { createDataConverter, failureConverter } from '../../codec/data-converter';
import { decodeHistory } from '../../codec/history';
import { payloadToJson } from '../../codec/json-payload';
import { keyringOf } from '../../codec/keys';

const MARKER = 'token-in-history-91ac';
const dataConverter = createDataConverter(keyringOf({ id: 'hist', key: Buffer.alloc(32, 3) }));
const [codec] = dataConverter.payloadCodecs!;
const encrypt = async (p: Payload) => (await codec.encode([p]))[0];

/** A stored history as the worker writes it with encryption on: an input, an activity result and an encoded failure. */
async function storedHistory(): Promise<temporal.api.history.v1.History> {
  const failure = failureConverter.errorToFailure(new Error(`join refused ${MARKER}`), defaultPayloadConverter);
  failure.encodedAttributes = await encrypt(failure.encodedAttributes!);
  return temporal.api.history.v1.History.create({
    events: [
      { workflowExecutionStartedEventAttributes: { input: { payloads: [await encrypt(defaultPayloadConverter.toPayload({ cluster: 'prod', token: MARKER }))] } } },
      { activityTaskCompletedEventAttributes: { result: { payloads: [await encrypt(defaultPayloadConverter.toPayload(`ok ${MARKER}`))] } } },
      { activityTaskFailedEventAttributes: { failure } },
    ],
  });
}

describe('decodeHistory', () => {
  it('decodes every payload and restores encoded failure messages', async () => {
    const stored = await storedHistory();
    const storedBytes = stored.events.flatMap((e) => [
      ...(e.workflowExecutionStartedEventAttributes?.input?.payloads ?? []),
      ...(e.activityTaskCompletedEventAttributes?.result?.payloads ?? []),
    ]);
    expect(storedBytes.filter((p) => Buffer.from(p.data!).includes(MARKER))).toEqual([]);
    expect(stored.events[2].activityTaskFailedEventAttributes!.failure!.message).toBe('Encoded failure');

    const history = await decodeHistory(stored, dataConverter);
    const [started, completed, failed] = history.events!;
    expect(defaultPayloadConverter.fromPayload(started.workflowExecutionStartedEventAttributes!.input!.payloads![0])).toEqual({ cluster: 'prod', token: MARKER });
    expect(defaultPayloadConverter.fromPayload(completed.activityTaskCompletedEventAttributes!.result!.payloads![0])).toBe(`ok ${MARKER}`);
    expect(failed.activityTaskFailedEventAttributes!.failure!.message).toBe(`join refused ${MARKER}`);
    expect(failed.activityTaskFailedEventAttributes!.failure!.stackTrace).toContain('codec-history.test.ts');
  });

  it('decodes a history exported as JSON (temporal workflow show --output json), payloads in base64 form', async () => {
    const failure = failureConverter.errorToFailure(new Error(`join refused ${MARKER}`), defaultPayloadConverter);
    const exported = {
      events: [
        { eventId: '1', workflowExecutionStartedEventAttributes: { input: { payloads: [payloadToJson(await encrypt(defaultPayloadConverter.toPayload(MARKER)))] } } },
        { eventId: '2', activityTaskFailedEventAttributes: { failure: { message: 'Encoded failure', encodedAttributes: payloadToJson(await encrypt(failure.encodedAttributes!)) } } },
      ],
    };
    expect(JSON.stringify(exported)).not.toContain(MARKER);
    const history = await decodeHistory(exported, dataConverter);
    const input = history.events[0].workflowExecutionStartedEventAttributes!.input.payloads[0];
    expect(input.metadata!.encoding).toBe(Buffer.from('json/plain').toString('base64'));
    expect(Buffer.from(input.data!, 'base64').toString()).toBe(JSON.stringify(MARKER));
    expect(history.events[1].activityTaskFailedEventAttributes!.failure.message).toBe(`join refused ${MARKER}`);
  });

  it('leaves history untouched without a codec, and names the missing key id with the wrong keyring', async () => {
    const stored = await storedHistory();
    expect(await decodeHistory(stored, undefined)).toBe(stored);
    expect(stored.events[2].activityTaskFailedEventAttributes!.failure!.message).toBe('Encoded failure');
    const otherKey = createDataConverter(keyringOf({ id: 'other', key: Buffer.alloc(32, 4) }));
    await expect(decodeHistory(await storedHistory(), otherKey)).rejects.toThrow(/key id "hist", which is not in the keyring/);
  });
});
