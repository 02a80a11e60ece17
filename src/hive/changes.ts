/**
 * `.reg` text as a change set (delta-hives.md §2, §5): what regedit does when it imports the file, grouped per hive
 * file of a container image (system, software, sam, security, default), each hive's changes held as the tree of a
 * differencing hive. `[KEY]` creates or updates and keeps the rest (a merge node; its ancestors merge nodes with
 * InheritClass); `[-KEY]` deletes (a tombstone); `[-KEY]` then `[KEY]` replaces (supersede-tree, InheritClass set;
 * what the file puts below it is new: supersede-tree, InheritClass clear); `"name"=-` deletes a value (a tombstone
 * value). Later lines act on what earlier ones made, as in regedit: a deletion inside a replaced subtree removes what
 * the file had put there, and a deletion inside a deleted subtree does nothing. `delta-write.ts` writes the trees.
 */
import { WinlayerError } from '../errors.js';
import { equalUpcase, sddlToBytes } from '../windows/index.js';
import { HiveBuilder, type HiveKeyBuilder } from './build.js';
import { DELTA_ACCESS_BITS, DELTA_HIVES, type DeltaHiveName } from './delta.js';
import { VALUE_TOMBSTONE } from './layout.js';
import { asDword, child, type Hive, root, value } from './read.js';
import { readRegChanges, readRegFile } from './reg.js';
import type { RegChange } from './types.js';

/** The hive files a layer's registry changes go to (delta-hives.md §5), by the name `--hive` takes. */
export type HiveName = 'system' | 'software' | 'sam' | 'security' | 'default';

/** Every hive name, in the order change sets list them. */
export const HIVE_NAMES: readonly HiveName[] = ['system', 'software', 'sam', 'security', 'default'];

const DELTA_NAME: Readonly<Record<HiveName, string>> = {
  system: 'System_Delta',
  software: 'Software_Delta',
  sam: 'Sam_Delta',
  security: 'Security_Delta',
  default: 'DefaultUser_Delta',
};

/** The layer's delta of a hive (`Hives/System_Delta`, the base hive it merges into, its `.reg` root). */
export function deltaHiveOf(hive: HiveName): DeltaHiveName {
  return DELTA_HIVES.find((d) => d.name === DELTA_NAME[hive])!;
}

/**
 * The descriptor every key of a differencing hive written without a base carries (its root's; the other keys share
 * it), per hive, after what Windows gives the key the hive is loaded at. None lets Everyone write; SAM and SECURITY
 * let only SYSTEM read (Administrators may read and change the descriptor, as on Windows).
 * - system, software: SYSTEM and Administrators full control, Users and all application packages read, CREATOR OWNER
 *   full control of the subkeys it creates;
 * - default (`HKEY_USERS\.DEFAULT`): SYSTEM and Administrators full control, Users, RESTRICTED and all application
 *   packages read;
 * - sam, security: SYSTEM full control, Administrators READ_CONTROL and WRITE_DAC.
 */
export const DEFAULT_DELTA_SDDL: Readonly<Record<HiveName, string>> = {
  system: 'O:BAG:SYD:(A;CI;KR;;;BU)(A;CI;KA;;;BA)(A;CI;KA;;;SY)(A;CIIO;GA;;;CO)(A;CI;KR;;;AC)',
  software: 'O:BAG:SYD:(A;CI;KR;;;BU)(A;CI;KA;;;BA)(A;CI;KA;;;SY)(A;CIIO;GA;;;CO)(A;CI;KR;;;AC)',
  sam: 'O:BAG:SYD:(A;CI;KA;;;SY)(A;CI;RCWD;;;BA)',
  security: 'O:BAG:SYD:(A;CI;KA;;;SY)(A;CI;RCWD;;;BA)',
  default: 'O:BAG:SYD:(A;CI;KA;;;SY)(A;CI;KA;;;BA)(A;CI;KR;;;BU)(A;CI;KR;;;RC)(A;CI;KR;;;AC)',
};

/** The name of control set `n` (`ControlSet001`). */
export function controlSetName(n: number): string {
  return `ControlSet${String(n).padStart(3, '0')}`;
}

/**
 * The control set a SYSTEM hive selects (`Select\Current`), which `CurrentControlSet` stands for at run time; undefined
 * when the hive has no such value.
 */
export function selectedControlSet(system: Hive): number | undefined {
  const select = child(root(system), 'Select');
  const current = select === undefined ? undefined : value(select, 'Current');
  if (current === undefined) return undefined;
  const n = asDword(current);
  return n >= 1 && n <= 999 ? n : undefined;
}

/** Options of the change-set readers. */
export interface ChangeSetOptions {
  /**
   * The control set `HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet` maps to: the one the base SYSTEM hive selects
   * (`selectedControlSet`). Default 1 (ControlSet001), said in the notes.
   */
  readonly controlSet?: number;
}

/** The changes of `.reg` files, per hive: each a differencing hive's tree (without a base). */
export class RegChangeSet {
  readonly #trees = new Map<HiveName, HiveBuilder>();
  /** What the reader mapped or assumed, in words, each once (`CurrentControlSet` → `ControlSet001`, HKCR). */
  readonly notes: string[] = [];
  /**
   * The keys a `[KEY]` line names or passes through (regedit creates them all), as against the ancestors a `[-KEY]`
   * line needs only to reach its key: written over a base that lacks them, only the named ones are new keys.
   */
  readonly named = new WeakSet<HiveKeyBuilder>();
  /** The control set `CurrentControlSet` was mapped to. */
  readonly controlSet: number;
  /** True when some key was named through `CurrentControlSet` (then a base must select `controlSet`). */
  usedCurrentControlSet = false;
  /** Whether `controlSet` was given (by a base) rather than assumed. */
  readonly controlSetGiven: boolean;

  constructor(opts: ChangeSetOptions = {}) {
    this.controlSet = opts.controlSet ?? 1;
    this.controlSetGiven = opts.controlSet !== undefined;
  }

  /** The hives with changes, in `HIVE_NAMES` order. */
  hives(): HiveName[] {
    return HIVE_NAMES.filter((h) => this.#trees.has(h));
  }

  /**
   * The changes to one hive as a differencing hive's tree, or undefined when the files change nothing there. Keys carry
   * the layer the `.reg` lines give them, access bits 0x2, and the root the hive's default descriptor; what is only
   * known with a base (which keys are new, which deletions delete something) is `writeDeltaHive`'s.
   */
  tree(hive: HiveName): HiveBuilder | undefined {
    return this.#trees.get(hive);
  }

  /** @internal The tree of `hive`, made on first use (the reader's). */
  treeFor(hive: HiveName): HiveBuilder {
    let t = this.#trees.get(hive);
    if (t === undefined) {
      t = emptyDeltaTree(hive);
      this.#trees.set(hive, t);
    }
    return t;
  }

  /** @internal Adds a note once (the reader's). */
  note(text: string): void {
    if (!this.notes.includes(text)) this.notes.push(text);
  }
}

/** A differencing hive's tree with the root only: a merge node with the hive's default descriptor. */
export function emptyDeltaTree(hive: HiveName, rootSecurity?: Uint8Array): HiveBuilder {
  const b = new HiveBuilder({ layered: true, rootSecurity: rootSecurity ?? sddlToBytes(DEFAULT_DELTA_SDDL[hive]) });
  b.root.accessBits = DELTA_ACCESS_BITS;
  b.root.setLayer('merge');
  return b;
}

/** Where a `.reg` key path is: its hive and the path below the hive's root. */
interface Located {
  readonly hive: HiveName;
  readonly parts: string[];
}

const HKLM = new Set(['HKEY_LOCAL_MACHINE', 'HKLM']);
const HKU = new Set(['HKEY_USERS', 'HKU']);
const HKCR = new Set(['HKEY_CLASSES_ROOT', 'HKCR']);
const VIEWS: Readonly<Record<string, string>> = {
  HKEY_CURRENT_USER: "HKEY_CURRENT_USER is the signed-in user's profile hive (NTUSER.DAT), not a hive of the image",
  HKCU: "HKEY_CURRENT_USER is the signed-in user's profile hive (NTUSER.DAT), not a hive of the image",
  HKEY_CURRENT_CONFIG: 'HKEY_CURRENT_CONFIG is a view the kernel makes at boot, not a hive file',
  HKCC: 'HKEY_CURRENT_CONFIG is a view the kernel makes at boot, not a hive file',
};
const HKLM_HIVES: Readonly<Record<string, HiveName>> = {
  SYSTEM: 'system',
  SOFTWARE: 'software',
  SAM: 'sam',
  SECURITY: 'security',
};
const ROOTS_HINT =
  'name keys under HKEY_LOCAL_MACHINE\\SYSTEM, \\SOFTWARE, \\SAM, \\SECURITY or HKEY_USERS\\.DEFAULT (short forms HKLM, ' +
  'HKU; HKEY_CLASSES_ROOT maps to HKEY_LOCAL_MACHINE\\SOFTWARE\\Classes)';

const CLASSES_NOTE =
  'HKEY_CLASSES_ROOT is written to HKEY_LOCAL_MACHINE\\SOFTWARE\\Classes (the machine part of that view)';

/** The state of one reader: the change set, and the key the last value lines named. */
class ChangeReader {
  #lastPath: string | undefined;
  #lastKey: HiveKeyBuilder | undefined;

  constructor(
    readonly set: RegChangeSet,
    readonly source: string | undefined,
  ) {}

  fail(line: number, rule: string, hint = ROOTS_HINT): never {
    throw new WinlayerError('REG_SYNTAX', `line ${line}: ${rule}`, {
      ...(this.source === undefined ? {} : { path: this.source }),
      hint,
    });
  }

  /** The hive and the path below its root of a `.reg` key path; refuses what is no hive file of an image. */
  locate(path: string, line: number): Located {
    const all = path.split('\\').filter((p) => p !== '');
    const top = (all[0] ?? '').toUpperCase();
    const second = all[1];
    if (HKLM.has(top)) {
      if (second === undefined) this.fail(line, `"${path}": HKEY_LOCAL_MACHINE itself is not a hive`);
      const hive = HKLM_HIVES[second.toUpperCase()];
      if (hive === undefined) {
        const why =
          second.toUpperCase() === 'HARDWARE'
            ? 'HKEY_LOCAL_MACHINE\\HARDWARE is made by the kernel at boot, not a hive file'
            : `HKEY_LOCAL_MACHINE\\${second} is not one of the hives a layer carries`;
        this.fail(line, `"${path}": ${why}`);
      }
      const parts = all.slice(2);
      if (hive === 'system' && parts.length > 0 && equalUpcase(parts[0]!, 'CurrentControlSet')) {
        parts[0] = controlSetName(this.set.controlSet);
        this.set.usedCurrentControlSet = true;
        this.set.note(
          `HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet is written to ${parts[0]} ` +
            (this.set.controlSetGiven ? '(the control set the base selects)' : '(no base hive: ControlSet001 assumed)'),
        );
      }
      return { hive, parts };
    }
    if (HKU.has(top)) {
      if (second !== undefined && equalUpcase(second, '.DEFAULT')) return { hive: 'default', parts: all.slice(2) };
      this.fail(line, `"${path}": only HKEY_USERS\\.DEFAULT is a hive of the image (a user's profile hive is not)`);
    }
    if (HKCR.has(top)) {
      this.set.note(CLASSES_NOTE);
      return { hive: 'software', parts: ['Classes', ...all.slice(1)] };
    }
    const view = VIEWS[top];
    this.fail(line, `"${path}": ${view ?? `"${all[0] ?? ''}" is not a registry root`}`);
  }

  add(c: RegChange, line: number): void {
    if (c.path === this.#lastPath && (c.kind === 'value' || c.kind === 'deleteValue')) {
      this.#setValue(this.#lastKey!, c);
      return;
    }
    const at = this.locate(c.path, line);
    const tree = this.set.treeFor(at.hive);
    if (c.kind === 'deleteKey') {
      if (at.parts.length === 0) this.fail(line, `"${c.path}": the root of a hive cannot be deleted`, DELETE_HINT);
      deleteKey(tree, at.parts);
      this.#lastPath = undefined;
      this.#lastKey = undefined;
      return;
    }
    const key = openKey(tree, at.parts, this.set.named);
    this.#lastPath = c.path;
    this.#lastKey = key;
    if (c.kind !== 'key') this.#setValue(key, c);
  }

  #setValue(key: HiveKeyBuilder, c: RegChange): void {
    if (c.kind === 'value') {
      // Set again after its deletion: the value regedit would make, spelled as this line spells it.
      if (((key.getValue(c.name)?.flags ?? 0) & VALUE_TOMBSTONE) !== 0) key.deleteValue(c.name);
      key.setValue(c.name, c.type, c.data);
    } else if (c.kind === 'deleteValue') {
      // in a replaced or new subtree nothing is below: the deletion undoes what the file set
      if (key.layer.semantics === 'supersede-tree') key.deleteValue(c.name);
      else key.setTombstoneValue(c.name);
    }
  }
}

const DELETE_HINT = 'delete the keys below it instead';

/** A new key of a change tree below `parent`: new in a replaced subtree, else a merge node that keeps its class. */
function newKey(parent: HiveKeyBuilder, name: string): HiveKeyBuilder {
  const inReplaced = parent.layer.semantics === 'supersede-tree';
  const k = parent.subkey(name);
  k.accessBits = DELTA_ACCESS_BITS;
  if (inReplaced) k.setLayer('supersede-tree');
  else k.setLayer('merge', { inheritClass: true });
  return k;
}

/** `[KEY]`: the key, made with its ancestors as needed; a deleted key on the way is created again (replaced). */
function openKey(tree: HiveBuilder, parts: readonly string[], named: WeakSet<HiveKeyBuilder>): HiveKeyBuilder {
  let k = tree.root;
  for (const name of parts) {
    const c = k.getSubkey(name);
    if (c === undefined) k = newKey(k, name);
    else if (c.layer.semantics === 'tombstone') {
      // Created again after its deletion: the key regedit would make, spelled as this line spells it (the deletion
      // may have spelled it otherwise); a tombstone holds nothing to keep.
      k.deleteSubkey(name);
      k = k.subkey(name);
      k.accessBits = DELTA_ACCESS_BITS;
      k.setLayer('supersede-tree', { inheritClass: true });
    } else k = c;
    named.add(k);
  }
  return k;
}

/** `[-KEY]`: a tombstone; inside a replaced subtree, the key the file made is removed; inside a deleted one, nothing. */
function deleteKey(tree: HiveBuilder, parts: readonly string[]): void {
  let k = tree.root;
  for (let i = 0; i < parts.length - 1; i++) {
    const c = k.getSubkey(parts[i]!);
    if (c === undefined) {
      if (k.layer.semantics === 'supersede-tree') return; // nothing is below a replaced key but what the file made
      k = newKey(k, parts[i]!);
    } else {
      if (c.layer.semantics === 'tombstone') return; // deleted already, with everything below
      k = c;
    }
  }
  const name = parts[parts.length - 1]!;
  k.deleteSubkey(name);
  if (k.layer.semantics === 'supersede-tree') return;
  const t = k.subkey(name);
  t.accessBits = DELTA_ACCESS_BITS;
  t.setLayer('tombstone');
}

/**
 * The change set of `.reg` inputs (each UTF-16LE with or without a mark, UTF-8, or REGEDIT4's ANSI), applied in
 * order. Throws `REG_SYNTAX` with the line for malformed text and for keys outside the image's hives
 * (`HKEY_CURRENT_USER`, `HKEY_CURRENT_CONFIG`, `HKEY_LOCAL_MACHINE\HARDWARE`, a user's profile).
 */
export function changeSetFromRegText(
  inputs: readonly (Uint8Array | string)[],
  opts: ChangeSetOptions = {},
): RegChangeSet {
  const set = new RegChangeSet(opts);
  for (const input of inputs) {
    const r = new ChangeReader(set, undefined);
    readRegChanges(input, (c, line) => r.add(c, line));
  }
  return set;
}

/** `changeSetFromRegText` over files, each read a megabyte at a time; errors name the file. */
export function changeSetFromRegFiles(paths: readonly string[], opts: ChangeSetOptions = {}): RegChangeSet {
  const set = new RegChangeSet(opts);
  for (const path of paths) {
    const r = new ChangeReader(set, path);
    try {
      readRegFile(path, (c, line) => r.add(c, line));
    } catch (e) {
      if (e instanceof WinlayerError && e.code === 'REG_SYNTAX' && e.path === undefined) {
        throw new WinlayerError('REG_SYNTAX', e.rule, { path, ...(e.hint === undefined ? {} : { hint: e.hint }) });
      }
      throw e;
    }
  }
  return set;
}
