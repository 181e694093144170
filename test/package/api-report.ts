/**
 * API reports: one `api/<entry>.api.md` per published entry point, made by API Extractor from the
 * built declaration files. The reports are under version control so that every change to the
 * public surface shows as a diff in review. `npm run api:update` rewrites them after a deliberate
 * change; the packaging test fails when the built surface and the reports disagree.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Extractor, ExtractorConfig, ExtractorLogLevel, type IConfigFile } from '@microsoft/api-extractor';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

/** Entry points with types: the package's `exports` (import condition), keyed by report name. */
export function entryPoints(pkg: { exports: Record<string, unknown> }): Map<string, string> {
  const entries = new Map<string, string>();
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    const types = (target as { import?: { types?: string } })?.import?.types;
    if (typeof types !== 'string') continue;
    const name = subpath === '.' ? 'index' : subpath.slice(2).replaceAll('/', '-');
    entries.set(name, types);
  }
  return entries;
}

export interface ReportResult {
  readonly entry: string;
  readonly changed: boolean;
  readonly errors: readonly string[];
}

/**
 * Runs API Extractor for one entry. With `update` the report is rewritten; without it, a
 * difference is reported as `changed` and the file on disk is left as it is.
 */
export function runApiReport(entry: string, typesPath: string, distRoot: string, update: boolean): ReportResult {
  const reportFolder = join(REPO_ROOT, 'api');
  const tempFolder = join(REPO_ROOT, 'node_modules', '.cache', 'api-extractor', entry);
  mkdirSync(reportFolder, { recursive: true });
  mkdirSync(tempFolder, { recursive: true });
  const configObject: IConfigFile = {
    projectFolder: distRoot,
    mainEntryPointFilePath: join(distRoot, typesPath),
    compiler: {
      overrideTsconfig: {
        compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2023'], types: ['node'], strict: true, skipLibCheck: true },
      },
      skipLibCheck: true,
    },
    apiReport: { enabled: true, reportFileName: `${entry}.api.md`, reportFolder, reportTempFolder: tempFolder },
    docModel: { enabled: false },
    dtsRollup: { enabled: false },
    tsdocMetadata: { enabled: false },
    messages: {
      // The report is about the shape of the surface; release tags and TSDoc style are not used here.
      extractorMessageReporting: {
        default: { logLevel: ExtractorLogLevel.None },
      },
      tsdocMessageReporting: { default: { logLevel: ExtractorLogLevel.None } },
      compilerMessageReporting: { default: { logLevel: ExtractorLogLevel.Error } },
    },
  };
  const config = ExtractorConfig.prepare({
    configObject,
    configObjectFullPath: join(distRoot, 'api-extractor.json'),
    packageJsonFullPath: join(REPO_ROOT, 'package.json'),
  });
  const errors: string[] = [];
  const result = Extractor.invoke(config, {
    localBuild: update,
    showVerboseMessages: false,
    messageCallback: (message) => {
      if (message.logLevel === ExtractorLogLevel.Error) errors.push(message.text);
      message.handled = true;
    },
  });
  return { entry, changed: result.apiReportChanged, errors };
}
