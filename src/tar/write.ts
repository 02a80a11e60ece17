/**
 * The canonical Windows layer tar writer: `LayerEntry` stream → PAX tar bytes (plain, gzip or zstd), streamed through
 * a fixed 1 MiB buffer, with the sha256 of the tar and of the bytes written computed on the way.
 *
 * Every entry but a whiteout is a PAX `x` header named `<dir>/PaxHeaders.0/<base>` (as Go names it) followed by the
 * ustar header: uid/gid 0, empty user and group names, the modes of `opts.modes`. See `windows-pax.ts` for the
 * records and their order. Whiteouts are bare ustar headers (typeflag 0, mode 0, size 0, mtime 0) like hcsshim's.
 */

import { closeSync, fsyncSync, openSync } from 'node:fs';
import { AtomicTarget } from '../atomic.js';
import type { LayerEntry, PaxRecord } from '../entry.js';
import { WinlayerError } from '../errors.js';
import { FILE_ATTRIBUTE, unixSeconds } from '../windows/index.js';
import { createOutputChain, type TarOutputChain } from './compress.js';
import { SLOT_SIZE, StreamHash } from './hash.js';
import {
  asciiField,
  BLOCK_SIZE,
  encodeHeader,
  encodeHeaderAt,
  fitsField,
  type HeaderFields,
  MAX_OCTAL_SIZE,
  USTAR,
} from './header.js';
import { splitPath } from './names.js';
import type { TarOutput, TarSummary, WriteTarOptions } from './types.js';
import { attributesText, defaultAttributes, encodeWindowsPax, PAX_KEYS, paxTimeText, sdBase64 } from './windows-pax.js';

/**
 * An internal fast path between the folder walkers' file bodies and the writer (not part of the public API): a body
 * with a method under this key reads straight into the writer's buffer at an offset, with the same result as its
 * `readSync` given `buffer.subarray(offset, offset + length)` (and writing no byte past what it returns), without
 * the view.
 */
export const READ_INTO: unique symbol = Symbol('winlayer.readInto');

/**
 * Internal (not part of the public API): an entry source with a method under this key vouches for the paths it
 * built itself from names it checked (the folder walkers): `source[CHECKED_PATH](e)` is true only for such an entry,
 * which then skips the writer's own path check. Any other entry, or any other source, is checked.
 */
export const CHECKED_PATH: unique symbol = Symbol('winlayer.checkedPath');

/** The method under {@link CHECKED_PATH}. */
export type PathWitness = (e: LayerEntry) => boolean;

/** The method under {@link READ_INTO}. */
export type ReadInto = (buffer: Uint8Array, offset: number, length: number) => number;

/** PAX data larger than this is refused (readers such as Go's refuse it too). */
export const MAX_PAX_SIZE = 1024 * 1024;
const BUFFER_SIZE = SLOT_SIZE;
/** Longest stretch (ms) without an event-loop turn while writing: signal handlers and timers must run. */
const YIELD_MS = 20;
const DEFAULT_MODES = { directory: 0o755, file: 0o644, link: 0o644 } as const;
const NAME_LEN = USTAR.name.len;

/**
 * Writes `entries` as a Windows layer tar to `out` (a file descriptor or a writable stream, which is neither closed
 * nor ended) and resolves with the digests and sizes once everything is flushed. Streams: memory is fixed whatever
 * the layer size (one 1 MiB buffer, or the hashing thread's 8 MiB ring once the tar passes 256 KiB, plus the
 * compressor's window); file bodies are read with `body.readSync` when offered, else iterated. The same entries always
 * give the same bytes.
 *
 * Speed: a synchronous iterable whose bodies offer `readSync`, written to a file descriptor, runs without a promise per
 * entry (the fast path `exportLayer` uses); the sha256 runs on a second thread. The writer still gives the event loop
 * a turn at least every 20 ms (and after every 1 MiB when compressing, so the compressor's threadpool work goes on),
 * so that timers and SIGINT/SIGTERM handlers run even inside one huge file.
 *
 * Throws `TAR_ENTRY` for an entry that cannot be written (a `special` or `opaqueWhiteout` entry, a stream that does
 * not follow its file, an invalid path, a body whose length differs from `size` — "changed while being read"),
 * `TAR_TOO_LARGE` for PAX data over 1 MiB, `IO` when the output fails, `USAGE` for a bad compression level. On error
 * the output holds a partial tar: write files through {@link writeTarFile} (atomic) or discard it.
 */
export async function writeTar(
  entries: AsyncIterable<LayerEntry> | Iterable<LayerEntry>,
  out: TarOutput,
  opts: WriteTarOptions = {},
): Promise<TarSummary> {
  const compression = opts.compression ?? 'none';
  const chain = createOutputChain(out, compression, opts.level);
  const w = new BlockWriter(chain, new StreamHash({ threaded: opts.threadedHash === true }));
  const modes = { ...DEFAULT_MODES, ...opts.modes };
  const witness = (entries as { readonly [CHECKED_PATH]?: PathWitness })[CHECKED_PATH];
  const state: WriteState = { w, modes, owner: undefined, count: 0, witness: witness?.bind(entries) };
  try {
    const sync = (entries as Iterable<LayerEntry>)[Symbol.iterator];
    if (typeof sync === 'function' && !(Symbol.asyncIterator in entries)) {
      for (const e of entries as Iterable<LayerEntry>) {
        const p = writeEntry(state, e);
        if (p !== undefined) await p;
      }
    } else {
      for await (const e of entries as AsyncIterable<LayerEntry>) {
        const p = writeEntry(state, e);
        if (p !== undefined) await p;
      }
    }
    const count = state.count;
    await w.zero(2 * BLOCK_SIZE);
    await w.flush();
    const diffId = w.hash.digest();
    const { digest, size } = await chain.finish();
    return {
      diffId,
      digest: digest ?? diffId,
      size,
      uncompressedSize: w.hash.bytes,
      entries: count,
      compression,
    };
  } finally {
    w.hash.close();
  }
}

interface WriteState {
  readonly w: BlockWriter;
  readonly modes: { readonly directory: number; readonly file: number; readonly link: number };
  /** Path of the last file or folder: alternate data streams attach to it. */
  owner: string | undefined;
  count: number;
  /** The source's {@link CHECKED_PATH} method, when it has one. */
  readonly witness: PathWitness | undefined;
}

/** Writes one entry; returns a promise only when it had to wait (a flush, an iterated body). */
function writeEntry(st: WriteState, e: LayerEntry): Promise<void> | undefined {
  if (st.witness === undefined || !st.witness(e)) checkPath(e);
  const { w, modes } = st;
  let p: Promise<void> | undefined;
  switch (e.kind) {
    case 'directory':
      p = writePaxEntry(w, e, TYPE_DIR, modes.directory, 0, undefined);
      st.owner = e.path;
      break;
    case 'file':
      checkSize(e.path, e.size);
      p = writePaxEntry(w, e, TYPE_FILE, modes.file, e.size, undefined);
      p = p === undefined ? writeBody(w, e.path, e.size, e.body) : p.then(() => writeBody(w, e.path, e.size, e.body));
      st.owner = e.path;
      break;
    case 'stream': {
      checkSize(e.path, e.size);
      if (st.owner === undefined || st.owner !== e.filePath) {
        throw new WinlayerError('TAR_ENTRY', `alternate data stream does not directly follow its file ${e.filePath}`, {
          entry: e.path,
          hint: 'emit stream entries right after the file (or its other streams)',
        });
      }
      const name = `${e.filePath}:${e.streamName}`;
      if (e.streamName === '' || e.streamName.includes(':') || name !== e.path) {
        throw new WinlayerError('TAR_ENTRY', `stream path must be "${name}"`, { entry: e.path });
      }
      p = writePaxEntry(w, e, TYPE_FILE, modes.file, e.size, undefined);
      p = p === undefined ? writeBody(w, e.path, e.size, e.body) : p.then(() => writeBody(w, e.path, e.size, e.body));
      break;
    }
    case 'hardlink':
      p = writePaxEntry(w, e, TYPE_LINK, modes.link, 0, e.linkTarget);
      st.owner = undefined;
      break;
    case 'symlink':
      p = writePaxEntry(w, e, TYPE_SYMLINK, modes.link, 0, e.linkTarget);
      st.owner = undefined;
      break;
    case 'whiteout':
      p = writeWhiteout(w, e.path);
      st.owner = undefined;
      break;
    case 'opaqueWhiteout':
      throw new WinlayerError('TAR_ENTRY', 'an opaque whiteout (.wh..wh..opq) cannot go into a Windows layer', {
        entry: e.path,
        hint: 'Windows (hcsshim) has no opaque directories: write a whiteout for each child instead',
      });
    case 'special':
      throw new WinlayerError('TAR_ENTRY', `a ${e.description} cannot go into a Windows layer`, { entry: e.path });
    default:
      throw new WinlayerError('TAR_ENTRY', `unknown entry kind ${(e as { kind: string }).kind}`);
  }
  st.count++;
  return p;
}

/** Runs `next` after `p` (at once when `p` is undefined), keeping the synchronous path free of promises. */
function then(p: Promise<void> | undefined, next: () => Promise<void> | undefined | void): Promise<void> | undefined {
  if (p !== undefined) return p.then(next);
  const r = next();
  return r instanceof Promise ? r : undefined;
}

/** Opens `file` (the temporary, or a device written in place) for writing; errors name the path the caller gave. */
function openOutput(file: string, path: string): number {
  try {
    return openSync(file, 'w', 0o644);
  } catch (e) {
    throw new WinlayerError('IO', `cannot open the output: ${(e as Error).message}`, { path, cause: e });
  }
}

/**
 * Writes `entries` to the file `path` atomically (temporary sibling, fsync, rename; removed on error) and resolves
 * with the summary. See {@link writeTar}.
 */
export async function writeTarFile(
  entries: AsyncIterable<LayerEntry> | Iterable<LayerEntry>,
  path: string,
  opts: WriteTarOptions = {},
): Promise<TarSummary> {
  const target = new AtomicTarget(path);
  let fd: number | undefined;
  try {
    fd = openOutput(target.tempPath, path);
    const summary = await writeTar(entries, fd, opts);
    if (!target.direct) fsyncSync(fd); // a device or pipe written in place has nothing to sync
    closeSync(fd);
    fd = undefined;
    target.commit({ synced: true });
    return summary;
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    target.abort();
    throw e;
  }
}

/**
 * The fixed-size output buffer: headers are encoded and file bodies read straight into it. Once the tar is large the
 * buffer is a slot of the hashing thread's ring (see `hash.ts`), handed over without a copy when full.
 */
class BlockWriter {
  buf: Buffer;
  pos = 0;
  /** Last time the event loop had a turn (ms, `performance.now()`). */
  #lastYield = performance.now();
  constructor(
    private readonly chain: TarOutputChain,
    readonly hash: StreamHash,
  ) {
    this.buf = hash.buffer() ?? Buffer.allocUnsafe(BUFFER_SIZE);
  }

  /** Space left in the buffer. */
  get space(): number {
    return BUFFER_SIZE - this.pos;
  }

  /**
   * Hands the filled part to the output chain and the hash. Returns a promise when the chain applies backpressure,
   * when the chain compresses (its threadpool work needs the event loop: a turn per buffer), or when the event loop
   * has not had a turn for {@link YIELD_MS} (signal handlers must run: they remove the temporary output).
   */
  flush(): Promise<void> | undefined {
    if (this.pos === 0) return undefined;
    const chunk = this.buf.subarray(0, this.pos);
    this.pos = 0;
    let p: Promise<void> | undefined;
    if (this.chain.reusesChunks) {
      // Written synchronously: the same bytes then go to the hash (the ring slot is handed over, no copy).
      p = this.chain.write(chunk);
      this.hash.update(chunk);
      this.buf = this.hash.buffer() ?? this.buf;
    } else {
      // The chain keeps what it is given until it has compressed it: a ring slot goes back to the hashing thread, so
      // the chain gets a copy of it; our own buffer is given away and a fresh one (or a slot) replaces it.
      const own = chunk.buffer !== this.hash.ringMemory;
      const kept = own ? chunk : Buffer.from(chunk);
      this.hash.update(chunk);
      p = this.chain.write(kept);
      this.buf = this.hash.buffer() ?? Buffer.allocUnsafe(BUFFER_SIZE);
    }
    if (p !== undefined) {
      this.#lastYield = performance.now();
      return p;
    }
    if (!this.chain.reusesChunks || performance.now() - this.#lastYield >= YIELD_MS) {
      return new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        this.#lastYield = performance.now();
      });
    }
    return undefined;
  }

  /** Appends `n` zero bytes. */
  async zero(n: number): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.space === 0) await this.flush();
      const k = Math.min(left, this.space);
      this.buf.fill(0, this.pos, this.pos + k);
      this.pos += k;
      left -= k;
    }
  }

  /** Appends bytes, flushing as needed. */
  async bytes(src: Uint8Array): Promise<void> {
    let off = 0;
    while (off < src.length) {
      if (this.space === 0) await this.flush();
      const k = Math.min(src.length - off, this.space);
      this.buf.set(src.subarray(off, off + k), this.pos);
      this.pos += k;
      off += k;
    }
  }

  /** Appends a header block encoded in place; the caller made room. */
  header(fields: HeaderFields): void {
    encodeHeader(this.buf.subarray(this.pos, this.pos + BLOCK_SIZE), fields);
    this.pos += BLOCK_SIZE;
  }

  /** Zero padding up to the next block boundary after `size` data bytes; the caller made room (< 512 bytes). */
  padSync(size: number): void {
    const rem = size % BLOCK_SIZE;
    if (rem === 0) return;
    const n = BLOCK_SIZE - rem;
    // The typed array's own fill: Buffer's checks its arguments on every call.
    u8fill.call(this.buf, 0, this.pos, this.pos + n);
    this.pos += n;
  }
}

const u8fill = Uint8Array.prototype.fill;

function checkPath(e: LayerEntry): void {
  const p = e.path;
  let bad: string | undefined;
  if (typeof p !== 'string' || p === '') bad = 'an empty path';
  else if (p.charCodeAt(0) === 0x2f) bad = 'an absolute path';
  else {
    // Components: none empty, ".", ".."; no NUL. One pass, no allocation.
    let start = 0;
    for (let i = 0; i <= p.length; i++) {
      const c = i === p.length ? 0x2f : p.charCodeAt(i);
      if (c === 0) {
        bad = 'a NUL byte in the path';
        break;
      }
      if (c !== 0x2f) continue;
      const len = i - start;
      if (len === 0 || (len <= 2 && p.charCodeAt(start) === 0x2e && (len === 1 || p.charCodeAt(start + 1) === 0x2e))) {
        bad = `a path with a "${p.slice(start, i)}" component (no "./", "..", "//" or trailing "/")`;
        break;
      }
      start = i + 1;
    }
  }
  if (bad !== undefined) {
    throw new WinlayerError('TAR_ENTRY', `${bad} cannot be written`, {
      entry: String(p),
      hint: 'layer paths are relative and /-separated, like Files/Windows/System32',
    });
  }
}

function checkSize(path: string, size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new WinlayerError('TAR_ENTRY', `size ${size} is not a non-negative integer`, { entry: path });
  }
}

const encoder = new TextEncoder();

/** `dir/PaxHeaders.0/base`, ASCII and at most 100 bytes, as Go's archive/tar names the `x` header. */
export function paxHeaderName(path: string): string {
  const { dir, base } = splitPath(path);
  const name = dir === '' ? `PaxHeaders.0/${base}` : `${dir}/PaxHeaders.0/${base}`;
  // The common case (short ASCII; a checked path never ends in "/") without the two regular expressions.
  if (base !== '' && fitsField(name, NAME_LEN)) return name;
  return asciiField(name, NAME_LEN).replace(/\/+$/, '');
}

/** Whole seconds of the last write time (cached: entries mostly share times). */
let lastNs: bigint | undefined;
let lastSecs = 0;
function seconds(ns: bigint): number {
  if (ns !== lastNs) {
    lastNs = ns;
    lastSecs = Number(unixSeconds(ns));
  }
  return lastSecs;
}

const TYPE_FILE = 0x30; // '0'
const TYPE_LINK = 0x31; // '1'
const TYPE_SYMLINK = 0x32; // '2'
const TYPE_DIR = 0x35; // '5'
const TYPE_PAX = 0x78; // 'x'
const TYPE_CHARS = ['0', '1', '2', '3', '4', '5'] as const;
const LINK_LEN = USTAR.linkname.len;
/** `PaxHeaders.0/`: the `x` header's name is the entry's with this inserted before the base name. */
const PAX_DIR_LEN = 'PaxHeaders.0/'.length;

/** PAX keys of the records every entry gets, and the length of each record's fixed part (`" " key "=" "\n"`). */
const K_CT = PAX_KEYS.creationtime;
const K_ATTR = PAX_KEYS.fileattr;
const K_MOUNT = PAX_KEYS.mountpoint;
const K_SD = PAX_KEYS.rawsd;

/**
 * The `x` header, PAX records and ustar header of an entry. Entries without extra records or extended attributes
 * (nearly all) have their records encoded straight into the buffer: the same records, in the same order, as
 * {@link encodeWindowsPax} gives (its fixed order is already sorted then), with no record objects.
 */
function writePaxEntry(
  w: BlockWriter,
  e: LayerEntry,
  typeflag: number,
  mode: number,
  size: number,
  linkname: string | undefined,
): Promise<void> | undefined {
  const win = e.win;
  const extra = e.extraPax;
  const eas = win.extendedAttributes;
  if ((extra !== undefined && extra.length > 0) || (eas !== undefined && eas.length > 0)) {
    return writePaxEntryRecords(w, e, typeflag, mode, size, linkname);
  }
  const path = e.path;
  const kind = e.kind;
  const pathFits = fitsField(path, NAME_LEN);
  const linkFits = linkname === undefined || fitsField(linkname, LINK_LEN);
  const mt = win.lastWriteTime;
  const tM = paxTimeText(mt);
  const c = win.creationTime;
  const tC = c === undefined || c === mt ? tM : paxTimeText(c);
  const a = win.lastAccessTime;
  const tA = a === undefined || a === mt ? tM : paxTimeText(a);
  const x = win.changeTime;
  const tX = x === undefined || x === mt ? tM : paxTimeText(x);
  // Record lengths: every value but a long path or link target is ASCII.
  let len = recordLength(K_CT.length + tC.length) + recordLength(5 + tA.length) + recordLength(5 + tX.length);
  len += recordLength(5 + tM.length);
  let attrs = '';
  let mount = false;
  let sd: string | undefined;
  if (kind !== 'stream') {
    let v = win.attributes ?? defaultAttributes(kind, win.mountPoint === true);
    if (kind === 'directory') v |= FILE_ATTRIBUTE.DIRECTORY;
    attrs = attributesText(v);
    len += recordLength(K_ATTR.length + attrs.length);
    if (win.mountPoint === true) {
      mount = true;
      len += recordLength(K_MOUNT.length + 1);
    }
    if (win.securityDescriptor !== undefined) {
      sd = sdBase64(win.securityDescriptor);
      len += recordLength(K_SD.length + sd.length);
    }
  }
  let ascii = true;
  if (!linkFits) {
    const n = utf8Length(linkname!);
    ascii = n === linkname!.length;
    len += recordLength(8 + n);
  }
  if (!pathFits) {
    const n = utf8Length(path);
    ascii &&= n === path.length;
    len += recordLength(4 + n);
  }
  const bigSize = size > MAX_OCTAL_SIZE ? String(size) : undefined;
  if (bigSize !== undefined) len += recordLength(4 + bigSize.length);
  if (len > MAX_PAX_SIZE) {
    throw new WinlayerError('TAR_TOO_LARGE', `PAX data of ${len} bytes exceeds ${MAX_PAX_SIZE}`, { entry: path });
  }
  const need = 2 * BLOCK_SIZE + len + BLOCK_SIZE;
  if (need > w.space) {
    // The records do not fit in what is left of the buffer: as record objects, through the general path.
    return writePaxEntryRecords(w, e, typeflag, mode, size, linkname);
  }
  const buf = w.buf;
  const start = w.pos;
  // The blocks of the records zeroed first (one copy each): the records then overwrite all but the padding.
  const padded = len + ((BLOCK_SIZE - (len % BLOCK_SIZE)) % BLOCK_SIZE);
  for (let q = start + BLOCK_SIZE; q < start + BLOCK_SIZE + padded; q += BLOCK_SIZE) buf.set(ZERO_BLOCK, q);
  // The `x` header: `dir/PaxHeaders.0/base` written in place when it fits as is.
  const slash = path.lastIndexOf('/') + 1;
  if (pathFits && path.length + PAX_DIR_LEN <= NAME_LEN) {
    encodeHeaderAt(buf, start, path, slash, 0, len, 0, TYPE_PAX, undefined);
  } else {
    encodeHeaderAt(buf, start, paxHeaderName(path), -1, 0, len, 0, TYPE_PAX, undefined);
  }
  let p = start + BLOCK_SIZE;
  p = putTimeRecord(buf, p, CT_PREFIX, K_CT, tC);
  if (attrs !== '') {
    p = putBytes(buf, p, cachedRecord(K_ATTR, attrs));
    if (mount) p = putBytes(buf, p, cachedRecord(K_MOUNT, '1'));
    if (sd !== undefined) p = putBytes(buf, p, cachedRecord(K_SD, sd));
  }
  p = putTimeRecord(buf, p, AT_PREFIX, 'atime', tA);
  p = putTimeRecord(buf, p, CX_PREFIX, 'ctime', tX);
  if (!linkFits) p = putRecord(buf, p, 'linkpath', linkname!, ascii);
  p = putTimeRecord(buf, p, MT_PREFIX, 'mtime', tM);
  if (!pathFits) p = putRecord(buf, p, 'path', path, ascii);
  if (bigSize !== undefined) p = putRecord(buf, p, 'size', bigSize, true);
  if (p !== start + BLOCK_SIZE + len) {
    throw new WinlayerError('INTERNAL', `PAX records took ${p - start - BLOCK_SIZE} bytes, not ${len}`);
  }
  const at = start + BLOCK_SIZE + padded;
  const name = pathFits ? path : asciiField(path, NAME_LEN);
  const link = linkname === undefined || linkFits ? linkname : asciiField(linkname, LINK_LEN);
  encodeHeaderAt(buf, at, name, -1, mode, size, wholeSeconds(mt, tM), typeflag, link);
  w.pos = at + BLOCK_SIZE;
  return undefined;
}

/** Whole seconds of a time whose PAX text is `text`: read off the text when it is a plain non-negative one. */
function wholeSeconds(ns: bigint, text: string): number {
  let v = 0;
  let i = 0;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) break;
    if (c < 0x30 || c > 0x39) return seconds(ns);
    v = v * 10 + (c - 0x30);
  }
  return i > 0 && i <= 15 ? v : seconds(ns);
}

/** Record bytes of repeated key/value pairs (attributes, security descriptors), by key and value. */
const recordCache = new Map<string, Map<string, Uint8Array>>();
const RECORD_CACHE_MAX = 64;

/** The bytes of the record `key=value` (both ASCII), remembered (the last few values of each key). */
function cachedRecord(key: string, value: string): Uint8Array {
  let byValue = recordCache.get(key);
  if (byValue === undefined) {
    byValue = new Map();
    recordCache.set(key, byValue);
  }
  let bytes = byValue.get(value);
  if (bytes === undefined) {
    bytes = Buffer.from(`${recordLength(key.length + value.length)} ${key}=${value}\n`, 'latin1');
    if (byValue.size >= RECORD_CACHE_MAX) byValue.clear();
    byValue.set(value, bytes);
  }
  return bytes;
}

/** Copies `bytes` to `pos`; returns the position after them. */
function putBytes(buf: Buffer, pos: number, bytes: Uint8Array): number {
  buf.set(bytes, pos);
  return pos + bytes.length;
}

/** `"%d KEY="` of the time records, by the length of the value (a time is at most ~30 characters). */
const CT_PREFIX: Uint8Array[] = [];
const AT_PREFIX: Uint8Array[] = [];
const CX_PREFIX: Uint8Array[] = [];
const MT_PREFIX: Uint8Array[] = [];

/** Writes the record of a time (ASCII text): its cached `"%d KEY="` then the text. */
function putTimeRecord(buf: Buffer, pos: number, prefixes: Uint8Array[], key: string, value: string): number {
  const vl = value.length;
  let prefix = prefixes[vl];
  if (prefix === undefined) {
    prefix = Buffer.from(`${recordLength(key.length + vl)} ${key}=`, 'latin1');
    if (vl < 64) prefixes[vl] = prefix;
  }
  buf.set(prefix, pos);
  let p = pos + prefix.length;
  for (let i = 0; i < vl; i++) buf[p + i] = value.charCodeAt(i);
  p += vl;
  buf[p++] = 0x0a; // '\n'
  return p;
}

/** Writes the record `"%d %s=%s\n"` at `pos` (its length from {@link recordLength}); returns the position after it. */
function putRecord(buf: Buffer, pos: number, key: string, value: string, ascii: boolean): number {
  const vl = ascii ? value.length : utf8Length(value);
  let p = putDecimal(buf, pos, recordLength(key.length + vl));
  buf[p++] = 0x20; // ' '
  p = putText(buf, p, key, true);
  buf[p++] = 0x3d; // '='
  p = putText(buf, p, value, ascii);
  buf[p++] = 0x0a; // '\n'
  return p;
}

/** Length of the PAX record of a key and value of `kv` bytes together: the length counts its own digits. */
function recordLength(kv: number): number {
  const body = kv + 3;
  return body >= 9 && body <= 97 ? body + 2 : paxRecordLength(body);
}

/** {@link writePaxEntry} through record objects ({@link encodeWindowsPax}): extra records, extended attributes. */
function writePaxEntryRecords(
  w: BlockWriter,
  e: LayerEntry,
  typeflag: number,
  mode: number,
  size: number,
  linkname: string | undefined,
): Promise<void> | undefined {
  const pathFits = fitsField(e.path, NAME_LEN);
  const linkFits = linkname === undefined || fitsField(linkname, USTAR.linkname.len);
  const records = encodeWindowsPax({
    kind: e.kind,
    path: e.path,
    win: e.win,
    extraPax: e.extraPax,
    longPath: pathFits ? undefined : e.path,
    longLinkpath: linkFits ? undefined : linkname,
    bigSize: size > MAX_OCTAL_SIZE ? size : undefined,
  });
  const header: HeaderFields = {
    name: pathFits ? e.path : asciiField(e.path, NAME_LEN),
    mode,
    size,
    mtime: seconds(e.win.lastWriteTime),
    typeflag: TYPE_CHARS[typeflag - TYPE_FILE]!,
    linkname: linkname === undefined || linkFits ? linkname : asciiField(linkname, USTAR.linkname.len),
  };
  return writeWithPax(w, e.path, records, header);
}

/** The PAX block (`x` header + records) then the entry's header. Synchronous when the buffer has room. */
function writeWithPax(
  w: BlockWriter,
  path: string,
  records: readonly PaxRecord[],
  header: HeaderFields,
): Promise<void> | undefined {
  // Record lengths first (the length counts its own digits); the records are then written straight into the buffer,
  // with no text built per entry.
  const lengths = new Array<number>(records.length);
  let len = 0;
  let ascii = true;
  for (let i = 0; i < records.length; i++) {
    const { key, value } = records[i]!;
    const kl = paxKeyLength(key);
    const vl = utf8Length(value);
    ascii &&= kl === key.length && vl === value.length;
    const n = paxRecordLength(kl + vl + 3);
    lengths[i] = n;
    len += n;
  }
  if (len > MAX_PAX_SIZE) {
    throw new WinlayerError('TAR_TOO_LARGE', `PAX data of ${len} bytes exceeds ${MAX_PAX_SIZE}`, { entry: path });
  }
  const paxHeader: HeaderFields = { name: paxHeaderName(path), mode: 0, size: len, mtime: 0, typeflag: 'x' };
  const need = 2 * BLOCK_SIZE + len + BLOCK_SIZE;
  if (need <= w.space) {
    writePaxSync(w, paxHeader, records, lengths, len, ascii, header);
    return undefined;
  }
  if (need <= BUFFER_SIZE) {
    return then(w.flush(), () => writePaxSync(w, paxHeader, records, lengths, len, ascii, header));
  }
  // PAX data larger than the buffer (huge extended attributes): as bytes, through the streaming path.
  let text = '';
  for (let i = 0; i < records.length; i++) text += `${lengths[i]} ${records[i]!.key}=${records[i]!.value}\n`;
  const bytes = encoder.encode(text);
  return (async () => {
    await w.flush();
    w.header(paxHeader);
    await w.bytes(bytes);
    await w.zero((BLOCK_SIZE - (len % BLOCK_SIZE)) % BLOCK_SIZE);
    if (w.space < BLOCK_SIZE) await w.flush();
    w.header(header);
  })();
}

/** The `x` header, its records (`"%d %s=%s\n"`) and padding, then the entry's header; the caller made room. */
function writePaxSync(
  w: BlockWriter,
  paxHeader: HeaderFields,
  records: readonly PaxRecord[],
  lengths: readonly number[],
  len: number,
  ascii: boolean,
  header: HeaderFields,
): void {
  w.header(paxHeader);
  const buf = w.buf;
  let pos = w.pos;
  for (let i = 0; i < records.length; i++) {
    const { key, value } = records[i]!;
    pos = putDecimal(buf, pos, lengths[i]!);
    buf[pos++] = 0x20; // ' '
    pos = putText(buf, pos, key, ascii);
    buf[pos++] = 0x3d; // '='
    pos = putText(buf, pos, value, ascii);
    buf[pos++] = 0x0a; // '\n'
  }
  w.pos += len;
  if (pos !== w.pos) throw new WinlayerError('INTERNAL', `PAX records took ${pos - w.pos + len} bytes, not ${len}`);
  w.padSync(len);
  w.header(header);
}

/** Checked keys and their UTF-8 lengths: a layer's entries repeat a dozen keys thousands of times. */
const KEY_LENGTHS = new Map<string, number>();
const KEY_CACHE_MAX = 4096;

/** The UTF-8 length of a PAX key, after checking it (no `=`, newline or NUL; not empty). */
function paxKeyLength(key: string): number {
  const known = KEY_LENGTHS.get(key);
  if (known !== undefined) return known;
  if (key === '' || key.includes('=') || key.includes('\n') || key.includes('\0')) {
    throw new WinlayerError('TAR_ENTRY', `PAX key ${JSON.stringify(key)} is not valid`);
  }
  const n = utf8Length(key);
  if (KEY_LENGTHS.size < KEY_CACHE_MAX) KEY_LENGTHS.set(key, n);
  return n;
}

/** Digits of a positive integer in decimal. */
function decimalDigits(n: number): number {
  let d = 1;
  for (let v = n; v >= 10; v = Math.floor(v / 10)) d++;
  return d;
}

/** Length of a PAX record whose `key=value\n` plus the space takes `body` bytes: the length counts its own digits. */
function paxRecordLength(body: number): number {
  let len = body + 1;
  while (decimalDigits(len) + body !== len) len = decimalDigits(len) + body;
  return len;
}

/** Writes `n` in decimal at `pos`; returns the position after it. */
function putDecimal(buf: Buffer, pos: number, n: number): number {
  const end = pos + decimalDigits(n);
  let v = n;
  for (let i = end - 1; i >= pos; i--) {
    buf[i] = 0x30 + (v % 10);
    v = Math.floor(v / 10);
  }
  return end;
}

/** Writes `s` at `pos` (a loop for short ASCII text, the native encoder otherwise); returns the position after it. */
function putText(buf: Buffer, pos: number, s: string, ascii: boolean): number {
  if (!ascii) return pos + buf.write(s, pos, 'utf8');
  if (s.length > 256) return pos + buf.write(s, pos, 'latin1');
  for (let i = 0; i < s.length; i++) buf[pos + i] = s.charCodeAt(i);
  return pos + s.length;
}

/** UTF-8 byte length; a loop for short ASCII strings (the common case), the native count otherwise. */
function utf8Length(s: string): number {
  if (s.length > 64) return Buffer.byteLength(s, 'utf8');
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return Buffer.byteLength(s, 'utf8');
  return s.length;
}

function writeWhiteout(w: BlockWriter, path: string): Promise<void> | undefined {
  const { base } = splitPath(path);
  if (!base.startsWith('.wh.') || base.length === 4) {
    throw new WinlayerError('TAR_ENTRY', 'a whiteout path must end in .wh.<name>', { entry: path });
  }
  const header: HeaderFields = { name: asciiField(path, NAME_LEN), mode: 0, size: 0, mtime: 0, typeflag: '0' };
  if (!fitsField(path, NAME_LEN)) return writeWithPax(w, path, [{ key: 'path', value: path }], header);
  if (w.space >= BLOCK_SIZE) {
    w.header(header);
    return undefined;
  }
  return then(w.flush(), () => w.header(header));
}

type Body = {
  readonly readSync?: (b: Uint8Array) => number;
  readonly [READ_INTO]?: ReadInto;
} & AsyncIterable<Uint8Array>;

/** One 512-byte block of zeros: padding is written by copying it (cheaper than a fill per entry). */
const ZERO_BLOCK = new Uint8Array(BLOCK_SIZE);

function writeBody(w: BlockWriter, path: string, size: number, body: Body): Promise<void> | undefined {
  // Small bodies (the common case) go into the buffer without a promise.
  const rem = size % BLOCK_SIZE;
  const padded = rem === 0 ? size : size + BLOCK_SIZE - rem;
  const readInto = body[READ_INTO];
  if (readInto !== undefined && padded + 1 <= w.space) {
    // The last block zeroed first: the body's bytes (exactly what it says it read) then overwrite all but the padding.
    if (rem !== 0) w.buf.set(ZERO_BLOCK, w.pos + size - rem);
    const start = w.pos;
    readAllInto(w, body, readInto, size, path);
    w.pos = start + padded;
    return undefined;
  }
  if (body.readSync === undefined) return writeIteratedBody(w, path, size, body);
  const readSync = body.readSync;
  if (padded + 1 <= w.space) {
    readAllSync(w, readSync, size, path);
    w.padSync(size);
    return undefined;
  }
  const changed = (got: string): WinlayerError => changedError(path, size, got);
  return (async () => {
    let remaining = size;
    let probed = false;
    while (remaining > 0) {
      if (w.space === 0) await w.flush();
      const space = w.space;
      // Ask for one byte more than is left when it fits: a growing file shows without an extra read.
      const want = remaining < space ? remaining + 1 : space;
      const n = readSync(w.buf.subarray(w.pos, w.pos + want));
      if (n === 0) throw changed(`only ${size - remaining} bytes`);
      if (n > remaining) throw changed('more bytes');
      w.pos += n;
      remaining -= n;
      probed = want > n;
    }
    if (!probed && readSync(new Uint8Array(1)) !== 0) throw changed('more bytes');
    if (w.space < BLOCK_SIZE) await w.flush();
    w.padSync(size);
  })();
}

/** Reads a body that fits (with one spare byte) into the buffer. */
function readAllSync(w: BlockWriter, readSync: (b: Uint8Array) => number, size: number, path: string): void {
  let remaining = size;
  let probed = false;
  while (remaining > 0) {
    const want = remaining + 1;
    const n = readSync(w.buf.subarray(w.pos, w.pos + want));
    if (n === 0) throw changedError(path, size, `only ${size - remaining} bytes`);
    if (n > remaining) throw changedError(path, size, 'more bytes');
    w.pos += n;
    remaining -= n;
    probed = true;
  }
  if (!probed && readSync(PROBE) !== 0) throw changedError(path, size, 'more bytes');
}

/** {@link readAllSync} through the body's {@link READ_INTO}: no view of the buffer per read. */
function readAllInto(w: BlockWriter, body: Body, readInto: ReadInto, size: number, path: string): void {
  let remaining = size;
  let probed = false;
  while (remaining > 0) {
    const want = remaining + 1;
    const n = readInto.call(body, w.buf, w.pos, want);
    if (n === 0) throw changedError(path, size, `only ${size - remaining} bytes`);
    if (n > remaining) throw changedError(path, size, 'more bytes');
    w.pos += n;
    remaining -= n;
    probed = true;
  }
  if (!probed && readInto.call(body, PROBE, 0, 1) !== 0) throw changedError(path, size, 'more bytes');
}

const PROBE = new Uint8Array(1);

function changedError(path: string, size: number, got: string): WinlayerError {
  return new WinlayerError('TAR_ENTRY', `file changed while being read: ${got}, expected ${size} bytes`, {
    entry: path,
    hint: 'do not modify the layer while it is being written',
  });
}

async function writeIteratedBody(
  w: BlockWriter,
  path: string,
  size: number,
  body: AsyncIterable<Uint8Array>,
): Promise<void> {
  const changed = (got: string): WinlayerError => changedError(path, size, got);
  let total = 0;
  for await (const chunk of body) {
    total += chunk.length;
    if (total > size) throw changed('more bytes');
    await w.bytes(chunk);
  }
  if (total !== size) throw changed(`only ${total} bytes`);
  await w.zero((BLOCK_SIZE - (size % BLOCK_SIZE)) % BLOCK_SIZE);
}
