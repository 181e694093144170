import { defineConfig } from 'tsup';

// Every optional part is its own entry so that the root never pulls a framework or a client in.
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    redis: 'src/store/redis.ts',
    cedar: 'src/policy/cedar.ts',
    testing: 'src/testing/index.ts',
    'cli/main': 'src/cli/main.ts',
    langchain: 'src/adapters/langchain.ts',
    'ai-sdk': 'src/adapters/ai-sdk.ts',
    'openai-agents': 'src/adapters/openai-agents.ts',
    mcp: 'src/adapters/mcp.ts',
    'authority-client': 'src/client/authority-client.ts',
    'authority-server': 'src/server/authority/index.ts',
  },
  // Optional peers and test tooling are never bundled: the host installs the versions it runs.
  external: [
    /^@opentelemetry\//,
    /^@langchain\//,
    /^langchain(\/|$)/,
    /^ai(\/|$)/,
    /^@ai-sdk\//,
    /^@openai\//,
    /^@modelcontextprotocol\//,
    /^@cedar-policy\//,
    /^redis$/,
    /^ioredis$/,
    /^yaml$/,
    /^oauth4webapi$/,
    /^hono(\/|$)/,
    /^@hono\//,
    /^vitest(\/|$)/,
  ],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  splitting: true,
  treeshake: true,
});
