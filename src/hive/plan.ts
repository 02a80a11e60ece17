/**
 * The planner and the writer of `buildHive`. `planHive` lays the tree out as offreg's `ORSaveHive` does — keys breadth
 * first (siblings sorted); per key its nk, a new security cell, class, value list, each vk and its data (db record,
 * segment list, segments), then its subkey list (ri, then the leaves) — and records every cell's offset in a
 * `HivePlan`. `writePlan` then writes each cell at its planned offset into one buffer of exactly the file's size.
 */
import { WinlayerError } from '../errors.js';
import { compareUpcase, equalUpcase } from '../windows/index.js';
import { Allocator } from './allocator.js';
import type { HiveKeyBuilder, ValueSlots } from './build.js';
import {
  CellCursor,
  classCellSize,
  DB_CELL_SIZE,
  dataCellCount,
  dataCellSize,
  dataForm,
  type HiveBytes,
  leafCellSize,
  leafCount,
  nkCellSize,
  riCellSize,
  SEGMENT_CELL_SIZE,
  segmentCount,
  segmentListCellSize,
  skCellSize,
  valueListCellSize,
  vkCellSize,
  writeBaseBlock,
  writeBins,
  writeClass,
  writeNk,
  writeSk,
  writeSubkeyList,
  writeValueListCell,
  writeVk,
} from './encode.js';
import {
  BASE_BLOCK_SIZE,
  KEY_FLAG,
  LAYER_BITS,
  layerByte,
  MAX_DEPTH,
  NIL,
  OFFREG_LEAF_MAX,
  REF_LIST,
  VALUE_TOMBSTONE,
  VOLATILE_CELL,
} from './layout.js';
import { REG } from './types.js';

/**
 * The writer's read access to a key builder's lists, without copies. The lists are private to the tree API
 * (`build.ts`), which hands this to `planHive` and `writePlan` only.
 */
export interface KeyLists {
  subkeys(k: HiveKeyBuilder): readonly HiveKeyBuilder[];
  /** The key's values, `VALUE_SLOTS` slots each (see `ValueSlot`). */
  values(k: HiveKeyBuilder): Readonly<ValueSlots>;
}

/** The slots of one value in a key's flat value list. */
export const ValueSlot = { name: 0, type: 1, chunk: 2, offset: 3, size: 4, flags: 5 } as const;
/** Slots per value. */
export const VALUE_SLOTS = 6;

/** What `buildHive` decided from the builder and its options. */
export interface PlanSettings {
  readonly minor: number;
  readonly rootFlags: number;
  /** FILETIME of every key without its own, and offreg's save stamp. */
  readonly timestamp: bigint;
  readonly layered: boolean;
}

/** A security cell: its descriptor, where it goes and how many keys use it. */
interface SkCell {
  readonly sd: Uint8Array;
  readonly at: number;
  refs: number;
}

/**
 * Where every cell of the hive goes. Per key (breadth-first index; the subkeys of a key are contiguous and sorted):
 * its builder, parent, nk and security cell. Every other cell is in `cells`, in allocation order, which is the order
 * the writer visits them. Typed arrays sized by a count of the keys and cells: no object per key or value.
 */
export interface HivePlan {
  readonly settings: PlanSettings;
  /** The keys breadth first; index 0 is the root. */
  readonly keys: HiveKeyBuilder[];
  /** Index of each key's parent (-1 for the root). */
  readonly parent: Int32Array;
  /** Offset of each key's nk. */
  readonly nk: Uint32Array;
  /** Index in `sks` of each key's security cell. */
  readonly sk: Int32Array;
  /** The class, value list, vk, data and subkey-list cells, in allocation order. */
  readonly cells: Uint32Array;
  readonly sks: readonly SkCell[];
  /** The bins and the free cells left. */
  readonly allocator: Allocator;
}

/** Largest value a 1.3 hive (no big data) holds in its one data cell. */
const MAX_SINGLE_CELL_VALUE = 1024 * 1024;

const bySortName = (x: HiveKeyBuilder, y: HiveKeyBuilder): number => compareUpcase(x.name, y.name);

/**
 * Lays out the tree under `root` (`rootSd`: the root's descriptor when it has none of its own). Refuses, with
 * `HIVE_BUILD`, what cannot be written: too deep, too many subkeys, a value too big for the version, a link key with
 * other values, layer bits the hive cannot carry, over 2 GiB.
 */
export function planHive(root: HiveKeyBuilder, rootSd: Uint8Array, settings: PlanSettings, lists: KeyLists): HivePlan {
  const { minor } = settings;
  const { keyCount, cellCount } = countLayout(root, minor, lists);
  const keys = new Array<HiveKeyBuilder>(keyCount);
  const parent = new Int32Array(keyCount);
  const nk = new Uint32Array(keyCount);
  const sk = new Int32Array(keyCount);
  const cells = new Uint32Array(cellCount);
  const sks: SkCell[] = [];
  const skByHex = new Map<string, number>();
  const a = new Allocator();
  keys[0] = root;
  parent[0] = -1;
  let queued = 1;
  let cell = 0;
  // breadth first, so depth grows by one at each level's end
  let depth = 0;
  let levelEnd = 1;
  for (let qi = 0; qi < queued; qi++) {
    if (qi === levelEnd) {
      depth++;
      levelEnd = queued;
    }
    const kb = keys[qi]!;
    if (depth > MAX_DEPTH) {
      throw new WinlayerError(
        'HIVE_BUILD',
        `key "${kb.path.slice(0, 200)}…" is nested deeper than ${MAX_DEPTH} levels`,
        { hint: 'Windows refuses hives with keys nested more than 512 levels deep' },
      );
    }
    const slots = lists.values(kb);
    checkLinkKey(kb, slots);
    checkLayeredKey(kb, slots, lists, settings.layered);
    nk[qi] = a.alloc(nkCellSize(kb.name));
    // security: own SD (shared with any equal one) or the parent's cell
    if (kb.security !== undefined || qi === 0) {
      const sd = kb.security ?? rootSd;
      const id = Buffer.from(sd.buffer, sd.byteOffset, sd.byteLength).toString('hex');
      let s = skByHex.get(id);
      if (s === undefined) {
        s = sks.length;
        sks.push({ sd, at: a.alloc(skCellSize(sd)), refs: 0 });
        skByHex.set(id, s);
      }
      sk[qi] = s;
    } else {
      sk[qi] = sk[parent[qi]!]!;
    }
    sks[sk[qi]!]!.refs++;
    const cls = kb.className ?? '';
    if (cls.length > 0) cells[cell++] = a.alloc(classCellSize(cls));

    const valueCount = slots.length / VALUE_SLOTS;
    if (valueCount > 0) {
      cells[cell++] = a.alloc(valueListCellSize(valueCount));
      for (let at = 0; at < slots.length; at += VALUE_SLOTS) {
        const name = slots[at + ValueSlot.name] as string;
        const n = slots[at + ValueSlot.size] as number;
        cells[cell++] = a.alloc(vkCellSize(name));
        const form = dataForm(n, minor);
        if (form === 'big') {
          const count = segmentCount(n);
          if (count > 0xffff) throw new WinlayerError('HIVE_BUILD', `value "${name}" is too big (${n} bytes)`);
          cells[cell++] = a.alloc(DB_CELL_SIZE);
          cells[cell++] = a.alloc(segmentListCellSize(count));
          for (let i = 0; i < count; i++) cells[cell++] = a.alloc(SEGMENT_CELL_SIZE);
        } else if (form === 'cell') {
          if (n > MAX_SINGLE_CELL_VALUE) {
            throw new WinlayerError('HIVE_BUILD', `value "${name}" of key "${kb.path}" has ${n} bytes`, {
              hint: 'a version 1.3 hive has no big-data records and holds at most 1 MiB per value: write version 1.5',
            });
          }
          cells[cell++] = a.alloc(dataCellSize(n));
        }
      }
    }

    const own = lists.subkeys(kb);
    if (own.length === 0) continue;
    const subs = [...own].sort(bySortName);
    if (subs.length <= OFFREG_LEAF_MAX) {
      cells[cell++] = a.alloc(leafCellSize(subs.length));
    } else {
      const leaves = leafCount(subs.length, OFFREG_LEAF_MAX);
      if (leaves > 0xffff) throw new WinlayerError('HIVE_BUILD', `key "${kb.path}" has too many subkeys`);
      cells[cell++] = a.alloc(riCellSize(leaves));
      for (let i = 0; i < leaves; i++) {
        const from = i * OFFREG_LEAF_MAX;
        cells[cell++] = a.alloc(leafCellSize(Math.min(subs.length, from + OFFREG_LEAF_MAX) - from));
      }
    }
    for (const c of subs) {
      keys[queued] = c;
      parent[queued] = qi;
      queued++;
    }
  }
  if (cell !== cellCount) throw new WinlayerError('INTERNAL', 'the hive plan counted its cells wrong');
  if (BASE_BLOCK_SIZE + a.end >= VOLATILE_CELL) {
    throw new WinlayerError('HIVE_BUILD', `the hive would be ${BASE_BLOCK_SIZE + a.end} bytes, over 2 GiB`, {
      hint: 'cell offsets are 31-bit (the top bit marks volatile storage): a hive file cannot reach 2 GiB',
    });
  }
  return { settings, keys, parent, nk, sk, cells, sks, allocator: a };
}

/** Keys in the tree and the cells of `HivePlan.cells` they take (everything but nk and sk cells). */
function countLayout(root: HiveKeyBuilder, minor: number, lists: KeyLists): { keyCount: number; cellCount: number } {
  let keyCount = 0;
  let cellCount = 0;
  const stack = [root];
  while (stack.length > 0) {
    const kb = stack.pop()!;
    keyCount++;
    if ((kb.className ?? '').length > 0) cellCount++;
    const slots = lists.values(kb);
    if (slots.length > 0) cellCount++;
    for (let at = 0; at < slots.length; at += VALUE_SLOTS) {
      cellCount += 1 + dataCellCount(slots[at + ValueSlot.size] as number, minor);
    }
    const subs = lists.subkeys(kb);
    if (subs.length > OFFREG_LEAF_MAX) cellCount += 1 + leafCount(subs.length, OFFREG_LEAF_MAX);
    else if (subs.length > 0) cellCount++;
    for (const c of subs) stack.push(c);
  }
  return { keyCount, cellCount };
}

/**
 * Writes a plan: every key's cells at their planned offsets, then the security cells (their reference counts are
 * known only now), the bins, the free cells and the base block. Returns the whole file.
 */
export function writePlan(plan: HivePlan, lists: KeyLists): Uint8Array {
  const { settings, keys, nk, sk, sks, allocator } = plan;
  const { minor, layered } = settings;
  const bytes = new Uint8Array(BASE_BLOCK_SIZE + allocator.end);
  const out: HiveBytes = { bytes, view: new DataView(bytes.buffer) };
  const cells = new CellCursor(plan.cells);
  const subkeys = { names: keys, nks: nk };
  let nextChild = 1;
  for (let qi = 0; qi < keys.length; qi++) {
    const kb = keys[qi]!;
    const cls = kb.className ?? '';
    const classCell = cls.length > 0 ? cells.next() : NIL;
    if (classCell !== NIL) writeClass(out, classCell, cls);

    const slots = lists.values(kb);
    const valueCount = slots.length / VALUE_SLOTS;
    let valueList = NIL;
    let maxValueName = 0;
    let maxValueData = 0;
    if (valueCount > 0) {
      valueList = cells.next();
      const lp = writeValueListCell(out, valueList, valueCount);
      for (let vi = 0; vi < valueCount; vi++) {
        const at = vi * VALUE_SLOTS;
        const name = slots[at + ValueSlot.name] as string;
        const n = slots[at + ValueSlot.size] as number;
        const flags = slots[at + ValueSlot.flags] as number;
        const from = slots[at + ValueSlot.offset] as number;
        const data = (slots[at + ValueSlot.chunk] as Uint8Array).subarray(from, from + n);
        maxValueName = Math.max(maxValueName, name.length * 2);
        maxValueData = Math.max(maxValueData, n);
        const vk = cells.next();
        out.view.setUint32(lp + REF_LIST.entrySize * vi, vk, true);
        const type = slots[at + ValueSlot.type] as number;
        const tombstone = layered && (flags & VALUE_TOMBSTONE) !== 0;
        writeVk(out, vk, { name, type, flags, data, tombstone }, cells, minor);
      }
    }

    const subkeyCount = lists.subkeys(kb).length;
    const first = nextChild;
    nextChild += subkeyCount;
    let subkeyList = NIL;
    let maxSubkeyName = 0;
    let maxSubkeyClass = 0;
    if (subkeyCount > 0) {
      subkeyList = cells.next();
      writeSubkeyList(out, subkeyList, subkeys, first, subkeyCount, OFFREG_LEAF_MAX, cells, minor);
      for (let i = first; i < nextChild; i++) {
        const c = keys[i]!;
        maxSubkeyName = Math.max(maxSubkeyName, c.name.length * 2);
        maxSubkeyClass = Math.max(maxSubkeyClass, (c.className?.length ?? 0) * 2);
      }
    }

    const p = plan.parent[qi]!;
    writeNk(out, nk[qi]!, {
      name: kb.name,
      flags: qi === 0 ? settings.rootFlags : (kb.flags ?? 0),
      timestamp: kb.timestamp ?? settings.timestamp,
      accessBits: kb.accessBits,
      userFlags: kb.userFlags,
      parent: p < 0 ? NIL : nk[p]!,
      subkeyCount,
      subkeyList,
      valueCount,
      valueList,
      security: sks[sk[qi]!]!.at,
      classCell,
      classLength: cls.length * 2,
      maxSubkeyName,
      maxSubkeyClass,
      maxValueName,
      maxValueData,
    });
  }
  if (!cells.done) throw new WinlayerError('INTERNAL', 'the hive writer did not place every planned cell');
  sks.forEach((s, i) => {
    const flink = sks[(i + 1) % sks.length]!.at;
    const blink = sks[(i + sks.length - 1) % sks.length]!.at;
    writeSk(out, s.at, { sd: s.sd, flink, blink, refs: s.refs });
  });
  writeBins(out, allocator.bins, allocator.free);
  writeBaseBlock(out, {
    minor,
    rootCell: nk[0]!,
    binsSize: allocator.end,
    layered,
    saveTime: settings.timestamp,
  });
  return bytes;
}

/**
 * Refuses a symbolic-link key (KEY_SYM_LINK) with other values than one REG_LINK `SymbolicLinkValue`: Windows checks
 * this on load and drops what breaks it (a `.reg` merge that adds a value to such a key would lose it there).
 */
function checkLinkKey(kb: HiveKeyBuilder, vs: Readonly<ValueSlots>): void {
  if (((kb.flags ?? 0) & KEY_FLAG.SYM_LINK) === 0) return;
  const n = vs.length / VALUE_SLOTS;
  if (n === 0) return;
  if (n === 1 && equalUpcase(vs[ValueSlot.name] as string, 'SymbolicLinkValue') && vs[ValueSlot.type] === REG.LINK) {
    return;
  }
  throw new WinlayerError(
    'HIVE_BUILD',
    `key "${kb.path}" is a symbolic link: it may hold only its SymbolicLinkValue (REG_LINK)`,
    { hint: 'set values on the key the link points to, or delete the link key first' },
  );
}

/**
 * Refuses what the checker calls an error in a key's layer (delta-hives.md §2–§3): layered bits or tombstone values in
 * a hive that is not `layered`, reserved layer bits, a tombstone key holding values, subkeys or a class, a tombstone
 * value with a type or data.
 */
function checkLayeredKey(kb: HiveKeyBuilder, vs: Readonly<ValueSlots>, lists: KeyLists, layered: boolean): void {
  const byte = layerByte(kb.accessBits);
  const fail = (what: string, hint: string): never => {
    throw new WinlayerError('HIVE_BUILD', `key "${kb.path}": ${what}`, { hint });
  };
  const isTombstone = (at: number): boolean => ((vs[at + ValueSlot.flags] as number) & VALUE_TOMBSTONE) !== 0;
  if (!layered) {
    let tombstone: string | undefined;
    for (let at = 0; at < vs.length && tombstone === undefined; at += VALUE_SLOTS) {
      if (isTombstone(at)) tombstone = vs[at + ValueSlot.name] as string;
    }
    if (byte !== 0 || tombstone !== undefined) {
      fail(
        byte !== 0 ? `layered-key bits 0x${byte.toString(16)}` : `tombstone value "${tombstone}"`,
        'layer semantics and tombstone values belong to a differencing hive: make the builder with { layered: true }',
      );
    }
    return;
  }
  if ((byte & LAYER_BITS.reserved) !== 0) fail(`reserved layered-key bits 0x${byte.toString(16)}`, 'use setLayer');
  const holds = vs.length > 0 || lists.subkeys(kb).length > 0 || kb.className !== undefined;
  if (kb.layer.semantics === 'tombstone' && holds) {
    fail('a tombstone (a deleted key) holds values, subkeys or a class', 'a tombstone key is empty');
  }
  for (let at = 0; at < vs.length; at += VALUE_SLOTS) {
    if (isTombstone(at) && (vs[at + ValueSlot.type] !== REG.NONE || vs[at + ValueSlot.size] !== 0)) {
      fail(`tombstone value "${vs[at + ValueSlot.name]}" has a type or data`, 'use setTombstoneValue');
    }
  }
}
