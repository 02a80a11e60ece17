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
import { unixSeconds } from '../windows/index.js';
import { createOutputChain, type TarOutputChain } from './compress.js';
import { SLOT_SIZE, StreamHash } from './hash.js';
import { asciiField, BLOCK_SIZE, encodeHeader, fitsField, type HeaderFields, MAX_OCTAL_SIZE, USTAR } from './header.js';
import { splitPath } from './names.js';
import type { TarOutput, TarSummary, WriteTarOptions } from './types.js';
import { encodeWindowsPax } from './windows-pax.js';

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
  const state: WriteState = { w, modes, owner: undefined, count: 0 };
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
}

/** Writes one entry; returns a promise only when it had to wait (a flush, an iterated body). */
function writeEntry(st: WriteState, e: LayerEntry): Promise<void> | undefined {
  checkPath(e);
  const { w, modes } = st;
  let p: Promise<void> | undefined;
  switch (e.kind) {
    case 'directory':
      p = writePaxEntry(w, e, '5', modes.directory, 0);
      st.owner = e.path;
      break;
    case 'file':
      checkSize(e.path, e.size);
      p = then(writePaxEntry(w, e, '0', modes.file, e.size), () => writeBody(w, e.path, e.size, e.body));
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
      p = then(writePaxEntry(w, e, '0', modes.file, e.size), () => writeBody(w, e.path, e.size, e.body));
      break;
    }
    case 'hardlink':
      p = writePaxEntry(w, e, '1', modes.link, 0, e.linkTarget);
      st.owner = undefined;
      break;
    case 'symlink':
      p = writePaxEntry(w, e, '2', modes.link, 0, e.linkTarget);
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
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
  }
}

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

function writePaxEntry(
  w: BlockWriter,
  e: LayerEntry,
  typeflag: string,
  mode: number,
  size: number,
  linkname?: string,
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
    typeflag,
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

type Body = { readonly readSync?: (b: Uint8Array) => number } & AsyncIterable<Uint8Array>;

function writeBody(w: BlockWriter, path: string, size: number, body: Body): Promise<void> | undefined {
  if (body.readSync === undefined) return writeIteratedBody(w, path, size, body);
  const readSync = body.readSync;
  // Small bodies (the common case) go into the buffer without a promise.
  const padded = size + ((BLOCK_SIZE - (size % BLOCK_SIZE)) % BLOCK_SIZE);
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
