/**
 * The catalogue of hive findings: every code `checkHive` can report, with its severity, what it means and why it has
 * that severity. The one place a finding's severity is decided (the structural pass names a code, never a severity),
 * and the source of the table in `docs/hive-findings.md` (a test keeps the two equal).
 *
 * The rule (regf.md §7): an **error** is what makes Windows refuse the hive, or makes a reader guess what it means; a
 * **warning** is what the Windows kernel loads as it is (a leak, an unusual but valid field, something only an older
 * tool trips on). A dirty hive is an error: a layer must not ship a hive that needs transaction logs.
 */

import type { ErrorCode } from '../errors.js';
import type { HiveFinding } from './types.js';

/** The error codes the reader throws for a finding. */
export type HiveErrorCode = Extract<
  ErrorCode,
  'HIVE_HEADER' | 'HIVE_BIN' | 'HIVE_BAD_CELL' | 'HIVE_LIMIT' | 'HIVE_STRUCTURE'
>;

/** One catalogue entry. */
export interface FindingInfo {
  readonly severity: 'error' | 'warning';
  /** The code of the `WinlayerError` `openHive` throws for it (the kind of damage: header, bin, cell, limit, tree). */
  readonly error: HiveErrorCode;
  /** What the finding means, in a few words. */
  readonly summary: string;
  /** Why it has its severity: what Windows or a reader does with such a hive. */
  readonly why: string;
}

/** Every finding code. The `satisfies` keeps every code described. */
export const HIVE_FINDINGS = {
  // ── base block ────────────────────────────────────────────────────────────────────────────────────────────────────
  HEADER_TRUNCATED: {
    severity: 'error',
    error: 'HIVE_HEADER',
    summary: 'the file is shorter than its base block or than the hive bins the header declares',
    why: 'the missing bytes held keys or values: Windows refuses the file and a reader would have to guess',
  },
  HEADER_SIGNATURE: {
    severity: 'error',
    error: 'HIVE_HEADER',
    summary: 'the file does not start with "regf"',
    why: 'it is not a registry hive',
  },
  HEADER_VERSION: {
    severity: 'error',
    error: 'HIVE_HEADER',
    summary: 'the format version is not 1.3 to 1.6',
    why: 'Windows loads versions 1.3 to 1.6 only',
  },
  HEADER_FILE_TYPE: {
    severity: 'error',
    error: 'HIVE_HEADER',
    summary: 'the file type is not 0 (a primary hive)',
    why: 'types 1 and 6 are transaction logs, which Windows does not load as a hive',
  },
  HEADER_FORMAT: {
    severity: 'error',
    error: 'HIVE_HEADER',
    summary: 'the file format is not 1 (direct memory load)',
    why: 'Windows refuses any other format',
  },
  HEADER_CLUSTERING: {
    severity: 'error',
    error: 'HIVE_HEADER',
    summary: 'the clustering factor is not 1',
    why: 'Windows refuses any other factor',
  },
  HEADER_CHECKSUM: {
    severity: 'error',
    error: 'HIVE_HEADER',
    summary: 'the base block checksum does not match its bytes',
    why: 'Windows treats the header as damaged and needs transaction logs to recover it',
  },
  HEADER_CHECKSUM_REMAP: {
    severity: 'warning',
    error: 'HIVE_HEADER',
    summary: "the checksum relies on Windows' 0/0xFFFFFFFF remap",
    why: 'Windows loads it; hivex and reglookup do not apply the remap and reject the file',
  },
  DIRTY: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: 'the two sequence numbers differ: the hive is dirty',
    why: 'the hive was saved mid-update; Windows needs its transaction logs, which a layer does not carry',
  },
  HEADER_FLAGS: {
    severity: 'warning',
    error: 'HIVE_HEADER',
    summary: 'the base block flags hold other bits than 0x2 (layered keys): KTM state',
    why: 'Windows loads the hive; the flags are 0, or 0x2 in a differencing hive',
  },
  HEADER_LAYERED_VERSION: {
    severity: 'warning',
    error: 'HIVE_HEADER',
    summary: 'the layered-keys flag (0x2) in a hive of version below 1.6',
    why: 'differencing hives are version 1.6; the layer semantics are read from the flag, but Windows may not',
  },
  HEADER_BINS_SIZE: {
    severity: 'error',
    error: 'HIVE_HEADER',
    summary: 'the hive-bins size is 0 or not a multiple of 4096',
    why: 'Windows refuses the hive: its bins cannot be located',
  },
  TRAILING_DATA: {
    severity: 'warning',
    error: 'HIVE_STRUCTURE',
    summary: 'bytes follow the last hive bin',
    why: 'Windows ignores them (live hives often have some); offreg writes none',
  },
  // ── bins and cells ────────────────────────────────────────────────────────────────────────────────────────────────
  BIN_SIGNATURE: {
    severity: 'error',
    error: 'HIVE_BIN',
    summary: 'a bin does not start with "hbin"',
    why: 'Windows refuses the hive: the bins must follow each other without a gap',
  },
  BIN_OFFSET: {
    severity: 'error',
    error: 'HIVE_BIN',
    summary: 'a bin records another position than its own',
    why: 'Windows checks every bin offset and refuses the hive',
  },
  BIN_SIZE: {
    severity: 'error',
    error: 'HIVE_BIN',
    summary: 'a bin size is not a multiple of 4096 or runs past the hive-bins data',
    why: 'Windows refuses the hive',
  },
  CELL_SIZE: {
    severity: 'error',
    error: 'HIVE_BAD_CELL',
    summary: 'a cell size is 0, not a multiple of 8, or runs past its bin',
    why: 'cells must tile their bin exactly; Windows refuses the bin',
  },
  CELL_NIL: {
    severity: 'error',
    error: 'HIVE_BAD_CELL',
    summary: 'a required cell reference is nil',
    why: 'the record it belongs to cannot be read: Windows drops or refuses it, a reader would guess',
  },
  CELL_VOLATILE: {
    severity: 'error',
    error: 'HIVE_BAD_CELL',
    summary: 'a cell reference points into volatile storage',
    why: 'volatile storage exists only in memory: the reference leads nowhere on disk',
  },
  CELL_NOT_START: {
    severity: 'error',
    error: 'HIVE_BAD_CELL',
    summary: 'a cell reference does not point at the start of a cell',
    why: 'the record it leads to cannot be read: Windows refuses it, a reader would guess',
  },
  CELL_FREE: {
    severity: 'error',
    error: 'HIVE_BAD_CELL',
    summary: 'a cell reference points at a free cell',
    why: 'free cells hold leftovers: a reader would read stale data',
  },
  CELL_SHORT: {
    severity: 'error',
    error: 'HIVE_BAD_CELL',
    summary: 'a referenced cell is too small for what it must hold',
    why: 'reading it would run into the next cell',
  },
  CELL_SHARED: {
    severity: 'error',
    error: 'HIVE_BAD_CELL',
    summary: 'one cell is referenced from two places',
    why: 'a change through one reference would corrupt the other: Windows refuses such a hive',
  },
  // ── keys ──────────────────────────────────────────────────────────────────────────────────────────────────────────
  KEY_CYCLE: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: 'a key is reached twice: the tree has a cycle or a shared key',
    why: 'a key has one parent; a walk of the tree would not end',
  },
  KEY_SIGNATURE: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: 'a cell listed as a key is not a key node ("nk")',
    why: 'Windows refuses the hive; there is no key to read',
  },
  KEY_NAME: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: 'a key name is empty or runs past its cell',
    why: 'Windows checks that the name fits its cell; a reader would have to guess the name',
  },
  ROOT_FLAGS: {
    severity: 'warning',
    error: 'HIVE_STRUCTURE',
    summary: 'the root key lacks KEY_HIVE_ENTRY (0x4)',
    why: "Windows and offreg accept it (it is offreg's own choice); Samba cannot find the root and reglookup searches for it",
  },
  KEY_PARENT: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: 'a key names another parent than the key that lists it',
    why: 'Windows checks the parent of every key and refuses a mismatch',
  },
  KEY_FLAGS: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: 'a key is marked volatile or hive-exit',
    why: 'such keys exist only in memory and never belong in a file',
  },
  KEY_DEPTH: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: 'a key is nested more than 512 levels deep',
    why: 'Windows refuses hives nested deeper than 512 levels',
  },
  KEY_VOLATILE_COUNT: {
    severity: 'warning',
    error: 'HIVE_STRUCTURE',
    summary: 'a key records volatile subkeys',
    why: 'a file holds no volatile keys; Windows ignores the count on load',
  },
  KEY_MAX_VALUE_NAME: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: "a key's longest-value-name field is below its longest value name",
    why: 'Windows sizes buffers from it: a smaller field truncates names (a larger one is history, and fine)',
  },
  KEY_MAX_VALUE_DATA: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: "a key's largest-value-data field is below its largest value",
    why: 'Windows sizes buffers from it: a smaller field truncates data (a larger one is history, and fine)',
  },
  KEY_MAX_SUBKEY_NAME: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: "a key's longest-subkey-name field is below its longest subkey name",
    why: 'Windows sizes buffers from it: a smaller field truncates names (a larger one is history, and fine)',
  },
  KEY_MAX_SUBKEY_CLASS: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: "a key's longest-subkey-class field is below its longest subkey class",
    why: 'Windows sizes buffers from it: a smaller field truncates classes (a larger one is history, and fine)',
  },
  KEY_SYMLINK: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: 'a symbolic-link key holds other values than one REG_LINK SymbolicLinkValue',
    why: 'Windows checks this rule on load and drops what breaks it',
  },
  KEY_SUBKEY_COUNT: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: "a key's subkey count differs from what its lists hold",
    why: 'Windows and hivex compare the two; a reader would have to guess which is right',
  },
  KEY_DUPLICATE: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: 'two subkeys have the same name (case-insensitively)',
    why: 'Windows finds one of them only',
  },
  // ── subkey lists ──────────────────────────────────────────────────────────────────────────────────────────────────
  LAYERED_WITHOUT_FLAG: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: 'a key with layered-key bits, or a tombstone value, in a hive without the layered-keys flag',
    why: 'whether the key or value is deleted, replaced or merged depends on the flag: a reader would have to guess',
  },
  KEY_LAYER_RESERVED: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: "a key's layered-key bits set reserved bits (0x7c)",
    why: 'their meaning is unknown: a reader would have to guess what the key does to the hive below',
  },
  KEY_TOMBSTONE: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: 'a tombstone key (a deletion) holds values, subkeys or a class',
    why: 'a tombstone deletes the key below: what it holds has no meaning, and a reader would have to guess',
  },
  KEY_SUPERSEDE_TREE: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: 'a key below a supersede-tree key is a merge node or supersede-local',
    why: 'a supersede-tree key replaces its whole subtree; a merge below it contradicts that, and a reader would guess',
  },
  LIST_LH_OLD: {
    severity: 'warning',
    error: 'HIVE_STRUCTURE',
    summary: 'an "lh" list in a hive of version 1.3 or 1.4',
    why: 'Windows reads it; "lh" lists came with version 1.5, so old tools may not',
  },
  LIST_HASH: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: 'an "lh" hash does not match its subkey name',
    why: 'Windows looks keys up by the hash: it misses this key',
  },
  LIST_HINT: {
    severity: 'warning',
    error: 'HIVE_STRUCTURE',
    summary: 'an "lf" name hint does not match its subkey name',
    why: 'Windows falls back to comparing names; the hints depend on the locale that wrote them',
  },
  LIST_ORDER: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: 'subkeys are not sorted by upper-cased name',
    why: 'Windows binary-searches the lists: it misses keys and can corrupt the hive on write',
  },
  LIST_RI_NESTED: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: 'an "ri" index points at another "ri" index',
    why: 'Windows allows one level of index only',
  },
  LIST_SIGNATURE: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: 'a subkey list is not an li, lf, lh or ri list',
    why: 'Windows refuses the key: its subkeys cannot be read',
  },
  // ── values ────────────────────────────────────────────────────────────────────────────────────────────────────────
  VALUE_SIGNATURE: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: 'a cell in a value list is not a value ("vk")',
    why: 'Windows drops the value; a reader would guess',
  },
  VALUE_NAME: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: 'a value name runs past its cell',
    why: 'Windows checks that the name fits; a reader would have to guess the name',
  },
  VALUE_DUPLICATE: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: 'two values of a key have the same name (case-insensitively)',
    why: 'Windows finds one of them only',
  },
  VALUE_INLINE: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: 'a value claims more than 4 bytes stored inline',
    why: 'at most 4 bytes fit: the rest would be read from elsewhere',
  },
  VALUE_BIG_DATA: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: 'a value over 16,344 bytes has no valid big-data record',
    why: 'Windows deletes such a value on load; a reader would guess its data',
  },
  VALUE_SEGMENT_TIGHT: {
    severity: 'warning',
    error: 'HIVE_STRUCTURE',
    summary: 'a big-data segment has no 4 spare bytes',
    why: 'Windows reads it; hivex reads such a segment 4 bytes short',
  },
  VALUE_TOMBSTONE: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: 'a tombstone value (a deletion) is not REG_NONE with size 0 and data offset 0xFFFFFFFF',
    why: 'Windows writes deletions that way; data on a deletion leaves a reader guessing whether it is one',
  },
  VALUE_TYPE_SIZE: {
    severity: 'warning',
    error: 'HIVE_STRUCTURE',
    summary: 'a value size does not fit its type (a DWORD not of 4 bytes, a string of odd length)',
    why: 'Windows stores any bytes under any type (offreg writes 1-byte DWORDs); programs reading it may be surprised',
  },
  VALUE_STRING_NUL: {
    severity: 'warning',
    error: 'HIVE_STRUCTURE',
    summary: 'a string value does not end with a NUL',
    why: 'Windows returns it as it is; programs that expect the NUL may read past the end',
  },
  // ── security ──────────────────────────────────────────────────────────────────────────────────────────────────────
  SECURITY_SIGNATURE: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: 'a cell used as a security cell is not "sk"',
    why: "Windows validates every security cell on load and refuses the hive; the key's access rules are unknown",
  },
  SECURITY_ROOT: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: 'the root key has no valid security cell',
    why: 'Windows starts its security check at the root and refuses the hive',
  },
  SECURITY_LIST: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: 'the security cells do not form one consistent circular list',
    why: 'Windows walks the list on load and refuses the hive',
  },
  SECURITY_UNLISTED: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: 'a security cell used by keys is not in the security list',
    why: 'Windows validates only listed cells: these keys would carry an unchecked descriptor',
  },
  SECURITY_REFCOUNT: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: "a security cell's reference count is 0 or below the number of keys that use it",
    why: 'Windows frees the cell when the count reaches 0, while keys still use it',
  },
  SECURITY_REFCOUNT_HIGH: {
    severity: 'warning',
    error: 'HIVE_STRUCTURE',
    summary: "a security cell's reference count is above the number of keys that use it",
    why: 'a leak only: the cell is never freed. A hive the kernel healed and saved has such counts, and every reader reads it',
  },
  SECURITY_UNUSED: {
    severity: 'warning',
    error: 'HIVE_STRUCTURE',
    summary: 'a security cell in the list is used by no key',
    why: 'a leak only: a hive the kernel healed and saved has such cells, and every reader reads it',
  },
  SECURITY_DESCRIPTOR: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: 'a security descriptor runs past its cell or is not a valid self-relative descriptor',
    why: 'Windows checks every descriptor on load and refuses the hive',
  },
  UNREFERENCED_CELLS: {
    severity: 'warning',
    error: 'HIVE_STRUCTURE',
    summary: 'allocated cells that no key references',
    why: 'a leak only: Windows loads the hive (a kernel-healed hive has some); offreg writes none',
  },
  // ── limits ────────────────────────────────────────────────────────────────────────────────────────────────────────
  LIMIT_KEYS: {
    severity: 'error',
    error: 'HIVE_LIMIT',
    summary: "the hive has more keys than the reader's safety limit",
    why: 'winlayer stops reading there, so the rest of the hive is not checked',
  },
  LIMIT_VALUES: {
    severity: 'error',
    error: 'HIVE_LIMIT',
    summary: "a key has more values than the reader's safety limit",
    why: "winlayer does not read that key's values, so they are not checked",
  },
  LIMIT_VALUE_SIZE: {
    severity: 'error',
    error: 'HIVE_LIMIT',
    summary: "a value is larger than the reader's safety limit",
    why: 'winlayer does not read that value, so it is not checked',
  },
  UNREADABLE: {
    severity: 'error',
    error: 'HIVE_STRUCTURE',
    summary: 'the checker could not finish (a bug in winlayer)',
    why: 'what was not checked cannot be called valid; please report it',
  },
} as const satisfies Record<string, FindingInfo>;

/** A finding code (`HEADER_CHECKSUM`, `SECURITY_REFCOUNT`, …). */
export type FindingCode = keyof typeof HIVE_FINDINGS;

/** The severity the catalogue gives `code`. */
export function findingSeverity(code: FindingCode): 'error' | 'warning' {
  return HIVE_FINDINGS[code].severity;
}

/** The code of the error `openHive` throws for a finding of `code`. */
export function findingErrorCode(code: FindingCode): HiveErrorCode {
  return HIVE_FINDINGS[code].error;
}

/** A finding with the catalogue's severity for its code. */
export function makeFinding(
  code: FindingCode,
  message: string,
  where?: { readonly offset?: number; readonly keyPath?: string },
): HiveFinding {
  return {
    code,
    severity: findingSeverity(code),
    ...(where?.offset === undefined ? {} : { offset: where.offset }),
    ...(where?.keyPath === undefined ? {} : { keyPath: where.keyPath }),
    message,
  };
}

/**
 * The catalogue as the Markdown table of `docs/hive-findings.md` (a test compares the two). Codes in catalogue
 * order, errors and warnings together, `|` in the texts escaped.
 */
export function findingsTable(): string {
  const cell = (s: string): string => s.replace(/\|/g, '\\|');
  const rows = Object.entries(HIVE_FINDINGS).map(
    ([code, f]) => `| \`${code}\` | ${f.severity} | ${cell(f.summary)} | ${cell(f.why)} |`,
  );
  return ['| code | severity | meaning | why this severity |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
