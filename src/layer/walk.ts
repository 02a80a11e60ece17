/**
 * The layer-folder source: walks `Files/` (and `UtilityVM/Files/`, `Hives/`) of a layer folder and yields the canonical
 * `LayerEntry` stream an exporter writes, merging the `.winlayer/` sidecar with what is on disk
 * (`docs/layer-folder.md`).
 *
 * Synchronous fs calls throughout: a sync walk + read is several times faster than `fs/promises` for trees of small
 * files, and the consumer (the tar writer) pulls bodies synchronously too (`EntryBody.read`). Memory is flat: the walk
 * holds the sorted names of the folders on the current path (packed in one buffer for a large folder), the (device,
 * inode) → first path map of multiply-linked files, and the sidecar index; never file data beyond one read buffer.
 */
import {
  type BigIntStats,
  constants as fsConstants,
  lstatSync,
  readdirSync,
  readlinkSync,
  type Stats,
  statSync,
} from 'node:fs';
import { join, posix, sep } from 'node:path';
import type { LayerEntry, WindowsMetadata } from '../entry.js';
import { WinlayerError } from '../errors.js';
import { TRUSTED_PATHS } from '../internal/trusted-paths.js';
import { EventLoopTurns } from '../internal/turns.js';
import { certainlyValidName, NameIndex, upcaseHash } from '../internal/windows.js';
import { OPAQUE_WHITEOUT, WHITEOUT_PREFIX } from '../tar/index.js';
import { escapeControls } from '../terminal-text.js';
import { compareUtf8, equalUpcase, MAX_PATH_LENGTH, windowsNameProblem } from '../windows/index.js';
import { HashSlots } from './hash-slots.js';
import { HostFileBody } from './host-file-body.js';
import { defaultMetadata, type MetadataPolicy, type PolicyOptions, policyTimes, resolvePolicy } from './policy.js';
import {
  type LayerKind,
  readSidecar,
  SIDECAR_DIR,
  type Sidecar,
  type SidecarIndexLimits,
  type SidecarRecord,
} from './sidecar.js';
import { micros } from './times.js';

/** Options of {@link walkLayer}. */
export interface WalkLayerOptions extends PolicyOptions {
  /** A symlink that cannot go into a layer (absolute, or leaving its tree): `error` (default) or `skip` it. */
  readonly symlinks?: 'error' | 'skip';
  /** Base or non-base; default: the sidecar's kind, or `base` for a plain folder. */
  readonly kind?: LayerKind;
  /** Called for each symlink skipped under `symlinks: 'skip'` (layer path and why). */
  readonly onSkip?: (path: string, reason: string) => void;
}

/**
 * Walks a layer folder and yields its entries in canonical order: base layers `Files`, `Files/**`, then (only when
 * `UtilityVM/Files` exists) `UtilityVM`, `UtilityVM/Files`, `UtilityVM/Files/**`; non-base layers also `Hives`,
 * `Hives/*` and the sidecar's whiteouts (right after their folder's entry). Parents before children, siblings in UTF-8
 * byte order. Streams: nothing is read until iteration starts, bodies are read on demand and become stale when the
 * consumer moves on. The walk itself is synchronous ({@link walkLayerSync}); this form gives the event loop a turn
 * (`setImmediate`) at least every 20 ms, so SIGINT/SIGTERM handlers (which remove temporary outputs) and timers run
 * during a long walk.
 *
 * Options are checked when called (`USAGE`, `SDDL_INVALID`). While iterating it throws `NOT_FOUND` /
 * `SOURCE_UNREADABLE` (no folder, or a file), `LAYER_INVALID` (no `Files/`, whiteouts in a base layer, content the
 * walk would leave out: see {@link topLevelProblem}), `LAYER_SYMLINK` (absolute or escaping symlink targets),
 * `LAYER_SPECIAL_FILE` (FIFOs, sockets, devices), `SIDECAR_INVALID` and `IO`. Names Windows cannot hold and case
 * collisions are left out while the walk goes on; at its end one `NAME_INVALID` / `NAME_COLLISION` lists them all.
 */
export function walkLayer(layerDir: string, opts: WalkLayerOptions = {}): AsyncIterable<LayerEntry> {
  const checked: WalkSyncOptions = { ...opts, policy: checkedPolicy(opts) };
  return {
    async *[Symbol.asyncIterator]() {
      const turns = new EventLoopTurns();
      for (const e of walkLayerSync(layerDir, checked)) {
        yield e;
        if (turns.due()) await turns.take();
      }
    },
  };
}

/**
 * Options of {@link walkLayerSync}: those of {@link walkLayer}, plus what winlayer's own modules pass (not part of
 * the package's API: `src/internal/layer.ts` exports this form).
 */
export interface WalkSyncOptions extends WalkLayerOptions {
  /** Use this sidecar instead of reading `<layerDir>/.winlayer`; `null` ignores the sidecar. */
  readonly sidecar?: Sidecar | null;
  /** A policy already resolved (`resolvePolicy`); the policy options (`sd`, `dirSd`, …) are then not read. */
  readonly policy?: MetadataPolicy;
  /**
   * Walk a plain folder (what becomes `C:\`) as the `Files/` tree of a layer, with the default metadata policy and no
   * sidecar: `Files`, then everything below. `.wh.NAME` marker files become whiteouts (`entries`, a layer on top of
   * another) or are refused with `LAYER_INVALID` (`refuse`, a base layer).
   */
  readonly plain?: { readonly whiteouts: 'entries' | 'refuse' };
  /** Limits of the walk's memory (tests make them small to take the bounded paths). */
  readonly limits?: WalkLimits;
}

/**
 * The walk behind {@link walkLayer} as a synchronous generator, for sinks that run synchronously (the tar writer's
 * hot path): same order, options check (when called) and errors; `return()` ends the walk and stales the body.
 */
export function walkLayerSync(layerDir: string, opts: WalkSyncOptions = {}): Generator<LayerEntry, void, undefined> {
  const policy = checkedPolicy(opts);
  if (opts.plain !== undefined) {
    const whiteouts = opts.plain.whiteouts;
    return new Walker(layerDir, policy, { ...opts, sidecar: null }, { kind: 'plain', whiteouts }, opts.limits ?? {});
  }
  return new Walker(layerDir, policy, opts, { kind: 'layer' }, opts.limits ?? {});
}

/** Checks the options (`USAGE`, `SDDL_INVALID`) and returns the policy they give. */
function checkedPolicy(opts: WalkSyncOptions): MetadataPolicy {
  if (opts.symlinks !== undefined && opts.symlinks !== 'error' && opts.symlinks !== 'skip') {
    throw new WinlayerError('USAGE', `--symlinks must be "error" or "skip", not "${String(opts.symlinks)}"`);
  }
  return opts.policy ?? resolvePolicy(opts);
}

/** Internal limits of the walk's memory (tests make them small to take the bounded paths). */
export interface WalkLimits {
  /** A folder with more children than this keeps their sorted names packed in one buffer (default 65,536). */
  readonly packNamesOver?: number;
  /** Limits of the sidecar index the walk reads itself. */
  readonly sidecar?: SidecarIndexLimits;
}

/**
 * Past this many children a folder's names are packed: 330,000 name strings held for the whole walk, and the map that
 * checks their case collisions, made the live heap (and V8's heap, which grows to a multiple of it) large.
 */
const PACK_NAMES_OVER = 65_536;

/**
 * Why a symlink at the layer path `path` whose target was written on a host cannot go into a layer, or undefined when
 * it can: an absolute target (`/…` on the host; `C:…` or `\\…` once it is a Windows path), or one that leaves the
 * link's tree (`Files`, `UtilityVM/Files`, `Hives`). Relative targets may use `/` or `\\`.
 */
export function symlinkTargetProblem(path: string, target: string): string | undefined {
  if (target === '' || target.startsWith('/') || target.startsWith('\\') || /^[A-Za-z]:/.test(target)) {
    return 'is an absolute path';
  }
  const tree = path.startsWith('UtilityVM/Files/') ? 'UtilityVM/Files' : path.slice(0, path.indexOf('/'));
  const resolved = posix.normalize(posix.join(posix.dirname(path), target.replaceAll('\\', '/')));
  if (resolved !== tree && !resolved.startsWith(`${tree}/`)) return `leaves ${tree}/`;
  return undefined;
}

/** One folder being listed: its layer path, host path and sorted children (listed when the walk first gets there). */
interface Frame {
  readonly path: string;
  readonly host: string;
  names: string[] | PackedNames | undefined;
  i: number;
  /** A folder that exists only in a parent layer (it holds whiteouts of this layer): no entry of its own. */
  readonly virtual: boolean;
}

/** An object's metadata for its entry, and the sidecar record it came from. */
interface Meta {
  readonly win: WindowsMetadata;
  readonly extraPax?: SidecarRecord['extraPax'];
  readonly record?: SidecarRecord;
}

/** Largest file size the walk accepts (a JavaScript number holds it exactly). */
const MAX_SIZE = BigInt(Number.MAX_SAFE_INTEGER);
/** `lstat` with nanosecond times; one options object for every call. */
const BIGINT = { bigint: true } as const;
const { S_IFMT, S_IFDIR, S_IFREG, S_IFLNK } = fsConstants;
/** What `run` yields after pushing a tree's root folder: the walk goes on with the folder stack. */
const DESCEND = Symbol('descend');
const DONE: IteratorReturnResult<void> = Object.freeze({ value: undefined, done: true });

/** True when a name holds a UTF-16 unit from U+D800 up (where `<` and UTF-8 order may differ). */
function hasHighUnit(name: string): boolean {
  for (let i = 0; i < name.length; i++) if (name.charCodeAt(i) >= 0xd800) return true;
  return false;
}

/**
 * What the walker reads: a layer folder (`Files/`, `UtilityVM/Files/`, `Hives/`, the sidecar), or a plain folder that
 * is the `Files/` tree itself (`image create`/`append`), where `.wh.NAME` marker files are whiteout entries (a layer
 * on top) or refused (a base layer).
 */
type WalkSource = { readonly kind: 'layer' } | { readonly kind: 'plain'; readonly whiteouts: 'entries' | 'refuse' };

/** A name the walk leaves out because Windows cannot hold it; reported with the others when the walk ends. */
interface NameProblem {
  readonly code: 'NAME_INVALID' | 'NAME_COLLISION';
  /** The name, in its folder. */
  readonly name: string;
  /** The host path a message about this problem alone names: the object, or the folder of a case collision. */
  readonly host: string;
  /** The message about this problem alone (after the host path). */
  readonly rule: string;
  /** This problem in the list of several: where, relative to the folder walked, and why, in parentheses. */
  readonly item: string;
  readonly hint: string;
}

/** How many name problems one error lists; the rest are counted. */
const MAX_NAME_PROBLEMS = 20;
const INVALID_NAME_HINT = 'rename it; Windows could not import this layer';
const COLLISION_HINT = 'rename or remove one of them; Windows names ignore case';
const WHITEOUT_NAME_RULE = `a ${WHITEOUT_PREFIX} name marks a deletion in a layer tar, so it cannot be a file`;
const WHITEOUT_NAME_HINT =
  "rename it; to delete a parent layer's file, import a layer that holds the whiteout (its sidecar records it)";

class Walker implements Generator<LayerEntry, void, undefined> {
  readonly #root: string;
  readonly #source: WalkSource;
  readonly #policy: MetadataPolicy;
  readonly #opts: WalkSyncOptions;
  readonly #limits: WalkLimits;
  #sidecar: Sidecar | undefined;
  #kind: LayerKind = 'base';
  /** device → inode → layer path of the first name, for files with more than one link. */
  readonly #links = new Map<bigint, Map<bigint, string>>();
  /** Layer path of a folder → names of child folders that exist only to hold whiteouts (non-base). */
  readonly #virtual = new Map<string, Set<string>>();
  /** Symlink and parent-hard-link records by path: emitted from the record, whatever the disk holds there. */
  readonly #standalone = new Map<string, SidecarRecord>();
  #body: HostFileBody | undefined;
  #ownsSidecar = false;
  /** The folders being listed, innermost last. */
  readonly #stack: Frame[] = [];
  /** Entries to hand out before the walk goes on (a folder's streams and whiteouts, a file's streams). */
  #pending: Iterator<LayerEntry, void, undefined> | undefined;
  /** The walk's outline (the trees, in order); undefined once the walk ended. */
  #top: Generator<LayerEntry | typeof DESCEND, void, undefined> | undefined;
  #started = false;
  #closed = false;
  /** The last default metadata made for a folder and for a file, and the disk time it was made from. */
  #dirWin: WindowsMetadata | undefined;
  #dirNs: bigint | undefined;
  #fileWin: WindowsMetadata | undefined;
  #fileNs: bigint | undefined;
  /** The first {@link MAX_NAME_PROBLEMS} names Windows cannot hold, and how many there are in all. */
  readonly #nameProblems: NameProblem[] = [];
  #nameProblemCount = 0;
  /** The name problems of the folder being read (one array for the walk: no allocation per folder). */
  readonly #folderNameProblems: NameProblem[] = [];
  /** The last entry built from checked names (and its path as built), for {@link TRUSTED_PATHS}. */
  #checked: LayerEntry | undefined;
  #checkedPath = '';

  constructor(
    root: string,
    policy: MetadataPolicy,
    opts: WalkSyncOptions,
    source: WalkSource = { kind: 'layer' },
    limits: WalkLimits = {},
  ) {
    this.#root = root;
    this.#limits = limits;
    this.#source = source;
    this.#policy = policy;
    this.#opts = opts;
  }

  closeBody(): void {
    this.#body?.close();
    this.#body = undefined;
  }

  /** Closes the open body and, when the walk read the sidecar itself, the sidecar. */
  close(): void {
    this.closeBody();
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsSidecar) this.#sidecar?.close();
  }

  [Symbol.iterator](): this {
    return this;
  }

  /**
   * For the tar writer: true when `e` is the entry just handed out and was built from names `#list` checked (a path
   * of non-empty Windows names, none `.` or `..`, no NUL), with its path as built: the writer need not check it.
   */
  [TRUSTED_PATHS](e: LayerEntry): boolean {
    return e === this.#checked && e.path === this.#checkedPath;
  }

  /**
   * The next entry. A generator would do, but this is the walk's hot path: the folder stack is walked here directly
   * (no generator resumed per entry); the outline (`run`) and the rare multi-entry parts (streams, whiteouts) are
   * generators drained from here. Like a generator, the walk ends (and releases everything) at its end or first error.
   */
  next(): IteratorResult<LayerEntry, void> {
    if (!this.#started) {
      this.#started = true;
      this.#top = this.#run();
    }
    const top = this.#top;
    if (top === undefined) return DONE;
    try {
      for (;;) {
        const pending = this.#pending;
        if (pending !== undefined) {
          const r = pending.next();
          if (r.done !== true) return r;
          this.#pending = undefined;
        }
        if (this.#stack.length > 0) {
          const e = this.#step();
          if (e !== undefined) return { value: e, done: false };
          continue;
        }
        const r = top.next();
        if (r.done === true) {
          this.#end();
          this.#throwNameProblems();
          return DONE;
        }
        if (r.value !== DESCEND) return r as IteratorYieldResult<LayerEntry>;
      }
    } catch (e) {
      this.#end();
      throw e;
    }
  }

  return(): IteratorResult<LayerEntry, void> {
    this.#started = true;
    this.#end();
    return DONE;
  }

  throw(e: unknown): IteratorResult<LayerEntry, void> {
    this.#started = true;
    this.#end();
    throw e;
  }

  #end(): void {
    this.#top = undefined;
    this.#pending = undefined;
    this.#stack.length = 0;
    this.close();
  }

  *#run(): Generator<LayerEntry | typeof DESCEND, void, undefined> {
    if (this.#source.kind === 'plain') {
      yield* this.#plain();
      return;
    }
    requireLayerFolder(this.#root);
    this.#ownsSidecar = this.#opts.sidecar === undefined;
    this.#sidecar =
      this.#opts.sidecar === undefined
        ? readSidecar(this.#root, this.#limits.sidecar)
        : (this.#opts.sidecar ?? undefined);
    this.#kind = this.#opts.kind ?? this.#sidecar?.manifest.kind ?? 'base';
    const detached = this.#sidecar?.detached ?? new Map<string, readonly SidecarRecord[]>();
    // Symlink records stand alone too (import never creates host symlinks) and are fine in base layers.
    const notBase = [...detached.values()].flat().filter((r) => r.kind !== 'symlink');
    if (this.#kind === 'base' && notBase.length > 0) {
      const first = notBase[0]!;
      throw new WinlayerError('LAYER_INVALID', `a base layer cannot hold ${describeDetached(first)}`, {
        path: join(this.#root, SIDECAR_DIR),
        entry: first.path,
        hint: 'export it as a non-base layer (--non-base), or remove the record from .winlayer/entries.ndjson',
      });
    }
    for (const [dir, group] of detached) {
      this.#addVirtual(dir);
      for (const r of group) if (r.kind !== 'whiteout') this.#standalone.set(r.path, r);
    }
    this.#checkTopLevel();

    const files = this.#statTop('Files');
    if (files === undefined || !files.isDirectory()) {
      throw new WinlayerError('LAYER_INVALID', 'a layer folder must hold a Files folder', {
        path: this.#root,
        hint: 'give the folder that holds Files/ (the container sees Files/ as C:\\); put the container files under it',
      });
    }
    yield* this.#tree('Files', files);
    if (this.#kind === 'non-base') {
      const hives = this.#statTop('Hives');
      if (hives?.isDirectory() === true) yield* this.#tree('Hives', hives);
    }
    const uvm = this.#statTop('UtilityVM');
    const uvmFiles = uvm === undefined ? undefined : this.#statTop('UtilityVM/Files');
    if (uvm !== undefined && uvmFiles !== undefined) {
      this.closeBody();
      yield* this.#dir('UtilityVM', uvm);
      yield* this.#tree('UtilityVM/Files', uvmFiles);
    }
  }

  /**
   * Refuses what export would otherwise leave out without a word: a name at the top of the layer folder, or in
   * `UtilityVM/`, that is not part of a layer (see {@link topLevelProblem}). The first such name in UTF-8 order.
   */
  #checkTopLevel(): void {
    // lstat each step: a UtilityVM that is a symlink must not lead the walk out of the layer, nor a file be left out.
    for (const path of ['UtilityVM', 'UtilityVM/Files']) {
      const st = this.#statTop(path);
      if (st !== undefined && !st.isDirectory()) {
        throw new WinlayerError(
          'LAYER_INVALID',
          `must be a folder, not ${st.isSymbolicLink() ? 'a symlink' : 'a file'}`,
          {
            path: join(this.#root, path),
          },
        );
      }
      if (st === undefined) break;
    }
    for (const [dir, prefix] of [
      ['', ''],
      ['UtilityVM', 'UtilityVM/'],
    ] as const) {
      let names: string[];
      try {
        names = readdirSync(join(this.#root, dir));
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (dir !== '' && (code === 'ENOENT' || code === 'ENOTDIR')) continue; // no UtilityVM folder: checked later
        throw ioError(e, join(this.#root, dir));
      }
      for (const name of names.sort(compareUtf8)) {
        const problem = topLevelProblem(`${prefix}${name}`, this.#kind);
        if (problem === undefined) continue;
        throw new WinlayerError('LAYER_INVALID', problem.rule, {
          path: join(this.#root, dir, name),
          hint: problem.hint,
        });
      }
    }
  }

  /** A plain folder as the `Files/` tree: no sidecar, no UtilityVM, no Hives. */
  *#plain(): Generator<LayerEntry | typeof DESCEND, void, undefined> {
    let top: BigIntStats;
    try {
      top = statSync(this.#root, { bigint: true }); // the folder given may be a symlink to one
    } catch {
      throw new WinlayerError('NOT_FOUND', 'the folder does not exist', { path: this.#root });
    }
    if (!top.isDirectory()) throw new WinlayerError('NOT_FOUND', 'not a folder', { path: this.#root });
    if (this.#source.kind === 'plain' && this.#source.whiteouts === 'entries') this.#kind = 'non-base';
    yield* this.#tree('Files', top);
  }

  /** The host path of a layer path (`Files/…` is the plain folder itself in plain mode). */
  #host(path: string): string {
    if (this.#source.kind === 'layer') return join(this.#root, ...path.split('/'));
    return join(this.#root, ...path.split('/').slice(1));
  }

  #statTop(path: string): BigIntStats | undefined {
    try {
      return lstatSync(join(this.#root, ...path.split('/')), { bigint: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw ioError(e, join(this.#root, path));
    }
  }

  #addVirtual(dir: string): void {
    let child = dir;
    for (let i = dir.lastIndexOf('/'); i > 0; i = child.lastIndexOf('/')) {
      const parent = child.slice(0, i);
      const set = this.#virtual.get(parent) ?? new Set<string>();
      set.add(child.slice(i + 1));
      this.#virtual.set(parent, set);
      child = parent;
    }
  }

  /** A whole tree: its root folder's entry; then the walk goes on below it, depth first, from {@link next}. */
  *#tree(path: string, st: BigIntStats): Generator<LayerEntry | typeof DESCEND, void, undefined> {
    const host = this.#host(path);
    this.closeBody();
    yield* this.#dir(path, st);
    yield* this.#whiteouts(path);
    this.#stack.push({ path, host, names: undefined, i: 0, virtual: false });
    yield DESCEND;
  }

  /**
   * One step of the walk below a tree's root: the next child of the innermost folder (its entry, or undefined when it
   * gave none: a folder finished or skipped, or entries left in `#pending`).
   */
  #step(): LayerEntry | undefined {
    const stack = this.#stack;
    const frame = stack[stack.length - 1]!;
    let names = frame.names;
    if (names === undefined) {
      names = this.#list(frame.path, frame.host, frame.virtual);
      frame.names = names;
    }
    if (frame.i >= names.length) {
      stack.pop();
      return undefined;
    }
    const name = Array.isArray(names) ? names[frame.i++]! : names.name(frame.i++);
    const childPath = `${frame.path}/${name}`;
    // Names come from readdir (or sidecar paths): one component, so plain concatenation is `join` without its cost.
    const childHost = `${frame.host}${sep}${name}`;
    if (this.#source.kind === 'plain' && name.startsWith(WHITEOUT_PREFIX)) {
      this.closeBody();
      return this.#marker(frame.path, name, childHost, this.#source.whiteouts);
    }
    if (this.#standalone.size > 0) {
      const detached = this.#standalone.get(childPath);
      if (detached !== undefined) {
        this.closeBody();
        return this.#detachedEntry(detached);
      }
    }
    let cst: BigIntStats | undefined;
    if (!frame.virtual) {
      try {
        cst = lstatSync(childHost, BIGINT);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(e, childHost);
      }
    }
    if (cst === undefined) {
      if (this.#virtual.get(frame.path)?.has(name) === true) {
        this.#pending = this.#whiteouts(childPath);
        stack.push({ path: childPath, host: childHost, names: undefined, i: 0, virtual: true });
        return undefined;
      }
      throw new WinlayerError('IO', 'the file disappeared during the walk, or its name is not valid UTF-8', {
        path: childHost,
      });
    }
    // The type from the mode as a number: `isDirectory()` and co. of a BigIntStats make two BigInts each.
    const type = Number(cst.mode) & S_IFMT;
    if (type === S_IFDIR) {
      this.closeBody();
      stack.push({ path: childPath, host: childHost, names: undefined, i: 0, virtual: false });
      if (this.#sidecar === undefined) {
        return this.#markTrusted({ kind: 'directory', path: childPath, win: this.#defaultDir(cst.mtimeNs) });
      }
      // Its entry and streams, then its whiteouts, then (from the stack) its children.
      this.#pending = this.#dirAndWhiteouts(childPath, cst);
      return undefined;
    }
    if (type === S_IFREG) {
      if (this.#sidecar === undefined) {
        return this.#markTrusted(this.#file(childPath, childHost, cst, this.#defaultFile(cst.mtimeNs), undefined));
      }
      const meta = this.#meta(childPath, 'file', cst);
      const e = this.#file(childPath, childHost, cst, meta.win, meta.extraPax);
      if (e.kind === 'file' && meta.record?.streams !== undefined) {
        this.#pending = this.#streams(childPath, meta.record, meta.win);
      }
      return e;
    }
    if (type === S_IFLNK) {
      const e = this.#symlink(childPath, childHost, cst);
      if (e !== undefined) this.closeBody();
      return e;
    }
    throw new WinlayerError('LAYER_SPECIAL_FILE', `a ${specialKind(cst)} cannot go into a Windows layer`, {
      path: childHost,
      hint: 'remove it from the layer folder',
    });
  }

  /** Marks `e` (built from checked names) for {@link TRUSTED_PATHS}. */
  #markTrusted(e: LayerEntry): LayerEntry {
    this.#checked = e;
    this.#checkedPath = e.path;
    return e;
  }

  *#dirAndWhiteouts(path: string, st: BigIntStats): Generator<LayerEntry, void, undefined> {
    yield* this.#dir(path, st);
    yield* this.#whiteouts(path);
  }

  /** The default metadata of a folder with this disk time (shared with the folder before when the time is the same). */
  #defaultDir(mtimeNs: bigint): WindowsMetadata {
    if (mtimeNs !== this.#dirNs || this.#dirWin === undefined) {
      this.#dirWin = defaultMetadata(this.#policy, 'directory', mtimeNs);
      this.#dirNs = mtimeNs;
    }
    return this.#dirWin;
  }

  /** The default metadata of a file with this disk time (shared with the file before when the time is the same). */
  #defaultFile(mtimeNs: bigint): WindowsMetadata {
    if (mtimeNs !== this.#fileNs || this.#fileWin === undefined) {
      this.#fileWin = defaultMetadata(this.#policy, 'file', mtimeNs);
      this.#fileNs = mtimeNs;
    }
    return this.#fileWin;
  }

  /** Children of a folder, checked (Windows names, case collisions) and sorted in UTF-8 byte order. */
  #list(path: string, host: string, virtual: boolean): string[] | PackedNames {
    let names: string[] = [];
    if (!virtual) {
      try {
        names = readdirSync(host);
      } catch (e) {
        throw ioError(e, host);
      }
    }
    if (path === 'Files') names = names.filter((n) => !equalUpcase(n, '$Recycle.Bin'));
    const extra = this.#virtual.get(path);
    const detached = this.#sidecar?.detached.get(path);
    if (extra !== undefined || detached !== undefined) {
      const more = new Set<string>(extra);
      for (const r of detached ?? []) {
        if (r.kind === 'hardlink' || r.kind === 'symlink') more.add(r.path.slice(path.length + 1));
      }
      const have = new Set(names);
      for (const n of more) if (!have.has(n)) names.push(n);
    }
    const packed = names.length > (this.#limits.packNamesOver ?? PACK_NAMES_OVER);
    const caseIndex = packed ? new CaseIndex(names) : undefined;
    const nameIndex = packed ? undefined : new NameIndex();
    // `<` order is UTF-8 order unless a name holds a unit from U+D800 up: then the comparator.
    let unitOrder = true;
    // Names Windows cannot hold: reported together at the end of the walk, left out of it meanwhile.
    const bad = this.#folderNameProblems;
    bad.length = 0;
    for (let k = 0; k < names.length; k++) {
      const name = names[k]!;
      if (name.startsWith(WHITEOUT_PREFIX) && this.#source.kind === 'layer') {
        // In a layer tar this name is a tombstone, not a file: every reader (hcsshim, containerd, ours) would delete
        // the parent's file instead of writing this one, and a base layer with one is refused.
        const why = WHITEOUT_NAME_RULE;
        bad.push(this.#nameProblem('NAME_INVALID', path, host, name, why, why, WHITEOUT_NAME_HINT));
        continue;
      }
      if (!certainlyValidName(name)) {
        const problem = windowsNameProblem(name);
        if (problem !== undefined) {
          const why = escapeControls(problem);
          const rule = `not a valid Windows name: ${why}`;
          bad.push(this.#nameProblem('NAME_INVALID', path, host, name, rule, why, INVALID_NAME_HINT));
          continue;
        }
        if (unitOrder && hasHighUnit(name)) unitOrder = false;
      }
      const other = caseIndex !== undefined ? caseIndex.add(k) : nameIndex!.add(name);
      if (other !== undefined) {
        const [a, b] = [other, name].sort(compareUtf8);
        const [ea, eb] = [escapeControls(a!), escapeControls(b!)];
        const rule = `"${ea}" and "${eb}" are the same name on Windows`;
        const why = `the same name on Windows as ${eb}`;
        bad.push(this.#nameProblem('NAME_COLLISION', path, host, a!, rule, why, COLLISION_HINT, 'folder'));
        continue;
      }
      if (path.length + 1 + name.length > MAX_PATH_LENGTH) {
        const rule = `the path is longer than ${MAX_PATH_LENGTH} UTF-16 units`;
        bad.push(this.#nameProblem('NAME_INVALID', path, host, name, rule, rule, INVALID_NAME_HINT));
      }
    }
    if (bad.length > 0) {
      const skip = new Set(bad.map((p) => p.name));
      names = names.filter((n) => !skip.has(n));
      this.#noteNameProblems(bad);
    }
    const sorted = unitOrder ? names.sort() : names.sort(compareUtf8);
    return packed ? new PackedNames(sorted) : sorted;
  }

  /**
   * A name of the folder `dir` (host `dirHost`) that Windows cannot hold: `rule` is the message about it alone, which
   * names the object's host path, or for a case collision (`at: 'folder'`) the folder's; `why` says it in the list.
   */
  #nameProblem(
    code: NameProblem['code'],
    dir: string,
    dirHost: string,
    name: string,
    rule: string,
    why: string,
    hint: string,
    at: 'object' | 'folder' = 'object',
  ): NameProblem {
    const layerPath = `${dir}/${name}`;
    // The list names each place relative to the folder walked, which the message names once.
    const relative = this.#source.kind === 'layer' ? layerPath : layerPath.slice('Files/'.length);
    const host = at === 'folder' ? dirHost : `${dirHost}${sep}${name}`;
    return { code, name, host, rule, item: `${escapeControls(relative)} (${why})`, hint };
  }

  /** Keeps a folder's name problems (in UTF-8 order of the names, so the report does not depend on `readdir`). */
  #noteNameProblems(found: NameProblem[]): void {
    found.sort((a, b) => compareUtf8(a.name, b.name));
    for (const p of found) {
      if (this.#nameProblems.length < MAX_NAME_PROBLEMS) this.#nameProblems.push(p);
      this.#nameProblemCount++;
    }
  }

  /**
   * At the end of the walk: one error for every name Windows cannot hold (the first {@link MAX_NAME_PROBLEMS}, then
   * how many more), so a user fixes them all after one run. One problem keeps the plain form.
   */
  #throwNameProblems(): void {
    const count = this.#nameProblemCount;
    const first = this.#nameProblems[0];
    if (first === undefined) return;
    if (count === 1) throw new WinlayerError(first.code, first.rule, { path: first.host, hint: first.hint });
    // One line (a message's only line break is the one before its hint).
    const items = this.#nameProblems.map((p) => p.item);
    if (count > items.length) items.push(`and ${count - items.length} more`);
    throw new WinlayerError(first.code, `${count} names Windows cannot hold: ${items.join('; ')}`, {
      path: this.#root,
      hint: 'rename or remove them; Windows names ignore case and cannot be reserved device names, end in a dot or space, or hold <>:"|?*',
    });
  }

  /** A `.wh.NAME` marker file of a plain folder, as in a Linux layer tar: a whiteout entry, or refused. */
  #marker(dir: string, name: string, host: string, whiteouts: 'entries' | 'refuse'): LayerEntry {
    const path = `${dir}/${name}`;
    const opaque = name === OPAQUE_WHITEOUT;
    if (whiteouts === 'refuse' || opaque) {
      const what = opaque ? `an opaque whiteout (${OPAQUE_WHITEOUT})` : `a whiteout (${name})`;
      throw new WinlayerError(
        'LAYER_INVALID',
        `${what} cannot go into ${whiteouts === 'entries' ? 'a Windows layer' : 'a base layer'}`,
        {
          path: host,
          hint: opaque
            ? 'Windows has no opaque folders: whiteout each child (.wh.NAME) instead'
            : 'remove the marker file',
        },
      );
    }
    return {
      kind: 'whiteout',
      path,
      target: `${dir}/${name.slice(WHITEOUT_PREFIX.length)}`,
      win: { lastWriteTime: 0n },
    };
  }

  /** The whiteouts recorded for a folder, right after the folder's own entry, in UTF-8 order of their names. */
  *#whiteouts(path: string): Generator<LayerEntry, void, undefined> {
    const group = this.#sidecar?.detached.get(path);
    if (group === undefined) return;
    const outs = group.filter((r) => r.kind === 'whiteout').sort((a, b) => compareUtf8(a.path, b.path));
    for (const r of outs) {
      this.closeBody();
      yield this.#detachedEntry(r);
    }
  }

  #detachedEntry(r: SidecarRecord): LayerEntry {
    const win = this.#recordMeta(r, undefined);
    const extra = r.extraPax === undefined ? {} : { extraPax: r.extraPax };
    if (r.kind === 'whiteout') return { kind: 'whiteout', path: r.path, target: r.target!, win, ...extra };
    if (r.kind === 'symlink') return { kind: 'symlink', path: r.path, linkTarget: r.linkTarget!, win, ...extra };
    return { kind: 'hardlink', path: r.path, linkTarget: r.linkTarget!, win, ...extra };
  }

  /** A file's entry (a hard link to an earlier name when its inode was seen); its streams follow from the caller. */
  #file(
    path: string,
    host: string,
    st: BigIntStats,
    win: WindowsMetadata,
    extraPax: SidecarRecord['extraPax'] | undefined,
  ): LayerEntry {
    if (st.nlink > 1n) {
      // Keyed by the numbers themselves (a Map compares bigints by value): no `dev:ino` string per linked file.
      let inodes = this.#links.get(st.dev);
      if (inodes === undefined) {
        inodes = new Map<bigint, string>();
        this.#links.set(st.dev, inodes);
      }
      const first = inodes.get(st.ino);
      if (first !== undefined) {
        this.closeBody();
        return extraPax
          ? { kind: 'hardlink', path, linkTarget: first, win, extraPax }
          : { kind: 'hardlink', path, linkTarget: first, win };
      }
      inodes.set(st.ino, path);
    }
    if (st.size > MAX_SIZE) {
      throw new WinlayerError('TAR_TOO_LARGE', 'the file is larger than 2^53 bytes', { path: host });
    }
    const size = Number(st.size);
    this.closeBody();
    const body = new HostFileBody(host, path, size);
    this.#body = body;
    if (extraPax === undefined) return { kind: 'file', path, size, body, win };
    return { kind: 'file', path, size, body, win, extraPax };
  }

  /** The alternate data streams of a file or folder, from the sidecar, right after their owner. */
  *#streams(
    path: string,
    record: SidecarRecord | undefined,
    win: WindowsMetadata,
  ): Generator<LayerEntry, void, undefined> {
    for (const s of record?.streams ?? []) {
      const dataHost = this.#sidecar!.streamPath(s);
      let dsize: number;
      try {
        dsize = statSync(dataHost).size;
      } catch (e) {
        throw new WinlayerError(
          'SIDECAR_INVALID',
          `the data of stream "${s.name}" is missing: ${(e as Error).message}`,
          {
            path: dataHost,
            entry: path,
          },
        );
      }
      this.closeBody();
      const sbody = new HostFileBody(dataHost, `${path}:${s.name}`, dsize, { entryIsHost: false });
      this.#body = sbody;
      yield {
        kind: 'stream',
        path: `${path}:${s.name}`,
        filePath: path,
        streamName: s.name,
        size: dsize,
        body: sbody,
        win: streamMeta(win),
      };
    }
  }

  #symlink(path: string, host: string, st: BigIntStats): LayerEntry | undefined {
    let target: string;
    try {
      target = readlinkSync(host);
    } catch (e) {
      throw ioError(e, host);
    }
    // Symlink records never reach here: they are emitted from the sidecar before the disk is looked at.
    const problem = symlinkTargetProblem(path, target);
    if (problem !== undefined) {
      if (this.#opts.symlinks === 'skip') {
        this.#opts.onSkip?.(path, problem);
        return undefined;
      }
      throw new WinlayerError('LAYER_SYMLINK', `symlink target "${escapeControls(target)}" ${problem}`, {
        path: host,
        hint: 'make the target relative and inside the layer, or pass --symlinks skip to leave such links out',
      });
    }
    const resolved = posix.normalize(posix.join(posix.dirname(path), target.replaceAll('\\', '/')));
    let toDir = false;
    try {
      toDir = statSync(this.#host(resolved)).isDirectory();
    } catch {
      toDir = false; // dangling: a file symlink
    }
    const win = defaultMetadata(this.#policy, { symlinkToDirectory: toDir }, st.mtimeNs);
    return { kind: 'symlink', path, linkTarget: target.replaceAll('/', '\\'), win };
  }

  /** A folder's entry, then its alternate data streams. */
  *#dir(path: string, st: BigIntStats): Generator<LayerEntry, void, undefined> {
    const m = this.#meta(path, 'directory', st);
    // Literals, not a spread: the same object shape as the folder entries of the walk's hot path.
    yield m.extraPax
      ? { kind: 'directory', path, win: m.win, extraPax: m.extraPax }
      : { kind: 'directory', path, win: m.win };
    yield* this.#streams(path, m.record, m.win);
  }

  /** Metadata of a disk object: the sidecar record where it matches, else the default policy. */
  #meta(path: string, kind: 'directory' | 'file', st: BigIntStats): Meta {
    const rec = this.#sidecar?.get(path);
    return this.#merge(rec, kind, st);
  }

  #merge(rec: SidecarRecord | undefined, kind: 'directory' | 'file', st: BigIntStats): Meta {
    const matches =
      rec !== undefined && (rec.kind === kind || (kind === 'file' && rec.kind === 'hardlink' && rec.inParent !== true));
    if (!matches) {
      return { win: defaultMetadata(this.#policy, kind, st.mtimeNs) };
    }
    const unchanged =
      rec.diskMtime !== undefined &&
      micros(rec.diskMtime) === micros(st.mtimeNs) &&
      (kind !== 'file' || rec.size === undefined || BigInt(rec.size) === st.size);
    // A record without a last write time (a source that gave none) takes the disk's, like an edited object.
    const win = this.#recordMeta(rec, unchanged && rec.lastWriteTime !== undefined ? undefined : st.mtimeNs);
    return { win, ...(rec.extraPax ? { extraPax: rec.extraPax } : {}), record: rec };
  }

  /** A record's metadata; with `diskMtime` the times come from the disk (an edited object) instead. */
  #recordMeta(rec: SidecarRecord, diskMtime: bigint | undefined): WindowsMetadata {
    const times =
      diskMtime !== undefined
        ? policyTimes(this.#policy, diskMtime)
        : {
            lastWriteTime: rec.lastWriteTime ?? 0n,
            ...(rec.creationTime === undefined ? {} : { creationTime: rec.creationTime }),
            ...(rec.lastAccessTime === undefined ? {} : { lastAccessTime: rec.lastAccessTime }),
            ...(rec.changeTime === undefined ? {} : { changeTime: rec.changeTime }),
          };
    return {
      ...(rec.attributes === undefined ? {} : { attributes: rec.attributes }),
      ...(rec.sd === undefined ? {} : { securityDescriptor: this.#sidecar!.securityDescriptor(rec.sd) }),
      ...times,
      ...(rec.mountPoint === true ? { mountPoint: true } : {}),
      ...(rec.extendedAttributes === undefined ? {} : { extendedAttributes: rec.extendedAttributes }),
    };
  }
}

/**
 * The case-collision check of a large folder, {@link NameIndex}'s `add` without a map entry per name: a table of
 * (hash by Windows' case rule, index into `names`); a hash match is confirmed on the names themselves.
 */
class CaseIndex {
  readonly #names: readonly string[];
  readonly #table = new HashSlots();

  constructor(names: readonly string[]) {
    this.#names = names;
  }

  /** Records `names[index]`, or returns the earlier name it collides with (then it is not recorded). */
  add(index: number): string | undefined {
    const names = this.#names;
    const name = names[index]!;
    const hash = upcaseHash(name);
    const other = this.#table.find(hash, (k) => equalUpcase(names[k]!, name));
    if (other >= 0) return names[other];
    this.#table.add(hash, index);
    return undefined;
  }
}

/**
 * A large folder's sorted names in one buffer (UTF-16, so any string comes back as it was) and their offsets, instead
 * of a string each for the whole time the walk is below the folder.
 */
export class PackedNames {
  readonly #text: Buffer;
  readonly #ends: Uint32Array;

  constructor(names: readonly string[]) {
    let units = 0;
    for (const n of names) units += n.length;
    this.#text = Buffer.allocUnsafe(2 * units);
    this.#ends = new Uint32Array(names.length);
    let at = 0;
    for (let i = 0; i < names.length; i++) {
      at += this.#text.write(names[i]!, at, 'utf16le');
      this.#ends[i] = at;
    }
  }

  get length(): number {
    return this.#ends.length;
  }

  name(i: number): string {
    return this.#text.toString('utf16le', i === 0 ? 0 : this.#ends[i - 1]!, this.#ends[i]!);
  }
}

/**
 * Why the name `path` (at the top of a layer folder, or directly in `UtilityVM/`) has no place in a layer of `kind`,
 * or undefined when it has: `Files`, `UtilityVM` (holding `Files`), `Hives` (non-base layers), the `.winlayer`
 * sidecar, and what import and hcsshim leave beside a layer (`bcd*.bak`, `layout`, `*.vhdx`), which are not layer
 * content. Anything else would be left out of the tar (docs/layer-folder.md).
 */
function topLevelProblem(path: string, kind: LayerKind): { rule: string; hint: string } | undefined {
  if (path === 'Files' || path === 'UtilityVM' || path === 'UtilityVM/Files' || path === SIDECAR_DIR) return undefined;
  if (/\.vhdx$/i.test(path)) return undefined;
  if (!path.includes('/') && (/^bcd.*\.bak$/i.test(path) || path === 'layout')) return undefined;
  if (path === 'Hives') {
    if (kind === 'non-base') return undefined;
    return {
      rule: 'a base layer has no Hives/ (registry deltas belong to a layer on top of a parent)',
      hint: 'pass --non-base if the layer goes on top of a parent; a base layer keeps its registry in Files/Windows/System32/config',
    };
  }
  return {
    rule: 'not part of a layer: export writes only Files/, UtilityVM/Files/ and Hives/',
    hint: 'move it under Files/ (what the container sees as C:\\), or out of the layer folder',
  };
}

/**
 * Checks that `dir` is a folder to walk as a layer (a symlink to one will do): `NOT_FOUND` when it does not exist,
 * `SOURCE_UNREADABLE` when it is a file (a layer tar, most likely: that is for `import`).
 */
export function requireLayerFolder(dir: string): void {
  let st: Stats;
  try {
    st = statSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new WinlayerError('NOT_FOUND', 'the layer folder does not exist', { path: dir });
    }
    throw ioError(e, dir);
  }
  if (!st.isDirectory()) {
    throw new WinlayerError('SOURCE_UNREADABLE', 'is a file, not a layer folder', {
      path: dir,
      hint: `to read a layer tar, use \`winlayer import <dir> -i ${dir}\` (or \`winlayer ls ${dir}\`)`,
    });
  }
}

/** An alternate data stream carries its file's times and nothing else (go-winio writes no MSWINDOWS.* on it). */
function streamMeta(win: WindowsMetadata): WindowsMetadata {
  return {
    lastWriteTime: win.lastWriteTime,
    ...(win.creationTime === undefined ? {} : { creationTime: win.creationTime }),
    ...(win.lastAccessTime === undefined ? {} : { lastAccessTime: win.lastAccessTime }),
    ...(win.changeTime === undefined ? {} : { changeTime: win.changeTime }),
  };
}

function describeDetached(r: SidecarRecord): string {
  return r.kind === 'whiteout' ? `a whiteout (${r.path})` : `a hard link into a parent layer (${r.path})`;
}

function specialKind(st: BigIntStats): string {
  if (st.isFIFO()) return 'FIFO';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  return 'special file';
}

function ioError(e: unknown, host: string): WinlayerError {
  if (e instanceof WinlayerError) return e;
  return new WinlayerError('IO', `cannot read: ${(e as Error).message}`, { path: host, cause: e });
}
