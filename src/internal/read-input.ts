/** Reading a whole small input file (a hive, a `.reg` file) with the project's input-file errors. */
import { readFileSync } from 'node:fs';
import { inputFileError } from '../errors.js';

/**
 * The file's bytes. Buffers: for inputs that are small by nature (hives, `.reg` files), never for layers. Throws
 * `NOT_FOUND` when it does not exist, else `SOURCE_UNREADABLE` (both exit 2: the command was given something it
 * cannot use).
 */
export function readInputFile(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw inputFileError(e, path);
  }
}
