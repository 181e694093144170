import { afterEach, describe, expect, test } from 'vitest';
import { withCallAttributes } from '../../src/telemetry/call-attributes.js';
import { setup } from '../support/fixtures.js';
import { createSpanCapture } from '../support/otel.js';

// Attributes an adapter puts in scope reach the first span the guard starts in that scope, as
// the real SDK records it; the guard's own attributes win over an adapter's of the same name.

const capture = createSpanCapture();
afterEach(() => capture.reset());

describe('withCallAttributes', () => {
  test("the first call in scope gets the adapter's attributes; the guard's own win on a clash; a later call gets none", async () => {
    const { guard, readTicket, grant } = await setup({ telemetry: { tracer: capture.tracer } });
    const capability = await grant();
    await guard.withCapability(capability, () =>
      withCallAttributes({ 'mcp.request.id': '17', 'gen_ai.tool.name': 'spoofed', 'gen_ai.tool.call.id': 'spoofed' }, async () => {
        await readTicket({ ticketId: '4711' }, { callId: 'outer' });
        await readTicket({ ticketId: '4711' }, { callId: 'second' });
      }),
    );
    const spans = await capture.spans();
    expect(spans.map((s) => s.attributes['gen_ai.tool.call.id'])).toEqual(['outer', 'second']);
    const [first, second] = spans;
    expect(first!.attributes['mcp.request.id']).toBe('17');
    expect(first!.attributes['gen_ai.tool.name']).toBe('tickets.read');
    expect(first!.attributes['gen_ai.operation.name']).toBe('execute_tool');
    expect(second!.attributes).not.toHaveProperty('mcp.request.id');
  });
});
