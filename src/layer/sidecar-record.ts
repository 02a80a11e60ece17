/**
 * The `.winlayer/` sidecar's codec (format: `docs/layer-folder.md`): the record and manifest types, a record as one
 * JSON line and back (strict), the manifest and SD-table lines. Pure: strings in, values out; no file is touched.
 * Reading the files is `sidecar.ts`, writing them `sidecar-writer.ts`.
 */
import type { ExtendedAttribute, PaxRecord } from '../entry.js';
import { WinlayerError } from '../errors.js';
import { formatPaxTime, parsePaxTime, type UnixNanos } from '../windows/index.js';

/** The sidecar folder name at the layer root. */
export const SIDECAR_DIR = '.winlayer';
/** The format version this code reads and writes. */
export const SIDECAR_VERSION = 1;
/** The `format` of `manifest.json`. */
const SIDECAR_FORMAT = 'winlayer-layer-folder';
/** The files and the folder inside `.winlayer/`. */
export const SIDECAR_FILES = {
  manifest: 'manifest.json',
  entries: 'entries.ndjson',
  sds: 'sds.ndjson',
  streams: 'streams',
} as const;
const ENTRIES = SIDECAR_FILES.entries;

/** Base (no parents, no whiteouts, no `Hives/`) or non-base. */
export type LayerKind = 'base' | 'non-base';

/** A parent layer as given at import: a folder path and/or its diff_id. */
export interface ParentRef {
  readonly path?: string;
  readonly diffId?: string;
}

/** `.winlayer/manifest.json`. */
export interface SidecarManifest {
  readonly version: number;
  readonly kind: LayerKind;
  readonly parents: readonly ParentRef[];
}

/** The entry kinds a record can describe (streams live inside their file's record). */
export type SidecarRecordKind = 'directory' | 'file' | 'symlink' | 'hardlink' | 'whiteout';

/** One alternate data stream of a file: its name (no `:$DATA`), size and data location relative to `.winlayer/`. */
export interface SidecarStream {
  readonly name: string;
  readonly size: number;
  /** `streams/<n>`. */
  readonly data: string;
}

/** One line of `entries.ndjson`, decoded. Field meanings: `docs/layer-folder.md`. */
export interface SidecarRecord {
  readonly path: string;
  readonly kind: SidecarRecordKind;
  readonly attributes?: number;
  /** Id into the security-descriptor table. */
  readonly sd?: number;
  readonly creationTime?: UnixNanos;
  readonly lastWriteTime?: UnixNanos;
  readonly lastAccessTime?: UnixNanos;
  readonly changeTime?: UnixNanos;
  /** Files: data size when recorded. */
  readonly size?: number;
  /** The mtime `lstat` showed after the writer set the object's times. */
  readonly diskMtime?: UnixNanos;
  /** Symlink: Windows target text; hardlink: layer path of the first name. */
  readonly linkTarget?: string;
  readonly mountPoint?: boolean;
  /** Hardlink whose target is in a parent layer. */
  readonly inParent?: boolean;
  /** Whiteout: the layer path it deletes. */
  readonly target?: string;
  readonly extendedAttributes?: readonly ExtendedAttribute[];
  readonly streams?: readonly SidecarStream[];
  readonly extraPax?: readonly PaxRecord[];
}

/** A `SIDECAR_INVALID` error for `file` (and its line), with the fix. */
export function sidecarInvalid(file: string, rule: string, line?: number): WinlayerError {
  return new WinlayerError('SIDECAR_INVALID', line === undefined ? rule : `line ${line}: ${rule}`, {
    path: file,
    hint: 're-import the layer, or remove the .winlayer folder to export the folder with default metadata',
  });
}
const invalid = sidecarInvalid;

// ── encoding ───────────────────────────────────────────────────────────────────────────────────────────────────────

/**
 * PAX times as JSON strings (`"1677606423.1234567"`): what `formatPaxTime` gives, without bigint division for the
 * usual times after 1970-01-01T00:00:01 (the decimal digits are cut nine from the end). It remembers the last value
 * (a record's times are often equal: lastWriteTime, diskMtime, changeTime), so each writer owns one.
 */
export class TimeText {
  #last: UnixNanos | undefined;
  #lastJson = '';

  json(t: UnixNanos): string {
    if (t === this.#last) return this.#lastJson;
    let s: string;
    if (t >= 1_000_000_000n) {
      const d = t.toString();
      const cut = d.length - 9;
      let end = d.length;
      while (end > cut && d.charCodeAt(end - 1) === 0x30) end--;
      s = end === cut ? `"${d.slice(0, cut)}"` : `"${d.slice(0, cut)}.${d.slice(cut, end)}"`;
    } else {
      s = `"${formatPaxTime(t)}"`; // digits, '.' and '-' only: nothing to escape
    }
    this.#last = t;
    this.#lastJson = s;
    return s;
  }
}

/** A JSON number as `JSON.stringify` writes it. */
function numJson(n: number): string {
  return Number.isFinite(n) ? String(n) : 'null';
}

/** `JSON.stringify(kind)`, without the call for the five kinds. */
function kindJson(kind: string): string {
  switch (kind) {
    case 'file':
      return '"file"';
    case 'directory':
      return '"directory"';
    case 'hardlink':
      return '"hardlink"';
    case 'symlink':
      return '"symlink"';
    case 'whiteout':
      return '"whiteout"';
    default:
      return JSON.stringify(kind);
  }
}

/**
 * A record as one JSON line (no newline), fields in the documented order: the bytes `JSON.stringify` gives for the
 * record with times as PAX strings, built by concatenation (no intermediate object). Exported for tests and tools.
 */
export function encodeRecord(r: SidecarRecord, times: TimeText = new TimeText()): string {
  let s = `{"path":${JSON.stringify(r.path)},"kind":${kindJson(r.kind)}`;
  if (r.attributes !== undefined) s += `,"attributes":${numJson(r.attributes)}`;
  if (r.sd !== undefined) s += `,"sd":${numJson(r.sd)}`;
  if (r.creationTime !== undefined) s += `,"creationTime":${times.json(r.creationTime)}`;
  if (r.lastWriteTime !== undefined) s += `,"lastWriteTime":${times.json(r.lastWriteTime)}`;
  if (r.lastAccessTime !== undefined) s += `,"lastAccessTime":${times.json(r.lastAccessTime)}`;
  if (r.changeTime !== undefined) s += `,"changeTime":${times.json(r.changeTime)}`;
  if (r.size !== undefined) s += `,"size":${numJson(r.size)}`;
  if (r.diskMtime !== undefined) s += `,"diskMtime":${times.json(r.diskMtime)}`;
  if (r.linkTarget !== undefined) s += `,"linkTarget":${JSON.stringify(r.linkTarget)}`;
  if (r.mountPoint === true) s += ',"mountPoint":true';
  if (r.inParent === true) s += ',"inParent":true';
  if (r.target !== undefined) s += `,"target":${JSON.stringify(r.target)}`;
  if (r.extendedAttributes !== undefined && r.extendedAttributes.length > 0) {
    const eas = r.extendedAttributes.map((ea) => ({ name: ea.name, value: Buffer.from(ea.value).toString('base64') }));
    s += `,"extendedAttributes":${JSON.stringify(eas)}`;
  }
  if (r.streams !== undefined && r.streams.length > 0) {
    s += `,"streams":${JSON.stringify(r.streams.map((st) => ({ name: st.name, size: st.size, data: st.data })))}`;
  }
  if (r.extraPax !== undefined && r.extraPax.length > 0) {
    s += `,"extraPax":${JSON.stringify(r.extraPax.map((p) => ({ key: p.key, value: p.value })))}`;
  }
  return `${s}}`;
}

const KINDS: ReadonlySet<string> = new Set(['directory', 'file', 'symlink', 'hardlink', 'whiteout']);
const STREAM_DATA = /^streams\/\d{1,12}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Why a field is wrong; thrown as `SIDECAR_INVALID` by `decodeRecord`. */
class FieldError extends Error {}

function fieldStr(v: Record<string, unknown>, k: string): string | undefined {
  const x = v[k];
  if (x === undefined) return undefined;
  if (typeof x !== 'string') throw new FieldError(`field "${k}" must be a string`);
  return x;
}

function fieldUint(v: Record<string, unknown>, k: string, max: number): number | undefined {
  const x = v[k];
  if (x === undefined) return undefined;
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0 || x > max) {
    throw new FieldError(`field "${k}" must be an integer 0..${max}`);
  }
  return x;
}

function fieldTime(v: Record<string, unknown>, k: string): UnixNanos | undefined {
  const x = fieldStr(v, k);
  if (x === undefined) return undefined;
  try {
    return parsePaxTime(x);
  } catch {
    throw new FieldError(`field "${k}" must be a PAX time string such as "1677606423.1234567"`);
  }
}

function fieldFlag(v: Record<string, unknown>, k: string): boolean {
  const x = v[k];
  if (x === undefined || x === false) return false;
  if (x !== true) throw new FieldError(`field "${k}" must be true`);
  return true;
}

function fieldList(v: Record<string, unknown>, k: string): Record<string, unknown>[] | undefined {
  const x = v[k];
  if (x === undefined) return undefined;
  if (!Array.isArray(x) || !x.every((i) => typeof i === 'object' && i !== null && !Array.isArray(i))) {
    throw new FieldError(`field "${k}" must be an array of objects`);
  }
  return x as Record<string, unknown>[];
}

/** Parses one `entries.ndjson` line strictly. `file` and `line` only shape the error message. */
export function decodeRecord(text: string, file: string = ENTRIES, line?: number): SidecarRecord {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (e) {
    throw invalid(file, `not JSON: ${(e as Error).message}`, line);
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw invalid(file, 'a record is not an object', line);
  try {
    return recordFromJson(o as Record<string, unknown>);
  } catch (e) {
    if (e instanceof FieldError) throw invalid(file, e.message, line);
    throw e;
  }
}

function recordFromJson(v: Record<string, unknown>): SidecarRecord {
  const path = fieldStr(v, 'path');
  if (path === undefined || path === '' || path.startsWith('/') || path.endsWith('/') || path.startsWith('./')) {
    throw new FieldError('field "path" must be a layer path (relative, "/"-separated, no trailing "/")');
  }
  if (path.includes('//') || /(^|\/)\.\.?(\/|$)/.test(path)) {
    throw new FieldError('field "path" must be free of "", "." and ".."');
  }
  const kind = fieldStr(v, 'kind');
  if (kind === undefined || !KINDS.has(kind))
    throw new FieldError(`field "kind" must be one of ${[...KINDS].join(', ')}`);
  // Build with plain assignments (no deletes) so every record has a fast, stable shape.
  const r: { -readonly [K in keyof SidecarRecord]: SidecarRecord[K] } = { path, kind: kind as SidecarRecordKind };
  const attributes = fieldUint(v, 'attributes', 0xffff_ffff);
  if (attributes !== undefined) r.attributes = attributes;
  const sd = fieldUint(v, 'sd', Number.MAX_SAFE_INTEGER);
  if (sd !== undefined) r.sd = sd;
  const creationTime = fieldTime(v, 'creationTime');
  if (creationTime !== undefined) r.creationTime = creationTime;
  const lastWriteTime = fieldTime(v, 'lastWriteTime');
  if (lastWriteTime !== undefined) r.lastWriteTime = lastWriteTime;
  const lastAccessTime = fieldTime(v, 'lastAccessTime');
  if (lastAccessTime !== undefined) r.lastAccessTime = lastAccessTime;
  const changeTime = fieldTime(v, 'changeTime');
  if (changeTime !== undefined) r.changeTime = changeTime;
  const size = fieldUint(v, 'size', Number.MAX_SAFE_INTEGER);
  if (size !== undefined) r.size = size;
  const diskMtime = fieldTime(v, 'diskMtime');
  if (diskMtime !== undefined) r.diskMtime = diskMtime;
  const linkTarget = fieldStr(v, 'linkTarget');
  if (linkTarget !== undefined) r.linkTarget = linkTarget;
  if (fieldFlag(v, 'mountPoint')) r.mountPoint = true;
  if (fieldFlag(v, 'inParent')) r.inParent = true;
  const target = fieldStr(v, 'target');
  if (target !== undefined) r.target = target;
  const eas = fieldList(v, 'extendedAttributes');
  if (eas !== undefined) {
    r.extendedAttributes = eas.map((ea) => {
      if (typeof ea.name !== 'string' || typeof ea.value !== 'string' || !BASE64.test(ea.value)) {
        throw new FieldError('field "extendedAttributes" must be [{name: string, value: base64}]');
      }
      return { name: ea.name, value: new Uint8Array(Buffer.from(ea.value, 'base64')) };
    });
  }
  const streams = fieldList(v, 'streams');
  if (streams !== undefined) {
    r.streams = streams.map((st) => {
      if (
        typeof st.name !== 'string' ||
        st.name === '' ||
        typeof st.size !== 'number' ||
        !Number.isSafeInteger(st.size) ||
        st.size < 0 ||
        typeof st.data !== 'string' ||
        !STREAM_DATA.test(st.data)
      ) {
        throw new FieldError('field "streams" must be [{name: string, size: integer, data: "streams/<n>"}]');
      }
      return { name: st.name, size: st.size, data: st.data };
    });
  }
  const extraPax = fieldList(v, 'extraPax');
  if (extraPax !== undefined) {
    r.extraPax = extraPax.map((p) => {
      if (typeof p.key !== 'string' || typeof p.value !== 'string') {
        throw new FieldError('field "extraPax" must be [{key, value}] strings');
      }
      return { key: p.key, value: p.value };
    });
  }
  if ((r.kind === 'symlink' || r.kind === 'hardlink') && r.linkTarget === undefined) {
    throw new FieldError(`field "linkTarget" must be present on a ${r.kind} record`);
  }
  if (r.kind === 'whiteout' && r.target === undefined)
    throw new FieldError('field "target" must be present on a whiteout record');
  return r;
}

/** Parses `manifest.json` strictly. */
export function parseManifest(path: string, text: string): SidecarManifest {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (e) {
    throw invalid(path, `not JSON: ${(e as Error).message}`);
  }
  const m = o as Record<string, unknown>;
  if (m === null || typeof m !== 'object' || m.format !== SIDECAR_FORMAT)
    throw invalid(path, `"format" must be "${SIDECAR_FORMAT}"`);
  if (m.version !== SIDECAR_VERSION) {
    throw invalid(
      path,
      `version ${String(m.version)} is not supported (this winlayer reads version ${SIDECAR_VERSION})`,
    );
  }
  if (m.kind !== 'base' && m.kind !== 'non-base') throw invalid(path, '"kind" must be "base" or "non-base"');
  const parents = m.parents ?? [];
  if (!Array.isArray(parents)) throw invalid(path, '"parents" must be an array');
  const refs = parents.map((p): ParentRef => {
    const r = p as Record<string, unknown>;
    if (
      r === null ||
      typeof r !== 'object' ||
      (r.path !== undefined && typeof r.path !== 'string') ||
      (r.diffId !== undefined && typeof r.diffId !== 'string')
    ) {
      throw invalid(path, '"parents" must hold {path?, diffId?} objects');
    }
    return {
      ...(r.path === undefined ? {} : { path: r.path as string }),
      ...(r.diffId === undefined ? {} : { diffId: r.diffId as string }),
    };
  });
  return { version: SIDECAR_VERSION, kind: m.kind, parents: refs };
}

/** `manifest.json`'s text. */
export function encodeManifest(kind: LayerKind, parents: readonly ParentRef[]): string {
  const manifest = {
    format: SIDECAR_FORMAT,
    version: SIDECAR_VERSION,
    kind,
    parents: parents.map((p) => ({
      ...(p.path === undefined ? {} : { path: p.path }),
      ...(p.diffId === undefined ? {} : { diffId: p.diffId }),
    })),
  };
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/** One line of `sds.ndjson` (no newline): the SD with table id `id`, as base64. */
export function encodeSdLine(id: number, sdBase64: string): string {
  return JSON.stringify({ id, sd: sdBase64 });
}

/** Parses line `n` (1-based) of `sds.ndjson`, which must hold table id `id`. */
export function decodeSdLine(line: string, id: number, file: string, n: number): Uint8Array {
  let o: unknown;
  try {
    o = JSON.parse(line);
  } catch {
    throw invalid(file, 'not JSON', n);
  }
  const rec = o as { id?: unknown; sd?: unknown };
  if (rec === null || typeof rec !== 'object' || rec.id !== id) throw invalid(file, `expected id ${id}`, n);
  if (typeof rec.sd !== 'string' || !BASE64.test(rec.sd)) throw invalid(file, 'field "sd" must be base64', n);
  return new Uint8Array(Buffer.from(rec.sd, 'base64'));
}
