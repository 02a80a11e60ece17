/**
 * The one place PAX strings ↔ typed Windows metadata: `MSWINDOWS.*`, `LIBARCHIVE.creationtime`, the POSIX time
 * records and the name/size overrides.
 *
 * Writer key order (documented, fixed): Go's `sort.Strings` byte order over every record of the entry, which is what
 * hcsshim/go-winio writes — `LIBARCHIVE.creationtime`, `MSWINDOWS.fileattr`, `MSWINDOWS.mountpoint`,
 * `MSWINDOWS.rawsd`, `MSWINDOWS.xattr.*`, `atime`, `ctime`, `linkpath`, `mtime`, `path`, `size` — with the entry's
 * `extraPax` records merged into that same sorted order.
 *
 * Pure: what a reader or writer remembers between entries (the last time text, security descriptors already seen)
 * lives in a {@link PaxDecodeMemo} or {@link PaxEncodeMemo} that it owns and passes; without one nothing is kept.
 */
import type { EntryKind, ExtendedAttribute, PaxRecord, WindowsMetadata } from '../entry.js';
import { WinlayerError } from '../errors.js';
import {
  defaultAttributes,
  FILE_ATTRIBUTE,
  formatPaxTime,
  parsePaxTime,
  sddlToBytes,
  type UnixNanos,
} from '../windows/index.js';
import { compareKeys, PAX_KEYS, POSIX_PAX_KEYS } from './pax.js';

/**
 * Keys the reader decodes and the writer produces itself: an `extraPax` record may not use them. `GNU.sparse.*` and
 * `hdrcharset` change how the entry's bytes are read, so they are never carried over either.
 */
const MANAGED = new Set<string>([
  ...POSIX_PAX_KEYS,
  PAX_KEYS.fileattr,
  PAX_KEYS.rawsd,
  PAX_KEYS.sd,
  PAX_KEYS.mountpoint,
  PAX_KEYS.creationtime,
]);

/** True when `key` is decoded by the reader / written by the writer (so not an `extraPax` record). */
export function isManagedPaxKey(key: string): boolean {
  return MANAGED.has(key) || key.startsWith(PAX_KEYS.xattrPrefix) || key.startsWith('GNU.sparse.');
}

/** What the PAX records of one entry say, after POSIX precedence (later record wins; an empty value deletes). */
export interface DecodedPax {
  readonly win: Partial<WindowsMetadata>;
  readonly path?: string;
  readonly linkpath?: string;
  readonly size?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly uname?: string;
  readonly gname?: string;
  /** A `GNU.sparse.*` record was present: the data is a sparse map, not the file's bytes. */
  readonly sparse: boolean;
  /** Well-formed records this codec does not know, in stored order (the last of each key). */
  readonly extra: PaxRecord[];
}

/** Where the records come from, for error messages. */
export interface WindowsPaxContext {
  readonly entry?: string;
  readonly offset?: number;
  readonly lenient?: boolean;
}

const DECIMAL = /^[0-9]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Strict padded standard base64 (RFC 4648 §4): the alphabet, `=` padding to a multiple of 4, and (unless `lenient`)
 * zero bits after the last character, so that the text is the one canonical encoding of its bytes. Returns
 * undefined when the text breaks a rule.
 */
export function decodeBase64Strict(text: string, lenient = false): Uint8Array | undefined {
  if (text.length % 4 !== 0 || !BASE64.test(text)) return undefined;
  const bytes = new Uint8Array(Buffer.from(text, 'base64'));
  if (!lenient && Buffer.from(bytes).toString('base64') !== text) return undefined;
  return bytes;
}

/** Padded standard base64 of `bytes`. */
function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** A strict decimal unsigned integer up to `max`, or undefined. */
function parseDecimal(text: string, max: number): number | undefined {
  // Fast path: up to 15 digits (exact in a double), no regular expression.
  const n = text.length;
  if (n > 0 && n <= 15) {
    let v = 0;
    let i = 0;
    for (; i < n; i++) {
      const c = text.charCodeAt(i) - 0x30;
      if (c < 0 || c > 9) break;
      v = v * 10 + c;
    }
    if (i === n) return v <= max ? v : undefined;
  }
  if (!DECIMAL.test(text) || text.length > 20) return undefined;
  const v = Number(text);
  return Number.isSafeInteger(v) && v <= max ? v : undefined;
}

/**
 * What a reader remembers between the entries of one archive, so that repeated values are decoded once: a layer
 * repeats a few dozen security descriptors over thousands of entries, and decoding one (a regular expression, two
 * conversions) costs more than the rest of its PAX records; an entry's four times are usually one string. Entries
 * with the same SD text then share one array (`WindowsMetadata.securityDescriptor` is never changed in place).
 */
export class PaxDecodeMemo {
  /** The last time text parsed and its value. */
  timeText = '';
  time: UnixNanos = 0n;
  /** Security descriptors by their base64 text (canonical text only). Bounded: cleared when full. */
  readonly sds = new Map<string, Uint8Array>();
}

/**
 * Decodes the records that apply to one entry (global records first, then the entry's own) into typed values.
 * Throws `TAR_PAX_VALUE` (naming the entry, key and offset) for a value that cannot be decoded: a `fileattr` that
 * is not a decimal uint32, `rawsd`/`xattr` values that are not padded standard base64, a bad time, a bad size or id,
 * a legacy `MSWINDOWS.sd` SDDL that does not parse. `memo`, kept by the caller across the entries of one archive,
 * saves decoding a value seen before (the result is the same without it).
 */
export function decodeWindowsPax(
  records: readonly PaxRecord[],
  ctx: WindowsPaxContext = {},
  memo?: PaxDecodeMemo,
): DecodedPax {
  const win: {
    -readonly [K in keyof WindowsMetadata]?: WindowsMetadata[K];
  } = {};
  let xattrs: ExtendedAttribute[] | undefined;
  let extra: PaxRecord[] | undefined;
  let sd: string | undefined;
  let path: string | undefined;
  let linkpath: string | undefined;
  let size: number | undefined;
  let uid: number | undefined;
  let gid: number | undefined;
  let uname: string | undefined;
  let gname: string | undefined;
  let sparse = false;
  // POSIX: a later record for the same key overrides an earlier one; an empty value removes the key. Walk backwards
  // and take the first (= last stored) record of each key.
  const n = records.length;
  // Few records (every real entry): a later record with the same key is found by a scan, no set.
  const seen = n > 16 ? new Set<string>() : undefined;
  for (let i = n - 1; i >= 0; i--) {
    const r = records[i]!;
    const key = r.key;
    const value = r.value;
    if (seen !== undefined) {
      if (seen.has(key)) continue;
      seen.add(key);
    } else if (laterKey(records, i, key)) {
      continue;
    }
    if (key.startsWith('GNU.sparse.')) {
      sparse = true;
      continue;
    }
    if (value === '') continue; // deleted
    switch (key) {
      case PAX_KEYS.fileattr: {
        const v = parseDecimal(value, 0xffffffff);
        if (v === undefined) throw valueError(ctx, key, value, 'not a decimal uint32');
        win.attributes = v;
        break;
      }
      case PAX_KEYS.rawsd: {
        const v = sdFromBase64(value, ctx.lenient === true, memo);
        if (v === undefined || v.length === 0) throw valueError(ctx, key, value, 'not padded standard base64');
        win.securityDescriptor = v;
        break;
      }
      case PAX_KEYS.sd:
        sd = value;
        break;
      case PAX_KEYS.mountpoint:
        win.mountPoint = true;
        break;
      case PAX_KEYS.creationtime:
        win.creationTime = paxTime(ctx, key, value, memo);
        break;
      case 'mtime':
        win.lastWriteTime = paxTime(ctx, key, value, memo);
        break;
      case 'atime':
        win.lastAccessTime = paxTime(ctx, key, value, memo);
        break;
      case 'ctime':
        win.changeTime = paxTime(ctx, key, value, memo);
        break;
      case 'path':
        path = value;
        break;
      case 'linkpath':
        linkpath = value;
        break;
      case 'size': {
        const v = parseDecimal(value, Number.MAX_SAFE_INTEGER);
        if (v === undefined) throw valueError(ctx, key, value, 'not a decimal size');
        size = v;
        break;
      }
      case 'uid':
      case 'gid': {
        const v = parseDecimal(value, 0xffffffff);
        if (v === undefined) throw valueError(ctx, key, value, 'not a decimal id');
        if (key === 'uid') uid = v;
        else gid = v;
        break;
      }
      case 'uname':
        uname = value;
        break;
      case 'gname':
        gname = value;
        break;
      case 'hdrcharset':
        break;
      default:
        if (key.startsWith(PAX_KEYS.xattrPrefix)) {
          const v = decodeBase64Strict(value, ctx.lenient);
          if (v === undefined) throw valueError(ctx, key, value, 'not padded standard base64');
          xattrs ??= [];
          xattrs.push({ name: key.slice(PAX_KEYS.xattrPrefix.length), value: v });
        } else {
          extra ??= [];
          extra.push({ key, value });
        }
    }
  }
  if (sd !== undefined && win.securityDescriptor === undefined) {
    try {
      win.securityDescriptor = sddlToBytes(sd);
    } catch (e) {
      throw valueError(ctx, PAX_KEYS.sd, sd, `not a valid SDDL security descriptor (${(e as Error).message})`);
    }
  }
  if (xattrs !== undefined) win.extendedAttributes = xattrs.reverse();
  return {
    win,
    path,
    linkpath,
    size,
    uid,
    gid,
    uname,
    gname,
    sparse,
    extra: extra === undefined ? [] : extra.reverse(),
  };
}

/** True when a record after `i` has the key `key`. */
function laterKey(records: readonly PaxRecord[], i: number, key: string): boolean {
  for (let j = i + 1; j < records.length; j++) if (records[j]!.key === key) return true;
  return false;
}

function valueError(ctx: WindowsPaxContext, key: string, value: string, rule: string): WinlayerError {
  return new WinlayerError('TAR_PAX_VALUE', `PAX ${key}=${JSON.stringify(clip(value))}: ${rule}`, {
    entry: ctx.entry,
    offset: ctx.offset,
  });
}

function paxTime(ctx: WindowsPaxContext, key: string, value: string, memo: PaxDecodeMemo | undefined): UnixNanos {
  if (memo !== undefined && value === memo.timeText) return memo.time;
  let t = simplePaxTime(value);
  if (t === undefined) {
    try {
      t = parsePaxTime(value);
    } catch {
      throw valueError(ctx, key, value, 'not a PAX time (seconds[.fraction])');
    }
  }
  if (memo !== undefined) {
    memo.timeText = value;
    memo.time = t;
  }
  return t;
}

/**
 * {@link parsePaxTime} of the usual form, `seconds[.fraction]` with at most 15 digits of seconds, without a regular
 * expression or a decimal-text bigint; undefined for any other text (then `parsePaxTime` decides). Exact: digits
 * beyond nanoseconds are dropped, as there.
 */
function simplePaxTime(text: string): UnixNanos | undefined {
  const n = text.length;
  let secs = 0;
  let i = 0;
  for (; i < n; i++) {
    const c = text.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) break;
    secs = secs * 10 + c;
  }
  if (i === 0 || i > 15) return undefined;
  let frac = 0;
  if (i < n) {
    if (text.charCodeAt(i) !== 0x2e || i + 1 === n) return undefined;
    let scale = 100_000_000;
    for (let j = i + 1; j < n; j++) {
      const c = text.charCodeAt(j) - 0x30;
      if (c < 0 || c > 9) return undefined;
      frac += c * scale;
      scale = Math.floor(scale / 10);
    }
  }
  return BigInt(secs) * 1_000_000_000n + BigInt(frac);
}

/**
 * What a writer remembers between the entries of one archive, so that repeated values are formatted once: the last
 * time (consecutive entries often share one, and every time under `SOURCE_DATE_EPOCH`), security descriptors (a layer
 * shares a few dozen SD objects across thousands of entries; consecutive entries nearly always share one) and
 * attribute values (a layer uses a handful).
 */
export class PaxEncodeMemo {
  timeNs: UnixNanos | undefined = undefined;
  timeText = '';
  /** base64 per security descriptor object. */
  readonly sdTexts = new WeakMap<Uint8Array, string>();
  lastSd: Uint8Array | undefined = undefined;
  lastSdText = '';
  /** Decimal text per attribute value (at most 256). */
  readonly attrTexts = new Map<number, string>();
}

/** {@link formatPaxTime}, remembering the last time formatted in `memo`. */
export function paxTimeText(ns: UnixNanos, memo: PaxEncodeMemo): string {
  if (ns !== memo.timeNs) {
    memo.timeNs = ns;
    memo.timeText = formatPaxTime(ns);
  }
  return memo.timeText;
}

function clip(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Most security descriptors a {@link PaxDecodeMemo} holds. */
const DECODED_SDS_MAX = 1024;

function sdFromBase64(text: string, lenient: boolean, memo: PaxDecodeMemo | undefined): Uint8Array | undefined {
  const known = memo?.sds.get(text);
  if (known !== undefined) return known;
  const v = decodeBase64Strict(text, lenient);
  // Only canonical text is kept (what the strict rule accepts): a lenient read must not make a later strict one pass.
  if (memo === undefined || v === undefined || lenient || text.length > 4096) return v;
  if (memo.sds.size >= DECODED_SDS_MAX) memo.sds.clear();
  memo.sds.set(text, v);
  return v;
}

/** base64 of a security descriptor (remembered per descriptor object in `memo`, when given). */
export function sdBase64(sd: Uint8Array, memo?: PaxEncodeMemo): string {
  if (memo === undefined) return encodeBase64(sd);
  if (sd === memo.lastSd) return memo.lastSdText;
  let text = memo.sdTexts.get(sd);
  if (text === undefined) {
    text = encodeBase64(sd);
    memo.sdTexts.set(sd, text);
  }
  memo.lastSd = sd;
  memo.lastSdText = text;
  return text;
}

/** `String(attrs >>> 0)`, remembered in `memo`. */
function attributesText(attrs: number, memo: PaxEncodeMemo): string {
  const a = attrs >>> 0;
  let text = memo.attrTexts.get(a);
  if (text === undefined) {
    text = String(a);
    if (memo.attrTexts.size < 256) memo.attrTexts.set(a, text);
  }
  return text;
}

/** What {@link encodeWindowsPax} needs of an entry. */
export interface PaxSource {
  readonly kind: EntryKind;
  readonly path: string;
  readonly win: WindowsMetadata;
  readonly extraPax?: readonly PaxRecord[];
  /** Set when the name cannot go in the ustar field (long or non-ASCII). */
  readonly longPath?: string;
  /** Set when the link target cannot go in the ustar field. */
  readonly longLinkpath?: string;
  /** Set when the size exceeds the octal field. */
  readonly bigSize?: number;
}

/**
 * The records the writer gives an entry, in its fixed order (Go's `sort.Strings` order of the keys): the one key table
 * of the writer. An entry's `MSWINDOWS.xattr.*` records go before the {@link XATTR_SLOT}th key; its `extraPax`
 * records are merged into the same order. To change the order or add a record, change this table and
 * {@link windowsPaxValues}.
 */
export const WRITER_PAX_KEYS = [
  PAX_KEYS.creationtime,
  PAX_KEYS.fileattr,
  PAX_KEYS.mountpoint,
  PAX_KEYS.rawsd,
  'atime',
  'ctime',
  'linkpath',
  'mtime',
  'path',
  'size',
] as const;

/** Per key of {@link WRITER_PAX_KEYS}: its values are ASCII by construction (times, numbers, base64; not the names). */
export const WRITER_PAX_ASCII: readonly boolean[] = WRITER_PAX_KEYS.map((k) => k !== 'path' && k !== 'linkpath');

/** Where the `MSWINDOWS.xattr.*` records go among {@link WRITER_PAX_KEYS}: before `atime`. */
const XATTR_SLOT = 4;

/** One value per key of {@link WRITER_PAX_KEYS} (undefined: no record). */
export type WriterPaxValues = (string | undefined)[];

/**
 * The values of the writer's records of one entry (all but extended attributes and `extraPax`), one per key of
 * {@link WRITER_PAX_KEYS}, into `out`. Every time is written (creation, access and change default to the last write
 * time); `fileattr` always (default by kind; a directory always includes DIRECTORY); `rawsd` when present;
 * `mountpoint` for junctions. Stream entries (`file:ads`) carry only times, as go-winio writes them. `memo` is the
 * writer's (one per archive).
 */
export function windowsPaxValues(e: PaxSource, out: WriterPaxValues, memo: PaxEncodeMemo): void {
  const w = e.win;
  const mt = w.lastWriteTime;
  const tM = paxTimeText(mt, memo);
  // An entry's four times are nearly always one: its text is formatted once.
  out[0] = w.creationTime === undefined || w.creationTime === mt ? tM : paxTimeText(w.creationTime, memo);
  if (e.kind === 'stream') {
    out[1] = undefined;
    out[2] = undefined;
    out[3] = undefined;
  } else {
    let attrs = w.attributes ?? defaultAttributes(e.kind, w);
    if (e.kind === 'directory') attrs |= FILE_ATTRIBUTE.DIRECTORY;
    out[1] = attributesText(attrs, memo);
    out[2] = w.mountPoint === true ? '1' : undefined;
    out[3] = w.securityDescriptor === undefined ? undefined : sdBase64(w.securityDescriptor, memo);
  }
  out[4] = w.lastAccessTime === undefined || w.lastAccessTime === mt ? tM : paxTimeText(w.lastAccessTime, memo);
  out[5] = w.changeTime === undefined || w.changeTime === mt ? tM : paxTimeText(w.changeTime, memo);
  out[6] = e.longLinkpath;
  out[7] = tM;
  out[8] = e.longPath;
  out[9] = e.bigSize === undefined ? undefined : String(e.bigSize);
}

/**
 * The PAX records of one entry, in the writer's fixed order: {@link windowsPaxValues}, one `xattr` record per EA, and
 * the `extraPax` records, sorted by key bytes. Throws `TAR_ENTRY` when an `extraPax` key is one the writer manages or
 * appears twice, or two EAs share a name. `memo`, kept by the caller across the entries of one archive, saves
 * formatting a value seen before (the records are the same without it).
 */
export function encodeWindowsPax(e: PaxSource, memo: PaxEncodeMemo = new PaxEncodeMemo()): PaxRecord[] {
  const w = e.win;
  const values: WriterPaxValues = [];
  windowsPaxValues(e, values, memo);
  const out: PaxRecord[] = [];
  for (let i = 0; i < WRITER_PAX_KEYS.length; i++) {
    if (i === XATTR_SLOT && e.kind !== 'stream' && w.extendedAttributes !== undefined) {
      const seen = new Set<string>();
      for (const ea of w.extendedAttributes) {
        if (seen.has(ea.name)) {
          throw new WinlayerError('TAR_ENTRY', `extended attribute ${JSON.stringify(ea.name)} appears twice`, {
            entry: e.path,
          });
        }
        seen.add(ea.name);
        out.push({ key: PAX_KEYS.xattrPrefix + ea.name, value: encodeBase64(ea.value) });
      }
    }
    const value = values[i];
    if (value !== undefined) out.push({ key: WRITER_PAX_KEYS[i]!, value });
  }
  if (e.extraPax !== undefined && e.extraPax.length > 0) {
    const seen = new Set<string>();
    for (const r of e.extraPax) {
      if (isManagedPaxKey(r.key) || seen.has(r.key)) {
        throw new WinlayerError(
          'TAR_ENTRY',
          `extra PAX record ${JSON.stringify(r.key)} ${seen.has(r.key) ? 'appears twice' : 'is one the writer manages'}`,
          { entry: e.path, hint: 'set the typed field (win, path, size) instead of a raw record' },
        );
      }
      seen.add(r.key);
      out.push(r);
    }
    out.sort((a, b) => compareKeys(a.key, b.key));
  } else if (w.extendedAttributes !== undefined && w.extendedAttributes.length > 1) {
    out.sort((a, b) => compareKeys(a.key, b.key));
  }
  return out;
}
