import { HIGH_RISK_TIERS, riskArticle, type PolicyEngine, type PolicyRequest } from './types.js';

const ALLOW = Object.freeze({ effect: 'allow' as const, policyIds: Object.freeze([]) as readonly string[] });

/**
 * The default policy when none is configured: high-risk tiers (`external`, `production`,
 * `admin`) require a human's approval; everything else the capability allows is allowed.
 */
export const riskBaseline: PolicyEngine = Object.freeze({
  name: 'risk-baseline',
  evaluate(request: PolicyRequest) {
    if (HIGH_RISK_TIERS.has(request.tool.risk)) {
      return {
        effect: 'require_approval' as const,
        policyIds: ['tessera.baseline.high-risk'],
        reason: `"${request.tool.name}" is ${riskArticle(request.tool.risk)} ${request.tool.risk} action and needs a human's approval`,
      };
    }
    return ALLOW;
  },
});
