/**
 * Extra span attributes an adapter knows and the guard does not (e.g. the MCP JSON-RPC request
 * id). The adapter runs the call inside `withCallAttributes`; the guard's recorder adds them when
 * it starts the call's span. Only the first span started in the scope gets them: a guarded call
 * made by the tool's body is another call, with its own id.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Attributes } from '@opentelemetry/api';
import type { Recorder } from './recorder.js';

const scope = new AsyncLocalStorage<{ readonly attributes: Attributes; used: boolean }>();

export function withCallAttributes<T>(attributes: Attributes, fn: () => T): T {
  return scope.run({ attributes, used: false }, fn);
}

/** The recorder, adding the attributes in scope to each span it starts. */
export function withScopedAttributes(recorder: Recorder): Recorder {
  return {
    recordArguments: recorder.recordArguments,
    start(tool, attributes) {
      const extra = scope.getStore();
      if (extra === undefined || extra.used) return recorder.start(tool, attributes);
      extra.used = true;
      // The guard's own attributes win: an adapter never overwrites the call id or the tool.
      return recorder.start(tool, { ...extra.attributes, ...attributes });
    },
    sideEffect: (span, kind, attributes) => recorder.sideEffect(span, kind, attributes),
    shadowDenial: (tool, code) => recorder.shadowDenial(tool, code),
    finish: (call, decision, tool, overheadUs, code, errorType) => recorder.finish(call, decision, tool, overheadUs, code, errorType),
  };
}
