/**
 * The one error type of winlayer. Every failure a user can act on is a `WinlayerError` with a stable `code`, the file
 * or entry it concerns, the rule it breaks (the message) and, where possible, a hint that says how to fix it.
 *
 * This module sits beneath every folder of the house (even `windows/`): it imports nothing and holds no logic beyond
 * formatting, so every layer can throw the same type without a dependency pointing upward.
 */

/** What an error means and how the CLI exits on it. `exit` is 1 (failure) or 2 (usage / unreadable input). */
interface CodeInfo {
  readonly summary: string;
  readonly exit: 1 | 2;
}

/**
 * The catalog. Each folder owns a section; add codes to your own section. The `satisfies` keeps every code described.
 */
export const ERROR_CODES = {
  // ── general ──────────────────────────────────────────────────────────────────────────────────────────────────────
  USAGE: { summary: 'the command line is not valid', exit: 2 },
  INTERNAL: { summary: 'a bug in winlayer', exit: 1 },
  IO: { summary: 'a file could not be read or written', exit: 1 },
  NOT_FOUND: { summary: 'a file or folder does not exist', exit: 2 },
  INTERRUPTED: { summary: 'the operation was interrupted', exit: 1 },
  BODY_STALE: { summary: 'an entry body was read after the stream moved on, or twice', exit: 1 },
  // ── windows codecs ───────────────────────────────────────────────────────────────────────────────────────────────
  TIME_INVALID: { summary: 'a time value is malformed or out of range', exit: 1 },
  ATTR_INVALID: { summary: 'a file attribute value is malformed', exit: 1 },
  SD_INVALID: { summary: 'a security descriptor is malformed', exit: 1 },
  SDDL_INVALID: { summary: 'an SDDL string is malformed', exit: 1 },
  SID_INVALID: { summary: 'a security identifier is malformed', exit: 1 },
  NAME_INVALID: { summary: 'a name that Windows cannot hold', exit: 1 },
  NAME_COLLISION: { summary: 'two names that are equal on Windows (case-insensitive)', exit: 1 },
  REPARSE_INVALID: { summary: 'reparse data is malformed', exit: 1 },
  // ── tar codec ────────────────────────────────────────────────────────────────────────────────────────────────────
  TAR_CHECKSUM: { summary: 'a tar header checksum does not match', exit: 1 },
  TAR_TRUNCATED: { summary: 'the archive ends before an entry or its data is complete', exit: 1 },
  NOT_A_TAR: { summary: 'the input is not a tar archive (text, zip, a hive, empty…)', exit: 2 },
  TAR_HEADER: { summary: 'a tar header field is malformed', exit: 1 },
  TAR_PAX: { summary: 'a PAX extended header record is malformed', exit: 1 },
  TAR_PAX_VALUE: { summary: 'a PAX record has a value that cannot be decoded', exit: 1 },
  TAR_TOO_LARGE: { summary: 'an entry or header exceeds a safety limit', exit: 1 },
  TAR_UNSUPPORTED: { summary: 'a tar feature winlayer does not support', exit: 1 },
  TAR_ENTRY: { summary: 'an entry cannot be written as given', exit: 1 },
  COMPRESSION: { summary: 'compressed data is corrupt or of an unknown kind', exit: 1 },
  // ── hive ─────────────────────────────────────────────────────────────────────────────────────────────────────────
  HIVE_HEADER: { summary: 'the hive base block is invalid', exit: 1 },
  HIVE_DIRTY: { summary: 'the hive is dirty and needs transaction logs', exit: 1 },
  HIVE_BIN: { summary: 'a hive bin is invalid', exit: 1 },
  HIVE_BAD_CELL: { summary: 'a hive cell is invalid', exit: 1 },
  HIVE_STRUCTURE: { summary: 'the hive key tree is inconsistent', exit: 1 },
  HIVE_LIMIT: { summary: 'a hive exceeds a safety limit', exit: 1 },
  HIVE_BUILD: { summary: 'a hive cannot be built as asked', exit: 1 },
  HIVE_EXISTS: { summary: 'the hive to create exists already (--force replaces it)', exit: 1 },
  HIVE_NOT_FOUND: { summary: 'a key or value does not exist in the hive', exit: 1 },
  REG_SYNTAX: { summary: 'a .reg file is malformed', exit: 1 },
  // ── layer ────────────────────────────────────────────────────────────────────────────────────────────────────────
  LAYER_INVALID: { summary: 'the layer breaks a Windows layer rule', exit: 1 },
  LAYER_UNSAFE: { summary: 'the archive tries to write outside the layer or through a link', exit: 1 },
  LAYER_EXISTS: { summary: 'the target exists and is not empty', exit: 1 },
  LAYER_SPECIAL_FILE: { summary: 'a file kind that a Windows layer cannot hold', exit: 1 },
  LAYER_SYMLINK: { summary: 'a symbolic link that cannot go into a layer', exit: 1 },
  LAYER_HIVE: { summary: 'a registry hive of the layer is missing, empty, dirty or corrupt', exit: 1 },
  LAYER_BCD: { summary: 'the UtilityVM boot configuration (BCD) is missing or invalid', exit: 1 },
  SIDECAR_INVALID: { summary: 'the .winlayer metadata sidecar is malformed', exit: 1 },
  LAYER_HARDLINK: { summary: 'a hard link whose target is missing, later, outside the layer or not a file', exit: 1 },
  // ── oci ──────────────────────────────────────────────────────────────────────────────────────────────────────────
  INVALID_IMAGE: { summary: 'an image document (index, manifest, config, manifest.json) is malformed', exit: 1 },
  OCI_DIGEST: { summary: 'content does not match its digest', exit: 1 },
  OCI_PLATFORM: { summary: 'no image matches the platform', exit: 1 },
  OCI_REF: { summary: 'an image reference is malformed', exit: 2 },
  REGISTRY: { summary: 'the registry refused or failed a request', exit: 1 },
  REGISTRY_AUTH: { summary: 'the registry refused the credentials', exit: 1 },
  // ── cli ──────────────────────────────────────────────────────────────────────────────────────────────────────────
  SOURCE_UNREADABLE: { summary: 'an input cannot be opened or recognised', exit: 2 },
} as const satisfies Record<string, CodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface WinlayerErrorDetails {
  /** The file on the host this error is about. */
  readonly path?: string;
  /** The layer entry (tar name or layer path) this error is about. */
  readonly entry?: string;
  /** Byte offset inside the file or archive, where it helps. */
  readonly offset?: number | bigint;
  /** How to fix it, in one sentence. */
  readonly hint?: string;
  readonly cause?: unknown;
}

/**
 * A failure a user can act on. The message is complete on its own: where (file, entry, offset), what rule, and the
 * code in parentheses, e.g. `Hives/System_Delta: cell at 0x2040 is not a key node (HIVE_BAD_CELL)`.
 */
export class WinlayerError extends Error {
  readonly code: ErrorCode;
  readonly path: string | undefined;
  readonly entry: string | undefined;
  readonly offset: number | bigint | undefined;
  readonly hint: string | undefined;
  /** The rule broken, as given: no file, entry, offset or code (for a caller that reports it again in its own words). */
  readonly rule: string;
  /**
   * The message without the file and entry it names: the rule, the offset and the code. For a report that shows the
   * entry in a column of its own (lint findings), so the entry is not printed twice.
   */
  readonly reason: string;

  constructor(code: ErrorCode, rule: string, details: WinlayerErrorDetails = {}) {
    super(formatMessage(code, rule, details), details.cause === undefined ? undefined : { cause: details.cause });
    this.rule = rule;
    this.reason = `${rule}${offsetText(details.offset)} (${code})`;
    this.name = 'WinlayerError';
    this.code = code;
    this.path = details.path;
    this.entry = details.entry;
    this.offset = details.offset;
    this.hint = details.hint;
  }

  /** The exit status the CLI uses for this error. */
  get exitCode(): 1 | 2 {
    return ERROR_CODES[this.code].exit;
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      ...(this.path === undefined ? {} : { path: this.path }),
      ...(this.entry === undefined ? {} : { entry: this.entry }),
      ...(this.offset === undefined ? {} : { offset: Number(this.offset) }),
      ...(this.hint === undefined ? {} : { hint: this.hint }),
    };
  }
}

/**
 * `path: entry: rule at offset 0x… (CODE)` and the hint on a line of its own. A path or entry is named once: an entry
 * equal to the path, or one the rule itself names, is left out of the prefix.
 */
function formatMessage(code: ErrorCode, rule: string, d: WinlayerErrorDetails): string {
  const where: string[] = [];
  if (d.path !== undefined && d.path !== '' && !namedIn(rule, d.path)) where.push(d.path);
  if (d.entry !== undefined && d.entry !== '' && d.entry !== d.path && !namedIn(rule, d.entry)) {
    where.push(d.entry);
  }
  const head = where.length === 0 ? rule : `${where.join(': ')}: ${rule}`;
  const hint = d.hint === undefined ? '' : `\n  hint: ${d.hint}`;
  return `${head}${offsetText(d.offset)} (${code})${hint}`;
}

function offsetText(offset: number | bigint | undefined): string {
  return offset === undefined ? '' : ` at offset 0x${offset.toString(16)}`;
}

/**
 * True when `rule` names `name` as a whole word: at its start (`Files/a: …`, `Files/a is …`), or, for a path (it holds
 * a `/`, so it is no common word), anywhere (`Files/A and Files/a are the same name`). Not when it only shares the
 * first letters (`Files/ab`).
 */
function namedIn(rule: string, name: string): boolean {
  for (let at = rule.indexOf(name); at >= 0; at = rule.indexOf(name, at + 1)) {
    if (at > 0 && !(name.includes('/') && ' "\'('.includes(rule.charAt(at - 1)))) continue;
    const next = rule.charAt(at + name.length);
    if (next === '' || ' :"\',)'.includes(next)) return true;
  }
  return false;
}

/** True for a `WinlayerError`, optionally of one of the given codes. */
export function isWinlayerError(e: unknown, ...codes: ErrorCode[]): e is WinlayerError {
  return e instanceof WinlayerError && (codes.length === 0 || codes.includes(e.code));
}

/**
 * The error for an input file that cannot be opened or read: `NOT_FOUND` when it does not exist, else
 * `SOURCE_UNREADABLE` (both exit 2: the command was given something it cannot use).
 */
export function inputFileError(e: unknown, path: string): WinlayerError {
  const code = (e as NodeJS.ErrnoException).code;
  return new WinlayerError(
    code === 'ENOENT' ? 'NOT_FOUND' : 'SOURCE_UNREADABLE',
    `cannot read: ${(e as Error).message}`,
    {
      path,
      cause: e,
    },
  );
}
