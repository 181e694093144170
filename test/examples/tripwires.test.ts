import { expect, test } from 'vitest';
import { tripwiresExample } from '../../examples/tripwires.js';

const AGENT = 'spiffe://example.org/agents/support';
const BURST = '3 denials within 60 s (the last: tool_not_granted for "tickets.delete")';
const CANARY = 'called the canary tool "admin.export_all"';

test('examples/tripwires.ts: a probing agent trips, is refused, is lifted by a person, and the canary stops it again', async () => {
  expect(await tripwiresExample()).toEqual([
    'The agent works on its ticket:',
    '  allowed  read ticket 4711',
    '\nHijacked, it probes (threshold: 3 denials in a minute):',
    '  denied   read ticket 4712: arguments_out_of_scope',
    '  denied   read ticket 1: arguments_out_of_scope',
    `  tripwire denial_burst tripped for ${AGENT}: ${BURST}`,
    '  denied   delete ticket 4711: tool_not_granted',
    '\nIts next legitimate call:',
    '  denied   read ticket 4711: capability_revoked',
    '\nA person looks at the quarantine and lifts it:',
    `  quarantined ${AGENT}: denial_burst on tickets.delete by guard support-app (${BURST})`,
    '  lifted by ann@example.com ("incident 12: prompt injection in ticket 4712 removed"): stop lifted',
    '  allowed  read ticket 4711',
    '\nThe canary: one call stops the agent at once:',
    `  tripwire canary tripped for ${AGENT}: ${CANARY}`,
    '  denied   admin.export_all: capability_revoked',
    '  denied   read ticket 4711: capability_revoked',
    `  quarantined ${AGENT}: canary on admin.export_all by guard support-app (${CANARY})`,
  ]);
});
