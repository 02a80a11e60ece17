/** `mergeRegFile`: a `.reg` file applied to a hive file in place, checked clean, written atomically. */
import { statSync } from 'node:fs';
import { writeFileAtomic } from '../atomic.js';
import { WinlayerError } from '../errors.js';
import { readInputFile } from '../internal/read-input.js';
import { checkHive } from './check.js';
import { mergeReg } from './reg.js';

/** Options of `mergeRegFile`. */
export interface MergeRegFileOptions {
  /** The key path in the `.reg` file that stands for the hive root (default: as `mergeReg` finds it). */
  readonly prefix?: string;
  /** Last-write time of new keys (FILETIME; default 0). */
  readonly timestamp?: bigint;
}

/** What `mergeRegFile` wrote. */
export interface MergeRegFileResult {
  /** The hive file, rewritten. */
  readonly path: string;
  /** Its new size in bytes. */
  readonly size: number;
}

/**
 * Applies the `.reg` file at `regPath` (or several, in order: all or none of them) to the hive file at `hivePath`
 * (`mergeReg`) and replaces the hive file atomically, keeping its permission bits (a 0600 SAM stays 0600). The merged
 * hive always checks clean: a merge that would not is a bug of ours (`INTERNAL`) and writes nothing. Buffers both files (hives are small). Throws
 * `NOT_FOUND`/`SOURCE_UNREADABLE` for a file that cannot be read, and what `mergeReg` throws.
 */
export function mergeRegFile(
  hivePath: string,
  regPath: string | readonly string[],
  opts: MergeRegFileOptions = {},
): MergeRegFileResult {
  let out = readInputFile(hivePath);
  for (const reg of typeof regPath === 'string' ? [regPath] : regPath) {
    out = mergeReg(out, readInputFile(reg), { ...opts, path: hivePath });
  }
  const check = checkHive(out);
  if (check.errors.length > 0) {
    throw new WinlayerError('INTERNAL', `the merged hive does not check clean: ${check.errors[0]!.message}`, {
      path: hivePath,
    });
  }
  writeFileAtomic(hivePath, out, { mode: statSync(hivePath).mode & 0o7777 });
  return { path: hivePath, size: out.length };
}
