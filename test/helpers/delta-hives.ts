/**
 * Differencing hives the tests make with our writer (a `layered` builder), never copied from Windows: a delta as
 * Windows writes one for typical changes (delta-hives.md §2), which the reader, checker, dump, lint and `ls --long`
 * tests share.
 */
import { buildHive, createHiveBuilder } from '../../src/hive/index.js';

/** One fixed FILETIME, so every made hive is the same bytes on every run. */
const TIMESTAMP = 133_500_000_000_000_000n;

/** The key the changes of {@link deltaHive} are under. */
export const DELTA_SERVICES = 'ControlSet001\\Services';

/**
 * Merge nodes with InheritClass on the way to each change (every key's access bits 0x2 on the root, as Windows wrote
 * them); a changed and a deleted value; a deleted key (tombstone); a new key with a subkey (supersede-tree); and a
 * supersede-local key.
 */
export function deltaHive(): Uint8Array {
  const b = createHiveBuilder({ layered: true });
  b.root.accessBits = 0x2; // setLayer keeps the access byte
  b.root.setLayer('merge');
  b.key('ControlSet001').setLayer('merge', { inheritClass: true });
  const s = DELTA_SERVICES;
  b.key(s).setLayer('merge', { inheritClass: true }).setTombstoneValue('Gone').setDword('Changed', 2);
  b.key(`${s}\\Old`).setLayer('tombstone');
  b.key(`${s}\\New`).setLayer('supersede-tree').setDword('Start', 3);
  b.key(`${s}\\New\\Parameters`).setLayer('supersede-tree').setDword('p', 1);
  b.key(`${s}\\Local`).setLayer('supersede-local').setDword('Only', 1);
  return buildHive(b, { timestamp: TIMESTAMP });
}
