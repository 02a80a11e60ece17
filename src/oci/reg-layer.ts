/**
 * Registry changes (`.reg` files) in a new layer, for `image append --reg` and `image create --reg`
 * (delta-hives.md §5, docs/registry-changes.md):
 * - a layer on top carries them as differencing hives: all five `Hives/*_Delta` (an unchanged hive as an empty
 *   differencing hive, the root only), and the `Files` and `Hives` folder entries take `Hives/System_Delta`'s times,
 *   as hcsshim's legacy exporter gives them (`withRegistryDeltas`);
 * - a base layer has no deltas: the changes are merged straight into its hives as they stream by
 *   (`withRegistryInHives`), through the one merge engine (`applyDeltaHives`).
 * Nothing is downloaded or guessed: the same `.reg` files, base hives and SOURCE_DATE_EPOCH give the same bytes.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { bufferBody, type FileEntry, type LayerEntry, type WindowsMetadata } from '../entry.js';
import { WinlayerError } from '../errors.js';
import {
  applyDeltaHives,
  changeSetFromRegFiles,
  deltaHiveOf,
  HIVE_NAMES,
  type Hive,
  type HiveName,
  openHive,
  type RegChangeSet,
  selectedControlSet,
  writeDeltaHive,
} from '../hive/index.js';
import { defaultMetadata, madeUpTime } from '../internal/layer.js';
import { readInputFile } from '../internal/read-input.js';
import type { MetadataPolicy } from '../layer/index.js';
import { compareUtf8, unixNanosToFiletime, upcase } from '../windows/index.js';

/** The hive file name of each hive (`SYSTEM`), the last component of its base-layer path. */
function hiveFileName(h: HiveName): string {
  return deltaHiveOf(h).base.slice(deltaHiveOf(h).base.lastIndexOf('/') + 1);
}

/** The child of `dir` named `name` as Windows finds it (the exact name, else one equal by case), or undefined. */
function findCaseless(dir: string, name: string): string | undefined {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return undefined;
  }
  return names.includes(name) ? name : names.find((n) => upcase(n) === upcase(name));
}

/**
 * The five base hives of `--reg-base DIR`: the hive files by name (SYSTEM, SOFTWARE, SAM, SECURITY, DEFAULT) in DIR,
 * else in a layer folder's `Files/Windows/System32/config`. Throws `NOT_FOUND` naming what is missing.
 */
export function readBaseHives(dir: string): Record<HiveName, Hive> {
  if (statSync(dir, { throwIfNoEntry: false })?.isDirectory() !== true) {
    throw new WinlayerError('NOT_FOUND', 'the base hive folder does not exist', { path: dir });
  }
  let folder = dir;
  if (HIVE_NAMES.every((h) => findCaseless(dir, hiveFileName(h)) === undefined)) {
    // a layer folder: `Files` matched exactly (as hcsshim and the walk do), the rest as Windows finds them
    let at: string | undefined = readdirSync(dir).includes('Files') ? join(dir, 'Files') : undefined;
    for (const part of ['Windows', 'System32', 'config']) {
      const name = at === undefined ? undefined : findCaseless(at, part);
      at = name === undefined ? undefined : join(at!, name);
    }
    if (at !== undefined) folder = at;
  }
  const missing = HIVE_NAMES.map(hiveFileName).filter((n) => findCaseless(folder, n) === undefined);
  if (missing.length > 0) {
    throw new WinlayerError('NOT_FOUND', `the base hives ${missing.join(', ')} are not in the folder`, {
      path: folder,
      hint: 'give a folder holding SYSTEM, SOFTWARE, SAM, SECURITY and DEFAULT, or a base layer folder',
    });
  }
  const out = {} as Record<HiveName, Hive>;
  for (const h of HIVE_NAMES) {
    const path = join(folder, findCaseless(folder, hiveFileName(h))!);
    out[h] = openHive(readInputFile(path), { path });
  }
  return out;
}

/** The `.reg` files of a new layer, read: the change set, the key times, and the notes of the reader. */
export interface RegistryChanges {
  readonly set: RegChangeSet;
  /** FILETIME of every key written: the policy's clamp, else 0. */
  readonly timestamp: bigint;
  /** What the reader mapped or assumed (`CurrentControlSet` → `ControlSet001`, HKEY_CLASSES_ROOT), in words. */
  readonly notes: readonly string[];
}

/**
 * Reads the `.reg` files, in order; `CurrentControlSet` is the set `system` selects (ControlSet001 without it). Throws
 * `REG_SYNTAX` (file and line) and what reading a file throws.
 */
export function readRegistryChanges(regs: readonly string[], policy: MetadataPolicy, system?: Hive): RegistryChanges {
  const controlSet = system === undefined ? undefined : selectedControlSet(system);
  const set = changeSetFromRegFiles(regs, controlSet === undefined ? {} : { controlSet });
  const timestamp = policy.clamp === undefined ? 0n : unixNanosToFiletime(policy.clamp);
  return { set, timestamp, notes: [...set.notes] };
}

/**
 * The five differencing hives of a layer on top, by hive, written against the base hives when given
 * (`readBaseHives`: new keys as Windows writes them, each key the descriptor of its base key). Throws what
 * `writeDeltaHive` throws.
 */
export function registryDeltas(
  changes: RegistryChanges,
  bases?: Readonly<Record<HiveName, Hive>>,
): ReadonlyMap<HiveName, Uint8Array> {
  const deltas = new Map<HiveName, Uint8Array>();
  for (const h of HIVE_NAMES) {
    const base = bases === undefined ? {} : { base: bases[h] };
    deltas.set(h, writeDeltaHive(changes.set, { hive: h, timestamp: changes.timestamp, ...base }));
  }
  return deltas;
}

/** The four times of `t`. */
function allTimes(
  t: bigint,
): Pick<WindowsMetadata, 'creationTime' | 'lastWriteTime' | 'lastAccessTime' | 'changeTime'> {
  return { creationTime: t, lastWriteTime: t, lastAccessTime: t, changeTime: t };
}

/** `e` with the four times `t` (a tar source's raw header dropped, so the new times are written). */
function retimed(e: LayerEntry, t: bigint): LayerEntry {
  const { raw: _raw, ...rest } = e;
  return { ...rest, win: { ...e.win, ...allTimes(t) } } as LayerEntry;
}

/**
 * A layer-on-top stream with the registry deltas: `entries` (none: a layer of registry changes only) with its `Files`
 * and `Hives` folder entries (made when missing) timed as `Hives/System_Delta`, and the five deltas right after
 * `Hives`, in UTF-8 name order. The deltas' four times are the made-up time (the clamp, else the Unix epoch), as
 * hcsshim's exporter gives them (creation and access = last write); they have the default file metadata (ARCHIVE,
 * the policy's file descriptor), as the base hives `image create` adds (Windows' import stages `Hives/` without
 * descriptors, and `lint` asks every entry for one). Throws `USAGE` when the source carries `Hives/` entries of its
 * own. Streams.
 */
export async function* withRegistryDeltas(
  entries: AsyncIterable<LayerEntry> | undefined,
  deltas: ReadonlyMap<HiveName, Uint8Array>,
  policy: MetadataPolicy,
): AsyncGenerator<LayerEntry> {
  const t = madeUpTime(policy);
  const folder = (path: string): LayerEntry => ({
    kind: 'directory',
    path,
    win: defaultMetadata(policy, 'directory', t),
  });
  const hiveFiles = HIVE_NAMES.map((h) => ({ name: deltaHiveOf(h).name, bytes: deltas.get(h)! })).sort((a, b) =>
    compareUtf8(a.name, b.name),
  );
  const hives = function* (dir: LayerEntry): Generator<LayerEntry> {
    yield retimed(dir, t);
    for (const f of hiveFiles) {
      yield {
        kind: 'file',
        path: `Hives/${f.name}`,
        size: f.bytes.length,
        body: bufferBody(f.bytes),
        win: defaultMetadata(policy, 'file', t),
      };
    }
  };
  let files = false;
  let hivesDone = false;
  for await (const e of entries ?? []) {
    if (e.path === 'Files' && e.kind === 'directory') {
      if (!files) yield retimed(e, t);
      files = true;
      continue;
    }
    if (!files) {
      yield folder('Files');
      files = true;
    }
    if (e.path.startsWith('Files/')) {
      yield e;
      continue;
    }
    if (e.path === 'Hives' && e.kind === 'directory' && !hivesDone) {
      yield* hives(e);
      hivesDone = true;
      continue;
    }
    if (e.path.startsWith('Hives/')) {
      throw new WinlayerError(
        'USAGE',
        'the layer source carries registry deltas of its own; --reg cannot add to them',
        {
          entry: e.path,
          hint: 'leave out --reg, or write the changes into the source with `winlayer hive merge`',
        },
      );
    }
    if (!hivesDone) {
      yield* hives(folder('Hives'));
      hivesDone = true;
    }
    yield e;
  }
  if (!files) yield folder('Files');
  if (!hivesDone) yield* hives(folder('Hives'));
}

/**
 * A base-layer stream with the registry changes merged into its hives: each of the five hive files
 * (`Files/Windows/System32/config/<HIVE>`, found case-insensitively) is read, its delta written against it (so new
 * keys take their parent's descriptor there) and applied (`applyDeltaHives`, the engine of `image squash`). Hives are
 * the one thing held in memory. Streams the rest.
 */
export async function* withRegistryInHives(
  entries: AsyncIterable<LayerEntry>,
  changes: RegistryChanges,
): AsyncGenerator<LayerEntry> {
  const byPath = new Map(HIVE_NAMES.map((h) => [upcase(deltaHiveOf(h).base), h]));
  for await (const e of entries) {
    const h = e.kind === 'file' ? byPath.get(upcase(e.path)) : undefined;
    if (h === undefined) {
      yield e;
      continue;
    }
    const f = e as FileEntry;
    const base = await bodyBytes(f);
    const delta = writeDeltaHive(changes.set, {
      hive: h,
      timestamp: changes.timestamp,
      base: openHive(base, { path: f.path }),
    });
    const merged = applyDeltaHives(base, [delta], {
      basePath: f.path,
      deltaPaths: [`the .reg changes to ${deltaHiveOf(h).regRoot}`],
    });
    const { raw: _raw, ...rest } = f;
    yield { ...rest, size: merged.length, body: bufferBody(merged) };
  }
}

async function bodyBytes(e: FileEntry): Promise<Uint8Array> {
  const bytes = new Uint8Array(e.size);
  let at = 0;
  for await (const chunk of e.body) {
    if (at + chunk.length > e.size) {
      throw new WinlayerError('LAYER_INVALID', `${e.path} holds more bytes than its size`, { entry: e.path });
    }
    bytes.set(chunk, at);
    at += chunk.length;
  }
  if (at !== e.size) {
    throw new WinlayerError('LAYER_INVALID', `${e.path} ends after ${at} of ${e.size} bytes`, { entry: e.path });
  }
  return bytes;
}
