/** `npm run api:update`: build, then rewrite every entry point's API report under api/. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { entryPoints, REPO_ROOT, runApiReport } from './api-report.js';

execFileSync('npx', ['tsup', '--silent'], { cwd: REPO_ROOT, stdio: 'inherit' });
const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
let failed = false;
for (const [entry, types] of entryPoints(pkg)) {
  const r = runApiReport(entry, types, REPO_ROOT, true);
  for (const e of r.errors) console.error(`${entry}: ${e}`);
  if (r.errors.length > 0) failed = true;
  console.log(`${entry}: ${r.changed ? 'updated' : 'unchanged'}`);
}
process.exitCode = failed ? 1 : 0;
