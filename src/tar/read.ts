/**
 * The tar reader: bytes (plain, gzip or zstd, detected) → `LayerEntry` stream. Reads ustar, PAX (`x` per entry, `g`
 * global) and GNU long names (`L`, `K`); strict about everything it reads, and never holds more than one header (or
 * one PAX block, ≤ `maxPaxSize`) in memory: bodies are streamed from the input chunks.
 */
import type { EntryBody, LayerEntry, PaxRecord, RawTarInfo, WindowsMetadata } from '../entry.js';
import { WinlayerError } from '../errors.js';
import { type ByteInput, bytesOf, decompress, detectCompression } from './compress.js';
import { BLOCK_SIZE, decodeHeaderAt, decodeText, type TarHeader } from './header.js';
import { nameShape, normalizeTarName, splitStreamName } from './names.js';
import { decodePaxInto, PaxBlockMemo } from './pax.js';
import { notATar } from './sniff.js';
import type { ReadTarOptions } from './types.js';
import { decodeWindowsPax, PaxDecodeMemo } from './windows-pax.js';

/** Default largest PAX / GNU long-name block: 1 MiB, as Go's archive/tar. */
export const DEFAULT_MAX_PAX_SIZE = 1024 * 1024;

const EMPTY = new Uint8Array(0);
const NO_RECORDS: PaxRecord[] = [];

/**
 * Reads a tar archive as a stream of layer entries. Returns at once; the input is touched only when iteration
 * starts. Streams: entries come as their headers are read, bodies are read from the input as the consumer iterates
 * them (at most once; moving to the next entry skips what was not read; a body read after that throws `BODY_STALE`).
 *
 * Compression (gzip, zstd) is detected from the first bytes. Entries: regular files (typeflags `0`, `\0`, `7`),
 * folders (`5`), hard links (`1`), symbolic links (`2`); whiteouts (`.wh.<name>`) and opaque markers
 * (`.wh..wh..opq`) by name; alternate data streams (`file:stream[:$DATA]`, regular, right after their file or
 * folder); any other typeflag (devices, FIFOs, GNU sparse files, unknown) as a `special` entry. `path` is normalised
 * (no leading `./`, no trailing `/`); `raw` keeps the header as stored.
 *
 * Throws (from the iteration) `TAR_CHECKSUM`, `TAR_HEADER`, `TAR_PAX`, `TAR_PAX_VALUE`, `TAR_TRUNCATED`,
 * `TAR_TOO_LARGE` or `COMPRESSION`, each naming the entry (when known) and the byte offset in the uncompressed
 * archive.
 */
export function readTar(input: ByteInput, opts: ReadTarOptions = {}): AsyncIterable<LayerEntry> {
  const maxPax = opts.maxPaxSize ?? DEFAULT_MAX_PAX_SIZE;
  if (!Number.isSafeInteger(maxPax) || maxPax < 0) {
    throw new WinlayerError('USAGE', `maxPaxSize ${maxPax} is not a non-negative integer`);
  }
  let started = false;
  return {
    [Symbol.asyncIterator]() {
      if (started) throw new WinlayerError('BODY_STALE', 'a tar input can be read only once');
      started = true;
      return readEntries(input, { ...opts, maxPaxSize: maxPax })[Symbol.asyncIterator]();
    },
  };
}

/** Replays the first chunks (read to detect compression) in front of the rest of the input. */
async function* detected(input: ByteInput, forced: ReadTarOptions['compression']): AsyncGenerator<Uint8Array> {
  const it = bytesOf(input)[Symbol.asyncIterator]();
  try {
    const head: Uint8Array[] = [];
    let n = 0;
    while (n < 4) {
      const r = await it.next();
      if (r.done) break;
      head.push(r.value);
      n += r.value.length;
    }
    const first = head.length === 1 ? head[0]! : Buffer.concat(head);
    const kind = forced ?? detectCompression(first);
    async function* replay(): AsyncGenerator<Uint8Array> {
      for (const h of head) yield h;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield r.value;
      }
    }
    yield* decompress(replay(), kind);
  } finally {
    await it.return?.(undefined);
  }
}

/** Pull-based reader over input chunks; tracks the absolute offset. */
class ByteReader {
  #it: AsyncIterator<Uint8Array>;
  #chunk: Uint8Array = EMPTY;
  #at = 0;
  /** Bytes consumed so far (offset in the uncompressed archive). */
  offset = 0;
  /**
   * The current chunk as a plain `Uint8Array` (a second view of the same bytes when the input gives `Buffer`s), for
   * decoding headers and PAX records in place; bodies are still views of the chunk as given.
   */
  u8: Uint8Array = EMPTY;
  /** The same bytes as `u32` words when the chunk starts 4-byte aligned (for header checksums), else undefined. */
  u32: Uint32Array | undefined;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#it = source[Symbol.asyncIterator]();
  }

  /** Loads the next non-empty chunk; false at the end. */
  async #more(): Promise<boolean> {
    for (;;) {
      const r = await this.#it.next();
      if (r.done) return false;
      const c = r.value;
      if (c.length > 0) {
        this.#chunk = c;
        this.u8 = c.constructor === Uint8Array ? c : new Uint8Array(c.buffer, c.byteOffset, c.length);
        this.u32 = (c.byteOffset & 3) === 0 ? new Uint32Array(c.buffer, c.byteOffset, c.length >>> 2) : undefined;
        this.#at = 0;
        return true;
      }
    }
  }

  /** Bytes left in the current chunk (readable without an await). */
  get available(): number {
    return this.#chunk.length - this.#at;
  }

  /**
   * Consumes `n` bytes when the current chunk holds them (no await) and returns where they start in `u8`; -1
   * otherwise (nothing consumed).
   */
  tryTake(n: number): number {
    const at = this.#at;
    if (this.#chunk.length - at < n) return -1;
    this.#at = at + n;
    this.offset += n;
    return at;
  }

  /** Skips `n` bytes when the current chunk holds them (no await); false otherwise (nothing skipped). */
  trySkip(n: number): boolean {
    if (this.#chunk.length - this.#at < n) return false;
    this.#at += n;
    this.offset += n;
    return true;
  }

  /** Up to `max` bytes as a view of what the current chunk holds (no await); empty when it is exhausted. */
  tryNext(max: number): Uint8Array {
    const k = Math.min(max, this.#chunk.length - this.#at);
    if (k === 0) return EMPTY;
    const v = this.#chunk.subarray(this.#at, this.#at + k);
    this.#at += k;
    this.offset += k;
    return v;
  }

  /** Reads `n` bytes; fewer only at the end of input. A view into the input when it lies in one chunk. */
  async read(n: number): Promise<Uint8Array> {
    if (this.#chunk.length - this.#at >= n) {
      const v = this.#chunk.subarray(this.#at, this.#at + n);
      this.#at += n;
      this.offset += n;
      return v;
    }
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      if (this.#at === this.#chunk.length && !(await this.#more())) break;
      const k = Math.min(n - got, this.#chunk.length - this.#at);
      out.set(this.#chunk.subarray(this.#at, this.#at + k), got);
      this.#at += k;
      got += k;
    }
    this.offset += got;
    return got === n ? out : out.subarray(0, got);
  }

  /** Up to `max` bytes as a view into the current chunk; empty at the end of input. */
  async next(max: number): Promise<Uint8Array> {
    if (this.#at === this.#chunk.length && !(await this.#more())) return EMPTY;
    const k = Math.min(max, this.#chunk.length - this.#at);
    const v = this.#chunk.subarray(this.#at, this.#at + k);
    this.#at += k;
    this.offset += k;
    return v;
  }

  /** Skips `n` bytes; returns how many were skipped (fewer only at the end of input). */
  async skip(n: number): Promise<number> {
    let left = n;
    while (left > 0) {
      if (this.#at === this.#chunk.length && !(await this.#more())) break;
      const k = Math.min(left, this.#chunk.length - this.#at);
      this.#at += k;
      this.offset += k;
      left -= k;
    }
    return n - left;
  }

  async close(): Promise<void> {
    await this.#it.return?.();
  }
}

/** Data plus padding to the block boundary. */
function padded(size: number): number {
  return size + ((BLOCK_SIZE - (size % BLOCK_SIZE)) % BLOCK_SIZE);
}

/** True for the typeflags whose size field carries no data (Go's `isHeaderOnlyType`: `1` to `6`). */
function headerOnly(t: string): boolean {
  const c = t.charCodeAt(0);
  return c >= 0x31 && c <= 0x36;
}

/** True when `b[p, p + 512)` is all zero bytes (an end-of-archive block). */
function isZeroAt(b: Uint8Array, p: number): boolean {
  for (let i = p; i < p + BLOCK_SIZE; i++) if (b[i] !== 0) return false;
  return true;
}

const SPECIAL_NAMES: Readonly<Record<string, string>> = {
  '3': 'character device',
  '4': 'block device',
  '6': 'FIFO',
  S: 'GNU sparse file',
  D: 'GNU dump directory',
  M: 'GNU multi-volume continuation',
  N: 'GNU old long name',
  V: 'volume label',
};

function truncated(entry: string | undefined, rule: string, offset: number): WinlayerError {
  return new WinlayerError('TAR_TRUNCATED', rule, {
    entry,
    offset,
    hint: 'the download or copy was cut short; fetch the archive again',
  });
}

/**
 * The input ended inside an entry's data: `missing` of its `size` bytes never came, and `offset` is where the input
 * ended. One wording and one count whether the body was being read or skipped (so `ls` and `import` say the same);
 * with all the data there and only the padding after it cut, `missing` is 0.
 */
function dataCutShort(entry: string, size: number, missing: number, offset: number): WinlayerError {
  return truncated(
    entry,
    missing > 0
      ? `the archive ends inside the data of this ${size}-byte entry (${missing} bytes missing)`
      : `the archive ends inside the padding after the data of this ${size}-byte entry`,
    offset,
  );
}

/** What the bodies of one archive share with its reader. */
class Shared {
  /** Counts headers read: a body belongs to the value it was made at. */
  generation = 0;
  /** Bytes of the current entry still in the input (data + padding); skipped before the next header. */
  toSkip = 0;
  constructor(readonly reader: ByteReader) {}
}

/** The body of an entry: streams `size` bytes from the reader, then leaves the padding to skip. */
class StreamBody implements EntryBody {
  protected readonly s: Shared;
  protected readonly gen: number;
  protected readonly size: number;
  protected readonly entryName: string;
  protected used = false;
  protected left: number;

  constructor(s: Shared, size: number, entryName: string) {
    this.s = s;
    this.gen = s.generation;
    this.size = size;
    this.left = size;
    this.entryName = entryName;
  }

  protected stale(why: string): WinlayerError {
    return new WinlayerError('BODY_STALE', why, {
      entry: this.entryName,
      hint: 'read each body once, before moving to the next entry',
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.iterate();
  }

  protected async *iterate(): AsyncGenerator<Uint8Array> {
    if (this.used) throw this.stale('the body was already read');
    const s = this.s;
    if (this.gen !== s.generation) throw this.stale('the body was read after the stream moved to the next entry');
    this.used = true;
    const reader = s.reader;
    while (this.left > 0) {
      if (this.gen !== s.generation) throw this.stale('the body was read after the stream moved to the next entry');
      const at = reader.offset;
      let v = reader.tryNext(this.left);
      if (v.length === 0) v = await reader.next(this.left);
      if (v.length === 0) throw dataCutShort(this.entryName, this.size, this.left, at);
      this.left -= v.length;
      s.toSkip -= v.length;
      yield v;
    }
  }
}

/**
 * A body that lies whole in the current input chunk (most small files): it also offers `read` and `view` (views into
 * the reader's input chunk, valid until the input moves on), so a synchronous sink copies it without an await.
 */
class ChunkBody extends StreamBody {
  #syncing = false;

  override [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    if (this.#syncing) throw this.stale('the body is being read with read or view');
    return this.iterate();
  }

  /** See `EntryBody.view`. */
  view(max: number): Uint8Array {
    if (this.used && !this.#syncing) throw this.stale('the body was already read');
    if (this.gen !== this.s.generation) {
      throw this.stale('the body was read after the stream moved to the next entry');
    }
    this.used = true;
    this.#syncing = true;
    if (this.left === 0) return EMPTY;
    // Nothing moved the reader since this entry was read, so the current chunk still holds the rest.
    const v = this.s.reader.tryNext(Math.min(this.left, max));
    this.left -= v.length;
    this.s.toSkip -= v.length;
    return v;
  }

  /** See `EntryBody.read`. */
  read(buffer: Uint8Array, offset: number, length: number): number {
    const v = this.view(length);
    buffer.set(v, offset);
    return v.length;
  }
}

/**
 * What the reader remembers between headers: the meta headers (`x`, `L`, `K`) read for the entry that comes next,
 * the global PAX records, and the last file or folder (a following alternate data stream attaches to it).
 */
class Cursor {
  /** Offset of the next entry's first meta header; -1 while none has come (a lone `g` starts nothing). */
  firstOffset = -1;
  pax: PaxRecord[] = NO_RECORDS;
  longName: string | undefined = undefined;
  longLink: string | undefined = undefined;
  readonly globals = new Map<string, string>();
  owner: string | undefined = undefined;
  /** The name of the entry whose data is skipped before the next header (for a truncation error). */
  dataOf = '';
  /** The data size (without padding) of that entry. */
  dataSize = 0;
  /** Values decoded for earlier entries (repeated texts become one string, then one decoded value). */
  readonly blockMemo = new PaxBlockMemo();
  readonly valueMemo = new PaxDecodeMemo();

  get inPrefix(): boolean {
    return this.firstOffset >= 0;
  }

  /** Starts the next entry's prefix at the meta header at `offset`, unless one has started. */
  begin(offset: number): void {
    if (this.firstOffset >= 0) return;
    this.firstOffset = offset;
    this.pax = [];
  }

  /** Ends the prefix (the entry it belongs to has been read, or it holds nothing). */
  end(): void {
    this.firstOffset = -1;
    this.pax = NO_RECORDS;
    this.longName = undefined;
    this.longLink = undefined;
  }
}

async function* readEntries(
  input: ByteInput,
  opts: ReadTarOptions & { maxPaxSize: number },
): AsyncGenerator<LayerEntry> {
  const lenient = opts.lenient === true;
  const stdin = opts.stdin === true;
  const maxPax = opts.maxPaxSize;
  const reader = new ByteReader(detected(input, opts.compression));
  const shared = new Shared(reader);
  const cursor = new Cursor();

  try {
    for (;;) {
      const toSkip = shared.toSkip;
      if (toSkip > 0 && !reader.trySkip(toSkip)) {
        const n = await reader.skip(toSkip);
        if (n < toSkip) {
          // What is left to skip is the rest of the data, then the padding: count only the data that never came.
          const dataLeft = toSkip - (padded(cursor.dataSize) - cursor.dataSize);
          throw dataCutShort(cursor.dataOf, cursor.dataSize, Math.max(0, dataLeft - n), reader.offset);
        }
      }
      shared.toSkip = 0;
      shared.generation++;
      const offset = reader.offset;
      // The header block, in place in the input chunk when it lies there whole (nearly always).
      let hb: Uint8Array;
      let words: Uint32Array | undefined;
      let hp = reader.tryTake(BLOCK_SIZE);
      if (hp >= 0) {
        hb = reader.u8;
        words = reader.u32;
      } else {
        hb = await reader.read(BLOCK_SIZE);
        hp = 0;
        if (hb.length < BLOCK_SIZE) {
          const refusal =
            offset === 0
              ? (notATar(hb, stdin) ?? endOfInput(hb.length, false, lenient, 0))
              : endOfInput(hb.length, cursor.inPrefix, lenient, offset);
          if (refusal !== undefined) throw refusal;
          return;
        }
      }
      if (isZeroAt(hb, hp)) {
        if (cursor.inPrefix) {
          throw new WinlayerError('TAR_HEADER', 'an extended header is not followed by an entry', { offset });
        }
        const second = await reader.read(BLOCK_SIZE);
        if (second.length === 0) return; // a lone zero block at the end: accepted, as Go does
        if (second.length < BLOCK_SIZE) {
          if (lenient) return;
          throw truncated(undefined, 'the archive ends inside its end-of-archive blocks', offset + BLOCK_SIZE);
        }
        if (isZeroAt(second, 0)) return;
        throw new WinlayerError('TAR_HEADER', 'a zero block is followed by a header (end-of-archive marker inside)', {
          offset,
        });
      }
      const h =
        offset === 0 ? firstHeader(hb, hp, lenient, words, stdin) : decodeHeaderAt(hb, hp, offset, lenient, words);
      const t = h.typeflag;
      if (t === 'x' || t === 'g' || t === 'L' || t === 'K') {
        // The data of the meta header and its padding; in place when the chunk holds it.
        const size = h.size;
        if (size > maxPax) {
          throw new WinlayerError('TAR_TOO_LARGE', `extended header of ${size} bytes exceeds the limit of ${maxPax}`, {
            entry: h.name,
            offset,
            hint: 'real layers keep extended headers under a few KiB: this archive is damaged or was made to exhaust memory',
          });
        }
        let db: Uint8Array;
        let dp = reader.tryTake(size);
        if (dp >= 0) {
          db = reader.u8;
        } else {
          db = await reader.read(size);
          dp = 0;
          if (db.length < size) throw truncated(h.name, 'the archive ends inside an extended header', offset);
        }
        const pad = padded(size) - size;
        if (!reader.trySkip(pad) && (await reader.skip(pad)) < pad) {
          throw truncated(h.name, 'the archive ends inside an extended header', offset);
        }
        readMeta(h, db, dp, offset, lenient, cursor);
        continue;
      }
      yield entryFrom(h, offset, cursor, shared, lenient);
    }
  } finally {
    shared.generation++;
    await reader.close();
  }
}

/**
 * The header in the input's first block. When it does not decode and the block matches none of the tar forms (text,
 * a zip, a hive…), the input is not a tar at all: `NOT_A_TAR` instead of the checksum or header error. Only the
 * first block takes this path, so the reader's loop pays nothing for it.
 */
function firstHeader(
  b: Uint8Array,
  p: number,
  lenient: boolean,
  words: Uint32Array | undefined,
  stdin: boolean,
): TarHeader {
  try {
    return decodeHeaderAt(b, p, 0, lenient, words);
  } catch (e) {
    throw notATar(b.subarray(p, p + BLOCK_SIZE), stdin) ?? e;
  }
}

/**
 * Why the input may not end here, `got` bytes into a header block at `offset`; undefined where it may (`lenient`, at an
 * entry boundary: the end-of-archive blocks are missing).
 */
function endOfInput(got: number, inPrefix: boolean, lenient: boolean, offset: number): WinlayerError | undefined {
  if (got > 0) return truncated(undefined, 'the archive ends inside a header block', offset);
  if (inPrefix) return truncated(undefined, 'the archive ends after an extended header', offset);
  if (lenient) return undefined;
  return new WinlayerError('TAR_TRUNCATED', 'the archive ends without its end-of-archive blocks', {
    offset,
    hint: 'the download or copy was cut short at an entry boundary; fetch the archive again',
  });
}

/**
 * Takes in a meta header (`x`, `g`, `L`, `K`) whose data is `db[dp, dp + h.size)`: the records and long names go to
 * the cursor, for the entry that follows; a `g` changes the global records.
 */
function readMeta(h: TarHeader, db: Uint8Array, dp: number, offset: number, lenient: boolean, cursor: Cursor): void {
  const t = h.typeflag;
  const size = h.size;
  cursor.begin(offset);
  if (t === 'x') {
    decodePaxInto(db, dp, dp + size, h.name, offset + BLOCK_SIZE, lenient, cursor.pax, cursor.blockMemo);
    return;
  }
  if (t === 'L' || t === 'K') {
    const data = db.subarray(dp, dp + size);
    const end = data.indexOf(0);
    const text = decodeText(end === -1 ? data : data.subarray(0, end), lenient);
    if (text === undefined) {
      throw new WinlayerError('TAR_HEADER', 'GNU long name is not valid UTF-8', { offset });
    }
    if (t === 'L') cursor.longName = text;
    else cursor.longLink = text;
    return;
  }
  const records: PaxRecord[] = [];
  decodePaxInto(db, dp, dp + size, h.name, offset + BLOCK_SIZE, lenient, records, cursor.blockMemo);
  for (const r of records) {
    cursor.globals.delete(r.key);
    if (r.value !== '') cursor.globals.set(r.key, r.value);
  }
  // A `g` alone is not the start of an entry's prefix.
  if (cursor.pax.length === 0 && cursor.longName === undefined && cursor.longLink === undefined) cursor.end();
}

/**
 * The entry whose header `h` (at `offset`) follows the cursor's meta headers: its name, link, size and Windows
 * metadata from the PAX records (global first), its kind, and its body. Ends the cursor's prefix and sets how much
 * data to skip before the next header.
 */
function entryFrom(h: TarHeader, offset: number, cursor: Cursor, shared: Shared, lenient: boolean): LayerEntry {
  const t = h.typeflag;
  const entryOffset = cursor.inPrefix ? cursor.firstOffset : offset;
  const pax = cursor.pax;
  const pLongName = cursor.longName;
  const pLongLink = cursor.longLink;
  cursor.end();
  const globals = cursor.globals;
  let records: PaxRecord[];
  if (globals.size === 0) {
    records = pax;
  } else {
    records = [];
    for (const [key, value] of globals) records.push({ key, value });
    for (let i = 0; i < pax.length; i++) records.push(pax[i]!);
  }
  const nrec = records.length;
  let rawName = pLongName ?? h.name;
  for (let i = 0; i < nrec; i++) {
    const r = records[i]!;
    if (r.key === 'path' && r.value !== '') rawName = r.value;
  }
  const dec = nrec === 0 ? undefined : decodeWindowsPax(records, { entry: rawName, offset, lenient }, cursor.valueMemo);
  const name = dec?.path ?? pLongName ?? h.name;
  const linkName = dec?.linkpath ?? pLongLink ?? h.linkname;
  const size = dec?.size ?? h.size;
  const dataSize = headerOnly(t) ? 0 : size;
  let win: WindowsMetadata;
  if (dec === undefined) {
    win = { lastWriteTime: BigInt(h.mtime) * 1_000_000_000n };
  } else {
    const w = dec.win as { lastWriteTime?: bigint };
    w.lastWriteTime ??= BigInt(h.mtime) * 1_000_000_000n;
    win = w as WindowsMetadata;
  }
  const raw: RawTarInfo = {
    name,
    linkName,
    typeflag: t,
    mode: h.mode,
    uid: dec?.uid ?? h.uid,
    gid: dec?.gid ?? h.gid,
    uname: dec?.uname ?? h.uname,
    gname: dec?.gname ?? h.gname,
    format: nrec > 0 ? 'pax' : h.format,
    pax: records,
    offset: entryOffset,
  };
  const path = normalizeTarName(name);
  shared.toSkip = padded(dataSize);
  cursor.dataOf = name;
  cursor.dataSize = dataSize;

  let entry: LayerEntry;
  const regular = t === '0' || t === '\0' || t === '7';
  const special =
    dec?.sparse === true
      ? 'GNU sparse file'
      : regular || t === '5' || t === '1' || t === '2'
        ? undefined
        : (SPECIAL_NAMES[t] ?? `typeflag ${JSON.stringify(t)}`);
  if (special !== undefined) {
    entry = { kind: 'special', path, win, raw, typeflag: t, description: special };
    cursor.owner = undefined;
  } else {
    const shape = nameShape(path);
    if (shape.shape !== 'plain' && dataSize > 0) {
      // A tombstone is an empty marker: read as one, its data would be dropped without a word.
      throw new WinlayerError('LAYER_INVALID', `a whiteout that carries ${dataSize} bytes of data`, {
        entry: name,
        offset: entryOffset,
        hint: 'a whiteout (.wh.<name>) is an empty file; a file whose name starts with .wh. cannot be in a layer',
      });
    }
    if (shape.shape === 'whiteout') {
      entry = { kind: 'whiteout', path, win, raw, target: shape.target };
      cursor.owner = undefined;
    } else if (shape.shape === 'opaque') {
      entry = { kind: 'opaqueWhiteout', path, win, raw, directory: shape.directory };
      cursor.owner = undefined;
    } else if (t === '5' || (t === '\0' && name.endsWith('/'))) {
      entry = { kind: 'directory', path, win, raw };
      cursor.owner = path;
    } else if (t === '1') {
      entry = { kind: 'hardlink', path, win, raw, linkTarget: normalizeTarName(linkName) };
      cursor.owner = undefined;
    } else if (t === '2') {
      entry = { kind: 'symlink', path, win, raw, linkTarget: linkName };
      cursor.owner = undefined;
    } else {
      entry = dataEntry(path, name, win, raw, dataSize, cursor, shared);
    }
  }
  if (dec !== undefined && dec.extra.length > 0) (entry as { extraPax?: readonly PaxRecord[] }).extraPax = dec.extra;
  return entry;
}

/** A regular file's entry, or an alternate data stream's when it follows its file or folder. */
function dataEntry(
  path: string,
  name: string,
  win: WindowsMetadata,
  raw: RawTarInfo,
  dataSize: number,
  cursor: Cursor,
  shared: Shared,
): LayerEntry {
  const owner = cursor.owner;
  const ads = owner === undefined ? undefined : splitStreamName(path);
  const body: EntryBody =
    dataSize > shared.reader.available ? new StreamBody(shared, dataSize, name) : new ChunkBody(shared, dataSize, name);
  if (ads !== undefined && ads.filePath === owner) {
    return {
      kind: 'stream',
      path: `${ads.filePath}:${ads.streamName}`,
      win,
      raw,
      filePath: ads.filePath,
      streamName: ads.streamName,
      size: dataSize,
      body,
    };
  }
  cursor.owner = path;
  return { kind: 'file', path, win, raw, size: dataSize, body };
}
