import { expect, test } from 'vitest';
import { decisionLogExample } from '../../examples/decision-log.js';

test('examples/decision-log.ts: the log verifies, proves one call, and names the records an edit changed', async () => {
  expect(await decisionLogExample()).toEqual([
    'Calls, each one a record in the log:',
    '  call-1 allowed  read ticket 4711',
    '  call-2 allowed  read ticket 4712',
    '  call-3 denied   read ticket 9999: arguments_out_of_scope',
    '  call-4 allowed  read ticket 4711',
    '  call-5 denied   read ticket 4712: call_limit_exceeded',
    '  call-6 denied   read ticket 4711: call_limit_exceeded',
    '\nVerify the log offline with the published key set:',
    '  6 records, 2 signed tree heads: intact, complete',
    '\nProve that call-3 is in the log:',
    '  record 2: deny arguments_out_of_scope',
    '  leaf 2 of 6, 3 hashes on the inclusion path to the root of a signed tree head',
    "  the path leads from the record's leaf hash to the signed root: yes",
    '\nSomeone edits record 2 on disk (denied becomes allowed):',
    '  6 records, 2 signed tree heads: TAMPERED',
    '  changed: records 0-3: at least one was changed after it was signed; they do not hash to the tree head of size 4 (support-guard.000001.jsonl:5)',
  ]);
});
