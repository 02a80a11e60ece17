/** Reads a whole input file for the `hive` commands, turning a missing or unreadable file into a usage-class error. */
import { readFileSync } from 'node:fs';
import { WinlayerError } from '../../errors.js';

/** The file's bytes; `NOT_FOUND`/`SOURCE_UNREADABLE` (exit 2) when it cannot be read. */
export function readInput(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new WinlayerError(
      code === 'ENOENT' ? 'NOT_FOUND' : 'SOURCE_UNREADABLE',
      `cannot read: ${(e as Error).message}`,
      {
        path,
        cause: e,
      },
    );
  }
}
