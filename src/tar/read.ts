/**
 * The tar reader: bytes (plain, gzip or zstd, detected) → `LayerEntry` stream. Reads ustar, PAX (`x` per entry, `g`
 * global) and GNU long names (`L`, `K`); strict about everything it reads, and never holds more than one header (or
 * one PAX block, ≤ `maxPaxSize`) in memory: bodies are streamed from the input chunks.
 */
import type { EntryBody, LayerEntry, PaxRecord, RawTarInfo, WindowsMetadata } from '../entry.js';
import { WinlayerError } from '../errors.js';
import { type ByteInput, bytesOf, decompress, detectCompression } from './compress.js';
import { BLOCK_SIZE, decodeHeader, decodeText, isZeroBlock, type TarHeader } from './header.js';
import { nameShape, normalizeTarName, splitStreamName } from './names.js';
import { decodePax } from './pax.js';
import type { ReadTarOptions } from './types.js';
import { decodeWindowsPax } from './windows-pax.js';

/** Default largest PAX / GNU long-name block: 1 MiB, as Go's archive/tar. */
export const DEFAULT_MAX_PAX_SIZE = 1024 * 1024;

const EMPTY = new Uint8Array(0);
/** The key of a body's zero-copy synchronous read (see `bodyViewReader`). */
const VIEW = Symbol('winlayer.tar.bodyView');

/** A body of this reader that can lend its bytes without a copy. */
interface ViewBody extends EntryBody {
  readonly [VIEW]: (max: number) => Uint8Array;
}

/**
 * The zero-copy form of `body.readSync`, for a body of `readTar` that offers `readSync`: a function that returns the
 * next at most `max` bytes as a view into the reader's current input chunk (empty at the end). A view is valid only
 * until the input moves on (the caller must use it before reading the next entry or chunk), so it suits a sink that
 * writes each piece at once. Undefined for any other body (then use `readSync` or the iterator).
 */
export function bodyViewReader(body: EntryBody): ((max: number) => Uint8Array) | undefined {
  return (body as Partial<ViewBody>)[VIEW];
}
const NO_RECORDS: PaxRecord[] = [];
const PLAIN = { shape: 'plain' } as const;

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

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#it = source[Symbol.asyncIterator]();
  }

  /** Loads the next non-empty chunk; false at the end. */
  async #more(): Promise<boolean> {
    for (;;) {
      const r = await this.#it.next();
      if (r.done) return false;
      if (r.value.length > 0) {
        this.#chunk = r.value;
        this.#at = 0;
        return true;
      }
    }
  }

  /** Bytes left in the current chunk (readable without an await). */
  get available(): number {
    return this.#chunk.length - this.#at;
  }

  /** `n` bytes as a view when the current chunk holds them (no await), else undefined. */
  tryRead(n: number): Uint8Array | undefined {
    if (this.#chunk.length - this.#at < n) return undefined;
    const v = this.#chunk.subarray(this.#at, this.#at + n);
    this.#at += n;
    this.offset += n;
    return v;
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

/** Typeflags whose size field carries no data (Go's `isHeaderOnlyType`). */
const HEADER_ONLY = new Set(['1', '2', '3', '4', '5', '6']);

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

interface Pending {
  pax: PaxRecord[];
  longName?: string;
  longLink?: string;
  /** Offset of the first header of the entry (its first `x`/`L`/`K`). */
  firstOffset: number;
}

async function* readEntries(
  input: ByteInput,
  opts: ReadTarOptions & { maxPaxSize: number },
): AsyncGenerator<LayerEntry> {
  const lenient = opts.lenient === true;
  const reader = new ByteReader(detected(input, opts.compression));
  const globals = new Map<string, string>();
  let pending: Pending | undefined;
  let owner: string | undefined; // last file or folder path: alternate data streams attach to it
  /** Bytes of the current entry still in the input (data + padding); skipped before the next header. */
  let toSkip = 0;
  let skipEntry = '';
  let generation = 0;

  const truncated = (entry: string | undefined, rule: string, offset: number): WinlayerError =>
    new WinlayerError('TAR_TRUNCATED', rule, {
      entry,
      offset,
      hint: 'the download or copy was cut short; fetch the archive again',
    });

  /** Reads the data of a meta header (`x`, `g`, `L`, `K`) and its padding. */
  const readMeta = async (h: TarHeader, offset: number): Promise<Uint8Array> => {
    const size = Number(h.size);
    if (size > opts.maxPaxSize) {
      throw new WinlayerError(
        'TAR_TOO_LARGE',
        `extended header of ${size} bytes exceeds the limit of ${opts.maxPaxSize}`,
        { entry: h.name, offset, hint: 'raise maxPaxSize if the archive is trusted' },
      );
    }
    const data = reader.tryRead(size) ?? (await reader.read(size));
    if (data.length < size) throw truncated(h.name, 'the archive ends inside an extended header', offset);
    const pad = padded(size) - size;
    if (!reader.trySkip(pad) && (await reader.skip(pad)) < pad) {
      throw truncated(h.name, 'the archive ends inside an extended header', offset);
    }
    return data;
  };

  try {
    for (;;) {
      if (toSkip > 0 && !reader.trySkip(toSkip)) {
        const at = reader.offset;
        const n = await reader.skip(toSkip);
        if (n < toSkip) {
          throw truncated(
            skipEntry,
            `the archive ends inside the data of this entry (${toSkip - n} bytes missing)`,
            at,
          );
        }
      }
      toSkip = 0;
      generation++;
      const offset = reader.offset;
      const block = reader.tryRead(BLOCK_SIZE) ?? (await reader.read(BLOCK_SIZE));
      if (block.length === 0) {
        if (pending !== undefined) throw truncated(undefined, 'the archive ends after an extended header', offset);
        if (lenient) return;
        throw new WinlayerError('TAR_TRUNCATED', 'the archive ends without its end-of-archive blocks', {
          offset,
          hint: 'the archive was cut short at an entry boundary (use lenient to accept it)',
        });
      }
      if (block.length < BLOCK_SIZE) throw truncated(undefined, 'the archive ends inside a header block', offset);
      if (isZeroBlock(block)) {
        if (pending !== undefined) {
          throw new WinlayerError('TAR_HEADER', 'an extended header is not followed by an entry', { offset });
        }
        const second = await reader.read(BLOCK_SIZE);
        if (second.length === 0) return; // a lone zero block at the end: accepted, as Go does
        if (second.length < BLOCK_SIZE) {
          if (lenient) return;
          throw truncated(undefined, 'the archive ends inside its end-of-archive blocks', offset + BLOCK_SIZE);
        }
        if (isZeroBlock(second)) return;
        throw new WinlayerError('TAR_HEADER', 'a zero block is followed by a header (end-of-archive marker inside)', {
          offset,
        });
      }
      const h = decodeHeader(block, offset, lenient);
      const t = h.typeflag;
      if (t === 'x' || t === 'g' || t === 'L' || t === 'K') {
        const data = await readMeta(h, offset);
        pending ??= { pax: [], firstOffset: offset };
        if (t === 'L' || t === 'K') {
          const end = data.indexOf(0);
          const text = decodeText(end === -1 ? data : data.subarray(0, end), lenient);
          if (text === undefined) {
            throw new WinlayerError('TAR_HEADER', 'GNU long name is not valid UTF-8', { offset });
          }
          if (t === 'L') pending.longName = text;
          else pending.longLink = text;
          continue;
        }
        const records = decodePax(data, { entry: h.name, offset: offset + BLOCK_SIZE, lenient });
        if (t === 'x') {
          pending.pax.push(...records);
        } else {
          for (const r of records) {
            globals.delete(r.key);
            if (r.value !== '') globals.set(r.key, r.value);
          }
          if (pending.pax.length === 0 && pending.longName === undefined && pending.longLink === undefined) {
            pending = undefined;
          }
        }
        continue;
      }

      // A real entry.
      const p = pending;
      pending = undefined;
      const entryOffset = p?.firstOffset ?? offset;
      let records: PaxRecord[];
      if (globals.size === 0) {
        records = p === undefined ? NO_RECORDS : p.pax;
      } else {
        records = [];
        for (const [key, value] of globals) records.push({ key, value });
        if (p !== undefined) for (const r of p.pax) records.push(r);
      }
      let rawName = p?.longName ?? h.name;
      for (const r of records) if (r.key === 'path' && r.value !== '') rawName = r.value;
      const dec = records.length === 0 ? undefined : decodeWindowsPax(records, { entry: rawName, offset, lenient });
      const name = dec?.path ?? p?.longName ?? h.name;
      const linkName = dec?.linkpath ?? p?.longLink ?? h.linkname;
      const size = dec?.size ?? h.size;
      const dataSize = HEADER_ONLY.has(t) ? 0 : size;
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
        format: records.length > 0 ? 'pax' : h.format,
        pax: records,
        offset: entryOffset,
      };
      const path = normalizeTarName(name);
      toSkip = padded(dataSize);
      skipEntry = name;

      let entry: LayerEntry;
      const regular = t === '0' || t === '\0' || t === '7';
      const special =
        dec?.sparse === true
          ? 'GNU sparse file'
          : regular || t === '5' || t === '1' || t === '2'
            ? undefined
            : (SPECIAL_NAMES[t] ?? `typeflag ${JSON.stringify(t)}`);
      const shape = special === undefined ? nameShape(path) : PLAIN;
      if (special !== undefined) {
        entry = { kind: 'special', path, win, raw, typeflag: t, description: special };
        owner = undefined;
      } else if (shape.shape === 'whiteout') {
        entry = { kind: 'whiteout', path, win, raw, target: shape.target };
        owner = undefined;
      } else if (shape.shape === 'opaque') {
        entry = { kind: 'opaqueWhiteout', path, win, raw, directory: shape.directory };
        owner = undefined;
      } else if (t === '5' || (t === '\0' && name.endsWith('/'))) {
        entry = { kind: 'directory', path, win, raw };
        owner = path;
      } else if (t === '1') {
        entry = { kind: 'hardlink', path, win, raw, linkTarget: normalizeTarName(linkName) };
        owner = undefined;
      } else if (t === '2') {
        entry = { kind: 'symlink', path, win, raw, linkTarget: linkName };
        owner = undefined;
      } else {
        const ads = owner === undefined ? undefined : splitStreamName(path);
        const body = makeBody(dataSize, name);
        if (ads !== undefined && ads.filePath === owner) {
          const streamPath = `${ads.filePath}:${ads.streamName}`;
          entry = {
            kind: 'stream',
            path: streamPath,
            win,
            raw,
            filePath: ads.filePath,
            streamName: ads.streamName,
            size: dataSize,
            body,
          };
        } else {
          entry = { kind: 'file', path, win, raw, size: dataSize, body };
          owner = path;
        }
      }
      if (dec !== undefined && dec.extra.length > 0)
        (entry as { extraPax?: readonly PaxRecord[] }).extraPax = dec.extra;
      yield entry;
    }
  } finally {
    generation++;
    await reader.close();
  }

  /**
   * The body of the entry just read: streams `size` bytes from the reader, then leaves the padding to skip. When the
   * whole body already lies in the current input chunk (most small files), it also offers `readSync`, so a
   * synchronous sink copies it without an await.
   */
  function makeBody(size: number, entryName: string): EntryBody {
    const gen = generation;
    let used = false;
    let left = size;
    const stale = (why: string): WinlayerError =>
      new WinlayerError('BODY_STALE', why, {
        entry: entryName,
        hint: 'read each body once, before moving to the next entry',
      });
    const iterate = async function* (): AsyncGenerator<Uint8Array> {
      if (used) throw stale('the body was already read');
      if (gen !== generation) throw stale('the body was read after the stream moved to the next entry');
      used = true;
      while (left > 0) {
        if (gen !== generation) throw stale('the body was read after the stream moved to the next entry');
        const at = reader.offset;
        let v = reader.tryNext(left);
        if (v.length === 0) v = await reader.next(left);
        if (v.length === 0) {
          throw truncated(
            entryName,
            `the archive ends inside the data of this ${size}-byte entry (${left} bytes missing)`,
            at,
          );
        }
        left -= v.length;
        toSkip -= v.length;
        yield v;
      }
    };
    if (size > reader.available) return { [Symbol.asyncIterator]: iterate };
    let syncing = false;
    /** The next at most `max` bytes as a view (the synchronous reads share it). */
    const view = (max: number): Uint8Array => {
      if (used && !syncing) throw stale('the body was already read');
      if (gen !== generation) throw stale('the body was read after the stream moved to the next entry');
      used = true;
      syncing = true;
      if (left === 0) return EMPTY;
      // Nothing moved the reader since this entry was read, so the current chunk still holds the rest.
      const v = reader.tryNext(Math.min(left, max));
      left -= v.length;
      toSkip -= v.length;
      return v;
    };
    const body: ViewBody = {
      [Symbol.asyncIterator]: () => {
        if (syncing) throw stale('the body is being read with readSync');
        return iterate();
      },
      readSync(buffer: Uint8Array): number {
        const v = view(buffer.length);
        buffer.set(v);
        return v.length;
      },
      [VIEW]: view,
    };
    return body;
  }
}
