/**
 * The five base-layer hives (`Files/Windows/System32/config/{DEFAULT,SAM,SECURITY,SOFTWARE,SYSTEM}`, empty and valid)
 * and their folders, added to a stream that lacks them: `withBaseHives` for a stream in canonical order (`image
 * create`), `baseHiveEntries` for callers that know by other means what a stream holds (`image squash` asks its
 * plan). Which hives a base layer must hold is `base-hives.ts`.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { bufferBody, type LayerEntry } from '../entry.js';
import { createEmptyHive } from '../hive/index.js';
import { compareUtf8, FILE_ATTRIBUTE, upcase } from '../windows/index.js';
import { BASE_LAYER_HIVES, HIVE_CONFIG_DIR } from './base-hives.js';
import { madeUpTime } from './plain.js';
import { defaultMetadata, type MetadataPolicy } from './policy.js';

/** The folders that hold the hives, parents first. */
const HIVE_DIRS = ['Files/Windows', 'Files/Windows/System32', HIVE_CONFIG_DIR] as const;

/**
 * The hive folders and the five empty hives as entries, each path spelled by `spelling` (given the canonical path),
 * folders first, with the policy's default metadata at its made-up time (the clamp, else the Unix epoch). The hives
 * are files Windows wrote: `ARCHIVE`. Builds each hive (a few KiB) as it is listed.
 */
export function baseHiveEntries(policy: MetadataPolicy, spelling: (path: string) => string): LayerEntry[] {
  const t = madeUpTime(policy);
  return [
    ...HIVE_DIRS.map(
      (p): LayerEntry => ({ kind: 'directory', path: spelling(p), win: defaultMetadata(policy, 'directory', t) }),
    ),
    ...BASE_LAYER_HIVES.map((h): LayerEntry => {
      const bytes = createEmptyHive();
      return {
        kind: 'file',
        path: `${spelling(HIVE_CONFIG_DIR)}/${h}`,
        size: bytes.length,
        body: bufferBody(bytes),
        win: { ...defaultMetadata(policy, 'file', t), attributes: FILE_ATTRIBUTE.ARCHIVE },
      };
    }),
  ];
}

/** Canonical order: component-wise UTF-8 byte order, parents first (what a sorted depth-first walk yields). */
function comparePaths(a: string, b: string): number {
  const pa = a.split('/');
  const pb = b.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const c = compareUtf8(pa[i]!, pb[i]!);
    if (c !== 0) return c;
  }
  return pa.length - pb.length;
}

/** Options of {@link withBaseHives}. */
export interface WithBaseHivesOptions {
  readonly policy: MetadataPolicy;
  /** How the stream spells the hive folders, given the canonical path (default: as is); see `hiveFolderSpelling`. */
  readonly spelling?: (path: string) => string;
  /** Called with the layer path of each hive file added, as it is yielded. */
  readonly onHiveAdded?: (path: string) => void;
}

/**
 * Adds the five base-layer hives (and the folders that hold them) to a base-layer stream in canonical order (see
 * `comparePaths`), where the order puts them. A name the stream already has (compared as Windows does,
 * case-insensitively) is left as the stream gives it; the added names follow `spelling`. Streams.
 */
export async function* withBaseHives(
  entries: AsyncIterable<LayerEntry> | Iterable<LayerEntry>,
  opts: WithBaseHivesOptions,
): AsyncGenerator<LayerEntry> {
  const pending = baseHiveEntries(opts.policy, opts.spelling ?? ((p) => p)).sort((a, b) =>
    comparePaths(a.path, b.path),
  );
  const have = new Set<string>();
  for await (const e of entries as AsyncIterable<LayerEntry>) {
    while (pending.length > 0 && comparePaths(pending[0]!.path, e.path) < 0) {
      const p = pending.shift()!;
      if (!have.has(upcase(p.path))) {
        if (p.kind === 'file') opts.onHiveAdded?.(p.path);
        yield p;
      }
    }
    have.add(upcase(e.path));
    // a stream entry spelled differently but equal on Windows replaces the pending one
    const i = pending.findIndex((p) => upcase(p.path) === upcase(e.path));
    if (i >= 0) pending.splice(i, 1);
    yield e;
  }
  for (const p of pending) {
    if (have.has(upcase(p.path))) continue;
    if (p.kind === 'file') opts.onHiveAdded?.(p.path);
    yield p;
  }
}

/** How a plain folder spells the hive folders (`files/windows` stays as the user wrote it), for `withBaseHives`. */
export function hiveFolderSpelling(root: string): (path: string) => string {
  const cache = new Map<string, string>();
  return (path) => {
    const hit = cache.get(path);
    if (hit !== undefined) return hit;
    const parts = path.split('/');
    let host = root;
    const out = ['Files'];
    for (const part of parts.slice(1)) {
      let name = part;
      try {
        name = readdirSync(host).find((n) => upcase(n) === upcase(part)) ?? part;
      } catch {
        /* missing folder: use the canonical spelling */
      }
      out.push(name);
      host = join(host, name);
    }
    const r = out.join('/');
    cache.set(path, r);
    return r;
  };
}
