/** Starts tripwire worker processes (see workers/tripwire-worker.ts). No vitest import: the benchmark uses it too. */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { JWKS } from '../../src/index.js';
import type { ClientKind } from '../store/redis-clients.js';
import type { TripwireWorkerReply, TripwireWorkerRequest } from './workers/tripwire-worker.js';

const workerPath = fileURLToPath(new URL('./workers/tripwire-worker.ts', import.meta.url));

export interface TripwireWorker {
  readonly proc: ChildProcess;
  call(capability: string, ticketId: string): Promise<{ outcome: string; endedAt: number; ran: number }>;
  stop(): void;
}

export async function startTripwireWorker(init: { port: number; kind: ClientKind; prefix: string; issuer: string; audience: string; jwks: JWKS; threshold: number }): Promise<TripwireWorker> {
  const proc = fork(workerPath, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map<number, { resolve: (r: { outcome: string; endedAt: number; ran: number }) => void; reject: (e: Error) => void }>();
  let seq = 0;
  const ready = new Promise<void>((resolve, reject) => {
    proc.on('message', (reply: TripwireWorkerReply) => {
      if ('type' in reply) return resolve();
      const w = waiting.get(reply.seq);
      waiting.delete(reply.seq);
      if ('error' in reply) w?.reject(new Error(`worker failed: ${reply.error}`));
      else w?.resolve(reply);
    });
    proc.once('exit', (code) => reject(new Error(`tripwire worker exited with ${code}`)));
  });
  proc.send({ type: 'init', ...init } satisfies TripwireWorkerRequest);
  await ready;
  return {
    proc,
    call(capability, ticketId) {
      const s = ++seq;
      return new Promise((resolve, reject) => {
        waiting.set(s, { resolve, reject });
        proc.send({ type: 'call', seq: s, capability, ticketId } satisfies TripwireWorkerRequest);
      });
    },
    stop: () => {
      proc.kill();
    },
  };
}
