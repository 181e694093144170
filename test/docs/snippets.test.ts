/**
 * Every ```ts snippet in the README, examples/README.md and docs/ compiles against the source,
 * with `tessera-guard` and its subpaths mapped to the modules they are built from. All snippets go
 * into one TypeScript program, so the source is checked once.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, test } from 'vitest';
import { codeBlocks, FRAGMENT_MARKER, pages, ROOT } from './markdown.js';

/** What each published subpath is built from (tsup.config.ts); checked against package.json below. */
const ENTRIES: Record<string, string> = {
  'tessera-guard': 'src/index.ts',
  'tessera-guard/testing': 'src/testing/index.ts',
  'tessera-guard/redis': 'src/redis.ts',
  'tessera-guard/cedar': 'src/policy/cedar.ts',
  'tessera-guard/approvers': 'src/policy/approvers.ts',
  'tessera-guard/telemetry': 'src/telemetry/index.ts',
  'tessera-guard/spiffe': 'src/identity/spiffe-id.ts',
  'tessera-guard/langchain': 'src/adapters/langchain.ts',
  'tessera-guard/ai-sdk': 'src/adapters/ai-sdk.ts',
  'tessera-guard/openai-agents': 'src/adapters/openai-agents.ts',
  'tessera-guard/mcp': 'src/adapters/mcp.ts',
  'tessera-guard/authority-client': 'src/client/authority-client.ts',
  'tessera-guard/authority-server': 'src/server/authority/index.ts',
  'tessera-guard/approvals-server': 'src/server/approvals/index.ts',
  'tessera-guard/approvals-client': 'src/client/approvals.ts',
  'tessera-guard/postgres': 'src/credentials/postgres/index.ts',
  'tessera-guard/decision-log': 'src/telemetry/decision-log/index.ts',
  'tessera-guard/gateway': 'src/gateway/index.ts',
};

/**
 * Names the snippets take as given, as a script the program sees next to them. It lives here, not
 * in a .d.ts file, so that the project's own compilation never sees these globals.
 */
const PRELUDE = join(ROOT, 'test/docs', '.snippet-context.d.ts');
const PRELUDE_TEXT = `// Names the documentation's snippets take as given: what a reader has from an earlier step or
// from their own application. Each is typed with the real type it stands for, so a snippet that
// uses one wrongly still fails to compile.

/** A call credential a downstream service received. */
declare const token: string;
declare const guard: import('tessera-guard').Guard;
declare const authority: import('tessera-guard').Authority;
declare const trust: import('tessera-guard').GuardOptions['trust'];
declare const issuer: string;
declare const signingKey: import('tessera-guard').PrivateKeyInput;
declare const capabilityId: string;
declare const PLANNER: string;
declare const intent: import('tessera-guard').Intent;
declare const tools: import('tessera-guard').GrantRequest['tools'];
/** JWT-SVIDs the agent runtime fetched from SPIRE, one per audience. */
declare const svidForAuthority: string;
declare const svidForGuard: string;
declare function runAgent(): Promise<unknown>;
/** Any agent framework's agent. */
declare const agent: { run(): Promise<unknown> };
declare const sendEmail: import('tessera-guard').GuardedTool;
declare const readTicket: import('tessera-guard').GuardedTool;
/** The authority service's parts, from the reader's own setup. */
declare const store: import('tessera-guard').TesseraStore;
declare const identity: import('tessera-guard').IdentityVerifier;
declare const grantPolicy: import('tessera-guard/authority-server').GrantPolicy;
/** The reader's own module that defines their guarded tools. */
declare function createSupportTools(guard: import('tessera-guard').Guard): Record<'readTicket' | 'sendEmail', import('tessera-guard').GuardedTool>;
`;
const snippets = pages()
  .flatMap(codeBlocks)
  .filter((b) => b.lang === 'ts' || b.lang === 'typescript');
const compiled = snippets.filter((s) => !FRAGMENT_MARKER.test(s.code));

function compile(): Map<string, string[]> {
  const files = new Map<string, { code: string; page: string; line: number }>();
  files.set(PRELUDE, { code: PRELUDE_TEXT, page: 'prelude', line: 1 });
  compiled.forEach((s, i) => files.set(join(ROOT, 'test/docs', `.snippet-${i}.ts`), s));
  const options: ts.CompilerOptions = {
    ...ts.parseJsonConfigFileContent(JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')), ts.sys, ROOT).options,
    paths: Object.fromEntries(Object.entries(ENTRIES).map(([k, v]) => [k, [join(ROOT, v)]])),
    noEmit: true,
    // Snippets show one step; a name they declare for the reader need not be used.
    noUnusedLocals: false,
  };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.fileExists = (f) => files.has(f) || fileExists(f);
  host.readFile = (f) => files.get(f)?.code ?? readFile(f);
  host.getSourceFile = (f, lang, onError, create) => {
    const s = files.get(f);
    return s === undefined ? getSourceFile(f, lang, onError, create) : ts.createSourceFile(f, s.code, lang, true, ts.ScriptKind.TS);
  };
  const program = ts.createProgram({ rootNames: [...files.keys()], options, host });
  const errors = new Map<string, string[]>();
  for (const [file, s] of files) {
    if (file === PRELUDE) continue;
    const sf = program.getSourceFile(file)!;
    const diagnostics = [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)];
    errors.set(
      `${s.page}:${s.line}`,
      diagnostics.map((d) => {
        const line = d.start === undefined ? 0 : sf.getLineAndCharacterOfPosition(d.start).line;
        return `${s.page}:${s.line + line}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      }),
    );
  }
  return errors;
}

describe('documentation snippets', () => {
  test('the subpath map covers every export in package.json', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
    const subpaths = Object.keys(pkg.exports)
      .filter((k) => k !== './package.json')
      .map((k) => (k === '.' ? 'tessera-guard' : `tessera-guard/${k.slice(2)}`));
    expect(Object.keys(ENTRIES).sort()).toEqual(subpaths.sort());
  });

  test('there are snippets to check, and fragments stay few', () => {
    expect(compiled.length).toBeGreaterThanOrEqual(8);
    expect(snippets.length - compiled.length).toBeLessThanOrEqual(4);
  });

  test('every ts snippet type-checks against the source', { timeout: 120_000 }, () => {
    const errors = compile();
    expect(errors.size).toBe(compiled.length);
    expect([...errors.values()].flat()).toEqual([]);
  });
});
