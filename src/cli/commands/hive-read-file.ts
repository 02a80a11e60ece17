/** Reads a whole input file for the `hive` commands, turning a missing or unreadable file into a usage-class error. */
import { readFileSync } from 'node:fs';
import { inputFileError } from '../../errors.js';

/** The file's bytes; `NOT_FOUND`/`SOURCE_UNREADABLE` (exit 2) when it cannot be read. */
export function readInput(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw inputFileError(e, path);
  }
}
