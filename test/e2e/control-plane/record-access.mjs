// Preloaded into a process (node --import) to record, in the file named by RECORD_ACCESS_LOG,
// every module it resolves, every file it opens or reads, and the names of its environment.
import { appendFileSync, default as fs } from 'node:fs';
import { register, syncBuiltinESMExports } from 'node:module';

const log = process.env.RECORD_ACCESS_LOG;
if (!log) throw new Error('RECORD_ACCESS_LOG is required');
const write = (line) => appendFileSync(log, `${line}\n`);
write(`env ${Object.keys(process.env).sort().join(' ')}`);

const asPath = (p) => (p instanceof URL ? p.pathname : Buffer.isBuffer(p) ? p.toString('utf8') : String(p));
const wrap = (target, name) => {
  const original = target[name];
  target[name] = function (path, ...rest) {
    if (typeof path !== 'number') write(`read ${asPath(path)}`);
    return original.call(this, path, ...rest);
  };
};
for (const name of ['openSync', 'open', 'readFileSync', 'readFile', 'createReadStream']) wrap(fs, name);
for (const name of ['open', 'readFile']) wrap(fs.promises, name);
// Named imports of node:fs (import { readFile } from 'node:fs') see the wrapped functions too.
syncBuiltinESMExports();

const hooks = `
let log;
import { appendFileSync } from 'node:fs';
export function initialize(data) { log = data.log; }
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  appendFileSync(log, 'module ' + r.url + '\\n');
  return r;
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`, { data: { log } });
