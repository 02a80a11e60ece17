/**
 * The default metadata policy: what a file, folder or symlink of a layer folder gets when the sidecar has nothing for
 * it (`docs/layer-folder.md` § The default metadata policy), and the one reader of `SOURCE_DATE_EPOCH` text
 * ({@link parseSourceDateEpoch}). Pure: no fs, no clock, no environment.
 */
import type { WindowsMetadata } from '../entry.js';
import { WinlayerError } from '../errors.js';
import { secondsToUnixNanos, truncateTo100ns } from '../internal/windows.js';
import { defaultAttributes, SD_PRESETS, sddlToBytes, type UnixNanos } from '../windows/index.js';

/** `--sd`: which security descriptors default entries get. `none` writes no `MSWINDOWS.rawsd`. */
export type SdPreset = 'users' | 'admins' | 'none';

/** The preset used when none is given (see `docs/layer-folder.md` for why). */
export const DEFAULT_SD_PRESET: SdPreset = 'users';

/** What the caller asks for; `resolvePolicy` checks it and turns it into a `MetadataPolicy`. */
export interface PolicyOptions {
  /** Default `users`. */
  readonly sd?: SdPreset;
  /** SDDL for folders; overrides the preset's folder descriptor. */
  readonly dirSd?: string;
  /** SDDL for files and symlinks; overrides the preset's file descriptor. */
  readonly fileSd?: string;
  /**
   * Clamp every time that does not come from the sidecar to at most this many seconds since the epoch (the
   * `SOURCE_DATE_EPOCH` convention): a whole number from 0 to {@link MAX_SOURCE_DATE_EPOCH}. The library reads no
   * environment variable; the CLI reads `SOURCE_DATE_EPOCH` with {@link parseSourceDateEpoch} and passes the number.
   */
  readonly sourceDateEpoch?: number;
}

/** A checked policy: descriptor bytes and the clamp, ready to apply per entry. */
export interface MetadataPolicy {
  readonly dirSd: Uint8Array | undefined;
  readonly fileSd: Uint8Array | undefined;
  /** Nanoseconds; undefined = no clamp. */
  readonly clamp: UnixNanos | undefined;
}

/**
 * Checks the options and builds the policy. Throws `USAGE` for an unknown preset or an epoch out of range,
 * `SDDL_INVALID` for SDDL that does not parse.
 */
export function resolvePolicy(opts: PolicyOptions = {}): MetadataPolicy {
  const preset = opts.sd ?? DEFAULT_SD_PRESET;
  if (preset !== 'users' && preset !== 'admins' && preset !== 'none') {
    throw new WinlayerError('USAGE', `unknown security descriptor preset "${String(preset)}"`, {
      hint: 'use --sd users, --sd admins or --sd none, or give --dir-sd/--file-sd SDDL',
    });
  }
  const base = preset === 'none' ? undefined : SD_PRESETS[preset];
  const dirSddl = opts.dirSd ?? base?.dir;
  const fileSddl = opts.fileSd ?? base?.file;
  return {
    dirSd: dirSddl === undefined ? undefined : sddlToBytes(dirSddl),
    fileSd: fileSddl === undefined ? undefined : sddlToBytes(fileSddl),
    clamp:
      opts.sourceDateEpoch === undefined
        ? undefined
        : secondsToUnixNanos(BigInt(checkSourceDateEpoch(opts.sourceDateEpoch))),
  };
}

/**
 * The last second `SOURCE_DATE_EPOCH` may name: 9999-12-31T23:59:59Z, the last one an image's `created` time
 * (RFC 3339, four-digit year) can hold. One range for every use (time clamps, `created`, archive member times).
 */
export const MAX_SOURCE_DATE_EPOCH = 253_402_300_799;

const EPOCH_RULE = `decimal digits only, seconds since 1970-01-01 UTC from 0 to ${MAX_SOURCE_DATE_EPOCH}`;

/**
 * Reads `SOURCE_DATE_EPOCH` text (the environment variable, or `--source-date-epoch`, named by `name` in messages):
 * undefined or `''` means unset (undefined), otherwise decimal digits only (no sign, space or fraction; leading zeros
 * allowed) up to {@link MAX_SOURCE_DATE_EPOCH}. The one parser: every command that honours the variable reads it
 * here. Throws `USAGE` naming the variable and the rule.
 */
export function parseSourceDateEpoch(text: string | undefined, name = 'SOURCE_DATE_EPOCH'): number | undefined {
  if (text === undefined || text === '') return undefined;
  const seconds = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!(seconds <= MAX_SOURCE_DATE_EPOCH)) {
    throw new WinlayerError('USAGE', `${name} ${JSON.stringify(text)} is not a time: it must be ${EPOCH_RULE}`, {
      hint: 'e.g. SOURCE_DATE_EPOCH=1700000000 (`git log -1 --format=%ct`), or set it empty to leave times alone',
    });
  }
  return seconds;
}

/** Checks a `sourceDateEpoch` option (a whole number of seconds in range). Returns it; throws `USAGE`. */
export function checkSourceDateEpoch(seconds: number): number {
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 0 || seconds > MAX_SOURCE_DATE_EPOCH) {
    throw new WinlayerError('USAGE', `sourceDateEpoch ${String(seconds)} is not a time: it must be ${EPOCH_RULE}`, {
      hint: 'read SOURCE_DATE_EPOCH text with parseSourceDateEpoch, which gives such a number',
    });
  }
  return seconds;
}

/** A disk modification time as a default Windows time: truncated to 100 ns, then clamped. */
export function policyTime(policy: MetadataPolicy, mtime: UnixNanos): UnixNanos {
  const t = truncateTo100ns(mtime);
  return policy.clamp !== undefined && t > policy.clamp ? policy.clamp : t;
}

/** The four times of a default entry: all equal to the (truncated, clamped) modification time. */
export function policyTimes(
  policy: MetadataPolicy,
  mtime: UnixNanos,
): Pick<WindowsMetadata, 'creationTime' | 'lastWriteTime' | 'lastAccessTime' | 'changeTime'> {
  const t = policyTime(policy, mtime);
  return { creationTime: t, lastWriteTime: t, lastAccessTime: t, changeTime: t };
}

/** What kind of object the default metadata is for. */
export type PolicyKind = 'directory' | 'file' | { readonly symlinkToDirectory: boolean };

// The four default attribute values, computed once: `defaultMetadata` runs for every default entry of a walk.
const DIRECTORY_ATTRIBUTES = defaultAttributes('directory');
const FILE_ATTRIBUTES = defaultAttributes('file');
const FOLDER_LINK_ATTRIBUTES = defaultAttributes('symlink', { toDirectory: true });
const FILE_LINK_ATTRIBUTES = defaultAttributes('symlink', { toDirectory: false });

/**
 * The default metadata of an entry: attributes by kind (`defaultAttributes` in `windows/attributes.ts`: DIRECTORY,
 * ARCHIVE, REPARSE_POINT|DIRECTORY for a symlink to a folder, REPARSE_POINT|ARCHIVE for a symlink to a file), the
 * preset or SDDL descriptor (folders and folder links get the folder one, files and file links the file one), and the
 * four times from `mtime`.
 */
export function defaultMetadata(policy: MetadataPolicy, kind: PolicyKind, mtime: UnixNanos): WindowsMetadata {
  let attributes: number;
  let sd: Uint8Array | undefined;
  if (kind === 'directory') {
    attributes = DIRECTORY_ATTRIBUTES;
    sd = policy.dirSd;
  } else if (kind === 'file') {
    attributes = FILE_ATTRIBUTES;
    sd = policy.fileSd;
  } else {
    attributes = kind.symlinkToDirectory ? FOLDER_LINK_ATTRIBUTES : FILE_LINK_ATTRIBUTES;
    sd = kind.symlinkToDirectory ? policy.dirSd : policy.fileSd;
  }
  // Object literals without spreads: this runs for every default entry of a walk.
  const t = policyTime(policy, mtime);
  if (sd === undefined) return { attributes, creationTime: t, lastWriteTime: t, lastAccessTime: t, changeTime: t };
  return { attributes, securityDescriptor: sd, creationTime: t, lastWriteTime: t, lastAccessTime: t, changeTime: t };
}
