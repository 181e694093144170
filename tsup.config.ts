import { defineConfig } from 'tsup';

// Every optional part is its own entry so that the root never pulls a framework or a client in.
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    redis: 'src/store/redis.ts',
    testing: 'src/testing/index.ts',
  },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  splitting: true,
  treeshake: true,
});
