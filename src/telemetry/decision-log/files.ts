/**
 * Reading logs written by the file sink: files and directories, grouped into one log per file
 * prefix (one per process), segments in order.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { SEGMENT_FILE } from './file-sink.js';
import type { LogSegment } from './verify.js';

export interface LogFiles {
  /** The file prefix (the log's id unless the sink was given another). */
  readonly source: string;
  readonly segments: readonly LogSegment[];
}

/** The logs under `paths` (segment files, or directories of them), one entry per prefix. */
export async function readDecisionLogFiles(paths: readonly string[]): Promise<LogFiles[]> {
  const groups = new Map<string, { n: number; path: string }[]>();
  const add = (path: string): void => {
    const m = SEGMENT_FILE.exec(basename(path));
    const key = m === null ? path : join(path, '..', m[1]!);
    let g = groups.get(key);
    if (g === undefined) groups.set(key, (g = []));
    g.push({ n: m === null ? 0 : Number(m[2]), path });
  };
  for (const p of paths) {
    if ((await stat(p)).isDirectory()) {
      for (const f of (await readdir(p)).sort()) if (SEGMENT_FILE.test(f)) add(join(p, f));
    } else {
      add(p);
    }
  }
  const out: LogFiles[] = [];
  for (const [key, files] of [...groups].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    files.sort((a, b) => a.n - b.n);
    const segments: LogSegment[] = [];
    for (const f of files) segments.push({ name: f.path, text: await readFile(f.path, 'utf8') });
    out.push({ source: basename(key), segments });
  }
  return out;
}
