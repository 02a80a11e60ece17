/**
 * The default metadata policy: what a file, folder or symlink of a layer folder gets when the sidecar has nothing for
 * it (`docs/layer-folder.md` § The default metadata policy). Pure: no fs, no clock, no environment.
 */
import type { WindowsMetadata } from '../entry.js';
import { WinlayerError } from '../errors.js';
import {
  FILE_ATTRIBUTE,
  SD_PRESETS,
  sddlToBytes,
  secondsToUnixNanos,
  truncateTo100ns,
  type UnixNanos,
} from '../windows/index.js';

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
   * `SOURCE_DATE_EPOCH` convention). The library never reads the environment: the CLI passes it.
   */
  readonly sourceDateEpoch?: number | bigint | string;
}

/** A checked policy: descriptor bytes and the clamp, ready to apply per entry. */
export interface MetadataPolicy {
  readonly dirSd: Uint8Array | undefined;
  readonly fileSd: Uint8Array | undefined;
  /** Nanoseconds; undefined = no clamp. */
  readonly clamp: UnixNanos | undefined;
}

/**
 * Checks the options and builds the policy. Throws `USAGE` for an unknown preset or a malformed epoch, `SDDL_INVALID`
 * for SDDL that does not parse.
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
    clamp: opts.sourceDateEpoch === undefined ? undefined : parseEpoch(opts.sourceDateEpoch),
  };
}

/** `SOURCE_DATE_EPOCH`: a non-negative whole number of seconds. */
export function parseEpoch(value: number | bigint | string): UnixNanos {
  const text = String(value).trim();
  if (!/^\d{1,15}$/.test(text)) {
    throw new WinlayerError('USAGE', `SOURCE_DATE_EPOCH "${String(value)}" is not a whole number of seconds`, {
      hint: 'give seconds since 1970-01-01 UTC, e.g. `--source-date-epoch 1700000000`',
    });
  }
  return secondsToUnixNanos(BigInt(text));
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

/**
 * The default metadata of an entry: attributes by kind (DIRECTORY; ARCHIVE; REPARSE_POINT, plus DIRECTORY for a
 * symlink to a folder), the preset or SDDL descriptor (folders get the folder one, files and symlinks the file one),
 * and the four times from `mtime`.
 */
export function defaultMetadata(policy: MetadataPolicy, kind: PolicyKind, mtime: UnixNanos): WindowsMetadata {
  let attributes: number;
  let sd: Uint8Array | undefined;
  if (kind === 'directory') {
    attributes = FILE_ATTRIBUTE.DIRECTORY;
    sd = policy.dirSd;
  } else if (kind === 'file') {
    attributes = FILE_ATTRIBUTE.ARCHIVE;
    sd = policy.fileSd;
  } else {
    attributes = FILE_ATTRIBUTE.REPARSE_POINT | (kind.symlinkToDirectory ? FILE_ATTRIBUTE.DIRECTORY : 0);
    sd = kind.symlinkToDirectory ? policy.dirSd : policy.fileSd;
  }
  // Object literals without spreads: this runs for every default entry of a walk.
  const t = policyTime(policy, mtime);
  if (sd === undefined) return { attributes, creationTime: t, lastWriteTime: t, lastAccessTime: t, changeTime: t };
  return { attributes, securityDescriptor: sd, creationTime: t, lastWriteTime: t, lastAccessTime: t, changeTime: t };
}
