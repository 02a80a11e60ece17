/**
 * Option and result types of the tar codec (kept apart so that `read.ts`, `write.ts` and callers share them).
 */

/** What compression a byte stream uses, detected from its first bytes. */
export type Compression = 'none' | 'gzip' | 'zstd';

/** Options of {@link readTar}. */
export interface ReadTarOptions {
  /**
   * Largest PAX (`x`, `g`) or GNU long-name (`L`, `K`) header body accepted, in bytes. Default 1 MiB (Go's
   * `maxSpecialFileSize`). A larger one is `TAR_TOO_LARGE`.
   */
  readonly maxPaxSize?: number;
  /**
   * Relax named rules (never path safety): a missing end-of-archive marker is accepted, names that are not valid
   * UTF-8 are decoded with U+FFFD, non-canonical base64 padding bits are accepted. Default false.
   */
  readonly lenient?: boolean;
  /** Compression of the input; detected from the first bytes when absent. */
  readonly compression?: Compression;
  /** The input is standard input: only words `NOT_A_TAR` for an empty one ("empty standard input"). Default false. */
  readonly stdin?: boolean;
}

/** The mode bits {@link writeTar} puts in the ustar `mode` field (permission bits only, no file-type bits). */
export interface TarModes {
  /** Directories. Default 0o755. */
  readonly directory?: number;
  /** Files and alternate data streams. Default 0o644. */
  readonly file?: number;
  /** Hard links and symbolic links. Default 0o644. */
  readonly link?: number;
}

/** Options of {@link writeTar}. */
export interface WriteTarOptions {
  /** Output compression. Default `'none'`. */
  readonly compression?: Compression;
  /** Compression level: gzip 1–9 (default 6), zstd 1–22 (default 3). */
  readonly level?: number;
  /** Mode bits; see {@link TarModes}. */
  readonly modes?: TarModes;
  /**
   * Start the sha256 thread at once (for a tar known to be large, such as a layer export) rather than once the tar
   * passes 256 KiB. Default false. The bytes and digests are the same either way.
   */
  readonly threadedHash?: boolean;
  /**
   * Called as each entry starts (before its body is read), every 4 MiB of a body being copied (so a large file shows
   * bytes moving), and once when every entry is written. Costs nothing when absent.
   */
  readonly onProgress?: (progress: TarProgress) => void;
}

/** How far {@link writeTar} has come. */
export interface TarProgress {
  /** Entries started, the current one included. */
  readonly entries: number;
  /** Content bytes (file and stream bodies) written so far. */
  readonly bytes: number;
  /** The entry being written (at the end: the last one). */
  readonly path: string;
}

/** Where {@link writeTar} writes: an open file descriptor (written with positionless sync writes) or a writable stream. */
export type TarOutput = number | NodeJS.WritableStream;

/** What {@link writeTar} wrote; every field is computed while streaming. */
export interface TarSummary {
  /** `sha256:<hex>` of the uncompressed tar (the OCI `diff_id`). */
  readonly diffId: string;
  /** `sha256:<hex>` of the bytes written (equal to `diffId` without compression). */
  readonly digest: string;
  /** Bytes written. */
  readonly size: number;
  /** Bytes of the uncompressed tar. */
  readonly uncompressedSize: number;
  /** Layer entries written (PAX headers not counted). */
  readonly entries: number;
  readonly compression: Compression;
}
