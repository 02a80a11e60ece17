/**
 * A layer's registry changes: its `Hives/*_Delta` differencing hives read as key and value paths (what `ls --long`
 * shows under such an entry, and what `diff` compares besides the bytes), and the rule `lint` applies to them (a clean
 * differencing hive with a known name, delta-hives.md §5). The layer semantics themselves are the hive model's
 * (`src/hive/delta.ts`); this is rendering.
 */
import { createHash } from 'node:crypto';
import { bufferBody, type EntryBody, type LayerEntry } from '../entry.js';
import { isWinlayerError } from '../errors.js';
import {
  checkHive,
  children,
  DELTA_HIVES,
  deltaHiveAt,
  type Hive,
  type HiveValue,
  isTombstoneValue,
  keyLayer,
  keyPath,
  openHive,
  parent,
  valueData,
  valueName,
  values,
  valueType,
  walkKeys,
} from '../hive/index.js';
import { escapeControls } from '../terminal-text.js';

/**
 * One registry change: `-` deleted, `+` created or set, `=` replaced (a key with its subtree, or a key's values).
 * `what` is `key`, `value`, or `values` (every value of a key, replaced).
 */
export interface RegistryChange {
  readonly op: '+' | '-' | '=';
  readonly what: 'key' | 'value' | 'values';
  /** The full path: the delta's registry root, the key path, and for a value its name (`(default)` for the default). */
  readonly path: string;
  /** For a value set: its type and data in short (`type 4, 4 bytes 02000000`), what `diff` compares. */
  readonly data?: string;
}

/** The names of the five deltas Windows merges, for messages. */
const DELTA_NAMES = DELTA_HIVES.map((d) => d.name).join(', ');

/** The largest delta that is read for its changes (hives are small; a bigger file is not read). */
const MAX_DELTA_BYTES = 256 * 1024 * 1024;

/**
 * The changes a differencing hive makes when Windows merges it (delta-hives.md §4), in hive order: a tombstone deletes
 * its key; the top of a supersede-tree subtree replaces the key below with its subtree, whose keys and values follow
 * as created; a supersede-local key replaces the values below; every value is set, a tombstone value deleted. A merge
 * node is listed only when nothing below it is (it creates the key, or finds it there); the keys on the way to a change
 * are implied by it. `root` is the key path the hive's root stands for (`HKEY_LOCAL_MACHINE\SYSTEM`).
 */
export function registryChanges(hive: Hive, root: string): RegistryChange[] {
  const out: RegistryChange[] = [];
  const full = (p: string): string => (p === '' ? root : `${root}\\${p}`);
  for (const k of walkKeys(hive)) {
    const path = full(keyPath(k));
    const layer = keyLayer(k);
    const semantics = layer?.semantics ?? 'merge';
    if (semantics === 'tombstone') {
      out.push({ op: '-', what: 'key', path });
      continue;
    }
    const up = parent(k);
    const inTree = up !== undefined && keyLayer(up)?.semantics === 'supersede-tree';
    if (semantics === 'supersede-tree') out.push({ op: inTree ? '+' : '=', what: 'key', path });
    else if (semantics === 'supersede-local') out.push({ op: '=', what: 'values', path });
    else if (children(k).length === 0 && values(k).length === 0 && up !== undefined)
      out.push({ op: '+', what: 'key', path });
    for (const v of values(k)) {
      const name = valueName(v) === '' ? '(default)' : valueName(v);
      const at = `${path}\\${name}`;
      out.push(
        isTombstoneValue(v)
          ? { op: '-', what: 'value', path: at }
          : { op: '+', what: 'value', path: at, data: dataSummary(v) },
      );
    }
  }
  return out;
}

/** A value's type and data in short: up to 16 bytes in hex, else the size and a SHA-256 prefix. */
function dataSummary(v: HiveValue): string {
  const d = valueData(v);
  const bytes =
    d.length <= 16
      ? Buffer.from(d).toString('hex')
      : `sha256 ${createHash('sha256').update(d).digest('hex').slice(0, 16)}`;
  return `type ${valueType(v)}, ${d.length} bytes${d.length === 0 ? '' : ` ${bytes}`}`;
}

/**
 * Change lines as `ls --long` prints them: `- key   HKEY_…\path`, names with control characters escaped; with
 * `data`, a value set is followed by its type and data in short.
 */
export function registryChangeLines(
  changes: readonly RegistryChange[],
  indent = '    ',
  opts: { readonly data?: boolean } = {},
): string[] {
  return changes.map((c) => escapeControls(`${indent}${changeText(c, opts.data === true)}`));
}

function changeText(c: RegistryChange, data: boolean): string {
  return `${c.op} ${c.what.padEnd(6)} ${c.path}${data && c.data !== undefined ? ` (${c.data})` : ''}`;
}

// ── diff ─────────────────────────────────────────────────────────────────────────────────────────────────────────────

/**
 * Passes a layer's entries through, keeping the bytes of each known `Hives/*_Delta` file in `into` (by path, as in the
 * layer); such an entry's body is handed on as the same bytes. Hives are small; a delta over the read limit is passed
 * on unread. Lets `diff` compare registry changes while it hashes every body.
 */
export async function* keepDeltaHives(
  entries: AsyncIterable<LayerEntry>,
  into: Map<string, Uint8Array>,
): AsyncGenerator<LayerEntry> {
  for await (const e of entries) {
    if (e.kind !== 'file' || deltaHiveAt(e.path) === undefined || e.size > MAX_DELTA_BYTES) {
      yield e;
      continue;
    }
    const bytes = await readBody(e.size, e.body);
    into.set(e.path, bytes);
    yield { ...e, body: bufferBody(bytes) };
  }
}

/** How the registry changes of one `Hives/*_Delta` differ between two layers: the changes only one side makes. */
export interface RegistryDiff {
  readonly path: string;
  readonly onlyA: readonly RegistryChange[];
  readonly onlyB: readonly RegistryChange[];
}

/**
 * The registry changes that differ between the deltas of two layers (as `keepDeltaHives` kept them), per delta path,
 * in path order. A delta present on one side only differs by all its changes; one that cannot be read makes no
 * changes here (its bytes differ, which the entry comparison shows).
 */
export function registryDiff(a: ReadonlyMap<string, Uint8Array>, b: ReadonlyMap<string, Uint8Array>): RegistryDiff[] {
  const out: RegistryDiff[] = [];
  const paths = [...new Set([...a.keys(), ...b.keys()])].sort();
  for (const path of paths) {
    const ca = changesOf(path, a.get(path));
    const cb = changesOf(path, b.get(path));
    const key = (c: RegistryChange): string => changeText(c, true);
    const inA = new Set(ca.map(key));
    const inB = new Set(cb.map(key));
    const onlyA = ca.filter((c) => !inB.has(key(c)));
    const onlyB = cb.filter((c) => !inA.has(key(c)));
    if (onlyA.length + onlyB.length > 0) out.push({ path, onlyA, onlyB });
  }
  return out;
}

function changesOf(path: string, bytes: Uint8Array | undefined): RegistryChange[] {
  const delta = deltaHiveAt(path);
  if (bytes === undefined || delta === undefined) return [];
  try {
    const hive = openHive(bytes, { path });
    return hive.layered ? registryChanges(hive, delta.regRoot) : [];
  } catch (err) {
    if (!isWinlayerError(err)) throw err;
    return [];
  }
}

/** The text of registry diffs: per delta `~ registry  <path>`, then its `a:` and `b:` change lines. */
export function renderRegistryDiff(diffs: readonly RegistryDiff[]): string[] {
  const out: string[] = [];
  for (const d of diffs) {
    out.push(escapeControls(`~ registry  ${d.path}`));
    for (const c of d.onlyA) out.push(escapeControls(`    a: ${changeText(c, true)}`));
    for (const c of d.onlyB) out.push(escapeControls(`    b: ${changeText(c, true)}`));
  }
  return out;
}

/**
 * What is wrong with a layer's `Hives/<name>` file, or undefined when it is a clean differencing hive with a known
 * name (delta-hives.md §5): Windows merges only the five known deltas, and only a valid differencing hive means a
 * change rather than a whole registry.
 */
export function deltaHiveProblem(layerPath: string, bytes: Uint8Array): string | undefined {
  if (deltaHiveAt(layerPath) === undefined) {
    return `not a known differencing hive name (${DELTA_NAMES})`;
  }
  const report = checkHive(bytes);
  if (report.dirty) return 'dirty: it needs transaction logs (.LOG1/.LOG2) that a layer does not carry';
  if (report.errors.length > 0) {
    const first = report.errors[0]!;
    return `corrupt: ${first.message}${report.errors.length > 1 ? ` (and ${report.errors.length - 1} more)` : ''}`;
  }
  const hive = openHive(bytes);
  const version = `${hive.version.major}.${hive.version.minor}`;
  if (!hive.layered) {
    return `a version ${version} hive without the layered-keys flag: a whole registry, not a differencing hive`;
  }
  if (hive.version.minor !== 6)
    return `a version ${version} hive with layered keys: a differencing hive is version 1.6`;
  return undefined;
}

/**
 * The `ls --long` lines of a layer entry that is a known `Hives/*_Delta` file: its registry changes, or why they
 * cannot be read. Reads the entry's body (nothing for any other entry). Never throws for a bad hive.
 */
export async function deltaEntryLines(e: LayerEntry, indent = '    '): Promise<string[]> {
  const delta = deltaHiveAt(e.path);
  if (delta === undefined || e.kind !== 'file') return [];
  if (e.size > MAX_DELTA_BYTES) return [`${indent}registry: not read (${e.size} bytes, over ${MAX_DELTA_BYTES})`];
  const bytes = await readBody(e.size, e.body);
  let hive: Hive;
  try {
    hive = openHive(bytes, { path: e.path });
  } catch (err) {
    if (!isWinlayerError(err)) throw err;
    return [`${indent}registry: unreadable: ${escapeControls(err.message.split('\n')[0]!)}`];
  }
  if (!hive.layered) return [`${indent}registry: not a differencing hive (no layered-keys flag)`];
  const changes = registryChanges(hive, delta.regRoot);
  return [
    `${indent}registry changes of ${delta.regRoot}: ${changes.length === 0 ? 'none' : changes.length}`,
    ...registryChangeLines(changes, `${indent}  `),
  ];
}

/** An entry body of `size` bytes, read whole. */
async function readBody(size: number, body: EntryBody): Promise<Uint8Array> {
  const bytes = new Uint8Array(size);
  let at = 0;
  for await (const chunk of body) {
    if (at < size) bytes.set(chunk.subarray(0, size - at), at);
    at += chunk.length;
  }
  return bytes;
}

/** A lint finding about an entry under `Hives/` (the rule ids are `rules.ts`'s). */
export interface HivesEntryFinding {
  readonly rule: 'delta-hive-invalid' | 'hives-unknown-entry';
  readonly message: string;
}

/**
 * What `lint` says about an entry under `Hives/` of a non-base layer: nothing for a clean differencing hive with a
 * known name; `delta-hive-invalid` for a known name that is not one; `hives-unknown-entry` for anything else (Windows
 * merges only the five known deltas). Reads the entry's body.
 */
export async function hivesEntryFinding(
  e: LayerEntry,
  maxBytes = MAX_DELTA_BYTES,
): Promise<HivesEntryFinding | undefined> {
  if (e.kind !== 'file' || deltaHiveAt(e.path) === undefined) {
    const what = e.kind === 'file' ? 'a file' : `a ${e.kind}`;
    return {
      rule: 'hives-unknown-entry',
      message: `${what} that is none of the five differencing hives Windows merges (${DELTA_NAMES})`,
    };
  }
  if (e.size > maxBytes) {
    return {
      rule: 'delta-hive-invalid',
      message: `${e.size} bytes is larger than the ${maxBytes}-byte limit for a checked hive`,
    };
  }
  const problem = deltaHiveProblem(e.path, await readBody(e.size, e.body));
  return problem === undefined ? undefined : { rule: 'delta-hive-invalid', message: problem };
}
