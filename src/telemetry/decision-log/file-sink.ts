/**
 * Rotating JSONL files: `<dir>/<prefix>.<segment>.jsonl`, segments numbered from 000001, a new
 * one once the current one reaches `maxBytes`. Each batch is one append; a batch that fails part
 * way is cut off again, so a retried batch never leaves a half line or a duplicate behind.
 */
import { readdirSync } from 'node:fs';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { parseOptions } from '../../util/options.js';
import type { DecisionLogSink } from './log.js';

export interface FileSinkOptions {
  /** The directory the segments are written to; created if missing. */
  dir: string;
  /** File name prefix; default the log's id. Two logs must never share one. */
  prefix?: string;
  /** Start a new segment once the current one holds this many bytes; default 64 MiB. */
  maxBytes?: number;
  /** `fdatasync` after every batch, so that a batch written survives a power loss; default false. */
  sync?: boolean;
  /** The sink's name in gap records and denial reasons; default `file`. */
  name?: string;
}

const optionsSchema = z.strictObject({
  dir: z.string().min(1),
  prefix: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, 'must be 1-128 letters, digits, ".", "_" or "-"').optional(),
  maxBytes: z.number().int().min(1024).max(2 ** 40).optional(),
  sync: z.boolean().optional(),
  name: z.string().min(1).max(64).optional(),
});

/** `<prefix>.<segment>.jsonl`: how the sink names its files, and how `tessera audit` finds them. */
export const SEGMENT_FILE = /^(.+)\.(\d{6,})\.jsonl$/;

export const segmentName = (prefix: string, segment: number): string => `${prefix}.${String(segment).padStart(6, '0')}.jsonl`;

export function createFileSink(options: FileSinkOptions): DecisionLogSink {
  const o = parseOptions(optionsSchema, options, 'createFileSink options');
  const maxBytes = o.maxBytes ?? 64 * 1024 * 1024;
  let prefix = o.prefix;
  let segment = 0;
  let handle: FileHandle | undefined;
  let bytes = 0;
  // One file operation at a time, whatever the caller does: a write the log gave up on at its
  // deadline still runs, and a second one must not open a second segment beside it (the first
  // handle would be lost, left for the garbage collector to close).
  let chain: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = chain.then(fn, fn);
    chain = run.catch(() => undefined);
    return run;
  };

  const next = async (): Promise<void> => {
    await handle?.close();
    handle = undefined;
    segment++;
    await mkdir(o.dir, { recursive: true });
    // 'wx': a segment is never appended to by a second writer or reopened after a restart.
    handle = await open(join(o.dir, segmentName(prefix!, segment)), 'wx');
    bytes = 0;
  };

  return {
    name: o.name ?? 'file',
    open(logId) {
      prefix ??= logId;
      let existing: string[] = [];
      try {
        existing = readdirSync(o.dir);
      } catch {
        // A directory that does not exist yet holds no segment.
      }
      if (existing.some((f) => SEGMENT_FILE.exec(f)?.[1] === prefix)) {
        throw new TypeError(`createFileSink: ${o.dir} already holds a log named "${prefix}"; give each log its own prefix (or logId)`);
      }
    },
    write(lines) {
      if (prefix === undefined) return Promise.reject(new TypeError('createFileSink: the sink was not opened by a decision log'));
      const data = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
      return serial(async () => {
        if (handle === undefined || (bytes > 0 && bytes + data.length > maxBytes)) await next();
        const h = handle!;
        try {
          await h.appendFile(data);
          if (o.sync === true) await h.datasync();
          bytes += data.length;
        } catch (err) {
          await h.truncate(bytes).catch(() => undefined);
          throw err;
        }
      });
    },
    close() {
      return serial(async () => {
        await handle?.close();
        handle = undefined;
      });
    },
  };
}
