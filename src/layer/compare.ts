/**
 * Semantic comparison of two layers given as entry streams: what Windows would see, not how the tar spelled it.
 * Order-insensitive and streaming: each side is read once, every body is hashed (sha256) as it passes and only a small
 * summary per name is kept (an index of paths and digests, never the bytes). `winlayer diff` renders its result.
 *
 * Compared (per normalised name): the set of names; the kind (a hard link inside the layer counts as a file: the
 * group, not which name holds the data, is compared); content digest and size; symlink target; hard-link groups;
 * `fileattr` (missing = `defaultAttributes` of the kind, what the tar writer writes); `rawsd` or its absence;
 * mountpoint; EAs (by name, any order); ADS (as `file:stream` names, by content); the four times at 100 ns (missing
 * creation, access and change time = the modification time).
 * Ignored: modes, uid/gid, user and group names, PAX header names and key order, header format, `./` and trailing
 * `/` (and an archive-root `./` entry), time digits beyond 100 ns, entry order. Order differences and raw header
 * differences are reported apart, as noise, and never make two layers unequal.
 */
import { createHash } from 'node:crypto';
import type { EntryBody, EntryKind, LayerEntry } from '../entry.js';
import { formatIso7, truncateTo100ns } from '../internal/windows.js';
import { compareUtf8, defaultAttributes, type UnixNanos } from '../windows/index.js';
import { trimName } from './safety.js';

/** The fields `compareLayers` compares, as named in `EntryChange.fields`. */
export type ComparedField =
  | 'kind'
  | 'content'
  | 'size'
  | 'linkTarget'
  | 'links'
  | 'attributes'
  | 'securityDescriptor'
  | 'mountPoint'
  | 'extendedAttributes'
  | 'creationTime'
  | 'lastWriteTime'
  | 'lastAccessTime'
  | 'changeTime';

/** The kind as compared: hard links inside the layer are files (grouped); links to a parent layer stay `hardlink`. */
export type ComparedKind = EntryKind;

/** One differing field. Values are display-ready: numbers for attributes and sizes, ISO 8601 (7 digits) for times,
 * padded base64 for security descriptors and EA values, `null` when absent. */
export interface FieldChange {
  readonly field: ComparedField;
  readonly a: string | number | boolean | null;
  readonly b: string | number | boolean | null;
}

/** An entry present on one side only. */
export interface ComparedEntry {
  readonly path: string;
  readonly kind: ComparedKind;
}

/** An entry present on both sides whose compared fields differ. */
export interface EntryChange extends ComparedEntry {
  readonly fields: readonly FieldChange[];
}

/** Differences that do not make layers unequal. */
export interface ComparisonNoise {
  /** True when the common names come in a different order. */
  readonly orderDiffers: boolean;
  /** The fewest common names whose move explains the order difference (b's position differs), sorted. */
  readonly moved: readonly string[];
  /** For raw header fields that differ on common names (mode, uid, gid, uname, gname, name, format, paxKeys): how
   * many names differ in each. Only sources that read tars fill `raw`. */
  readonly raw: Readonly<Record<string, number>>;
  /** Names that appear more than once on a side (the last one is compared). */
  readonly duplicates: { readonly a: readonly string[]; readonly b: readonly string[] };
}

/** The result of `compareLayers`. */
export interface LayerComparison {
  /** True when nothing was added, removed or changed (noise allowed). */
  readonly equal: boolean;
  /** In b, not in a. Sorted by name (UTF-8 byte order). */
  readonly added: readonly ComparedEntry[];
  /** In a, not in b. */
  readonly removed: readonly ComparedEntry[];
  /** In both, with the fields that differ. */
  readonly changed: readonly EntryChange[];
  readonly noise: ComparisonNoise;
  /** Number of entries read from each side. */
  readonly counts: { readonly a: number; readonly b: number };
}

export interface CompareOptions {
  /** Called with every body's bytes count while hashing (progress). */
  readonly onBytes?: (n: number) => void;
}

interface Summary {
  readonly path: string;
  readonly index: number;
  readonly kind: ComparedKind;
  /** For files and in-layer hard links: the path holding the data (the group key). */
  readonly dataPath?: string;
  readonly digest?: string;
  readonly size?: number;
  readonly linkTarget?: string;
  readonly attributes: number;
  readonly sd: string | null;
  readonly mountPoint: boolean;
  readonly eas: string | null;
  readonly times: readonly [UnixNanos, UnixNanos, UnixNanos, UnixNanos];
  readonly raw?: Readonly<Record<string, string>>;
}

interface Side {
  readonly byPath: Map<string, Summary>;
  /** Group key (data path) → the names in the group, sorted. */
  readonly groups: Map<string, string[]>;
  readonly duplicates: string[];
  count: number;
}

/**
 * Compares two layers semantically (see the module comment for the table of compared and ignored fields). Reads `a`
 * to its end, then `b`; hashes every body; keeps a summary per name. Streams: memory grows with the number of names,
 * not with content size. Throws whatever the sources throw (a corrupt tar); never throws for a difference.
 */
export async function compareLayers(
  a: AsyncIterable<LayerEntry>,
  b: AsyncIterable<LayerEntry>,
  opts: CompareOptions = {},
): Promise<LayerComparison> {
  const sa = await summarise(a, opts.onBytes);
  const sb = await summarise(b, opts.onBytes);
  const added: ComparedEntry[] = [];
  const removed: ComparedEntry[] = [];
  const changed: EntryChange[] = [];
  const common: [number, number, string][] = [];
  const rawNoise: Record<string, number> = {};
  for (const [path, x] of sa.byPath) {
    const y = sb.byPath.get(path);
    if (y === undefined) {
      removed.push({ path, kind: x.kind });
      continue;
    }
    common.push([x.index, y.index, path]);
    const fields = diffFields(x, y, sa, sb);
    if (fields.length > 0) changed.push({ path, kind: y.kind, fields });
    if (x.raw !== undefined && y.raw !== undefined) {
      for (const k of Object.keys(x.raw)) {
        if (x.raw[k] !== y.raw[k]) rawNoise[k] = (rawNoise[k] ?? 0) + 1;
      }
    }
  }
  for (const [path, y] of sb.byPath) {
    if (!sa.byPath.has(path)) added.push({ path, kind: y.kind });
  }
  const byName = (p: { path: string }, q: { path: string }) => compareUtf8(p.path, q.path);
  added.sort(byName);
  removed.sort(byName);
  changed.sort(byName);
  const moved = movedNames(common).sort(compareUtf8);
  return {
    equal: added.length === 0 && removed.length === 0 && changed.length === 0,
    added,
    removed,
    changed,
    noise: {
      orderDiffers: moved.length > 0,
      moved,
      raw: rawNoise,
      duplicates: { a: sa.duplicates, b: sb.duplicates },
    },
    counts: { a: sa.count, b: sb.count },
  };
}

async function digestBody(body: EntryBody, onBytes?: (n: number) => void): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of body) {
    hash.update(chunk);
    onBytes?.(chunk.length);
  }
  return `sha256:${hash.digest('hex')}`;
}

async function summarise(entries: AsyncIterable<LayerEntry>, onBytes?: (n: number) => void): Promise<Side> {
  const side: Side = { byPath: new Map(), groups: new Map(), duplicates: [], count: 0 };
  for await (const e of entries) {
    const path = e.kind === 'stream' ? `${trimName(e.filePath)}:${e.streamName}` : trimName(e.path);
    if (e.kind === 'directory' && (path === '' || path === '.')) continue; // the archive root (`./`) is no entry
    let kind: ComparedKind = e.kind;
    let dataPath: string | undefined;
    let digest: string | undefined;
    let size: number | undefined;
    let linkTarget: string | undefined;
    switch (e.kind) {
      case 'file':
        dataPath = path;
        digest = await digestBody(e.body, onBytes);
        size = e.size;
        break;
      case 'stream':
        digest = await digestBody(e.body, onBytes);
        size = e.size;
        break;
      case 'hardlink': {
        const target = side.byPath.get(trimName(e.linkTarget));
        if (target?.dataPath !== undefined) {
          kind = 'file';
          dataPath = target.dataPath;
          digest = target.digest;
          size = target.size;
        } else {
          linkTarget = trimName(e.linkTarget);
        }
        break;
      }
      case 'symlink':
        linkTarget = e.linkTarget;
        break;
      case 'special':
        linkTarget = e.description;
        break;
      default:
        break;
    }
    const w = e.win;
    const write = truncateTo100ns(w.lastWriteTime);
    const t = (v: UnixNanos | undefined) => (v === undefined ? write : truncateTo100ns(v));
    const metaless = kind === 'stream' || kind === 'whiteout' || kind === 'opaqueWhiteout';
    const summary: Summary = {
      path,
      index: side.count,
      kind,
      ...(dataPath === undefined ? {} : { dataPath }),
      ...(digest === undefined ? {} : { digest }),
      ...(size === undefined ? {} : { size }),
      ...(linkTarget === undefined ? {} : { linkTarget }),
      attributes: metaless ? 0 : (w.attributes ?? defaultAttributes(kind, w)),
      sd: metaless || w.securityDescriptor === undefined ? null : base64(w.securityDescriptor),
      mountPoint: !metaless && w.mountPoint === true,
      eas: metaless ? null : canonicalEas(w.extendedAttributes),
      times: metaless ? [0n, 0n, 0n, 0n] : [t(w.creationTime), write, t(w.lastAccessTime), t(w.changeTime)],
      ...(e.raw === undefined
        ? {}
        : {
            raw: {
              mode: String(e.raw.mode),
              uid: String(e.raw.uid),
              gid: String(e.raw.gid),
              uname: e.raw.uname,
              gname: e.raw.gname,
              name: e.raw.name,
              format: e.raw.format,
              paxKeys: e.raw.pax.map((r) => r.key).join(' '),
            },
          }),
    };
    side.count++;
    const before = side.byPath.get(path);
    if (before !== undefined) {
      side.duplicates.push(path);
      if (before.dataPath !== undefined) removeFromGroup(side, before.dataPath, path);
    }
    side.byPath.set(path, summary);
    if (dataPath !== undefined) {
      const g = side.groups.get(dataPath);
      if (g === undefined) side.groups.set(dataPath, [path]);
      else g.push(path);
    }
  }
  for (const g of side.groups.values()) g.sort(compareUtf8);
  return side;
}

function removeFromGroup(side: Side, key: string, path: string): void {
  const g = side.groups.get(key);
  if (g === undefined) return;
  const i = g.indexOf(path);
  if (i >= 0) g.splice(i, 1);
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function canonicalEas(eas: LayerEntry['win']['extendedAttributes']): string | null {
  if (eas === undefined || eas.length === 0) return null;
  return [...eas]
    .map((ea) => `${ea.name}=${base64(ea.value)}`)
    .sort(compareUtf8)
    .join(' ');
}

const TIME_FIELDS = ['creationTime', 'lastWriteTime', 'lastAccessTime', 'changeTime'] as const;

function diffFields(x: Summary, y: Summary, sa: Side, sb: Side): FieldChange[] {
  const out: FieldChange[] = [];
  const add = (field: ComparedField, a: FieldChange['a'] | undefined, b: FieldChange['b'] | undefined) => {
    if (a !== b) out.push({ field, a: a ?? null, b: b ?? null });
  };
  add('kind', x.kind, y.kind);
  add('content', x.digest, y.digest);
  add('size', x.size, y.size);
  add('linkTarget', x.linkTarget, y.linkTarget);
  const gx = x.dataPath === undefined ? undefined : sa.groups.get(x.dataPath);
  const gy = y.dataPath === undefined ? undefined : sb.groups.get(y.dataPath);
  const lx = gx !== undefined && gx.length > 1 ? gx.join('\n') : undefined;
  const ly = gy !== undefined && gy.length > 1 ? gy.join('\n') : undefined;
  add('links', lx, ly);
  add('attributes', x.attributes, y.attributes);
  add('securityDescriptor', x.sd, y.sd);
  add('mountPoint', x.mountPoint, y.mountPoint);
  add('extendedAttributes', x.eas, y.eas);
  TIME_FIELDS.forEach((field, i) => {
    if (x.times[i] !== y.times[i]) out.push({ field, a: formatIso7(x.times[i]!), b: formatIso7(y.times[i]!) });
  });
  return out;
}

/**
 * The names that moved: common names ordered by their position in a; those outside a longest increasing run of
 * positions in b are the fewest whose move explains the difference (O(n log n)).
 */
function movedNames(common: [number, number, string][]): string[] {
  common.sort((p, q) => p[0] - q[0]);
  const n = common.length;
  const tails: number[] = []; // tails[k] = index into common of the smallest tail of an increasing run of length k+1
  const prev = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    const v = common[i]![1];
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (common[tails[mid]!]![1] < v) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0) prev[i] = tails[lo - 1]!;
    tails[lo] = i;
  }
  const keep = new Uint8Array(n);
  let k = tails.length > 0 ? tails[tails.length - 1]! : -1;
  while (k >= 0) {
    keep[k] = 1;
    k = prev[k]!;
  }
  const moved: string[] = [];
  for (let i = 0; i < n; i++) if (keep[i] === 0) moved.push(common[i]![2]);
  return moved;
}
