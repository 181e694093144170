/**
 * `tessera demo`: runs the demo that ships with the source repository (examples/demo.ts): a
 * short agent task through the guard, with allowed calls, denials and an approval.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseCommand, renderHelp, type CommandSpec } from '../args.js';
import { CliError, EXIT, type CliIo, type ExitCode } from '../io.js';

export const demoSpec: CommandSpec = {
  name: 'demo',
  summary: 'run the demo agent task through the guard',
  usage: '',
  options: {},
  notes: 'The demo lives in the source repository (examples/demo.ts); run this from a checkout.',
};

/** The nearest directory, from `start` upwards, holding Tessera's package.json and its examples. */
export function findDemoRoot(start: string): string | undefined {
  let dir = resolve(start);
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && existsSync(join(dir, 'examples', 'demo.ts'))) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name === 'tessera-guard') return dir;
      } catch {
        // an unreadable package.json is simply not ours
      }
    }
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

export async function demo(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const p = parseCommand(demoSpec, argv);
  if (p.help) {
    io.stdout(renderHelp(demoSpec));
    return EXIT.ok;
  }
  const root = findDemoRoot(io.cwd) ?? (process.argv[1] ? findDemoRoot(dirname(process.argv[1])) : undefined);
  if (root === undefined) {
    throw new CliError('the demo ships with the source repository: clone it and run "npm run demo" (or "tessera demo") there');
  }
  const runner = join(root, 'examples', 'demo-run.ts');
  if (existsSync(runner)) {
    // Under tsx the TypeScript module loads in process; plain Node cannot load it, so fall through.
    try {
      const mod = (await import(pathToFileURL(runner).href)) as { runDemo?: (out: (line: string) => void) => unknown };
      if (typeof mod.runDemo === 'function') {
        await mod.runDemo((line) => io.stdout(`${line}\n`));
        return EXIT.ok;
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw err;
    }
  }
  return new Promise<ExitCode>((resolveExit, reject) => {
    const child = spawn('npx', ['tsx', join('examples', 'demo.ts')], { cwd: root, stdio: 'inherit' });
    child.on('error', () => reject(new CliError('could not start "npx tsx examples/demo.ts"')));
    child.on('exit', (code) => resolveExit(code === 0 ? EXIT.ok : EXIT.failure));
  });
}
