/**
 * Plain content as Windows layer entries, for `image create` and `image append`:
 * - `walkPlainFolderSync`: a host folder (what becomes `C:\`) as entries under `Files/`, with the default metadata
 *   policy of export (`--sd` presets, times truncated to 100 ns and clamped to SOURCE_DATE_EPOCH), hard links found
 *   by (device, inode) and written as links to the first name, symlink targets kept as Windows paths (never
 *   prefixed).
 * - `asWindowsLayer`: a Linux-style tar stream the same way: names and hard-link targets get `Files/`, symlink
 *   targets do not, `./` names normalised, missing parents created first, opaque whiteouts refused.
 * The user's folder is only read, never copied or changed. The base hives a base layer needs: `add-hives.ts`.
 */
import { posix } from 'node:path';
import type { LayerEntry } from '../entry.js';
import { WinlayerError } from '../errors.js';
import { checkLayerPath, upcase } from '../windows/index.js';
import { defaultMetadata, type MetadataPolicy, policyTimes } from './policy.js';
import { symlinkTargetProblem, walkLayerSync } from './walk.js';

/** How plain content becomes Windows entries: the metadata policy and the symlink rule. */
export interface PlainOptions {
  readonly policy: MetadataPolicy;
  /** Absolute or escaping symlink targets: refuse (default) or leave the link out. */
  readonly symlinks?: 'error' | 'skip';
  readonly onSkip?: (path: string, reason: string) => void;
  /** `.wh.NAME` marker files of a plain folder: whiteout entries (a layer on top), or refused (default: a base). */
  readonly whiteouts?: 'entries' | 'refuse';
}

/** The time of entries winlayer makes up (`Files`, `Hives`, parents, hives): the clamp, else the Unix epoch. */
export function madeUpTime(policy: MetadataPolicy): bigint {
  return policy.clamp ?? 0n;
}

/**
 * Walks the plain folder `root` as the `Files/` tree of a layer (the layer walker's plain mode: the same name rules,
 * order, hard links, symlink rules and bodies as export). Streams. Throws `NOT_FOUND`, `NAME_INVALID`,
 * `NAME_COLLISION`, `LAYER_INVALID` (refused `.wh.` markers), `LAYER_SYMLINK`, `LAYER_SPECIAL_FILE`, `IO` while
 * iterating.
 */
export function walkPlainFolderSync(root: string, opts: PlainOptions): Generator<LayerEntry, void, undefined> {
  return walkLayerSync(root, {
    policy: opts.policy,
    plain: { whiteouts: opts.whiteouts ?? 'refuse' },
    ...(opts.symlinks === undefined ? {} : { symlinks: opts.symlinks }),
    ...(opts.onSkip === undefined ? {} : { onSkip: opts.onSkip }),
  });
}

/**
 * Turns a Linux-style tar stream into a non-base Windows layer stream (see the module comment). Entries that already
 * carry Windows metadata keep it; the rest get the default policy. Ends with a `Hives` folder entry. Streams.
 * Throws `LAYER_INVALID` (opaque whiteouts), `LAYER_SPECIAL_FILE`, `LAYER_SYMLINK`, `NAME_INVALID` while iterating.
 */
export async function* asWindowsLayer(
  entries: AsyncIterable<LayerEntry>,
  opts: PlainOptions,
): AsyncGenerator<LayerEntry> {
  const policy = opts.policy;
  const t0 = madeUpTime(policy);
  const emitted = new Set<string>();
  const dirs = new Set<string>(['FILES']);
  yield { kind: 'directory', path: 'Files', win: defaultMetadata(policy, 'directory', t0) };
  emitted.add('FILES');
  const parents = function* (path: string): Generator<LayerEntry> {
    const parts = path.split('/');
    for (let i = 2; i < parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      if (emitted.has(upcase(p))) continue;
      emitted.add(upcase(p));
      dirs.add(upcase(p));
      yield { kind: 'directory', path: p, win: defaultMetadata(policy, 'directory', t0) };
    }
  };
  for await (const e of entries) {
    const name = e.path.replace(/^(\.\/)+/, '').replace(/^\/+/, '');
    if (name === '' || name === '.') continue;
    const path = `Files/${name}`;
    const times = policyTimes(policy, e.win.lastWriteTime);
    const keep = (kind: 'directory' | 'file' | { symlinkToDirectory: boolean }) => {
      const d = defaultMetadata(policy, kind, e.win.lastWriteTime);
      return {
        ...d,
        ...times,
        ...(e.win.attributes === undefined ? {} : { attributes: e.win.attributes }),
        ...(e.win.securityDescriptor === undefined ? {} : { securityDescriptor: e.win.securityDescriptor }),
      };
    };
    switch (e.kind) {
      case 'opaqueWhiteout':
        throw new WinlayerError(
          'LAYER_INVALID',
          'an opaque whiteout (.wh..wh..opq) cannot be appended to a Windows image',
          {
            entry: e.path,
            hint: 'Windows has no opaque folders: whiteout each child (.wh.NAME) instead',
          },
        );
      case 'special':
        throw new WinlayerError('LAYER_SPECIAL_FILE', `a ${e.description} cannot go into a Windows layer`, {
          entry: e.path,
        });
      case 'whiteout': {
        const target = `Files/${e.target.replace(/^(\.\/)+/, '')}`;
        checkLayerPath(target);
        yield* parents(path);
        yield { kind: 'whiteout', path, target, win: { lastWriteTime: 0n } };
        continue;
      }
      case 'directory':
        checkLayerPath(path);
        yield* parents(path);
        if (emitted.has(upcase(path))) continue;
        emitted.add(upcase(path));
        dirs.add(upcase(path));
        yield { kind: 'directory', path, win: keep('directory') };
        continue;
      case 'file':
        checkLayerPath(path);
        yield* parents(path);
        emitted.add(upcase(path));
        yield { kind: 'file', path, size: e.size, body: e.body, win: keep('file') };
        continue;
      case 'stream':
        yield { ...e, path: `Files/${e.path}`, filePath: `Files/${e.filePath}`, raw: undefined } as LayerEntry;
        continue;
      case 'hardlink': {
        checkLayerPath(path);
        yield* parents(path);
        emitted.add(upcase(path));
        const target = e.linkTarget.startsWith('Files/')
          ? e.linkTarget
          : `Files/${e.linkTarget.replace(/^(\.\/)+|^\/+/g, '')}`;
        yield { kind: 'hardlink', path, linkTarget: target, win: keep('file') };
        continue;
      }
      case 'symlink': {
        checkLayerPath(path);
        const problem = symlinkTargetProblem(path, e.linkTarget);
        if (problem !== undefined) {
          if (opts.symlinks === 'skip') {
            opts.onSkip?.(path, problem);
            continue;
          }
          throw new WinlayerError('LAYER_SYMLINK', `symlink target "${e.linkTarget}" ${problem}`, {
            entry: e.path,
            hint: 'make the target relative, or pass --symlinks skip to leave such links out',
          });
        }
        yield* parents(path);
        emitted.add(upcase(path));
        const toDir = dirs.has(
          upcase(posix.normalize(posix.join(posix.dirname(path), e.linkTarget.replaceAll('\\', '/')))),
        );
        const win =
          e.win.attributes === undefined
            ? defaultMetadata(policy, { symlinkToDirectory: toDir }, e.win.lastWriteTime)
            : keep('file');
        yield { kind: 'symlink', path, linkTarget: e.linkTarget.replaceAll('/', '\\'), win };
        continue;
      }
      default:
        throw new WinlayerError('INTERNAL', `unknown entry kind ${(e as LayerEntry).kind}`);
    }
  }
  yield { kind: 'directory', path: 'Hives', win: defaultMetadata(policy, 'directory', t0) };
}

/** Same as `walkPlainFolderSync` but as a non-base layer (ends with a `Hives` folder entry). */
export async function* plainFolderLayer(root: string, opts: PlainOptions): AsyncGenerator<LayerEntry> {
  yield* walkPlainFolderSync(root, { ...opts, whiteouts: 'entries' });
  yield { kind: 'directory', path: 'Hives', win: defaultMetadata(opts.policy, 'directory', madeUpTime(opts.policy)) };
}
