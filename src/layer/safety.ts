/**
 * Path safety for archives we did not write: the rules that stand between a hostile layer tar and the host filesystem.
 * `ImportGuard` sees every entry in archive order and either accepts it (returning where it goes) or throws a
 * `WinlayerError` that names the entry and the rule. It keeps an index of every name (`NameSet`: a table of two 32-bit
 * words per name in memory, the names themselves in a spill file when the caller gives one), so memory hardly grows
 * with the number of entries and never with their size.
 *
 * The guarantees, whatever the entry order:
 * - every accepted name is relative, `/`-separated, free of `..`, `.`, empty components, NUL and backslashes, and
 *   lies under `Files/`, `UtilityVM/Files/` or `Hives/` (or is one of those folders, or `UtilityVM`);
 * - its parent was accepted earlier as a directory entry, spelled exactly the same, so nothing is ever written through
 *   a symbolic link, a file or a folder the archive did not declare;
 * - no two names are equal by Windows' case rule (`upcase`), whiteout targets and stream names included;
 * - a hard link points at an earlier regular file of this layer (a link to a link resolves to the file holding the
 *   data), or, for non-base layers, at a path under `Files/` that the caller resolves in a parent layer;
 * - devices, FIFOs, unknown types and opaque whiteouts are refused; base layers refuse whiteouts and `Hives/`;
 * - a security descriptor passes the rule `sd decode` applies (`checkEntrySecurityDescriptor`).
 */
import type { LayerEntry } from '../entry.js';
import { WinlayerError } from '../errors.js';
import { parentPath } from '../internal/tar.js';
import { checkEntrySecurityDescriptor } from '../internal/windows.js';
import { WHITEOUT_PREFIX } from '../tar/index.js';
import { upcase, windowsNameProblem } from '../windows/index.js';
import { type NameEntry, NameSet } from './name-set.js';

/** What the guard knows about the layer kind: `auto` decides at the end (a `Hives/` entry or a whiteout ⇒ non-base). */
export type GuardLayerKind = 'base' | 'non-base' | 'auto';

export interface ImportGuardOptions {
  /** `base` refuses whiteouts and `Hives/`; `non-base` and `auto` record them. Default `auto`. */
  readonly kind?: GuardLayerKind;
  /** True when hard links may point into parent layers (non-base import with `--parent` folders). */
  readonly parentLinks?: boolean;
  /**
   * A file (that must not exist) where the guard keeps the names it has seen, so that memory does not grow with them;
   * it is unlinked at once where the platform allows, else by `close()`. Default: names are kept in memory.
   */
  readonly spillFile?: string;
}

/** Where a hard link's data lives, as the guard resolved it. */
export type LinkResolution =
  /** An earlier regular file of this layer (the path that holds the data, never itself a link). */
  | { readonly in: 'layer'; readonly dataPath: string }
  /** Not in this layer: a path under `Files/` for the caller to find in the parent layers. */
  | { readonly in: 'parent'; readonly path: string };

/** The verdict on one accepted entry. */
export interface GuardVerdict {
  /** Set for hard links only. */
  readonly link?: LinkResolution;
  /** True for entries that make the layer non-base (a `Hives/` entry or a whiteout). */
  readonly nonBase: boolean;
}

type Known = 'directory' | 'file' | 'hardlink' | 'symlink' | 'whiteout' | 'stream' | 'parentLink';

interface KnownName {
  readonly path: string;
  readonly kind: Known;
  /** For files and hard links: the path that holds the data. */
  readonly dataPath?: string;
}

/** The `NameSet` tag of each kind. */
const TAGS: Readonly<Record<Known, number>> = {
  directory: 1,
  file: 2,
  hardlink: 3,
  symlink: 4,
  whiteout: 5,
  stream: 6,
  parentLink: 7,
};
const KINDS: readonly (Known | undefined)[] = [
  undefined,
  'directory',
  'file',
  'hardlink',
  'symlink',
  'whiteout',
  'stream',
  'parentLink',
];

const ROOTS = new Set(['Files', 'UtilityVM', 'Hives']);
/** `#checkPlace`'s names for the first component. */
const ROOT_NONE = 0;
const ROOT_FILES = 1;
const ROOT_UVM = 2;
const ROOT_HIVES = 3;
const PLAIN: GuardVerdict = Object.freeze({ nonBase: false });
const NON_BASE: GuardVerdict = Object.freeze({ nonBase: true });
/** Parent folders remembered by `ImportGuard` (a bounded cache: memory stays flat). */
const RECENT_PARENTS = 64;
/** The longest path Windows opens (`\\?\` form), in UTF-16 units. */
const MAX_PATH_UNITS = 32767;

/**
 * The syntax rules every stored name must pass before anything else: no NUL, no backslash, not absolute, no drive
 * letter, no `..`, `.` or empty component. Throws `LAYER_UNSAFE` (or `NAME_INVALID` for the merely malformed).
 * `what` says which name of the entry is checked (`name`, `hard-link target`).
 */
export function checkNameSyntax(name: string, entry: string, what = 'name'): void {
  if (name.includes('\0')) {
    throw unsafe(entry, `the ${what} holds a NUL character`);
  }
  if (name.includes('\\')) {
    throw unsafe(entry, `the ${what} holds a backslash, which Windows reads as a path separator`, {
      hint: 'layer tars use forward slashes only; a backslash can hide a ..\\ escape',
    });
  }
  if (name.charCodeAt(0) === SLASH) throw unsafe(entry, `the ${what} is absolute`);
  if (name.charCodeAt(1) === 0x3a && /^[A-Za-z]/.test(name)) {
    throw unsafe(entry, `the ${what} starts with a drive letter`);
  }
  // One pass over the components: a ".." anywhere is unsafe; an empty or "." component is only malformed, so it is
  // reported when no ".." follows.
  // The components of `trimName(name)`, read in place (`from`..`to`) rather than from a trimmed copy.
  let from = 0;
  while (name.startsWith('./', from)) from += 2;
  let to = name.length;
  while (to - from > 1 && name.charCodeAt(to - 1) === SLASH) to--;
  let emptyOrDot = false;
  let start = from;
  for (let i = from; i <= to; i++) {
    if (i < to && name.charCodeAt(i) !== SLASH) continue;
    const len = i - start;
    if (len === 0 || (len === 1 && name.charCodeAt(start) === DOT)) emptyOrDot = true;
    else if (len === 2 && name.charCodeAt(start) === DOT && name.charCodeAt(start + 1) === DOT) {
      throw unsafe(entry, `the ${what} holds a ".." component`);
    }
    start = i + 1;
  }
  if (emptyOrDot) throw new WinlayerError('NAME_INVALID', `the ${what} has an empty or "." component`, { entry });
}

const SLASH = 0x2f;
const DOT = 0x2e;
const NON_ASCII = /[^\0-\x7f]/;

/**
 * The case-insensitive key of a name: `upcase` (Windows' per-unit rule). For ASCII-only names that rule changes
 * `a`-`z` only, which is exactly what `toUpperCase` does, natively and much faster.
 */
export function nameKey(name: string): string {
  return NON_ASCII.test(name) ? upcase(name) : name.toUpperCase();
}

/** A stored name without a leading `./` and a trailing `/` (the normalisation every reader applies). */
export function trimName(name: string): string {
  let n = name;
  while (n.startsWith('./')) n = n.slice(2);
  while (n.length > 1 && n.endsWith('/')) n = n.slice(0, -1);
  return n;
}

function unsafe(entry: string, rule: string, extra: { hint?: string } = {}): WinlayerError {
  return new WinlayerError('LAYER_UNSAFE', rule, { entry, ...extra });
}

/** True for `Files/...` and `UtilityVM/Files/...` (the trees hcsshim links and tombstones in). */
export function inFileTree(path: string): boolean {
  return path.startsWith('Files/') || path.startsWith('UtilityVM/Files/');
}

/**
 * The stateful checker of one archive. Call `check` for every entry in archive order; it returns the verdict or throws;
 * `close()` at the end. It never touches the filesystem, except for its own spill file when given one.
 */
export class ImportGuard {
  readonly #kind: GuardLayerKind;
  readonly #parentLinks: boolean;
  /** Every accepted name, by Windows' case rule, with its kind and (links) the path holding the data. */
  readonly #names: NameSet;
  /** The last entry that can own streams (a file or a directory), cleared by any other entry. */
  #streamOwner: string | undefined;
  #streamOwnerIsDir = false;
  #count = 0;
  /** Security descriptors found valid, by array: the tar reader hands entries with the same rawsd the same array. */
  readonly #validSds = new WeakSet<Uint8Array>();
  /**
   * The folders most recently found as parents, by exact path (a name, once claimed, never changes): a tar walks its
   * tree depth first, so the folders it comes back to are few; each lookup in `#names` may cost a read.
   */
  readonly #recentParents = new Map<string, KnownName>();
  /** The last of them (neighbours share their folder: a string comparison, no map lookup). */
  #lastParent: string | undefined;
  #lastParentKnown: KnownName | undefined;

  constructor(opts: ImportGuardOptions = {}) {
    this.#kind = opts.kind ?? 'auto';
    this.#parentLinks = opts.parentLinks === true;
    this.#names = new NameSet(opts.spillFile);
  }

  /** Releases the spill file (the guard must not be used afterwards). Safe more than once. */
  close(): void {
    this.#names.close();
  }

  /** Number of entries accepted so far. */
  get accepted(): number {
    return this.#count;
  }

  /** Checks one entry; returns its verdict or throws a `WinlayerError` naming the entry and the rule. */
  check(entry: LayerEntry): GuardVerdict {
    const raw = entry.raw;
    const label = raw?.name ?? entry.path;
    if (raw !== undefined) checkNameSyntax(raw.name, label);
    const path = entry.path;
    const sd = entry.win.securityDescriptor;
    if (sd !== undefined && !this.#validSds.has(sd)) {
      checkEntrySecurityDescriptor(sd, label);
      this.#validSds.add(sd);
    }
    if (entry.kind === 'stream') return this.#checkStream(entry, label);
    if (raw === undefined || raw.name !== path) checkNameSyntax(path, label);
    // `path !== trimName(path)`, without the copy: trimName changes exactly these names.
    if (path.startsWith('./') || (path.length > 1 && path.charCodeAt(path.length - 1) === SLASH)) {
      throw new WinlayerError('NAME_INVALID', 'the name is not normalised (leading "./" or trailing "/")', {
        entry: label,
      });
    }
    if (entry.kind === 'special') {
      throw new WinlayerError('LAYER_SPECIAL_FILE', `a ${entry.description} cannot go into a Windows layer`, {
        entry: label,
        hint: 'Windows layers hold folders, files, hard links, symbolic links and whiteouts only',
      });
    }
    if (entry.kind === 'opaqueWhiteout') {
      throw new WinlayerError('LAYER_INVALID', 'an opaque whiteout (.wh..wh..opq) has no meaning in a Windows layer', {
        entry: label,
        hint: 'hcsshim knows only per-name tombstones: list each deleted name as .wh.<name>',
      });
    }
    this.#checkPlace(path, entry.kind, label);
    const lastSlash = path.lastIndexOf('/');
    if (entry.kind === 'file' && path.indexOf(':', lastSlash + 1) >= 0) {
      // The reader attaches `file:stream` entries to the file right before them; one it could not attach is here.
      throw new WinlayerError('LAYER_INVALID', 'an alternate data stream whose file does not directly precede it', {
        entry: label,
        hint: 'ADS entries (file:stream) must follow their file immediately; a ":" is not valid in a Windows name',
      });
    }
    if (path.length > MAX_PATH_UNITS) {
      throw new WinlayerError('NAME_INVALID', `the path is longer than ${MAX_PATH_UNITS} UTF-16 units`, {
        entry: label,
      });
    }
    // Only the last component is new: every parent was itself checked when its folder entry was accepted (a whiteout
    // may sit in an undeclared folder, so all of its components are checked).
    if (entry.kind === 'whiteout') for (const component of path.split('/')) checkComponent(component, label);
    else checkComponent(lastSlash < 0 ? path : path.slice(lastSlash + 1), label);
    this.#checkParent(path, lastSlash, label, entry.kind === 'whiteout');
    let verdict: GuardVerdict = path === 'Hives' || path.startsWith('Hives/') ? NON_BASE : PLAIN;
    // What `#claim` records for the name: its tag and (links) the path holding the data, when not the name itself.
    let tag: number;
    let data: string | undefined;
    switch (entry.kind) {
      case 'directory':
        tag = TAGS.directory;
        break;
      case 'file':
        tag = TAGS.file;
        break;
      case 'symlink':
        if (entry.linkTarget.includes('\0')) {
          throw new WinlayerError('LAYER_SYMLINK', 'the symbolic link target holds a NUL character', { entry: label });
        }
        if (entry.linkTarget === '') {
          throw new WinlayerError('LAYER_SYMLINK', 'the symbolic link has an empty target', { entry: label });
        }
        tag = TAGS.symlink;
        break;
      case 'hardlink': {
        const link = this.#resolveLink(entry.linkTarget, path, label);
        verdict = { ...verdict, link };
        tag = link.in === 'layer' ? TAGS.hardlink : TAGS.parentLink;
        data = link.in === 'layer' ? link.dataPath : link.path;
        break;
      }
      case 'whiteout': {
        if (this.#kind === 'base') {
          throw new WinlayerError('LAYER_INVALID', 'a base layer cannot have tombstones', {
            entry: label,
            hint: 'import it as a non-base layer (--non-base), or drop the whiteout',
          });
        }
        const target = entry.target;
        checkNameSyntax(target, label, 'whiteout target');
        const marker = path.slice(path.lastIndexOf('/') + 1);
        if (!inFileTree(target) || target !== `${parentPath(path)}/${marker.slice(WHITEOUT_PREFIX.length)}`) {
          throw new WinlayerError(
            'LAYER_INVALID',
            'invalid tombstone: it must delete a name under Files/ or UtilityVM/Files/',
            {
              entry: label,
            },
          );
        }
        const base = target.slice(target.lastIndexOf('/') + 1);
        const problem = windowsNameProblem(base);
        if (problem !== undefined) {
          throw new WinlayerError('NAME_INVALID', `"${base}" cannot be a Windows name: ${problem}`, { entry: label });
        }
        this.#claim(target, TAGS.whiteout, undefined, label);
        verdict = NON_BASE;
        tag = TAGS.whiteout;
        break;
      }
    }
    this.#claim(path, tag, data, label);
    // A new folder is the likely parent of the next entries: known now, without a lookup (`knownOf` gives the same).
    if (tag === TAGS.directory) this.#rememberParent(path, { path, kind: 'directory', dataPath: undefined });
    this.#streamOwner = entry.kind === 'file' || entry.kind === 'directory' ? path : undefined;
    this.#streamOwnerIsDir = entry.kind === 'directory';
    this.#count++;
    return verdict;
  }

  /** Where a name may go: under one of the three roots, `UtilityVM` holding `Files` only; kinds by tree. */
  #checkPlace(path: string, kind: LayerEntry['kind'], label: string): void {
    const slash = path.indexOf('/');
    const rootEnd = slash < 0 ? path.length : slash;
    // Only the first two components matter here, read in place: how many there are (1, 2, or 3 for more) and which
    // root the first one is.
    const slash2 = slash < 0 ? -1 : path.indexOf('/', slash + 1);
    const parts = slash < 0 ? 1 : slash2 < 0 ? 2 : 3;
    const root =
      rootEnd === 5 && path.startsWith('Files')
        ? ROOT_FILES
        : rootEnd === 9 && path.startsWith('UtilityVM')
          ? ROOT_UVM
          : rootEnd === 5 && path.startsWith('Hives')
            ? ROOT_HIVES
            : ROOT_NONE;
    if (root === ROOT_NONE) {
      const name = path.slice(0, rootEnd);
      const near = [...ROOTS].find((r) => r.toLowerCase() === name.toLowerCase());
      throw unsafe(label, 'the entry is outside Files/, UtilityVM/ and Hives/', {
        hint:
          near !== undefined
            ? `hcsshim matches "${near}" case-sensitively; "${name}" would lose its meaning on Windows`
            : 'a Linux-style tar needs the Files/ prefix (winlayer image append adds it)',
      });
    }
    if (parts === 1 && kind !== 'directory') {
      throw new WinlayerError('LAYER_INVALID', `the top-level "${path}" must be a folder`, { entry: label });
    }
    if (root === ROOT_UVM && parts >= 2) {
      // The second component is `Files`: five units from `slash + 1` up to the next slash or the end.
      if ((slash2 < 0 ? path.length : slash2) - slash !== 6 || !path.startsWith('Files', slash + 1)) {
        throw new WinlayerError(
          'LAYER_INVALID',
          'invalid UtilityVM layer: only UtilityVM/Files may be under UtilityVM',
          {
            entry: label,
          },
        );
      }
      if (parts === 2 && kind !== 'directory') {
        throw new WinlayerError('LAYER_INVALID', 'UtilityVM/Files must be a folder', { entry: label });
      }
    }
    if (root === ROOT_HIVES && parts > 1) {
      if (this.#kind === 'base') {
        throw new WinlayerError(
          'LAYER_INVALID',
          'a base layer cannot have Hives/ (registry deltas belong to non-base layers)',
          {
            entry: label,
            hint: 'import it as a non-base layer (--non-base)',
          },
        );
      }
      if (kind !== 'file' && kind !== 'directory') {
        throw new WinlayerError('LAYER_INVALID', 'Hives/ holds registry hive files only', { entry: label });
      }
    }
    if (root === ROOT_HIVES && parts === 1 && this.#kind === 'base') {
      throw new WinlayerError(
        'LAYER_INVALID',
        'a base layer cannot have Hives/ (registry deltas belong to non-base layers)',
        {
          entry: label,
          hint: 'import it as a non-base layer (--non-base)',
        },
      );
    }
  }

  /**
   * The parent must be an earlier directory entry spelled exactly the same. A whiteout may also sit in a folder this
   * layer does not declare (the folder comes from a parent layer; nothing is written on disk for a whiteout).
   */
  #checkParent(path: string, lastSlash: number, label: string, undeclaredOk: boolean): void {
    if (lastSlash < 0) return;
    // `parentPath(path)`: the last parent again (compared in place, no copy), else a copy looked up.
    const last = this.#lastParent;
    const again = last !== undefined && last.length === lastSlash && path.startsWith(last);
    const parent = again ? last : path.slice(0, lastSlash);
    let known = again ? this.#lastParentKnown : this.#recentParents.get(parent);
    if (known === undefined) {
      known = this.#lookup(parent);
      if (known !== undefined) this.#rememberParent(parent, known);
    } else {
      this.#lastParent = parent;
      this.#lastParentKnown = known;
    }
    if (known === undefined && undeclaredOk) {
      // The nearest declared ancestor must still be a folder: no whiteout below a link or a file.
      for (let up = parentPath(parent); up !== ''; up = parentPath(up)) {
        const k = this.#lookup(up);
        if (k === undefined) continue;
        if (k.kind !== 'directory') {
          throw unsafe(label, `lies below "${k.path}", which is a ${describe(k.kind)}, not a folder`);
        }
        break;
      }
      return;
    }
    if (known === undefined || known.kind === 'whiteout') {
      throw new WinlayerError(
        'LAYER_INVALID',
        `a child before its parent: "${parent}" has not been declared as a folder`,
        {
          entry: label,
          hint: 'every folder needs its own entry before the entries inside it (hcsshim never creates parents)',
        },
      );
    }
    if (known.kind !== 'directory') {
      throw unsafe(label, `writes inside "${known.path}", which is a ${describe(known.kind)}, not a folder`, {
        hint: 'nothing may be written through a link or into a file',
      });
    }
    if (known.path !== parent) {
      throw new WinlayerError(
        'NAME_COLLISION',
        `the parent is spelled "${parent}" but the folder was declared as "${known.path}"`,
        {
          entry: label,
          hint: 'Windows would merge the two spellings; a layer folder on a case-sensitive filesystem cannot',
        },
      );
    }
  }

  /** Caches a name found or claimed (a name, once claimed, never changes) as the last and a recent parent. */
  #rememberParent(path: string, known: KnownName): void {
    if (this.#recentParents.size >= RECENT_PARENTS) {
      this.#recentParents.delete(this.#recentParents.keys().next().value!);
    }
    this.#recentParents.set(path, known);
    this.#lastParent = path;
    this.#lastParentKnown = known;
  }

  #lookup(path: string): KnownName | undefined {
    const v = this.#names.get(path);
    return v === undefined ? undefined : knownOf(v);
  }

  /** Records `path` with its tag and, for links, `data` (the path holding the data; omitted when it is `path`). */
  #claim(path: string, tag: number, data: string | undefined, label: string): void {
    const found = this.#names.claim(path, tag, data === undefined || data === path ? undefined : data);
    if (found !== undefined) {
      const before = knownOf(found);
      if (before.path === path) {
        throw new WinlayerError('LAYER_INVALID', `duplicate entry: "${path}" appears twice`, { entry: label });
      }
      throw new WinlayerError('NAME_COLLISION', `"${path}" and "${before.path}" are the same name on Windows`, {
        entry: label,
        hint: 'Windows compares names without case; rename one of them',
      });
    }
  }

  #resolveLink(target: string, path: string, label: string): LinkResolution {
    checkNameSyntax(target, label, 'hard-link target');
    const t = trimName(target);
    if (!inFileTree(path)) {
      throw new WinlayerError('LAYER_HARDLINK', 'a hard link must be under Files/ or UtilityVM/Files/', {
        entry: label,
      });
    }
    if (!inFileTree(t)) {
      throw new WinlayerError(
        'LAYER_HARDLINK',
        `the hard-link target "${target}" is outside Files/ and UtilityVM/Files/`,
        {
          entry: label,
          hint: 'hard-link targets are layer paths with their Files/ prefix (crane writes them without it)',
        },
      );
    }
    const known = this.#lookup(t);
    if (known === undefined || known.kind === 'whiteout') {
      if (this.#parentLinks && t.startsWith('Files/')) return { in: 'parent', path: t };
      throw new WinlayerError(
        'LAYER_HARDLINK',
        `the hard-link target "${target}" is missing or comes later in the archive`,
        {
          entry: label,
          hint: this.#parentLinks
            ? 'the target is in neither this layer nor under Files/ of a parent'
            : 'a link into a parent layer needs the parent folders (--parent DIR)',
        },
      );
    }
    if (known.kind === 'directory' || known.kind === 'symlink' || known.kind === 'stream') {
      throw new WinlayerError('LAYER_HARDLINK', `the hard-link target "${known.path}" is a ${describe(known.kind)}`, {
        entry: label,
        hint: 'hard links may only point at regular files',
      });
    }
    if (known.path !== t) {
      throw new WinlayerError(
        'LAYER_HARDLINK',
        `the hard-link target is spelled "${t}" but the file is "${known.path}"`,
        {
          entry: label,
        },
      );
    }
    if (known.kind === 'parentLink') return { in: 'parent', path: known.dataPath ?? known.path };
    return { in: 'layer', dataPath: known.dataPath ?? known.path };
  }

  #checkStream(entry: Extract<LayerEntry, { kind: 'stream' }>, label: string): GuardVerdict {
    checkNameSyntax(entry.filePath, label);
    const name = entry.streamName;
    if (name === '' || /[\0/\\:]/.test(name)) {
      throw new WinlayerError('NAME_INVALID', `"${name}" is not a valid alternate data stream name`, { entry: label });
    }
    if (this.#streamOwner === undefined || this.#streamOwner !== entry.filePath) {
      throw new WinlayerError(
        'LAYER_INVALID',
        `an alternate data stream whose file "${entry.filePath}" does not directly precede it`,
        {
          entry: label,
          hint: 'ADS entries (file:stream) must follow their file immediately',
        },
      );
    }
    if (this.#streamOwnerIsDir) {
      // Windows allows them, but a layer folder cannot export them back yet: refuse rather than drop them.
      throw new WinlayerError('LAYER_INVALID', 'alternate data streams on folders are not supported', {
        entry: label,
        hint: 'only files may carry alternate data streams in a layer winlayer imports',
      });
    }
    const key = `${entry.filePath}:${name}`;
    this.#claim(key, TAGS.stream, undefined, label);
    this.#count++;
    return PLAIN;
  }
}

/** Throws `NAME_INVALID` when `component` cannot be a Windows name. */
function checkComponent(component: string, label: string): void {
  const problem = windowsNameProblem(component);
  if (problem !== undefined) {
    throw new WinlayerError('NAME_INVALID', `"${component}" cannot be a Windows name: ${problem}`, { entry: label });
  }
}

function knownOf(e: NameEntry): KnownName {
  const kind = KINDS[e.tag];
  if (kind === undefined) throw new WinlayerError('INTERNAL', `unknown name tag ${e.tag}`);
  return { path: e.path, kind, dataPath: e.data ?? (kind === 'file' || kind === 'hardlink' ? e.path : undefined) };
}

function describe(kind: Known): string {
  switch (kind) {
    case 'directory':
      return 'folder';
    case 'file':
      return 'file';
    case 'hardlink':
    case 'parentLink':
      return 'hard link';
    case 'symlink':
      return 'symbolic link';
    case 'whiteout':
      return 'whiteout';
    case 'stream':
      return 'alternate data stream';
  }
}
