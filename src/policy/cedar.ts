/**
 * `tessera-guard/cedar`: a policy engine on Cedar (`@cedar-policy/cedar-wasm`, an optional peer).
 *
 * The schema is generated from the tools the engine is given; the policies are validated against
 * it when the engine is created, and an invalid policy throws `InvalidPolicyError` carrying
 * Cedar's own diagnostics placed at their lines. Policies and schema are pre-parsed once into
 * Cedar's stateful cache, so a call never re-parses them.
 *
 * Annotations Tessera reads: `@id("...")` names a policy; `@approval("required")` on a permit
 * turns an allow into a request for a human's approval; `@reason("...")` is shown in the denial.
 */
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { z } from 'zod';
import { randomId } from '../util/canonical.js';
import { parseOptions } from '../util/options.js';
import { InvalidPolicyError, lineColumn, type PolicyIssue } from './errors.js';
import { generateCedarSchema, type CedarToolDefinition } from './cedar-schema.js';
import type { PolicyDecision, PolicyEngine, PolicyRequest } from './types.js';

export type { CedarToolDefinition } from './cedar-schema.js';

export interface CedarEngineOptions {
  /** A Cedar policy set as text (one file), or policies keyed by id. */
  policies: string | Readonly<Record<string, string>>;
  /** The tools the policies govern: guarded tools, or their definitions. */
  tools: readonly (CedarToolDefinition | { readonly definition: CedarToolDefinition })[];
  /** File name or label for diagnostics; default `<cedar>`. */
  source?: string;
  /** Engine name on spans and in reasons; default `cedar`. */
  name?: string;
  /** IANA zone for `context.time.hour`, `.minute` and `.weekday`; default UTC. */
  timeZone?: string;
  /** Identity attribute holding the agent's roles (a list of strings); default `roles`. */
  roleClaim?: string;
}

export interface CedarEngine extends PolicyEngine {
  /** The generated Cedar schema (JSON form), to review or to write policies against. */
  readonly schema: Readonly<Record<string, unknown>>;
  readonly policyIds: readonly string[];
}

/** The id reported when the tool has no action in the schema. */
export const CEDAR_UNKNOWN_TOOL_ID = 'tessera.cedar.unknown-tool';
/** The id reported when Cedar denied because no permit matched. */
export const CEDAR_NO_PERMIT_ID = 'tessera.cedar.no-permit';

interface PolicyPart {
  readonly id: string;
  readonly text: string;
  /** Where the policy starts in the source text. */
  readonly offset: number;
  readonly approval: boolean;
  readonly reason: string | undefined;
}

const WEEKDAY = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

function issuesOf(errors: readonly cedar.DetailedError[], text: string, offsetOf: (policyId: string | undefined) => number, policyId?: string): PolicyIssue[] {
  return errors.map((e) => {
    const loc = e.sourceLocations?.[0];
    const at = loc === undefined ? {} : lineColumn(text, offsetOf(policyId) + loc.start);
    return { path: policyId ?? '', message: e.message, ...(e.help ? { help: e.help } : {}), ...at };
  });
}

function splitPolicies(policies: string | Readonly<Record<string, string>>, source: string): { parts: PolicyPart[]; text: string } {
  const entries: [string | undefined, string, number][] = [];
  let text: string;
  if (typeof policies === 'string') {
    text = policies;
    const split = cedar.policySetTextToParts(policies);
    if (split.type === 'failure') throw new InvalidPolicyError(source, issuesOf(split.errors, text, () => 0));
    if (split.policy_templates.length > 0) throw new InvalidPolicyError(source, [{ path: '', message: 'policy templates are not supported; write static policies' }]);
    let from = 0;
    for (const p of split.policies) {
      const at = policies.indexOf(p, from);
      entries.push([undefined, p, at < 0 ? 0 : at]);
      if (at >= 0) from = at + p.length;
    }
  } else {
    if (policies === null || typeof policies !== 'object') throw new TypeError('policies must be Cedar text or an object of id → policy text');
    text = '';
    for (const [id, p] of Object.entries(policies)) {
      if (typeof p !== 'string') throw new TypeError(`policy "${id}" must be Cedar text`);
      entries.push([id, p, text.length]);
      text += `${p}\n`;
    }
  }
  const parts: PolicyPart[] = [];
  const seen = new Set<string>();
  entries.forEach(([given, p, offset], i) => {
    const json = cedar.policyToJson(p);
    if (json.type === 'failure') throw new InvalidPolicyError(source, issuesOf(json.errors, text, () => offset));
    const annotations = json.json.annotations ?? {};
    const id = given ?? annotations.id ?? `policy${i}`;
    if (seen.has(id)) throw new InvalidPolicyError(source, [{ path: id, message: `duplicate policy id "${id}"`, ...lineColumn(text, offset) }]);
    seen.add(id);
    // A misspelt or empty @approval would otherwise be ignored and the permit would allow outright.
    if (annotations.approval !== undefined && annotations.approval !== 'required') {
      throw new InvalidPolicyError(source, [{ path: id, message: `@approval must be "required", got ${JSON.stringify(annotations.approval)}`, ...lineColumn(text, offset) }]);
    }
    parts.push({ id, text: p, offset, approval: json.json.effect === 'permit' && annotations.approval === 'required', reason: annotations.reason });
  });
  return { parts, text };
}

function timeParts(timeZone: string | undefined): (ms: number) => { hour: number; minute: number; weekday: string } {
  if (timeZone === undefined || timeZone === 'UTC') {
    return (ms) => {
      const d = new Date(ms);
      return { hour: d.getUTCHours(), minute: d.getUTCMinutes(), weekday: WEEKDAY[d.getUTCDay()]! };
    };
  }
  const fmt = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  return (ms) => {
    let hour = 0;
    let minute = 0;
    let weekday = 'sun';
    for (const p of fmt.formatToParts(ms)) {
      if (p.type === 'hour') hour = Number(p.value);
      else if (p.type === 'minute') minute = Number(p.value);
      else if (p.type === 'weekday') weekday = p.value.slice(0, 3).toLowerCase();
    }
    return { hour, minute, weekday };
  };
}

const optionsSchema = z.strictObject({
  policies: z.union([z.string(), z.record(z.string(), z.string())], { error: 'must be a Cedar policy set as text, or policies keyed by id' }),
  tools: z.array(z.custom<object>((v) => (typeof v === 'object' && v !== null) || typeof v === 'function', { message: 'must be a guarded tool or its definition' })).min(1, {
    error: 'must list the tools the policies govern',
  }),
  source: z.string().optional(),
  name: z.string().min(1).optional(),
  timeZone: z.string().optional(),
  roleClaim: z.string().min(1).optional(),
});

export function createCedarEngine(options: CedarEngineOptions): CedarEngine {
  parseOptions(optionsSchema, options, 'createCedarEngine options');
  const source = options.source ?? '<cedar>';
  const roleClaim = options.roleClaim ?? 'roles';
  if (options.timeZone !== undefined) new Intl.DateTimeFormat('en-US', { timeZone: options.timeZone }); // throws RangeError naming a bad zone
  const defs = options.tools.map((t) => ('definition' in t && t.definition !== undefined ? t.definition : (t as CedarToolDefinition)));
  const risks = new Map(defs.map((d) => [d.name, d.risk ?? 'write']));
  const { schema, args } = generateCedarSchema(defs);
  const { parts, text } = splitPolicies(options.policies, source);
  // No prototype: a policy with @id("__proto__") must be an own key, not silently dropped.
  const staticPolicies: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const p of parts) staticPolicies[p.id] = p.text;
  const offsetOf = (id: string | undefined): number => parts.find((p) => p.id === id)?.offset ?? 0;

  const checked = cedar.validate({ schema: schema as cedar.Schema, policies: { staticPolicies }, validationSettings: { mode: 'strict' } });
  if (checked.type === 'failure') throw new InvalidPolicyError(source, issuesOf(checked.errors, text, () => 0));
  if (checked.validationErrors.length > 0) {
    throw new InvalidPolicyError(source, checked.validationErrors.flatMap((v) => issuesOf([v.error], text, offsetOf, v.policyId)));
  }
  // Cedar's cache is per module instance; a random suffix keeps two engines from sharing a slot.
  const key = `tessera-${randomId()}`;
  const ps = cedar.preparsePolicySet(key, { staticPolicies });
  const sc = cedar.preparseSchema(key, schema as cedar.Schema);
  if (ps.type === 'failure' || sc.type === 'failure') {
    throw new InvalidPolicyError(source, issuesOf([...(ps.type === 'failure' ? ps.errors : []), ...(sc.type === 'failure' ? sc.errors : [])], text, () => 0));
  }

  const approvalIds = new Set(parts.filter((p) => p.approval).map((p) => p.id));
  const reasons = new Map(parts.filter((p) => p.reason !== undefined).map((p) => [p.id, p.reason!]));
  const clockParts = timeParts(options.timeZone);
  const name = options.name ?? 'cedar';
  const explain = (ids: readonly string[]): string => ids.map((id) => (reasons.has(id) ? `"${id}": ${reasons.get(id)}` : `"${id}"`)).join('; ');

  const evaluate = (req: PolicyRequest): PolicyDecision => {
    const convert = args.get(req.tool.name);
    if (convert === undefined || risks.get(req.tool.name) !== req.tool.risk) {
      return {
        effect: 'deny',
        policyIds: [CEDAR_UNKNOWN_TOOL_ID],
        reason: `"${req.tool.name}" (risk ${req.tool.risk}) is not among the tools this Cedar engine was created with; pass it in createCedarEngine({ tools })`,
      };
    }
    const attrs = req.agent.attributes;
    const rolesValue = attrs !== undefined && Object.hasOwn(attrs, roleClaim) ? attrs[roleClaim] : undefined;
    const roles = Array.isArray(rolesValue) ? rolesValue.filter((r): r is string => typeof r === 'string') : [];
    const env = req.environment.name;
    const t = clockParts(req.time);
    const agentAttrs: Record<string, cedar.CedarValueJson> = { source: req.agent.source, roles };
    if (req.agent.trustDomain !== undefined) agentAttrs.trustDomain = req.agent.trustDomain;
    const answer = cedar.statefulIsAuthorized({
      principal: { type: 'Agent', id: req.agent.id },
      action: { type: 'Action', id: req.tool.name },
      resource: { type: 'Tool', id: req.tool.name },
      context: {
        args: convert(req.args) as cedar.CedarValueJson,
        intent: { id: req.intent.id, purpose: req.intent.purpose },
        risk: req.tool.risk,
        environment: typeof env === 'string' ? env : '',
        delegation: { depth: req.delegation.depth, chain: [...req.delegation.chain] },
        time: { epochSeconds: Math.floor(req.time / 1000), hour: t.hour, minute: t.minute, weekday: t.weekday },
      },
      entities: [
        { uid: { type: 'Agent', id: req.agent.id }, attrs: agentAttrs, parents: [] },
        { uid: { type: 'Tool', id: req.tool.name }, attrs: { risk: req.tool.risk }, parents: [] },
      ],
      preparsedPolicySetId: key,
      preparsedSchemaName: key,
      validateRequest: true,
    });
    // Cedar's messages may quote the request's context (the arguments), so none is passed on.
    if (answer.type === 'failure') throw new Error('Cedar could not evaluate the request');
    const { decision, diagnostics } = answer.response;
    // Cedar skips a policy that errors; a skipped forbid would turn into an allow, so any error denies.
    if (diagnostics.errors.length > 0) throw new Error(`Cedar policies errored: ${diagnostics.errors.map((e) => e.policyId).join(', ')}`);
    const ids = diagnostics.reason;
    if (decision === 'deny') {
      if (ids.length === 0) return { effect: 'deny', policyIds: [CEDAR_NO_PERMIT_ID], reason: `no Cedar policy permits "${req.tool.name}" for this request` };
      return { effect: 'deny', policyIds: ids, reason: `forbidden by Cedar policy ${explain(ids)}` };
    }
    const needApproval = ids.filter((id) => approvalIds.has(id));
    if (needApproval.length > 0) return { effect: 'require_approval', policyIds: needApproval, reason: `approval required by Cedar policy ${explain(needApproval)}` };
    return { effect: 'allow', policyIds: ids, reason: `permitted by Cedar policy ${explain(ids)}` };
  };

  return Object.freeze({ name, evaluate, schema, policyIds: Object.freeze(parts.map((p) => p.id)) });
}

/** The Cedar schema Tessera generates for these tools (JSON form), e.g. to write policies against. */
export function cedarSchemaFor(tools: CedarEngineOptions['tools']): Record<string, unknown> {
  return generateCedarSchema(tools.map((t) => ('definition' in t && t.definition !== undefined ? t.definition : (t as CedarToolDefinition)))).schema;
}
