/**
 * The `.winlayer/` metadata sidecar of a layer folder (format: `docs/layer-folder.md`). It keeps what a non-Windows
 * filesystem cannot: attributes, security descriptors, the four Windows times, EAs, ADS, symlink text, junctions,
 * whiteouts, hard links into parents and unknown PAX records.
 *
 * `SidecarWriter` writes it in one streaming pass (import); `readSidecar` loads an index of path → record whose memory
 * grows with the number of entries, never with data (it keeps each record's byte offset; `get` reads and parses it).
 */
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AtomicTarget, removeTree } from '../atomic.js';
import type { ExtendedAttribute, PaxRecord } from '../entry.js';
import { WinlayerError } from '../errors.js';
import { upcaseHash } from '../windows/case.js';
import { formatPaxTime, parsePaxTime, type UnixNanos } from '../windows/filetime.js';
import { HashSlots } from './hash-slots.js';

/** The sidecar folder name at the layer root. */
export const SIDECAR_DIR = '.winlayer';
/** The format version this code reads and writes. */
export const SIDECAR_VERSION = 1;
const FORMAT = 'winlayer-layer-folder';
const MANIFEST = 'manifest.json';
const ENTRIES = 'entries.ndjson';
const SDS = 'sds.ndjson';
const STREAMS = 'streams';

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

/** A loaded sidecar: the manifest, the SD table and a path → record index. */
export interface Sidecar {
  /** Absolute (or as given) path of the `.winlayer` folder. */
  readonly dir: string;
  readonly manifest: SidecarManifest;
  /** The record of a layer path, parsed on each call; undefined when there is none. */
  get(path: string): SidecarRecord | undefined;
  has(path: string): boolean;
  /** The number of records. */
  readonly size: number;
  /** Every path with a record, in file order. */
  paths(): IterableIterator<string>;
  /** The security descriptor bytes of a table id (throws `SIDECAR_INVALID` for an unknown id). */
  securityDescriptor(id: number): Uint8Array;
  /**
   * Records that stand without a disk object (whiteouts, hard links into parents and symlinks: import never creates a
   * host symlink), grouped by the layer path of the folder that contains them.
   */
  readonly detached: ReadonlyMap<string, readonly SidecarRecord[]>;
  /** Host path of a stream's data file (`streams/<n>` resolved inside `.winlayer/`). */
  streamPath(stream: SidecarStream): string;
  /**
   * Closes the file `get` reads records from (a later `get` opens it again); an index that spilled to a temporary file
   * is released with its folder, and must not be used afterwards.
   */
  close(): void;
}

/** Options of `SidecarWriter`. */
export interface SidecarWriterOptions {
  readonly kind: LayerKind;
  readonly parents?: readonly ParentRef[];
  /**
   * The caller guarantees that no path is added twice (the import's `ImportGuard` refuses duplicates, by Windows'
   * case rule even): the writer then keeps no set of paths, so its memory does not grow with the entries.
   */
  readonly uniquePaths?: boolean;
}

function invalid(file: string, rule: string, line?: number): WinlayerError {
  return new WinlayerError('SIDECAR_INVALID', line === undefined ? rule : `line ${line}: ${rule}`, {
    path: file,
    hint: 're-import the layer, or remove the .winlayer folder to export the folder with default metadata',
  });
}

// ── encoding ───────────────────────────────────────────────────────────────────────────────────────────────────────

let lastTime: UnixNanos | undefined;
let lastTimeJson = '';

/**
 * A PAX time as a JSON string (`"1677606423.1234567"`): what `formatPaxTime` gives, without bigint division for the
 * usual times after 1970-01-01T00:00:01 (the decimal digits are cut nine from the end). The last value is remembered:
 * a record's times are often equal (lastWriteTime, diskMtime, changeTime).
 */
function timeJson(t: UnixNanos): string {
  if (t === lastTime) return lastTimeJson;
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
  lastTime = t;
  lastTimeJson = s;
  return s;
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
export function encodeRecord(r: SidecarRecord): string {
  let s = `{"path":${JSON.stringify(r.path)},"kind":${kindJson(r.kind)}`;
  if (r.attributes !== undefined) s += `,"attributes":${numJson(r.attributes)}`;
  if (r.sd !== undefined) s += `,"sd":${numJson(r.sd)}`;
  if (r.creationTime !== undefined) s += `,"creationTime":${timeJson(r.creationTime)}`;
  if (r.lastWriteTime !== undefined) s += `,"lastWriteTime":${timeJson(r.lastWriteTime)}`;
  if (r.lastAccessTime !== undefined) s += `,"lastAccessTime":${timeJson(r.lastAccessTime)}`;
  if (r.changeTime !== undefined) s += `,"changeTime":${timeJson(r.changeTime)}`;
  if (r.size !== undefined) s += `,"size":${numJson(r.size)}`;
  if (r.diskMtime !== undefined) s += `,"diskMtime":${timeJson(r.diskMtime)}`;
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
export function decodeRecord(text: string, file = ENTRIES, line?: number): SidecarRecord {
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

// ── reading ────────────────────────────────────────────────────────────────────────────────────────────────────────

/** The layer path of the folder that holds `path` (`''` for a top-level name). */
function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

/**
 * Loads the sidecar of `layerDir`, or returns `undefined` when the folder has no `.winlayer/` (a plain folder).
 * Reads `entries.ndjson` once (synchronously, in 1 MiB chunks), checks every record, and keeps no paths: a hash
 * table of (hash of the path, line number) and each line's offset: 4 bytes a line plus 8–16 a slot, and past 2^20
 * slots (786,000 records) the table moves to a spill file in a private temporary folder (4 MiB of it cached), so
 * memory stays bounded whatever the size; `get` reads a record back with one positioned read and confirms its path.
 * Records that stand
 * without a disk object (`detached`) are kept whole. Throws `SIDECAR_INVALID` for a malformed or incomplete sidecar
 * (no `manifest.json`, unknown version, bad line, duplicate path, unknown SD id). Call `close()` when done.
 */
export function readSidecar(layerDir: string, limits: SidecarIndexLimits = {}): Sidecar | undefined {
  const dir = join(layerDir, SIDECAR_DIR);
  if (!existsSync(dir)) return undefined;
  const manifestPath = join(dir, MANIFEST);
  if (!existsSync(manifestPath)) {
    throw invalid(manifestPath, 'missing: the sidecar is incomplete (an import was interrupted?)');
  }
  const manifest = parseManifest(manifestPath, readText(manifestPath));
  const sdsPath = join(dir, SDS);
  const sds = readSds(sdsPath);

  const entriesPath = join(dir, ENTRIES);
  // The index holds no paths: a hash table of (hash of the path by Windows' case rule, line number) plus each line's
  // offset. A record is read back (one positioned read) to answer `get` and to confirm a hash.
  const spill = new SpillDir();
  // Hashes scatter, so a spilled table's cache hits little whatever its size: 1 MiB instead of the default 4.
  const index = new HashSlots({
    spillFile: () => spill.file('index.slots'),
    cachePages: 256,
    ...(limits.memorySlots === undefined ? {} : { memorySlots: limits.memorySlots }),
  });
  const starts = new LineStarts(limits.offsetBits);
  const detached = new Map<string, SidecarRecord[]>();
  let fd = -1;
  let buf = Buffer.allocUnsafe(4096);
  const readBack = (i: number): SidecarRecord => {
    const start = starts.start(i);
    // The line is what lies before the first newline up to the next line's start (blank lines may sit between).
    const span = starts.end(i) - start;
    if (buf.length < span) buf = Buffer.allocUnsafe(Math.max(span, buf.length * 2));
    try {
      if (fd < 0) fd = openSync(entriesPath, 'r');
      let got = 0;
      while (got < span) {
        const k = readSync(fd, buf, got, span - got, start + got);
        if (k === 0) throw new Error('the file shrank');
        got += k;
      }
    } catch (e) {
      throw new WinlayerError('SIDECAR_INVALID', `cannot read back a record: ${(e as Error).message}`, {
        path: entriesPath,
        cause: e,
        hint: 'the sidecar changed while it was in use',
      });
    }
    const nl = buf.indexOf(0x0a);
    return decodeRecord(buf.toString('utf8', 0, nl < 0 || nl > span ? span : nl), entriesPath, i + 1);
  };
  /** The record of `path`, found through the hash table and confirmed by its own path. */
  const lookup = (path: string): SidecarRecord | undefined => {
    let found: SidecarRecord | undefined;
    index.find(upcaseHash(path), (i) => {
      const r = readBack(i);
      if (r.path !== path) return false;
      found = r;
      return true;
    });
    return found;
  };
  const release = (): void => {
    if (fd >= 0) closeSync(fd);
    fd = -1;
  };
  try {
    if (existsSync(entriesPath)) {
      for (const { text, start, length } of fileLines(entriesPath)) {
        const i = starts.size;
        const r = decodeRecord(text, entriesPath, i + 1);
        if (r.sd !== undefined && r.sd >= sds.length) {
          throw invalid(entriesPath, `sd id ${r.sd} is not in ${SDS}`, i + 1);
        }
        starts.push(start, start + length);
        if (lookup(r.path) !== undefined) throw invalid(entriesPath, `duplicate record for ${r.path}`, i + 1);
        index.add(upcaseHash(r.path), i);
        if (r.kind === 'whiteout' || r.kind === 'symlink' || (r.kind === 'hardlink' && r.inParent === true)) {
          const p = parentOf(r.path);
          const group = detached.get(p);
          if (group === undefined) detached.set(p, [r]);
          else group.push(r);
        }
      }
    }
  } catch (e) {
    release();
    index.close();
    spill.remove();
    throw e;
  }
  const count = starts.size;

  return {
    dir,
    manifest,
    size: count,
    detached,
    get: lookup,
    has: (path: string) => lookup(path) !== undefined,
    *paths(): IterableIterator<string> {
      for (let i = 0; i < count; i++) yield readBack(i).path;
    },
    securityDescriptor(id: number): Uint8Array {
      const sd = sds[id];
      if (sd === undefined) throw invalid(sdsPath, `no security descriptor with id ${id}`);
      return sd;
    },
    streamPath: (s: SidecarStream) => join(dir, ...s.data.split('/')),
    close(): void {
      release();
      if (!index.spilled) return; // an index in memory stays usable: `get` opens the file again
      index.close();
      spill.remove();
    },
  };
}

/** Internal limits of {@link readSidecar}'s index (tests make them small to take the bounded paths). */
export interface SidecarIndexLimits {
  /** Slots of the hash table kept in memory before it moves to a temporary file (see `HashSlots`). */
  readonly memorySlots?: number;
  /** Bits of a line offset held in its 32-bit word (default 32); the rest is counted in wrap points. */
  readonly offsetBits?: number;
}

function readSds(sdsPath: string): Uint8Array[] {
  const sds: Uint8Array[] = [];
  if (!existsSync(sdsPath)) return sds;
  let n = 0;
  for (const line of lines(readText(sdsPath))) {
    n++;
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch {
      throw invalid(sdsPath, 'not JSON', n);
    }
    const rec = o as { id?: unknown; sd?: unknown };
    if (rec === null || typeof rec !== 'object' || rec.id !== sds.length) {
      throw invalid(sdsPath, `expected id ${sds.length}`, n);
    }
    if (typeof rec.sd !== 'string' || !BASE64.test(rec.sd)) throw invalid(sdsPath, 'field "sd" must be base64', n);
    sds.push(new Uint8Array(Buffer.from(rec.sd, 'base64')));
  }
  return sds;
}

/** Lines per chunk of {@link LineStarts}: chunks are added, never copied, so growing has no peak. */
const STARTS_CHUNK_SHIFT = 14;
const STARTS_CHUNK = 1 << STARTS_CHUNK_SHIFT;

/**
 * The byte offset of each line, 4 bytes a line: the low bits in a 32-bit word, the high part as the line numbers where
 * it steps up (offsets only grow, and a sidecar under 4 GiB has none). A line ends before the next line's start.
 */
class LineStarts {
  readonly #span: number;
  readonly #chunks: Uint32Array[] = [];
  /** For each step of the high part, the first line that has it (a line may appear more than once). */
  readonly #wraps: number[] = [];
  #size = 0;
  #end = 0;

  constructor(bits = 32) {
    if (!Number.isInteger(bits) || bits < 1 || bits > 32) throw new RangeError(`offsetBits ${bits} is out of range`);
    this.#span = 2 ** bits;
  }

  get size(): number {
    return this.#size;
  }

  /** Adds the next line: where it starts and where its text ends. */
  push(start: number, end: number): void {
    const high = Math.floor(start / this.#span);
    while (this.#wraps.length < high) this.#wraps.push(this.#size);
    const c = this.#size >>> STARTS_CHUNK_SHIFT;
    if (c === this.#chunks.length) this.#chunks.push(new Uint32Array(STARTS_CHUNK));
    this.#chunks[c]![this.#size & (STARTS_CHUNK - 1)] = start - high * this.#span;
    this.#size++;
    this.#end = end;
  }

  start(i: number): number {
    const low = this.#chunks[i >>> STARTS_CHUNK_SHIFT]![i & (STARTS_CHUNK - 1)]!;
    return this.#wraps.length === 0 ? low : low + this.#span * this.#highOf(i);
  }

  /** Where line `i` ends at the latest: the next line's start, or the end of the last line's text. */
  end(i: number): number {
    return i + 1 < this.#size ? this.start(i + 1) : this.#end;
  }

  /** The number of wrap points at or before line `i`. */
  #highOf(i: number): number {
    const w = this.#wraps;
    let lo = 0;
    let hi = w.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (w[mid]! <= i) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/**
 * A private folder under the system's temporary folder for the index's spill files, made only when the index first
 * spills (the layer folder may be read-only) and removed with everything in it by `remove()`.
 */
class SpillDir {
  #path: string | undefined;

  file(name: string): string {
    if (this.#path === undefined) {
      try {
        this.#path = mkdtempSync(join(tmpdir(), 'winlayer-sidecar-'));
      } catch (e) {
        throw new WinlayerError('IO', `cannot make a folder for the sidecar index: ${(e as Error).message}`, {
          path: tmpdir(),
          cause: e,
        });
      }
    }
    return join(this.#path, name);
  }

  remove(): void {
    if (this.#path === undefined) return;
    removeTree(this.#path);
    this.#path = undefined;
  }
}

/** The non-blank lines of a file with their byte offsets, read in 1 MiB chunks (never the whole file at once). */
function* fileLines(path: string): Generator<{ text: string; start: number; length: number }> {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new WinlayerError('IO', `cannot read: ${(e as Error).message}`, { path, cause: e });
  }
  try {
    let chunk = Buffer.allocUnsafe(1 << 20);
    let filled = 0; // bytes in chunk
    let base = 0; // file offset of chunk[0]
    for (;;) {
      if (filled === chunk.length) {
        const bigger = Buffer.allocUnsafe(chunk.length * 2); // one line longer than the chunk
        chunk.copy(bigger, 0, 0, filled);
        chunk = bigger;
      }
      const k = readSync(fd, chunk, filled, chunk.length - filled, base + filled);
      const eof = k === 0;
      filled += k;
      let from = 0;
      for (;;) {
        let nl = chunk.indexOf(0x0a, from);
        if (nl < 0 || nl >= filled) {
          if (!eof) break;
          if (from >= filled) break;
          nl = filled; // last line without a newline
        }
        const text = chunk.toString('utf8', from, nl);
        if (text.trim() !== '') yield { text, start: base + from, length: nl - from };
        from = nl + 1;
      }
      if (eof) return;
      chunk.copy(chunk, 0, from, filled);
      base += from;
      filled -= from;
    }
  } finally {
    closeSync(fd);
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new WinlayerError('IO', `cannot read: ${(e as Error).message}`, { path, cause: e });
  }
}

function* lines(text: string): Generator<string> {
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    if (line.trim() !== '') yield line;
  }
}

function parseManifest(path: string, text: string): SidecarManifest {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (e) {
    throw invalid(path, `not JSON: ${(e as Error).message}`);
  }
  const m = o as Record<string, unknown>;
  if (m === null || typeof m !== 'object' || m.format !== FORMAT) throw invalid(path, `"format" must be "${FORMAT}"`);
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

// ── writing ────────────────────────────────────────────────────────────────────────────────────────────────────────

/** Size of the buffer records are encoded into before one write. */
const BUFFER_SIZE = 1 << 20;

/**
 * Writes a `.winlayer/` sidecar in one streaming pass, into a temporary sibling that `finish()` renames into place
 * (replacing an existing sidecar); `abort()` (or any error, or a signal) removes it. Records go to disk in the order
 * they are added; memory holds only the SD table and the set of paths (to refuse duplicates).
 */
export class SidecarWriter {
  readonly #target: AtomicTarget;
  readonly #options: SidecarWriterOptions;
  readonly #fd: number;
  readonly #sdIds = new Map<string, number>();
  /**
   * Ids by array: the tar reader hands every entry with the same rawsd the same array, so most entries are found here
   * without encoding their SD again (the entry model's arrays are never changed in place).
   */
  readonly #sdIdsByArray = new WeakMap<Uint8Array, number>();
  readonly #sds: string[] = [];
  /** Paths added so far, to refuse duplicates; undefined when the caller guarantees uniqueness. */
  readonly #paths: Set<string> | undefined;
  #buffer: Buffer = Buffer.allocUnsafe(BUFFER_SIZE);
  #buffered = 0;
  #nextStream = 0;
  #closed = false;

  /** Starts a sidecar for `layerDir` (which must exist). Throws `IO` when the temporary cannot be created. */
  constructor(layerDir: string, options: SidecarWriterOptions) {
    this.#options = options;
    this.#paths = options.uniquePaths === true ? undefined : new Set();
    this.#target = new AtomicTarget(join(layerDir, SIDECAR_DIR), { kind: 'folder' });
    try {
      mkdirSync(join(this.#target.tempPath, STREAMS), { recursive: true });
      this.#fd = openSync(join(this.#target.tempPath, ENTRIES), 'w');
    } catch (e) {
      this.#target.abort();
      throw new WinlayerError('IO', `cannot create the sidecar: ${(e as Error).message}`, { path: layerDir, cause: e });
    }
  }

  /** Adds a security descriptor to the table (once per distinct byte string) and returns its id. */
  addSecurityDescriptor(sd: Uint8Array): number {
    const known = this.#sdIdsByArray.get(sd);
    if (known !== undefined) return known;
    const key = Buffer.from(sd.buffer, sd.byteOffset, sd.byteLength).toString('base64');
    let id = this.#sdIds.get(key);
    if (id === undefined) {
      id = this.#sds.length;
      this.#sds.push(key);
      this.#sdIds.set(key, id);
    }
    this.#sdIdsByArray.set(sd, id);
    return id;
  }

  /**
   * Reserves the data file of one alternate data stream: write the stream's bytes to `hostPath`, and put `data` into
   * the file record's `streams`.
   */
  allocateStream(): { readonly data: string; readonly hostPath: string } {
    const data = `${STREAMS}/${this.#nextStream++}`;
    return { data, hostPath: join(this.#target.tempPath, STREAMS, String(this.#nextStream - 1)) };
  }

  /** Appends one record. Throws `SIDECAR_INVALID` for a duplicate path or an SD id that was not added. */
  add(record: SidecarRecord): void {
    this.#open();
    if (this.#paths?.has(record.path)) throw invalid(record.path, 'a second record for the same path');
    if (record.sd !== undefined && (record.sd < 0 || record.sd >= this.#sds.length)) {
      throw invalid(record.path, `sd id ${record.sd} was not returned by addSecurityDescriptor`);
    }
    this.#paths?.add(record.path);
    const line = `${encodeRecord(record)}\n`;
    // A UTF-16 unit is at most 3 UTF-8 bytes: flush first when the line might not fit.
    if (this.#buffered + line.length * 3 > this.#buffer.length) {
      this.#flush();
      if (line.length * 3 > this.#buffer.length) {
        writeWholeFd(this.#fd, Buffer.from(line, 'utf8'));
        return;
      }
    }
    this.#buffered += this.#buffer.write(line, this.#buffered, 'utf8');
  }

  /**
   * Writes the SD table and the manifest, then renames the sidecar into place. `kind` overrides the constructor's
   * (an importer learns whether a layer is base only at the end of the tar).
   */
  finish(opts: { readonly kind?: LayerKind } = {}): void {
    this.#open();
    try {
      this.#flush();
      closeSync(this.#fd);
      const tmp = this.#target.tempPath;
      writeWhole(join(tmp, SDS), this.#sds.map((sd, id) => `${JSON.stringify({ id, sd })}\n`).join(''));
      const manifest = {
        format: FORMAT,
        version: SIDECAR_VERSION,
        kind: opts.kind ?? this.#options.kind,
        parents: (this.#options.parents ?? []).map((p) => ({
          ...(p.path === undefined ? {} : { path: p.path }),
          ...(p.diffId === undefined ? {} : { diffId: p.diffId }),
        })),
      };
      writeWhole(join(tmp, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    } catch (e) {
      this.abort();
      throw e instanceof WinlayerError
        ? e
        : new WinlayerError('IO', `cannot write the sidecar: ${(e as Error).message}`, { cause: e });
    }
    this.#closed = true;
    this.#target.commit({ replaceDirectory: true });
  }

  /** Removes the temporary sidecar. Safe after `finish()` and more than once. */
  abort(): void {
    if (!this.#closed) {
      this.#closed = true;
      try {
        closeSync(this.#fd);
      } catch {
        // already closed
      }
    }
    this.#target.abort();
  }

  #open(): void {
    if (this.#closed) throw new WinlayerError('INTERNAL', 'the sidecar writer is already finished');
  }

  #flush(): void {
    if (this.#buffered === 0) return;
    writeWholeFd(this.#fd, this.#buffer.subarray(0, this.#buffered));
    this.#buffered = 0;
  }
}

function writeWholeFd(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off);
}

function writeWhole(path: string, text: string): void {
  const fd = openSync(path, 'w');
  try {
    const data = Buffer.from(text, 'utf8');
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off);
  } finally {
    closeSync(fd);
  }
}
