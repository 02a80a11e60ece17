/** One hive finding as a line of text, for `hive check` and the warnings of `hive dump`. */
import type { HiveFinding } from '../../hive/index.js';
import { escapeControls } from '../../terminal-text.js';

/**
 * `CODE: message (at 0x…, key \path)`. The offset is a file offset; the message and the key path quote names from the
 * hive, so their control characters are escaped.
 */
export function findingLine(f: HiveFinding): string {
  const where = [
    f.offset === undefined ? '' : `at 0x${f.offset.toString(16)}`,
    f.keyPath === undefined ? '' : `key \\${f.keyPath}`,
  ]
    .filter((s) => s !== '')
    .join(', ');
  return escapeControls(`${f.code}: ${f.message}${where === '' ? '' : ` (${where})`}`);
}
