/**
 * DynamoDB actions each function needs, read off the token store calls its code makes (a TransactWriteItems is
 * authorised per item, by the action of each item's operation):
 * - dispatcher: readLayout (GetItem), initialise (PutItem), claim/register/renew/checkpoint/release (UpdateItem); a
 *   checkpoint that parks records or records a source skip is a TransactWriteItems of the partition Update and a Put
 *   of each letter or skip item (PutItem);
 * - worker: reads the dispatcher's lease (GetItem), and writes nothing of the token store's;
 * - dispatch, worker and redrive alike: the idempotency records of `idempotency()` (shared/effects), items
 *   `PROCESSOR#<name>#EFFECT#…` of the token table that a handler's effects take (PutItem), complete and release
 *   (UpdateItem);
 * - redrive: readLayout and the partition state (GetItem, Query, BatchGetItem), a key's letters (Query), taking and
 *   renewing the lease on a parked key's entry of the partition item (UpdateItem), resolving a letter (a
 *   TransactWriteItems of the letter's Delete and the partition Update, with PutItem and ConditionCheckItem for the
 *   other items such a transaction may hold);
 * - begin: readLayout, beginLayoutChange (UpdateItem), and first rolling back an abandoned change (the apply
 *   transaction);
 * - check: readState (Query, BatchGetItem);
 * - apply, rollback: readLayout, finishLayoutChange (TransactWriteItems of an Update and a Put);
 * - plan: readLayout.
 * - admin: readState and readLayout (Query, BatchGetItem, GetItem), skips, letters, lag samples and audit (Query),
 *   a lag sample (PutItem), accepting an operation (a TransactWriteItems of Puts: operation, head, audit), moving
 *   it on (UpdateItem).
 * - resetPlan (the reset's disable and plan steps, cdk/reset-state-machine.ts): the layout and the partition items
 *   (GetItem, BatchGetItem);
 * - reset (its write step): a partition item (GetItem), written in a TransactWriteItems of its Update and a
 *   ConditionCheck of the layout; parked letters deleted as the operator's delete does (a TransactWriteItems of the
 *   letter's Delete, the partition Update and the audit Put, after reading them: Query); the reset's audit item
 *   (PutItem).
 */
export const TABLE_ACTIONS = {
  dispatch: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
  worker: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
  redrive: [
    'dynamodb:BatchGetItem',
    'dynamodb:ConditionCheckItem',
    'dynamodb:DeleteItem',
    'dynamodb:GetItem',
    'dynamodb:PutItem',
    'dynamodb:Query',
    'dynamodb:UpdateItem',
  ],
  begin: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
  check: ['dynamodb:BatchGetItem', 'dynamodb:Query'],
  apply: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
  rollback: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
  plan: ['dynamodb:GetItem'],
  admin: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'],
  resetPlan: ['dynamodb:BatchGetItem', 'dynamodb:GetItem'],
  reset: [
    'dynamodb:ConditionCheckItem',
    'dynamodb:DeleteItem',
    'dynamodb:GetItem',
    'dynamodb:PutItem',
    'dynamodb:Query',
    'dynamodb:UpdateItem',
  ],
} as const;
