// How the benchmark docs print figures and tables.

// Figures are truncated, never rounded up, so that a value shown next to a threshold is never flattered.
export const int = (n: number) => (Number.isFinite(n) ? Math.floor(n).toLocaleString('en-US') : 'n/a');
export const one = (n: number) => (Number.isFinite(n) ? (Math.floor(n * 10) / 10).toFixed(1) : 'n/a');
export const two = (n: number) => (Number.isFinite(n) ? (Math.floor(n * 100) / 100).toFixed(2) : 'n/a');
export const ms = (n: number) => `${one(n)} ms`;
export const fineMs = (n: number) => `${two(n)} ms`;
export const bytes = (n: number) => `${Math.round(n).toLocaleString('en-US')} B`;
export const people = (n: number) => n.toLocaleString('en-US');
export const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
export const cores = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : 'n/a');
export const percent = (n: number) => (Number.isFinite(n) ? `${(n * 100).toFixed(0)}%` : 'n/a');

export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}
