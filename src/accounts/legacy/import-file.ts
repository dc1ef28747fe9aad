// Streaming reader for legacy account exports: CSV (RFC 4180) or JSON lines, UTF-8 with or without a BOM.
// Every record carries the byte offset just past it, so an import can commit "up to here" and resume there.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { extname } from 'node:path';

export const IMPORT_FIELDS = ['id_number', 'name', 'phone', 'password_hash', 'hash_algorithm', 'legacy_user_id'] as const;

export type ImportField = (typeof IMPORT_FIELDS)[number];

export type ImportFormat = 'csv' | 'jsonl';

export type ImportFields = Record<ImportField, string>;

/** `line` is the physical line the record starts on (1-based, the CSV header is line 1); `lastLine` the one it ends on. */
export type ImportRecord =
  | { line: number; lastLine: number; end: number; fields: ImportFields }
  | { line: number; lastLine: number; end: number; malformed: string };

export type CsvHeader = { columns: Record<ImportField, number>; width: number; end: number; lastLine: number };

/** A problem with the file as a whole (unreadable header, unknown format): nothing is imported. */
export class ImportFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImportFileError';
  }
}

// Far above any real record; bounds memory when a file has no line breaks or an unterminated quote.
export const MAX_RECORD_BYTES = 64 * 1024;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function importFormatOf(file: string, explicit?: string): ImportFormat {
  const format = explicit ?? ({ '.csv': 'csv', '.jsonl': 'jsonl', '.ndjson': 'jsonl' } as Record<string, string>)[extname(file).toLowerCase()];
  if (format === 'csv' || format === 'jsonl') return format;
  if (explicit === 'ndjson') return 'jsonl';
  throw new ImportFileError(explicit
    ? `unknown format "${explicit}": use csv or jsonl`
    : 'cannot tell the format from the file name (.csv, .jsonl or .ndjson): give --format csv|jsonl');
}

export async function fileSha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

type PhysicalLine = { text: string | undefined; start: number; end: number; number: number };

/** Lines split on LF bytes (never part of a multi-byte UTF-8 sequence), CR stripped; `text` undefined when unusable. */
async function* physicalLines(file: string, start: number, firstNumber: number): AsyncGenerator<PhysicalLine[]> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let offset = start;
  let number = firstNumber;
  const decode = (bytes: Buffer, lineStart: number): string | undefined => {
    if (pendingBytes > MAX_RECORD_BYTES) return undefined;
    const body = lineStart === 0 && bytes.subarray(0, 3).equals(BOM) ? bytes.subarray(3) : bytes;
    try {
      const text = utf8.decode(body);
      return text.endsWith('\r') ? text.slice(0, -1) : text;
    } catch {
      return undefined;
    }
  };
  for await (const chunk of createReadStream(file, { start, highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    const lines: PhysicalLine[] = [];
    let from = 0;
    for (let newline = chunk.indexOf(0x0a); newline !== -1; newline = chunk.indexOf(0x0a, from)) {
      const piece = chunk.subarray(from, newline);
      pendingBytes += piece.length;
      const bytes = pending.length === 0 ? piece : Buffer.concat([...pending, piece]);
      lines.push({ text: decode(bytes, offset), start: offset, end: offset + pendingBytes + 1, number });
      offset += pendingBytes + 1;
      number++;
      pending = [];
      pendingBytes = 0;
      from = newline + 1;
    }
    const rest = chunk.subarray(from);
    pendingBytes += rest.length;
    // Past the limit only the length is kept: the line is reported as unusable, not held in memory.
    if (pendingBytes <= MAX_RECORD_BYTES) pending.push(rest);
    else pending = [];
    if (lines.length > 0) yield lines;
  }
  if (pendingBytes > 0) {
    yield [{ text: decode(Buffer.concat(pending), offset), start: offset, end: offset + pendingBytes, number }];
  }
}

function quoteCount(text: string): number {
  let count = 0;
  for (let at = text.indexOf('"'); at !== -1; at = text.indexOf('"', at + 1)) count++;
  return count;
}

/** One RFC 4180 record (already joined across quoted line breaks) into its fields; undefined when malformed. */
export function parseCsvRecord(text: string): string[] | undefined {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (text[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const quote = text.indexOf('"', i);
        if (quote === -1) return undefined;
        value += text.slice(i, quote);
        if (text[quote + 1] === '"') {
          value += '"';
          i = quote + 2;
        } else {
          i = quote + 1;
          break;
        }
      }
      fields.push(value);
      if (i === text.length) return fields;
      if (text[i] !== ',') return undefined;
      i++;
    } else {
      const comma = text.indexOf(',', i);
      const value = text.slice(i, comma === -1 ? text.length : comma);
      if (value.includes('"')) return undefined;
      fields.push(value);
      if (comma === -1) return fields;
      i = comma + 1;
    }
  }
}

type RawRecord = { text: string | undefined; line: number; lastLine: number; end: number; problem?: string };

/** CSV records: physical lines joined while a quoted field is open (odd number of quotes so far). */
async function* csvRawRecords(file: string, start: number, firstLine: number): AsyncGenerator<RawRecord[]> {
  let open: { parts: string[]; quotes: number; bytes: number; line: number; lastLine: number; end: number; broken: boolean } | undefined;
  for await (const lines of physicalLines(file, start, firstLine)) {
    const records: RawRecord[] = [];
    for (const line of lines) {
      if (!open) {
        if (line.text === '') continue;
        if (line.text === undefined) {
          records.push({ text: undefined, line: line.number, lastLine: line.number, end: line.end });
          continue;
        }
        open = { parts: [], quotes: 0, bytes: 0, line: line.number, lastLine: line.number, end: line.end, broken: false };
      }
      if (line.text === undefined) open.broken = true;
      else {
        open.parts.push(line.text);
        open.quotes += quoteCount(line.text);
      }
      open.bytes += line.end - line.start;
      open.lastLine = line.number;
      open.end = line.end;
      if (open.quotes % 2 === 0 || open.broken || open.bytes > MAX_RECORD_BYTES) {
        const usable = !open.broken && open.quotes % 2 === 0;
        const problem = open.broken ? 'unreadable' : usable ? undefined : 'too_long';
        records.push({ text: usable ? open.parts.join('\n') : undefined, line: open.line, lastLine: line.number, end: line.end, problem });
        open = undefined;
      }
    }
    if (records.length > 0) yield records;
  }
  if (open) yield [{ text: undefined, line: open.line, lastLine: open.lastLine, end: open.end, problem: 'unterminated_quote' }];
}

/** Reads the header (the first non-blank record) and checks that it names every field, each once. */
export async function readCsvHeader(file: string): Promise<CsvHeader> {
  for await (const records of csvRawRecords(file, 0, 1)) {
    const first = records[0];
    const names = first.text === undefined ? undefined : parseCsvRecord(first.text);
    if (!names) throw new ImportFileError(`line ${first.line}: the CSV header is not a valid CSV record`);
    const columns: Partial<Record<ImportField, number>> = {};
    names.forEach((raw, index) => {
      const name = raw.trim().toLowerCase() as ImportField;
      if (!(IMPORT_FIELDS as readonly string[]).includes(name)) return;
      if (columns[name] !== undefined) throw new ImportFileError(`the CSV header names "${name}" twice`);
      columns[name] = index;
    });
    const missing = IMPORT_FIELDS.filter((f) => columns[f] === undefined);
    if (missing.length > 0) throw new ImportFileError(`the CSV header lacks ${missing.join(', ')} (expected ${IMPORT_FIELDS.join(',')})`);
    return { columns: columns as Record<ImportField, number>, width: names.length, end: first.end, lastLine: first.lastLine };
  }
  throw new ImportFileError('the file is empty: a CSV file starts with its header');
}

function csvRecord(raw: RawRecord, header: CsvHeader): ImportRecord {
  const base = { line: raw.line, lastLine: raw.lastLine, end: raw.end };
  if (raw.text === undefined) return { ...base, malformed: raw.problem ?? 'unreadable' };
  const values = parseCsvRecord(raw.text);
  if (!values) return { ...base, malformed: 'csv_syntax' };
  if (values.length !== header.width) return { ...base, malformed: 'field_count' };
  const fields = {} as ImportFields;
  for (const name of IMPORT_FIELDS) fields[name] = values[header.columns[name]];
  return { ...base, fields };
}

function jsonRecord(line: PhysicalLine): ImportRecord {
  const base = { line: line.number, lastLine: line.number, end: line.end };
  if (line.text === undefined) return { ...base, malformed: 'unreadable' };
  let value: unknown;
  try {
    value = JSON.parse(line.text);
  } catch {
    return { ...base, malformed: 'json_syntax' };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { ...base, malformed: 'not_an_object' };
  const object = value as Record<string, unknown>;
  const fields = {} as ImportFields;
  for (const name of IMPORT_FIELDS) {
    const v = object[name];
    if (v === undefined || v === null) fields[name] = '';
    else if (typeof v === 'string') fields[name] = v;
    // Numeric user ids and phone numbers are common in exports; an 18-digit ID number would have lost digits as a number.
    else if ((name === 'legacy_user_id' || name === 'phone') && Number.isSafeInteger(v)) fields[name] = String(v);
    else return { ...base, malformed: `field_type:${name}` };
  }
  return { ...base, fields };
}

/**
 * Records from byte `start` (0, or an offset an earlier run committed) onwards, in chunks; blank lines are
 * skipped. `firstLine` is the physical line number at `start`. CSV needs the header, read once from the top.
 */
export async function* readImportRecords(
  file: string, format: ImportFormat, position: { start: number; firstLine: number; header?: CsvHeader },
): AsyncGenerator<ImportRecord[]> {
  if (format === 'csv') {
    const header = position.header ?? await readCsvHeader(file);
    const start = Math.max(position.start, header.end);
    const firstLine = position.start >= header.end ? position.firstLine : header.lastLine + 1;
    for await (const raws of csvRawRecords(file, start, firstLine)) yield raws.map((raw) => csvRecord(raw, header));
    return;
  }
  for await (const lines of physicalLines(file, position.start, position.firstLine)) {
    const records = lines.filter((l) => l.text === undefined || l.text.trim() !== '').map(jsonRecord);
    if (records.length > 0) yield records;
  }
}
