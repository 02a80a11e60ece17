/**
 * `SidecarWriter`: writes a layer folder's `.winlayer/` sidecar (format: `docs/layer-folder.md`, codec:
 * `sidecar-record.ts`) in one streaming pass, atomically.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { AtomicTarget } from '../atomic.js';
import { WinlayerError } from '../errors.js';
import { writeAll } from '../internal/write-all.js';
import {
  encodeManifest,
  encodeRecord,
  encodeSdLine,
  sidecarInvalid as invalid,
  type LayerKind,
  type ParentRef,
  SIDECAR_DIR,
  SIDECAR_FILES,
  type SidecarRecord,
  TimeText,
} from './sidecar-record.js';

const STREAMS = SIDECAR_FILES.streams;

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
  readonly #times = new TimeText();
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
      this.#fd = openSync(join(this.#target.tempPath, SIDECAR_FILES.entries), 'w');
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
    const line = `${encodeRecord(record, this.#times)}\n`;
    // A UTF-16 unit is at most 3 UTF-8 bytes: flush first when the line might not fit.
    if (this.#buffered + line.length * 3 > this.#buffer.length) {
      this.#flush();
      if (line.length * 3 > this.#buffer.length) {
        writeAll(this.#fd, Buffer.from(line, 'utf8'));
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
      writeWhole(join(tmp, SIDECAR_FILES.sds), this.#sds.map((sd, id) => `${encodeSdLine(id, sd)}\n`).join(''));
      const manifest = encodeManifest(opts.kind ?? this.#options.kind, this.#options.parents ?? []);
      writeWhole(join(tmp, SIDECAR_FILES.manifest), manifest);
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
    writeAll(this.#fd, this.#buffer.subarray(0, this.#buffered));
    this.#buffered = 0;
  }
}

function writeWhole(path: string, text: string): void {
  const fd = openSync(path, 'w');
  try {
    writeAll(fd, Buffer.from(text, 'utf8'));
  } finally {
    closeSync(fd);
  }
}
