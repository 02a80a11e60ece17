/**
 * The Windows name rules a layer path must follow, and case-insensitive collision detection. Case folding itself is
 * `case.ts` (`upcaseUnit`); this module only applies it.
 *
 * Rules (Win32 "Naming Files, Paths, and Namespaces"; the same set Go's `filepath.IsLocal` applies on Windows):
 * - a component is not empty, not `.` or `..`, at most 255 UTF-16 units;
 * - it holds none of `< > : " | ? * \ /` nor a control character U+0000–U+001F;
 * - it does not end in a dot or a space;
 * - its base name (before the first `.`, trailing spaces ignored) is not a device name, in any case: `CON`, `PRN`,
 *   `AUX`, `NUL`, `COM1`–`COM9`, `LPT1`–`LPT9`, `COM¹ COM² COM³ LPT¹ LPT² LPT³`, `CONIN$`, `CONOUT$`
 *   (so `nul.txt` and `CON.tar.gz` are reserved too). `COM0`/`LPT0` are not reserved on Windows 10/11.
 * - a whole path is at most 32767 UTF-16 units (the NT path limit).
 */
import { WinlayerError } from '../errors.js';
import { equalUpcase, upcaseHash } from './case.js';

/** The longest component NTFS stores, in UTF-16 units. */
export const MAX_COMPONENT_LENGTH = 255;
/** The longest path Windows can open (`\\?\` paths), in UTF-16 units. */
export const MAX_PATH_LENGTH = 32767;

const RESERVED = new Set(['CON', 'PRN', 'AUX', 'NUL', 'CONIN$', 'CONOUT$']);
const PORT_SUFFIX = /^[1-9\u00b9\u00b2\u00b3]$/;
/** The printable characters a name cannot hold; with the controls U+0000–U+001F, the whole forbidden set. */
const FORBIDDEN_PRINTABLE = '<>:"|?*\\/';
const FORBIDDEN = new RegExp(`[${FORBIDDEN_PRINTABLE.replace(/[\\\]^-]/g, '\\$&')}\\u0000-\\u001f]`);
/** The same set as a table over ASCII (1 = forbidden), for {@link certainlyValidName}. */
const FORBIDDEN_ASCII = (() => {
  const t = new Uint8Array(128);
  for (let c = 0; c < 0x20; c++) t[c] = 1;
  for (const ch of FORBIDDEN_PRINTABLE) t[ch.charCodeAt(0)] = 1;
  return t;
})();

/** The reserved device name a component stands for (upper case), or undefined. */
function reservedDeviceName(component: string): string | undefined {
  // Every reserved name starts with C, P, A, N or L: most names leave here, without a slice or a regular expression.
  const first = component.charCodeAt(0) | 0x20;
  if (first !== 0x63 && first !== 0x70 && first !== 0x61 && first !== 0x6e && first !== 0x6c) return undefined;
  const dot = component.indexOf('.');
  const base = (dot < 0 ? component : component.slice(0, dot)).replace(/ +$/, '');
  if (base.length < 3 || base.length > 7) return undefined;
  const up = asciiUpper(base);
  if (RESERVED.has(up)) return up;
  const head = up.slice(0, 3);
  if ((head === 'COM' || head === 'LPT') && up.length === 4 && PORT_SUFFIX.test(up[3]!)) return up;
  return undefined;
}

function asciiUpper(s: string): string {
  return s.replace(/[a-z]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 32));
}

/**
 * Why Windows cannot hold this one path component, as a sentence, or undefined when it is a valid name. Pure; never
 * throws.
 */
export function windowsNameProblem(component: string): string | undefined {
  if (component.length === 0) return 'the name is empty';
  if (component === '.' || component === '..') return `"${component}" is a relative path step, not a name`;
  if (component.length > MAX_COMPONENT_LENGTH) {
    return `the name is ${component.length} UTF-16 units long, over the ${MAX_COMPONENT_LENGTH}-unit limit`;
  }
  const bad = FORBIDDEN.exec(component);
  if (bad !== null) {
    const c = bad[0];
    const shown =
      c.charCodeAt(0) < 0x20 ? `control character U+${c.charCodeAt(0).toString(16).padStart(4, '0')}` : `"${c}"`;
    return `the name contains ${shown}, which Windows does not allow in names`;
  }
  const last = component[component.length - 1];
  if (last === '.' || last === ' ') {
    return `the name ends with ${last === '.' ? 'a dot' : 'a space'}, which Windows strips`;
  }
  const device = reservedDeviceName(component);
  // The name is in the path the message gives: the rule does not repeat it.
  if (device !== undefined) return `the name stands for the reserved device name ${device}`;
  return undefined;
}

/**
 * The fast form of {@link windowsNameProblem}, for a walk's loop over every name: true for a name that is certainly
 * valid (`windowsNameProblem` finds nothing) and holds no UTF-16 unit from U+D800 up (so `<` orders it as UTF-8
 * does); false sends the name to `windowsNameProblem` and the slow path (it may still be valid). One pass, no regular
 * expression, no allocation. A property test checks that it never says true where `windowsNameProblem` finds a
 * problem.
 */
export function certainlyValidName(name: string): boolean {
  const n = name.length;
  if (n === 0 || n > MAX_COMPONENT_LENGTH) return false;
  for (let i = 0; i < n; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0xd800 || (c < 0x80 && FORBIDDEN_ASCII[c] === 1)) return false;
  }
  const last = name.charCodeAt(n - 1);
  if (last === 0x2e || last === 0x20) return false;
  return reservedDeviceName(name) === undefined;
}

/**
 * Checks a `/`-separated layer path (`Files/Windows/System32`): every component follows the Windows name rules and
 * the whole path is at most 32767 UTF-16 units. With `allowStream`, the last component may name an alternate data
 * stream: `file:stream` or `file:stream:$DATA` (stream names follow the same character rules, may not be empty
 * unless the type is given, and the type must be `$DATA`). Throws `NAME_INVALID` naming the path and the component.
 */
export function checkLayerPath(path: string, opts: { allowStream?: boolean } = {}): void {
  const fail = (rule: string, hint?: string): never => {
    throw new WinlayerError('NAME_INVALID', rule, { entry: path, ...(hint === undefined ? {} : { hint }) });
  };
  if (path.length === 0) fail('the path is empty');
  if (path.length > MAX_PATH_LENGTH) {
    fail(`the path is ${path.length} UTF-16 units long, over the ${MAX_PATH_LENGTH}-unit limit of Windows`);
  }
  const parts = path.split('/');
  for (let i = 0; i < parts.length; i++) {
    let part = parts[i]!;
    if (opts.allowStream === true && i === parts.length - 1 && part.includes(':')) {
      const [file, stream, type, ...rest] = part.split(':') as [string, string, string | undefined, ...string[]];
      if (rest.length > 0) fail(`stream name "${part}" has more than two ":"`);
      if (type !== undefined && type !== '$DATA') {
        fail(`stream "${part}" has type "${type}"; only $DATA streams can be stored`);
      }
      if (stream === '' && type === undefined) fail(`stream name "${part}" is empty`);
      if (stream !== '' && /[<>"|?*\\/\u0000-\u001f]/.test(stream)) {
        fail(`stream name "${stream}" in "${part}" contains a character Windows does not allow`);
      }
      part = file;
    }
    const problem = windowsNameProblem(part);
    if (problem !== undefined) {
      const where = parts.length === 1 ? '' : ` (component ${i + 1} "${short(part)}")`;
      fail(`${problem}${where}`, hintFor(problem));
    }
  }
}

function hintFor(problem: string): string | undefined {
  if (problem.includes('reserved device')) return 'rename the file; Windows opens a device for this name';
  if (problem.includes('ends with')) return 'remove the trailing dot or space';
  return undefined;
}

function short(s: string): string {
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}

/**
 * Detects names that collide on Windows in a stream of paths. `add` returns the earlier path that Windows sees as
 * the same (equal by `upcase`, or identical), else records the path and returns undefined. Memory: one string per
 * path (the path itself; the key is a 32-bit hash of its upper-case form, compared with `equalUpcase` on a match).
 */
export class NameIndex {
  readonly #buckets = new Map<number, string | string[]>();
  #size = 0;

  /** The number of distinct paths recorded. */
  get size(): number {
    return this.#size;
  }

  /** Records `path`, or returns the earlier path it collides with (and records nothing). */
  add(path: string): string | undefined {
    const h = upcaseHash(path);
    const bucket = this.#buckets.get(h);
    if (bucket === undefined) {
      this.#buckets.set(h, path);
    } else if (typeof bucket === 'string') {
      if (equalUpcase(bucket, path)) return bucket;
      this.#buckets.set(h, [bucket, path]);
    } else {
      for (const p of bucket) if (equalUpcase(p, path)) return p;
      bucket.push(path);
    }
    this.#size++;
    return undefined;
  }

  /** The earlier path equal to `path` on Windows, without recording anything. */
  find(path: string): string | undefined {
    const bucket = this.#buckets.get(upcaseHash(path));
    if (bucket === undefined) return undefined;
    if (typeof bucket === 'string') return equalUpcase(bucket, path) ? bucket : undefined;
    return bucket.find((p) => equalUpcase(p, path));
  }
}
