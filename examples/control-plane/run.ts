/**
 * The control plane in three processes, with one command:
 *
 *   npx tsx examples/control-plane/run.ts
 *
 * Needs `redis-server` on the PATH (it starts a throwaway one on a free loopback port).
 */
import { runControlPlane } from './control-plane.js';

await runControlPlane({ log: (line) => console.log(line) });
