/**
 * `tessera-guard/gateway`: put any MCP server behind the guard without changing it or its
 * client. Needs the optional peer `@modelcontextprotocol/sdk`.
 */
export {
  createMcpGateway,
  riskFromAnnotations,
  CALL_ID_META_KEY,
  PROOF_META_KEY,
  type CapabilitySource,
  type GatewayTool,
  type McpGateway,
  type RefusedTool,
} from './gateway.js';
export { createGatewayHttpHandler, type GatewayHttpHandler, type GatewayHttpOptions } from './http.js';
export type { McpGatewayOptions, UpstreamOptions, UpstreamToolOptions } from './options.js';
export type { HttpUpstream, RestartOptions, StdioUpstream, Upstream } from './upstream.js';
