/**
 * Public types of the hive module: opaque handles, options, findings and `.reg` changes.
 */
import type { FindingCode } from './findings.js';

declare const keyBrand: unique symbol;
declare const valueBrand: unique symbol;

/** An opaque handle to one key of an opened hive. Valid as long as its `Hive` is. */
export interface HiveKey {
  readonly [keyBrand]: 'HiveKey';
}

/** An opaque handle to one value of an opened hive. */
export interface HiveValue {
  readonly [valueBrand]: 'HiveValue';
}

/** Registry value types (`REG_*`). Any other 32-bit number is a valid raw type too. */
export const REG = {
  NONE: 0,
  SZ: 1,
  EXPAND_SZ: 2,
  BINARY: 3,
  DWORD: 4,
  DWORD_BIG_ENDIAN: 5,
  LINK: 6,
  MULTI_SZ: 7,
  RESOURCE_LIST: 8,
  FULL_RESOURCE_DESCRIPTOR: 9,
  RESOURCE_REQUIREMENTS_LIST: 10,
  QWORD: 11,
} as const;

/**
 * A hive format version we write: 1.5 (offreg, `lh` lists, big data), 1.3 (NT4 / new kernel hives, `lf`, no big
 * data), 1.4 (`lf`, big data) or 1.6 (a differencing hive: as 1.5, with layered keys).
 */
export type HiveVersion = '1.3' | '1.4' | '1.5' | '1.6';

/** Root key flags: 0x2C (KEY_HIVE_ENTRY | KEY_NO_DELETE | KEY_COMP_NAME, the kernel's) or 0x20 (offreg's). */
export type RootFlags = 0x20 | 0x2c;

/** Named safety limits of the reader. Every one is enforced during the structural pass. */
export interface HiveLimits {
  /** Deepest key nesting (Windows: 512). */
  readonly maxDepth: number;
  /** Most keys in the whole hive. */
  readonly maxKeys: number;
  /** Most values under one key. */
  readonly maxValuesPerKey: number;
  /** Largest value data in bytes. */
  readonly maxValueSize: number;
}

export interface OpenHiveOptions {
  /** The file name, used in error messages. */
  readonly path?: string;
  readonly limits?: Partial<HiveLimits>;
  /**
   * Read a hive with errors as far as it can be walked: each error finding (the first 1000) goes here instead of being
   * thrown, once the pass is over and the root key is known to be usable (see `openHive`). Without it, the first error
   * throws.
   */
  readonly onError?: (finding: HiveFinding) => void;
}

/**
 * One problem the checker found. `code` is a stable identifier such as `HEADER_CHECKSUM`; its severity and meaning are
 * in the catalogue (`findings.ts`, `docs/hive-findings.md`).
 */
export interface HiveFinding {
  readonly code: FindingCode;
  readonly severity: 'error' | 'warning';
  /** Where: a file offset (from the start of the file, base block included), as every offset in a finding. */
  readonly offset?: number;
  /** `\`-separated path below the root key ('' = the root key itself). */
  readonly keyPath?: string;
  /** A sentence a person understands. */
  readonly message: string;
}

/** What `checkHive` returns. A hive is fit to ship when `errors` is empty. */
export interface HiveCheckResult {
  readonly errors: HiveFinding[];
  readonly warnings: HiveFinding[];
  /** Sequence numbers differ: the hive needs transaction logs that are not here. */
  readonly dirty: boolean;
}

/** Options of `buildHive` / `writeHive` / `createEmptyHive`. */
export interface BuildHiveOptions {
  /**
   * The format version. Default: the version of the hive the builder was read from (`builderFromHive`: a rewrite keeps
   * it), else '1.6' for a differencing builder (`layered`), else '1.5' (what offreg writes).
   */
  readonly version?: HiveVersion;
  /** FILETIME for every key without its own timestamp, and for offreg's save stamp at 0x200. Default 0. */
  readonly timestamp?: bigint;
  /**
   * Flags of the root key. Default: the builder root's own flags (a rewrite keeps them), else 0x2C (see README: the
   * kernel's choice; reglookup and Samba need it).
   */
  readonly rootFlags?: RootFlags;
}

/** One change read from a `.reg` file. `path` is the key path as written, prefix included. */
export type RegChange =
  | { readonly kind: 'key'; readonly path: string }
  | { readonly kind: 'deleteKey'; readonly path: string }
  | {
      readonly kind: 'value';
      readonly path: string;
      readonly name: string;
      readonly type: number;
      readonly data: Uint8Array;
    }
  | { readonly kind: 'deleteValue'; readonly path: string; readonly name: string };
