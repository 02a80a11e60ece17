/**
 * Hives the tests make with our writer, in place of real files the project may not copy (see
 * test/fixtures/PROVENANCE.md): well-formed ones that exercise what the hivex test hives do, and damaged ones with
 * the defects of yarp's invalid hives. The damage is done at offsets read from the hive through the layout tables,
 * so it follows wherever the writer puts its cells.
 */
import { buildHive, createEmptyHive, createHiveBuilder, REG } from '../../src/hive/index.js';
import {
  cellToFileOffset,
  decodeName,
  HBIN,
  HEADER,
  headerChecksum,
  KEY_FLAG,
  LIST,
  NK,
  sig2,
  viewOf,
} from '../../src/hive/layout.js';

/** One fixed FILETIME, so every made hive is the same bytes on every run. */
const TIMESTAMP = 133_500_000_000_000_000n;

// ── well-formed hives ────────────────────────────────────────────────────────────────────────────────────────────

/** A hive with nothing but its root key (what hivex's `minimal` is). */
export function rootOnlyHive(): Uint8Array {
  return createEmptyHive({ timestamp: TIMESTAMP });
}

/** Key and value names with non-ASCII characters (Latin-1 and beyond) and with NUL inside (as hivex's `special`). */
export function specialNamesHive(): Uint8Array {
  const b = createHiveBuilder();
  b.key('abcd_äöüß').setDword('abcd_äöüß', 0);
  b.key('weird™').setDword('symbols $£₤₧€', 0);
  b.key('zero\0key').setDword('zero\0val', 0);
  return buildHive(b, { timestamp: TIMESTAMP });
}

/** Values of lengths around the inline (4 bytes) and cell-size boundaries (as hivex's `rlenvalue_test_hive`). */
function oddValueLengthsHive(): Uint8Array {
  const b = createHiveBuilder();
  const k = b.key('ModerateValueParent');
  for (const n of [0, 1, 3, 4, 5, 16, 30, 31, 32, 33]) {
    k.setValue(
      `${n}Bytes`,
      REG.BINARY,
      Uint8Array.from({ length: n }, (_, i) => 0x30 + (i % 16)),
    );
  }
  return buildHive(b, { timestamp: TIMESTAMP });
}

/** Values above one cell's 16,344 bytes, stored as big data (`db` records) in a 1.5 hive. */
export function bigDataHive(): Uint8Array {
  const b = createHiveBuilder();
  const k = b.key('Big');
  for (const n of [16344, 16345, 40_000]) {
    k.setValue(
      `b${n}`,
      REG.BINARY,
      Uint8Array.from({ length: n }, (_, i) => (i * 31 + n) & 0xff),
    );
  }
  return buildHive(b, { timestamp: TIMESTAMP });
}

/** The well-formed hives we make, by name: each must check clean and read back as written. */
export function madeValidHives(): Map<string, Uint8Array> {
  return new Map([
    ['root-only', rootOnlyHive()],
    ['special-names', specialNamesHive()],
    ['odd-value-lengths', oddValueLengthsHive()],
    ['big-data', bigDataHive()],
  ]);
}

// ── damaged hives ────────────────────────────────────────────────────────────────────────────────────────────────

/** Two keys with a subkey and a value each, and a third with enough subkeys that the hive spans several bins. */
function treeHive(): Uint8Array {
  const b = createHiveBuilder();
  for (const name of ['A', 'B']) {
    const k = b.key(name);
    k.setDword('v', 1);
    k.subkey('sub').setDword('v', 2);
  }
  const many = b.key('Many');
  for (let i = 0; i < 60; i++) many.subkey(`Key${i}`).setString('s', 'x'.repeat(40));
  return buildHive(b, { timestamp: TIMESTAMP });
}

/** A subkey list that points at the wrong kind of cell: key `A`'s subkey list offset names its security cell. */
export function badListHive(): Uint8Array {
  const bytes = treeHive();
  const a = keyCell(bytes, ['A']);
  setField(bytes, a, NK.subkeyList.at, field(bytes, a, NK.security.at));
  return bytes;
}

/** A subkey list entry that is not a key node: the entry of `A\sub` in `A`'s list names `A`'s security cell. */
function badSubkeyHive(): Uint8Array {
  const bytes = treeHive();
  const a = keyCell(bytes, ['A']);
  setField(bytes, field(bytes, a, NK.subkeyList.at), LIST.elements.at, field(bytes, a, NK.security.at));
  return bytes;
}

/** The file ends before the hive bins its header declares: only the base block and the first bin are left. */
export function truncatedHive(): Uint8Array {
  const bytes = treeHive();
  const firstBinEnd = cellToFileOffset(viewOf(bytes).getUint32(cellToFileOffset(HBIN.size.at), true));
  if (firstBinEnd >= bytes.length) throw new Error('the tree hive must span more than one bin');
  return bytes.slice(0, firstBinEnd);
}

/** 1 KiB: not even a whole base block, let alone a bin. */
function truncatedBinHive(): Uint8Array {
  return treeHive().slice(0, 1024);
}

/** The header checksum is wrong, and bytes that are not hive bins follow the last bin. */
export function garbageHive(): Uint8Array {
  const bytes = treeHive();
  const v = viewOf(bytes);
  v.setUint32(HEADER.checksum.at, headerChecksum(bytes) ^ 0x5a5a5a5a, true);
  const out = new Uint8Array(bytes.length + 7);
  out.set(bytes);
  out.set(Buffer.from('garbage'), bytes.length);
  return out;
}

/** The damaged hives we make, by name: each must give check errors, and a typed error when opened. */
export function madeInvalidHives(): Map<string, Uint8Array> {
  return new Map([
    ['bad-list', badListHive()],
    ['bad-subkey', badSubkeyHive()],
    ['truncated', truncatedHive()],
    ['truncated-bin', truncatedBinHive()],
    ['garbage', garbageHive()],
  ]);
}

// ── finding cells ────────────────────────────────────────────────────────────────────────────────────────────────

/** A u32 field of the cell at `cell` (a hive-bins offset), `at` bytes into its data. */
function field(bytes: Uint8Array, cell: number, at: number): number {
  return viewOf(bytes).getUint32(cellToFileOffset(cell) + 4 + at, true);
}

function setField(bytes: Uint8Array, cell: number, at: number, value: number): void {
  viewOf(bytes).setUint32(cellToFileOffset(cell) + 4 + at, value, true);
}

/** The two-letter signature of the cell at `cell`. */
function signature(bytes: Uint8Array, cell: number): number {
  return viewOf(bytes).getUint16(cellToFileOffset(cell) + 4, true);
}

/** The name of the key node at `cell`. */
function keyName(bytes: Uint8Array, cell: number): string {
  const v = viewOf(bytes);
  const at = cellToFileOffset(cell) + 4;
  const length = v.getUint16(at + NK.nameLength.at, true);
  const compressed = (v.getUint16(at + NK.flags.at, true) & KEY_FLAG.COMP_NAME) !== 0;
  return decodeName(bytes.subarray(at + NK.name.at, at + NK.name.at + length), compressed);
}

/** The key node cells a leaf subkey list (`lf`, `lh`: offset and hash; `li`: offset) names. */
function subkeyCells(bytes: Uint8Array, list: number): number[] {
  const sig = signature(bytes, list);
  const width = sig === sig2('li') ? 4 : 8;
  if (sig !== sig2('li') && sig !== sig2('lf') && sig !== sig2('lh')) throw new Error('not a leaf subkey list');
  const count = viewOf(bytes).getUint16(cellToFileOffset(list) + 4 + LIST.count.at, true);
  return Array.from({ length: count }, (_, i) => field(bytes, list, LIST.elements.at + i * width));
}

/** The key node cell at `path` below the root, found through the subkey lists. */
function keyCell(bytes: Uint8Array, path: string[]): number {
  let cell = viewOf(bytes).getUint32(HEADER.rootCell.at, true);
  for (const name of path) {
    const next = subkeyCells(bytes, field(bytes, cell, NK.subkeyList.at)).find((c) => keyName(bytes, c) === name);
    if (next === undefined) throw new Error(`no key ${name} in the made hive`);
    cell = next;
  }
  return cell;
}
