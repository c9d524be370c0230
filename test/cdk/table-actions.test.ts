import { describe, expect, it } from 'vitest';
import { TABLE_ACTIONS } from '../../cdk/table-actions.js';
import { idempotency } from '../../shared/effects/idempotency.js';
import { faultyEffectsClient, recordContext, rejectionOf } from '../support/effects.js';
import { freshTokenTable } from '../support/dynamodb.js';

/** The IAM action of a DynamoDB command (`PutItemCommand` → `dynamodb:PutItem`). */
const actionOf = (command: string) => `dynamodb:${command.replace(/Command$/, '')}`;

describe('table actions of the idempotency records', () => {
  it("are granted to the dispatcher, the worker and the redrive, on keys under the processor's prefix", async () => {
    const tableName = await freshTokenTable();
    const { client, sent } = faultyEffectsClient();
    const once = idempotency({ client, tableName });
    const context = recordContext({ processor: 'order-projection', offset: 3 });

    // Every path: take and complete, a stored result, a refusal while held, a failure that releases the record.
    await once.run(context, async () => 'done');
    await once.run({ ...context }, async () => 'again');
    const held = once.run({ ...context, offset: 4 }, () => new Promise((resolve) => setTimeout(resolve, 200)));
    await rejectionOf(() => once.run({ ...context, offset: 4, redrive: true, requestId: 'other' }, async () => 1));
    await held;
    await rejectionOf(() =>
      once.run({ ...context, offset: 5 }, async () => {
        throw new Error('provider down');
      }),
    );

    const actions = [...new Set(sent.commands.map((c) => actionOf(c.name)))].sort();
    expect(actions).toEqual(['dynamodb:PutItem', 'dynamodb:UpdateItem']);
    for (const fn of ['dispatch', 'worker', 'redrive'] as const) {
      expect({ fn, missing: actions.filter((a) => !(TABLE_ACTIONS[fn] as readonly string[]).includes(a)) }).toEqual({
        fn,
        missing: [],
      });
    }
    // The construct's LeadingKeys condition admits `PROCESSOR#<name>` and `PROCESSOR#<name>#*` only.
    for (const { input } of sent.commands) {
      const key = (input.Key ?? input.Item) as { pk: { S: string } };
      expect(key.pk.S).toMatch(/^PROCESSOR#order-projection#EFFECT#[\w-]{32}$/);
    }
    client.destroy();
  });
});
