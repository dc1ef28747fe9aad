import { ImportFileError } from './import-file.ts';
import type { ImportOptions, ImportSummary } from './importer.ts';

export const IMPORT_USAGE = `Usage: npm run import-accounts -- --source NAME FILE [options]
  --source NAME        the legacy system (stored with each account's legacy user id)
  FILE                 .csv or .jsonl/.ndjson export (format: README, "Importing legacy accounts")
  --format csv|jsonl   when the extension does not tell
  --rejects PATH       rejected rows, one JSON line each (default FILE.rejects.jsonl)
  --batch-size N       rows per transaction (default 2000)
  --max-batches N      stop after N batches; running the same command again continues
Re-running after an interruption continues after the last committed batch; re-running a finished file does nothing.`;

export function parseImportArgs(argv: readonly string[]): Omit<ImportOptions, 'operator' | 'onBatch'> {
  const valued = new Set(['--source', '--format', '--rejects', '--batch-size', '--max-batches']);
  const values: Record<string, string> = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (valued.has(arg)) {
      if (argv[i + 1] === undefined) throw new ImportFileError(`${arg} needs a value`);
      values[arg] = argv[++i];
    } else if (arg.startsWith('--')) throw new ImportFileError(`unknown option ${arg}\n${IMPORT_USAGE}`);
    else positional.push(arg);
  }
  if (!values['--source'] || positional.length !== 1) throw new ImportFileError(IMPORT_USAGE);
  const whole = (flag: string) => {
    if (values[flag] === undefined) return undefined;
    if (!/^[1-9]\d*$/.test(values[flag])) throw new ImportFileError(`${flag} must be a positive whole number`);
    return Number(values[flag]);
  };
  return {
    file: positional[0], source: values['--source'], format: values['--format'], rejectsPath: values['--rejects'],
    batchSize: whole('--batch-size'), maxBatches: whole('--max-batches'),
  };
}

const n = (value: number) => value.toLocaleString('en-US');
const breakdown = (counts: Record<string, number>) =>
  Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k} ${n(v)}`).join(', ') || 'none';

/** The summary printed at the end; counts never name a person. */
export function formatImportSummary(s: ImportSummary): string {
  if (s.alreadyCompleted) {
    return `${s.file} (sha256 ${s.sha256.slice(0, 12)}…) was already imported from ${s.source} (import ${s.importId}): nothing to do.\n`
      + `rows ${n(s.counts.rows)}: created ${n(s.counts.created)}, linked ${n(s.counts.linked)}, skipped ${n(s.counts.skipped)}, rejected ${n(s.counts.rejected)}`;
  }
  const c = s.counts;
  const mustReset = Object.values(c.mustReset).reduce((a, b) => a + b, 0);
  const phones = Object.values(c.phoneDropped).reduce((a, b) => a + b, 0);
  return [
    `${s.status === 'completed' ? 'Imported' : 'Stopped early (run the same command again to continue)'}: ${s.file} from ${s.source} `
      + `(import ${s.importId}${s.resumed ? ', resumed' : ''}), ${n(s.batchesThisRun)} batch${s.batchesThisRun === 1 ? '' : 'es'} in ${s.seconds.toFixed(1)} s this run`,
    `  rows read          ${n(c.rows)}`,
    `  accounts created   ${n(c.created)}`,
    `  linked to existing ${n(c.linked)} (same ID number and name; ${n(c.passwordAdopted)} of them took the legacy password)`,
    `  already imported   ${n(c.skipped)}`,
    `  rejected           ${n(c.rejected)} (${breakdown(c.rejectReasons)}) → ${s.rejectsFile}`,
    `  must reset password ${n(mustReset)} (${breakdown(c.mustReset)})`,
    `  phone not imported ${n(phones)} (${breakdown(c.phoneDropped)})`,
    ...s.warnings.map((w) => `  warning: ${w}`),
  ].join('\n');
}
