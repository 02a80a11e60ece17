/**
 * The lines of `ls`: one per entry (`entryLine`), its `--json` object (`entryJson`), and what `--long` adds to each
 * entry: the security descriptor as SDDL, the extended attributes, the creation, access and change times (in text only
 * where they differ from the modification time), the junction flag. Alternate data streams are entries of their own
 * (`file:stream`) and are listed as such. Pure.
 */
import type { LayerEntry } from '../entry.js';
import { isWinlayerError } from '../errors.js';
import { attributeNames, formatIso7 } from '../internal/windows.js';
import { escapeControls } from '../terminal-text.js';
import { bytesToSddl, type UnixNanos } from '../windows/index.js';

/** The `--long` facts of an entry, as JSON-ready values (absent facts are left out). */
export interface LongFacts {
  /** SDDL of `MSWINDOWS.rawsd`; `(invalid: …)` when it does not decode. */
  readonly sddl?: string;
  /** EA name → base64 value, in the order given. */
  readonly extendedAttributes?: readonly { readonly name: string; readonly value: string }[];
  readonly creationTime?: string;
  readonly lastAccessTime?: string;
  readonly changeTime?: string;
  readonly mountPoint?: true;
}

/** Collects the `--long` facts of one entry. Never throws for a malformed descriptor (it is shown as invalid). */
export function longFacts(e: LayerEntry): LongFacts {
  const w = e.win;
  const facts: Record<string, unknown> = {};
  if (w.securityDescriptor !== undefined) facts.sddl = sddlOf(w.securityDescriptor);
  if (w.extendedAttributes !== undefined && w.extendedAttributes.length > 0) {
    facts.extendedAttributes = w.extendedAttributes.map((ea) => ({
      name: ea.name,
      value: Buffer.from(ea.value.buffer, ea.value.byteOffset, ea.value.byteLength).toString('base64'),
    }));
  }
  if (w.creationTime !== undefined) facts.creationTime = formatIso7(w.creationTime);
  if (w.lastAccessTime !== undefined) facts.lastAccessTime = formatIso7(w.lastAccessTime);
  if (w.changeTime !== undefined) facts.changeTime = formatIso7(w.changeTime);
  if (w.mountPoint === true) facts.mountPoint = true;
  return facts as LongFacts;
}

/** The `--long` lines printed under an entry's `ls` line (indented, no newline; EA names with controls escaped). */
export function longLines(e: LayerEntry, indent = '    '): string[] {
  const f = longFacts(e);
  const out: string[] = [];
  if (f.sddl !== undefined) out.push(`${indent}sd: ${f.sddl}`);
  else if (e.kind !== 'hardlink' && e.kind !== 'stream' && e.kind !== 'whiteout' && e.kind !== 'opaqueWhiteout') {
    out.push(`${indent}sd: (none)`);
  }
  for (const ea of f.extendedAttributes ?? []) out.push(`${indent}ea: ${escapeControls(ea.name)}=${ea.value}`);
  // Times equal to the modification time (the usual case) are not repeated; --json has them all.
  const mtime = formatIso7(e.win.lastWriteTime);
  const times = [
    ['created', f.creationTime],
    ['accessed', f.lastAccessTime],
    ['changed', f.changeTime],
  ].filter((t): t is [string, string] => t[1] !== undefined && t[1] !== mtime);
  if (times.length > 0) out.push(`${indent}${times.map(([k, v]) => `${k} ${v}`).join('  ')}`);
  if (f.mountPoint === true) out.push(`${indent}junction (mount point)`);
  return out;
}

function sddlOf(sd: Uint8Array): string {
  try {
    return bytesToSddl(sd);
  } catch (e) {
    if (!isWinlayerError(e)) throw e;
    return `(invalid: ${escapeControls(e.message.split('\n')[0]!)})`;
  }
}

function sizeOf(e: LayerEntry): number {
  return e.kind === 'file' || e.kind === 'stream' ? e.size : 0;
}

function attributesText(e: LayerEntry): string {
  const a = e.win.attributes;
  if (a === undefined) return '-';
  const names = attributeNames(a);
  return names.length === 0 ? '0' : names.join(',');
}

function targetText(e: LayerEntry): string {
  switch (e.kind) {
    case 'hardlink':
    case 'symlink':
      return ` -> ${e.linkTarget}`;
    case 'special':
      return ` (${e.description})`;
    default:
      return '';
  }
}

/**
 * `kind  size  attributes  mtime  path [-> target]`, fixed-width columns (the listing streams). The path and target
 * come from the archive: their control characters are escaped.
 */
export function entryLine(e: LayerEntry): string {
  return [
    e.kind.padEnd(14),
    String(sizeOf(e)).padStart(12),
    attributesText(e).padEnd(24),
    formatIso7(e.win.lastWriteTime),
    escapeControls(`${e.path}${targetText(e)}`),
  ].join(' ');
}

/**
 * The `ls --json` object of an entry: its fields without the body, `size: 0` for kinds without data, attributes as a
 * number and as names, times as ISO 8601 strings (7 fraction digits), the descriptor as bytes and as SDDL (absent
 * when it does not decode), EAs, unknown PAX records and the raw header. Bytes stay `Uint8Array`s: the CLI's JSON
 * writer makes them base64.
 */
export type EntryJson = Record<string, unknown>;

/** The `--json` object of one entry (see {@link EntryJson}). */
export function entryJson(e: LayerEntry): EntryJson {
  const w = e.win;
  const { body: _body, win: _win, raw, extraPax, kind, path, ...rest } = e as LayerEntry & { body?: unknown };
  return {
    kind,
    path,
    ...rest,
    ...(e.kind === 'file' || e.kind === 'stream' ? {} : { size: 0 }),
    attributes: w.attributes,
    attributeNames: w.attributes === undefined ? undefined : attributeNames(w.attributes),
    creationTime: iso(w.creationTime),
    lastWriteTime: iso(w.lastWriteTime),
    lastAccessTime: iso(w.lastAccessTime),
    changeTime: iso(w.changeTime),
    mountPoint: w.mountPoint,
    securityDescriptor: w.securityDescriptor,
    sddl: sddlOrUndefined(w.securityDescriptor),
    extendedAttributes: w.extendedAttributes,
    extraPax,
    raw,
  };
}

function iso(t: UnixNanos | undefined): string | undefined {
  return t === undefined ? undefined : formatIso7(t);
}

function sddlOrUndefined(sd: Uint8Array | undefined): string | undefined {
  if (sd === undefined) return undefined;
  try {
    return bytesToSddl(sd);
  } catch {
    return undefined;
  }
}
