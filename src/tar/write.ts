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
import { type BodySink, copyBody, type EntryBody, type LayerEntry } from '../entry.js';
import { WinlayerError } from '../errors.js';
import { type PathWitness, pathWitness } from '../internal/trusted-paths.js';
import { EventLoopTurns } from '../internal/turns.js';
import { unixSeconds } from '../internal/windows.js';
import { createOutputChain, type TarOutputChain } from './compress.js';
import { SLOT_SIZE, StreamHash } from './hash.js';
import { asciiField, BLOCK_SIZE, encodeHeaderAt, fitsField, MAX_OCTAL_SIZE, USTAR } from './header.js';
import { OPAQUE_WHITEOUT, splitPath, WHITEOUT_PREFIX } from './names.js';
import { checkPaxKey, paxRecordLength, putPaxRecord, utf8Length } from './pax.js';
import type { TarOutput, TarProgress, TarSummary, WriteTarOptions } from './types.js';
import {
  encodeWindowsPax,
  PaxEncodeMemo,
  type PaxSource,
  paxTimeText,
  WRITER_PAX_ASCII,
  WRITER_PAX_KEYS,
  type WriterPaxValues,
  windowsPaxValues,
} from './windows-pax.js';

/** PAX data larger than this is refused (readers such as Go's refuse it too). */
export const MAX_PAX_SIZE = 1024 * 1024;
const BUFFER_SIZE = SLOT_SIZE;
const DEFAULT_MODES = { directory: 0o755, file: 0o644, link: 0o644 } as const;
const NAME_LEN = USTAR.name.len;

/**
 * Writes `entries` as a Windows layer tar to `out` (a file descriptor or a writable stream, which is neither closed
 * nor ended) and resolves with the digests and sizes once everything is flushed. Streams: memory is fixed whatever
 * the layer size (one 1 MiB buffer, or the hashing thread's 8 MiB ring once the tar passes 256 KiB, plus the
 * compressor's window); file bodies are copied with `copyBody` (`body.read` straight into the buffer when offered,
 * else iterated). The same entries always give the same bytes. `opts.onProgress` hears of every entry, and of bytes
 * moving inside a large body.
 *
 * Speed: a synchronous iterable whose bodies offer `read`, written to a file descriptor, runs without a promise per
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
  const st = new WriteState(w, { ...DEFAULT_MODES, ...opts.modes }, pathWitness(entries), opts.onProgress);
  try {
    const sync = (entries as Iterable<LayerEntry>)[Symbol.iterator];
    if (typeof sync === 'function' && !(Symbol.asyncIterator in entries)) {
      for (const e of entries as Iterable<LayerEntry>) {
        const p = writeEntry(st, e);
        if (p !== undefined) await p;
      }
    } else {
      for await (const e of entries as AsyncIterable<LayerEntry>) {
        const p = writeEntry(st, e);
        if (p !== undefined) await p;
      }
    }
    const count = st.count;
    st.progress?.end();
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

/** What the writer keeps between entries. */
class WriteState {
  /** Path of the last file or folder: alternate data streams attach to it. */
  owner: string | undefined = undefined;
  count = 0;
  /** The record values of the entry being written, one per key of `WRITER_PAX_KEYS` (reused: no array per entry). */
  readonly paxValues: WriterPaxValues = [];
  /** The UTF-8 length of key and value of each of those records (reused). */
  readonly paxKvs: number[] = [];
  /** Texts formatted for earlier entries (times, security descriptors, attributes). */
  readonly paxMemo = new PaxEncodeMemo();
  readonly progress: Progress | undefined;

  constructor(
    readonly w: BlockWriter,
    readonly modes: { readonly directory: number; readonly file: number; readonly link: number },
    /** The source's trusted-paths method, when it has one (`internal/trusted-paths.ts`). */
    readonly witness: PathWitness | undefined,
    onProgress: ((p: TarProgress) => void) | undefined,
  ) {
    this.progress = onProgress === undefined ? undefined : new Progress(onProgress, w);
  }
}

/** Flushes (of about 1 MiB each) inside one body between two progress reports. */
const PROGRESS_FLUSHES = 4;

/**
 * Progress reports: as each entry starts, every {@link PROGRESS_FLUSHES} flushes of the buffer while a body is copied
 * (a counter, no clock), and once at the end.
 */
class Progress {
  #entries = 0;
  /** Content bytes of the bodies written whole. */
  #bytes = 0;
  #path = '';
  /** Offset in the tar where the body being copied starts; -1 between bodies. */
  #bodyAt = -1;
  #bodySize = 0;
  #flushes = 0;

  constructor(
    private readonly report: (p: TarProgress) => void,
    private readonly w: BlockWriter,
  ) {
    w.onFlush = () => this.#flushed();
  }

  entry(path: string): void {
    this.#entries++;
    this.#path = path;
    this.report({ entries: this.#entries, bytes: this.#bytes, path });
  }

  bodyStart(size: number): void {
    this.#bodyAt = this.w.offset;
    this.#bodySize = size;
    this.#flushes = 0;
  }

  bodyEnd(): void {
    this.#bytes += this.#bodySize;
    this.#bodyAt = -1;
  }

  #flushed(): void {
    if (this.#bodyAt < 0 || ++this.#flushes < PROGRESS_FLUSHES) return;
    this.#flushes = 0;
    const copied = Math.min(this.#bodySize, this.w.offset - this.#bodyAt);
    this.report({ entries: this.#entries, bytes: this.#bytes + copied, path: this.#path });
  }

  end(): void {
    this.report({ entries: this.#entries, bytes: this.#bytes, path: this.#path });
  }
}

/** Writes one entry; returns a promise only when it had to wait (a flush, an iterated body). */
function writeEntry(st: WriteState, e: LayerEntry): Promise<void> | undefined {
  if (st.witness === undefined || !st.witness(e)) checkPath(e);
  st.progress?.entry(e.path);
  const modes = st.modes;
  let p: Promise<void> | undefined;
  switch (e.kind) {
    case 'directory':
      p = writePaxEntry(st, e, TYPE_DIR, modes.directory, 0, undefined);
      st.owner = e.path;
      break;
    case 'file':
      checkSize(e.path, e.size);
      p = writePaxEntry(st, e, TYPE_FILE, modes.file, e.size, undefined);
      p = p === undefined ? writeBody(st, e.path, e.size, e.body) : p.then(() => writeBody(st, e.path, e.size, e.body));
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
      p = writePaxEntry(st, e, TYPE_FILE, modes.file, e.size, undefined);
      p = p === undefined ? writeBody(st, e.path, e.size, e.body) : p.then(() => writeBody(st, e.path, e.size, e.body));
      break;
    }
    case 'hardlink':
      p = writePaxEntry(st, e, TYPE_LINK, modes.link, 0, e.linkTarget);
      st.owner = undefined;
      break;
    case 'symlink':
      p = writePaxEntry(st, e, TYPE_SYMLINK, modes.link, 0, e.linkTarget);
      st.owner = undefined;
      break;
    case 'whiteout':
      p = writeWhiteout(st, e.path);
      st.owner = undefined;
      break;
    case 'opaqueWhiteout':
      throw new WinlayerError('TAR_ENTRY', `an opaque whiteout (${OPAQUE_WHITEOUT}) cannot go into a Windows layer`, {
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
function afterThat(
  p: Promise<void> | undefined,
  next: () => Promise<void> | undefined | void,
): Promise<void> | undefined {
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
 * The fixed-size output buffer: headers are encoded and file bodies read straight into it (it is the sink of
 * `copyBody`). Once the tar is large the buffer is a slot of the hashing thread's ring (see `hash.ts`), handed over
 * without a copy when full.
 */
class BlockWriter implements BodySink {
  buf: Buffer;
  pos = 0;
  /** Called after each flush that handed bytes on (progress reports). */
  onFlush: (() => void) | undefined = undefined;
  /** When the event loop last had a turn (signal handlers must run: they remove the temporary output). */
  readonly #turns = new EventLoopTurns();
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

  /** Bytes of the tar so far (handed on or in the buffer). */
  get offset(): number {
    return this.hash.bytes + this.pos;
  }

  /** `copyBody`'s error for a body whose length is not its entry's size. */
  mismatch(entry: string, size: number, got: number | 'more'): WinlayerError {
    const what = got === 'more' ? 'more bytes' : `only ${got} bytes`;
    return new WinlayerError('TAR_ENTRY', `file changed while being read: ${what}, expected ${size} bytes`, {
      entry,
      hint: 'do not modify the layer while it is being written',
    });
  }

  /**
   * Hands the filled part to the output chain and the hash. Returns a promise when the chain applies backpressure,
   * when the chain compresses (its threadpool work needs the event loop: a turn per buffer), or when the event loop
   * has not had a turn for `TURN_MS` (`internal/turns.ts`; signal handlers must run: they remove the temporary output).
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
    this.onFlush?.();
    if (p !== undefined) {
      this.#turns.passed();
      return p;
    }
    if (!this.chain.reusesChunks || this.#turns.due()) return this.#turns.take();
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

/** `dir/PaxHeaders.0/base`, ASCII and at most 100 bytes, as Go's archive/tar names the `x` header. */
export function paxHeaderName(path: string): string {
  const { dir, base } = splitPath(path);
  const name = dir === '' ? `PaxHeaders.0/${base}` : `${dir}/PaxHeaders.0/${base}`;
  // The common case (short ASCII; a checked path never ends in "/") without the two regular expressions.
  if (base !== '' && fitsField(name, NAME_LEN)) return name;
  return asciiField(name, NAME_LEN).replace(/\/+$/, '');
}

const TYPE_FILE = 0x30; // '0'
const TYPE_LINK = 0x31; // '1'
const TYPE_SYMLINK = 0x32; // '2'
const TYPE_DIR = 0x35; // '5'
const TYPE_PAX = 0x78; // 'x'
const LINK_LEN = USTAR.linkname.len;
/** `PaxHeaders.0/`: the `x` header's name is the entry's with this inserted before the base name. */
const PAX_DIR_LEN = 'PaxHeaders.0/'.length;
/** The byte lengths of {@link WRITER_PAX_KEYS} (ASCII). */
const WRITER_KEY_LENGTHS: readonly number[] = WRITER_PAX_KEYS.map((k) => k.length);
/** Where the `mtime` value is among {@link WRITER_PAX_KEYS}. */
const MTIME_SLOT = WRITER_PAX_KEYS.indexOf('mtime');

/**
 * The `x` header, PAX records and ustar header of an entry. The record values of an entry without extended
 * attributes or extra records (nearly all) are filled into the writer's reusable slots by `windowsPaxValues`; the
 * others come from `encodeWindowsPax`. Either way `pax.ts` measures and writes them.
 */
function writePaxEntry(
  st: WriteState,
  e: LayerEntry,
  typeflag: number,
  mode: number,
  size: number,
  linkname: string | undefined,
): Promise<void> | undefined {
  const win = e.win;
  const path = e.path;
  const pathFits = fitsField(path, NAME_LEN);
  const linkFits = linkname === undefined || fitsField(linkname, LINK_LEN);
  const src: PaxSource = {
    kind: e.kind,
    path,
    win,
    extraPax: e.extraPax,
    longPath: pathFits ? undefined : path,
    longLinkpath: linkFits ? undefined : linkname,
    bigSize: size > MAX_OCTAL_SIZE ? size : undefined,
  };
  const extra = e.extraPax;
  const eas = win.extendedAttributes;
  let keys: readonly string[];
  let keyLengths: readonly number[];
  let ascii: readonly boolean[] | undefined;
  let values: WriterPaxValues;
  let mtimeText: string;
  if ((extra !== undefined && extra.length > 0) || (eas !== undefined && eas.length > 0)) {
    const records = encodeWindowsPax(src, st.paxMemo);
    keys = records.map((r) => r.key);
    keyLengths = keys.map((k) => {
      checkPaxKey(k); // extended attribute names and extra keys come from the source
      return utf8Length(k);
    });
    ascii = undefined;
    values = records.map((r) => r.value);
    mtimeText = paxTimeText(win.lastWriteTime, st.paxMemo);
  } else {
    keys = WRITER_PAX_KEYS;
    keyLengths = WRITER_KEY_LENGTHS;
    ascii = WRITER_PAX_ASCII;
    values = st.paxValues;
    windowsPaxValues(src, values, st.paxMemo);
    mtimeText = values[MTIME_SLOT]!;
  }
  const name = pathFits ? path : asciiField(path, NAME_LEN);
  const link = linkname === undefined || linkFits ? linkname : asciiField(linkname, LINK_LEN);
  const mtime = wholeSeconds(win.lastWriteTime, mtimeText);
  return writePax(st, path, pathFits, keys, keyLengths, ascii, values, name, mode, size, mtime, typeflag, link);
}

/**
 * Writes a PAX block (the `x` header and the records `keys[i]=values[i]` whose value is defined, in that order),
 * then the entry's ustar header. Synchronous when the buffer has room; PAX data larger than the buffer (huge extended
 * attributes) is streamed.
 */
function writePax(
  st: WriteState,
  path: string,
  pathFits: boolean,
  keys: readonly string[],
  keyLengths: readonly number[],
  asciiValues: readonly boolean[] | undefined,
  values: WriterPaxValues,
  name: string,
  mode: number,
  size: number,
  mtime: number,
  typeflag: number,
  link: string | undefined,
): Promise<void> | undefined {
  const w = st.w;
  const kvs = st.paxKvs;
  let len = 0;
  for (let i = 0; i < keys.length; i++) {
    const v = values[i];
    if (v === undefined) continue;
    const kv = keyLengths[i]! + (asciiValues?.[i] === true ? v.length : utf8Length(v));
    kvs[i] = kv;
    len += paxRecordLength(kv);
  }
  if (len > MAX_PAX_SIZE) {
    throw new WinlayerError('TAR_TOO_LARGE', `PAX data of ${len} bytes exceeds ${MAX_PAX_SIZE}`, { entry: path });
  }
  const need = BLOCK_SIZE + len + BLOCK_SIZE + BLOCK_SIZE;
  if (need <= w.space) {
    putPax(w, path, pathFits, keys, values, kvs, len, name, mode, size, mtime, typeflag, link);
    return undefined;
  }
  if (need <= BUFFER_SIZE) {
    return afterThat(w.flush(), () =>
      putPax(w, path, pathFits, keys, values, kvs, len, name, mode, size, mtime, typeflag, link),
    );
  }
  const padded = len + ((BLOCK_SIZE - (len % BLOCK_SIZE)) % BLOCK_SIZE);
  const data = Buffer.allocUnsafe(len);
  let p = 0;
  for (let i = 0; i < keys.length; i++) {
    const v = values[i];
    if (v !== undefined) p = putPaxRecord(data, p, keys[i]!, v, kvs[i]!);
  }
  return (async () => {
    await w.flush();
    encodeHeaderAt(w.buf, w.pos, paxHeaderName(path), -1, 0, len, 0, TYPE_PAX, undefined);
    w.pos += BLOCK_SIZE;
    await w.bytes(data);
    await w.zero(padded - len);
    if (w.space < BLOCK_SIZE) await w.flush();
    encodeHeaderAt(w.buf, w.pos, name, -1, mode, size, mtime, typeflag, link);
    w.pos += BLOCK_SIZE;
  })();
}

/** {@link writePax} into the buffer, which has room (`kvs` measured, `len` the records' bytes). */
function putPax(
  w: BlockWriter,
  path: string,
  pathFits: boolean,
  keys: readonly string[],
  values: WriterPaxValues,
  kvs: readonly number[],
  len: number,
  name: string,
  mode: number,
  size: number,
  mtime: number,
  typeflag: number,
  link: string | undefined,
): void {
  const buf = w.buf;
  const start = w.pos;
  const padded = len + ((BLOCK_SIZE - (len % BLOCK_SIZE)) % BLOCK_SIZE);
  // The blocks of the records zeroed first (one copy each): the records then overwrite all but the padding.
  for (let q = start + BLOCK_SIZE; q < start + BLOCK_SIZE + padded; q += BLOCK_SIZE) buf.set(ZERO_BLOCK, q);
  // The `x` header: `dir/PaxHeaders.0/base`, written in place when it fits as is.
  if (pathFits && path.length + PAX_DIR_LEN <= NAME_LEN) {
    encodeHeaderAt(buf, start, path, path.lastIndexOf('/') + 1, 0, len, 0, TYPE_PAX, undefined);
  } else {
    encodeHeaderAt(buf, start, paxHeaderName(path), -1, 0, len, 0, TYPE_PAX, undefined);
  }
  let p = start + BLOCK_SIZE;
  for (let i = 0; i < keys.length; i++) {
    const v = values[i];
    if (v !== undefined) p = putPaxRecord(buf, p, keys[i]!, v, kvs[i]!);
  }
  if (p !== start + BLOCK_SIZE + len) {
    throw new WinlayerError('INTERNAL', `PAX records took ${p - start - BLOCK_SIZE} bytes, not ${len}`);
  }
  const at = start + BLOCK_SIZE + padded;
  encodeHeaderAt(buf, at, name, -1, mode, size, mtime, typeflag, link);
  w.pos = at + BLOCK_SIZE;
}

/** Whole seconds of a time whose PAX text is `text`: read off the text when it is a plain non-negative one. */
function wholeSeconds(ns: bigint, text: string): number {
  let v = 0;
  let i = 0;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) break;
    if (c < 0x30 || c > 0x39) return Number(unixSeconds(ns));
    v = v * 10 + (c - 0x30);
  }
  return i > 0 && i <= 15 ? v : Number(unixSeconds(ns));
}

/** The whiteout `.wh.NAME`: a bare ustar header (typeflag 0, mode 0, size 0, mtime 0), PAX `path` only if long. */
function writeWhiteout(st: WriteState, path: string): Promise<void> | undefined {
  const { base } = splitPath(path);
  if (!base.startsWith(WHITEOUT_PREFIX) || base.length === WHITEOUT_PREFIX.length) {
    throw new WinlayerError('TAR_ENTRY', `a whiteout path must end in ${WHITEOUT_PREFIX}<name>`, { entry: path });
  }
  const name = asciiField(path, NAME_LEN);
  if (!fitsField(path, NAME_LEN)) {
    const values = [path];
    return writePax(st, path, false, PATH_KEY, PATH_KEY_LENGTH, undefined, values, name, 0, 0, 0, TYPE_FILE, undefined);
  }
  const w = st.w;
  if (w.space >= BLOCK_SIZE) {
    putBareHeader(w, name);
    return undefined;
  }
  return afterThat(w.flush(), () => putBareHeader(w, name));
}

/** A whiteout's header (typeflag 0, mode 0, size 0, mtime 0); the caller made room. */
function putBareHeader(w: BlockWriter, name: string): void {
  encodeHeaderAt(w.buf, w.pos, name, -1, 0, 0, 0, TYPE_FILE, undefined);
  w.pos += BLOCK_SIZE;
}

const PATH_KEY: readonly string[] = ['path'];
const PATH_KEY_LENGTH: readonly number[] = [4];

/** One 512-byte block of zeros: padding is written by copying it (cheaper than a fill per entry). */
const ZERO_BLOCK = new Uint8Array(BLOCK_SIZE);

/** Copies a file or stream body (see `copyBody`) and its padding into the tar, reporting progress when asked. */
function writeBody(st: WriteState, path: string, size: number, body: EntryBody): Promise<void> | undefined {
  const progress = st.progress;
  if (progress === undefined) return writePaddedBody(st.w, path, size, body);
  progress.bodyStart(size);
  return afterThat(writePaddedBody(st.w, path, size, body), () => progress.bodyEnd());
}

function writePaddedBody(w: BlockWriter, path: string, size: number, body: EntryBody): Promise<void> | undefined {
  const rem = size % BLOCK_SIZE;
  const padded = rem === 0 ? size : size + BLOCK_SIZE - rem;
  if (padded + 1 <= w.space) {
    // Small bodies (the common case) fit with the spare byte that shows a body longer than its size, so no flush
    // comes in between: the last block is zeroed first, the body's bytes then overwrite all but the padding.
    const start = w.pos;
    if (rem !== 0) w.buf.set(ZERO_BLOCK, start + size - rem);
    const p = copyBody(body, size, path, w);
    if (p === undefined) {
      w.pos = start + padded;
      return undefined;
    }
    return p.then(() => {
      w.pos = start + padded;
    });
  }
  return afterThat(copyBody(body, size, path, w), () =>
    afterThat(w.space < BLOCK_SIZE ? w.flush() : undefined, () => w.padSync(size)),
  );
}
