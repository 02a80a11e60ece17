/**
 * Self-relative security descriptors ([MS-DTYP] §2.4.6): binary ↔ structured form.
 *
 * Decoding accepts any layout (owner, group, SACL and DACL at any offset, in any order, as Windows' own
 * `RtlValidRelativeSecurityDescriptor` does) and checks every size and offset. Encoding always writes the canonical
 * layout of `ConvertStringSecurityDescriptorToSecurityDescriptor`: the 20-byte header, then owner, group, SACL, DACL,
 * each packed right after the previous one. BuildKit's and buildah's shipped constants have exactly this layout
 * (owner at 20, group at 36, DACL at 48); the offreg hive default, which puts the DACL first, does not, so it decodes
 * fine and re-encodes to different (canonical) bytes with the same meaning.
 */
import { isWinlayerError, WinlayerError } from '../errors.js';
import { decodeSid, SID_MAX_SUB_AUTHORITIES, type Sid, sidByteLength, writeSid } from './sid.js';

/** An access control list. `revision` is 2 (`ACL_REVISION`) or 4 (`ACL_REVISION_DS`, needed by object ACEs). */
export interface Acl {
  revision: number;
  aces: Ace[];
}

/** ACE kinds with the plain layout: header, mask, SID. */
export type SimpleAceType =
  | 'allow'
  | 'deny'
  | 'audit'
  | 'alarm'
  | 'mandatoryLabel'
  | 'scopedPolicyId'
  | 'processTrustLabel';

/** ACE kinds with the object layout: header, mask, object flags, optional GUIDs, SID. */
export type ObjectAceType = 'allowObject' | 'denyObject' | 'auditObject' | 'alarmObject';

/** An ACE with the plain layout (`ACCESS_ALLOWED_ACE` and its siblings). */
export interface SimpleAce {
  type: SimpleAceType;
  /** ACE flags (`ACE_FLAG`): inheritance and audit bits. */
  flags: number;
  /** The access mask (uint32). */
  mask: number;
  sid: Sid;
}

/**
 * An object ACE (`ACCESS_ALLOWED_OBJECT_ACE` and its siblings). GUIDs are lower-case
 * `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, each absent when its presence flag is not set.
 */
export interface ObjectAce {
  type: ObjectAceType;
  flags: number;
  mask: number;
  objectType?: string;
  inheritedObjectType?: string;
  sid: Sid;
}

/**
 * Any other ACE (callback, conditional, resource attribute, access filter, or a type unknown today): its type byte,
 * flags and the bytes after the 4-byte header, kept so the ACE re-encodes unchanged. It has no SDDL form here.
 */
export interface UnknownAce {
  type: 'unknown';
  aceType: number;
  flags: number;
  data: Uint8Array;
}

/** One access control entry, discriminated by `type`. */
export type Ace = SimpleAce | ObjectAce | UnknownAce;

/**
 * A security descriptor. `control` is the whole control word as stored (`SE_*` bits); on encoding the presence bits
 * (`SE_DACL_PRESENT`, `SE_SACL_PRESENT`) and `SE_SELF_RELATIVE` are derived from the fields, the others are kept.
 * `dacl`/`sacl` are `undefined` when absent and `null` when present but NULL (a NULL DACL grants everyone everything).
 */
export interface SecurityDescriptor {
  revision: number;
  control: number;
  owner?: Sid;
  group?: Sid;
  dacl?: Acl | null;
  sacl?: Acl | null;
}

/** Security descriptor control bits (`SECURITY_DESCRIPTOR_CONTROL`). */
export const SE_CONTROL = {
  OWNER_DEFAULTED: 0x0001,
  GROUP_DEFAULTED: 0x0002,
  DACL_PRESENT: 0x0004,
  DACL_DEFAULTED: 0x0008,
  SACL_PRESENT: 0x0010,
  SACL_DEFAULTED: 0x0020,
  DACL_UNTRUSTED: 0x0040,
  SERVER_SECURITY: 0x0080,
  DACL_AUTO_INHERIT_REQ: 0x0100,
  SACL_AUTO_INHERIT_REQ: 0x0200,
  DACL_AUTO_INHERITED: 0x0400,
  SACL_AUTO_INHERITED: 0x0800,
  DACL_PROTECTED: 0x1000,
  SACL_PROTECTED: 0x2000,
  RM_CONTROL_VALID: 0x4000,
  SELF_RELATIVE: 0x8000,
} as const;

/** ACE flag bits (`AceFlags`). */
export const ACE_FLAG = {
  OBJECT_INHERIT: 0x01,
  CONTAINER_INHERIT: 0x02,
  NO_PROPAGATE_INHERIT: 0x04,
  INHERIT_ONLY: 0x08,
  INHERITED: 0x10,
  SUCCESSFUL_ACCESS: 0x40,
  FAILED_ACCESS: 0x80,
} as const;

/** The ACE type byte of every kind with a structured form. */
export const ACE_TYPE: Readonly<Record<SimpleAceType | ObjectAceType, number>> = Object.freeze({
  allow: 0x00,
  deny: 0x01,
  audit: 0x02,
  alarm: 0x03,
  allowObject: 0x05,
  denyObject: 0x06,
  auditObject: 0x07,
  alarmObject: 0x08,
  mandatoryLabel: 0x11,
  scopedPolicyId: 0x13,
  processTrustLabel: 0x14,
});

const ACE_KIND_BY_BYTE: ReadonlyMap<number, SimpleAceType | ObjectAceType> = new Map(
  Object.entries(ACE_TYPE).map(([k, v]) => [v, k as SimpleAceType | ObjectAceType]),
);

const OBJECT_TYPES: ReadonlySet<string> = new Set(['allowObject', 'denyObject', 'auditObject', 'alarmObject']);

/** True for the object ACE kinds (those that carry GUIDs). */
export function isObjectAce(ace: Ace): ace is ObjectAce {
  return OBJECT_TYPES.has(ace.type);
}

/** `ACE_OBJECT_TYPE_PRESENT` / `ACE_INHERITED_OBJECT_TYPE_PRESENT` in an object ACE's `Flags` field. */
const OBJECT_TYPE_PRESENT = 0x1;
const INHERITED_OBJECT_TYPE_PRESENT = 0x2;

/** The self-relative header: one named offset table ([MS-DTYP] §2.4.6). */
export const SD_HEADER = {
  revision: { at: 0, len: 1 },
  sbz1: { at: 1, len: 1 },
  control: { at: 2, len: 2 },
  owner: { at: 4, len: 4 },
  group: { at: 8, len: 4 },
  sacl: { at: 12, len: 4 },
  dacl: { at: 16, len: 4 },
} as const;
/** Size of the self-relative header. */
export const SD_HEADER_SIZE = 20;

/** The ACL header (`ACL`). */
export const ACL_HEADER = {
  revision: { at: 0, len: 1 },
  sbz1: { at: 1, len: 1 },
  size: { at: 2, len: 2 },
  count: { at: 4, len: 2 },
  sbz2: { at: 6, len: 2 },
} as const;
const ACL_HEADER_SIZE = 8;

/** The ACE header (`ACE_HEADER`) and the fields that follow it in the plain and object layouts. */
export const ACE_LAYOUT = {
  type: { at: 0, len: 1 },
  flags: { at: 1, len: 1 },
  size: { at: 2, len: 2 },
  mask: { at: 4, len: 4 },
  /** Plain ACEs: the SID starts here. Object ACEs: the object flags are here. */
  sidOrObjectFlags: { at: 8, len: 4 },
} as const;
const ACE_HEADER_SIZE = 4;

/** The largest ACL: its size field has 16 bits. */
const MAX_ACL_SIZE = 0xffff;

function invalid(rule: string, offset?: number): WinlayerError {
  return new WinlayerError('SD_INVALID', rule, offset === undefined ? {} : { offset });
}

// ── decoding ────────────────────────────────────────────────────────────────────────────────────────────────────────

/**
 * Decodes a self-relative security descriptor. Buffers everything (SDs are small). Accepts any layout; checks: at least
 * 20 bytes, revision 1, `SE_SELF_RELATIVE` set, each offset and each SID/ACL inside the buffer, ACL revision 2 to 4
 * (the range `RtlValidAcl` accepts; object ACEs only in revision 4) and ACL size ≥ 8, every ACE header inside the ACL
 * with a size ≥ 4, a multiple of 4, inside the ACL, and, for structured kinds, the SID (≤ 15 sub-authorities) and GUIDs
 * inside the ACE. Bytes of the buffer that no part points at are allowed and ignored, as are bytes after the SID inside
 * an ACE.
 *
 * Throws `WinlayerError('SD_INVALID')` naming the rule and the byte offset; never any other exception.
 */
export function decodeSecurityDescriptor(bytes: Uint8Array): SecurityDescriptor {
  if (bytes.length < SD_HEADER_SIZE) {
    throw invalid(`security descriptor is ${bytes.length} bytes, shorter than its 20-byte header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const revision = bytes[SD_HEADER.revision.at]!;
  if (revision !== 1) throw invalid(`security descriptor revision is ${revision}, not 1`, 0);
  const control = view.getUint16(SD_HEADER.control.at, true);
  if ((control & SE_CONTROL.SELF_RELATIVE) === 0) {
    throw invalid('security descriptor is not self-relative (control bit SE_SELF_RELATIVE 0x8000 is clear)', 2);
  }
  const sd: SecurityDescriptor = { revision, control };
  const ownerAt = view.getUint32(SD_HEADER.owner.at, true);
  const groupAt = view.getUint32(SD_HEADER.group.at, true);
  const saclAt = view.getUint32(SD_HEADER.sacl.at, true);
  const daclAt = view.getUint32(SD_HEADER.dacl.at, true);
  if (ownerAt !== 0) sd.owner = readSid(bytes, ownerAt, bytes.length, 'owner SID');
  if (groupAt !== 0) sd.group = readSid(bytes, groupAt, bytes.length, 'group SID');
  if ((control & SE_CONTROL.SACL_PRESENT) !== 0) sd.sacl = saclAt === 0 ? null : readAcl(bytes, view, saclAt, 'SACL');
  if ((control & SE_CONTROL.DACL_PRESENT) !== 0) sd.dacl = daclAt === 0 ? null : readAcl(bytes, view, daclAt, 'DACL');
  return sd;
}

/**
 * Checks the security descriptor of a layer entry (an `MSWINDOWS.rawsd` value) by the one rule every reader applies —
 * `decodeSecurityDescriptor`'s, as `sd decode` and `lint` do — and reports a failure against the entry (the byte offset
 * is then the descriptor's own, given in the rule). Throws `SD_INVALID`.
 */
export function checkEntrySecurityDescriptor(bytes: Uint8Array, entry: string): void {
  try {
    decodeSecurityDescriptor(bytes);
  } catch (e) {
    if (!isWinlayerError(e, 'SD_INVALID')) throw e;
    const at = e.offset === undefined ? '' : ` (byte ${e.offset} of the descriptor)`;
    throw new WinlayerError('SD_INVALID', `the security descriptor (MSWINDOWS.rawsd) is not valid: ${e.rule}${at}`, {
      entry,
      cause: e,
    });
  }
}

function readSid(bytes: Uint8Array, at: number, end: number, what: string, inAce = false): Sid {
  const container = inAce ? 'ACE' : 'buffer';
  if (!inAce && at < SD_HEADER_SIZE) throw invalid(`${what} offset ${at} points into the header`, at);
  if (at + 8 > end) throw invalid(`${what} at ${at} runs past the end of the ${container}`, at);
  const count = bytes[at + 1]!;
  if (bytes[at] !== 1) throw invalid(`${what} revision is ${bytes[at]}, not 1`, at);
  if (count > SID_MAX_SUB_AUTHORITIES) throw invalid(`${what} has ${count} sub-authorities (max 15)`, at);
  if (at + 8 + 4 * count > end) {
    throw invalid(`${what} with ${count} sub-authorities runs past the end of the ${container}`, at);
  }
  return decodeSid(bytes, at);
}

function readAcl(bytes: Uint8Array, view: DataView, at: number, what: string): Acl {
  if (at < SD_HEADER_SIZE) throw invalid(`${what} offset ${at} points into the header`, at);
  if (at + ACL_HEADER_SIZE > bytes.length) throw invalid(`${what} header at ${at} runs past the end of the buffer`, at);
  const revision = bytes[at + ACL_HEADER.revision.at]!;
  if (revision < 2 || revision > 4) throw invalid(`${what} revision is ${revision}, not 2 to 4`, at);
  const size = view.getUint16(at + ACL_HEADER.size.at, true);
  const count = view.getUint16(at + ACL_HEADER.count.at, true);
  if (size < ACL_HEADER_SIZE) throw invalid(`${what} size ${size} is smaller than its 8-byte header`, at);
  if (at + size > bytes.length) throw invalid(`${what} of ${size} bytes at ${at} runs past the end of the buffer`, at);
  const end = at + size;
  const aces: Ace[] = [];
  let p = at + ACL_HEADER_SIZE;
  for (let i = 0; i < count; i++) {
    const where = `${what} ACE ${i}`;
    if (p + ACE_HEADER_SIZE > end) throw invalid(`${where} header runs past the end of the ${what}`, p);
    const aceSize = view.getUint16(p + ACE_LAYOUT.size.at, true);
    if (aceSize < ACE_HEADER_SIZE) throw invalid(`${where} size ${aceSize} is smaller than its 4-byte header`, p);
    if (aceSize % 4 !== 0) throw invalid(`${where} size ${aceSize} is not a multiple of 4`, p);
    if (p + aceSize > end) throw invalid(`${where} of ${aceSize} bytes runs past the end of the ${what}`, p);
    const ace = readAce(bytes, view, p, aceSize, where);
    if (revision < 4 && isObjectAce(ace)) {
      throw invalid(`${where} is an object ACE in an ACL of revision ${revision} (object ACEs need revision 4)`, p);
    }
    aces.push(ace);
    p += aceSize;
  }
  return { revision, aces };
}

function readAce(bytes: Uint8Array, view: DataView, at: number, size: number, where: string): Ace {
  const typeByte = bytes[at]!;
  const flags = bytes[at + 1]!;
  const end = at + size;
  const kind = ACE_KIND_BY_BYTE.get(typeByte);
  if (kind === undefined) return { type: 'unknown', aceType: typeByte, flags, data: bytes.slice(at + 4, end) };
  if (size < 8) throw invalid(`${where} (type 0x${hex2(typeByte)}) of ${size} bytes has no room for its mask`, at);
  const mask = view.getUint32(at + ACE_LAYOUT.mask.at, true);
  if (!OBJECT_TYPES.has(kind)) {
    return { type: kind as SimpleAceType, flags, mask, sid: readSid(bytes, at + 8, end, `${where} SID`, true) };
  }
  if (size < 12) throw invalid(`${where} (object ACE) of ${size} bytes has no room for its object flags`, at);
  const objectFlags = view.getUint32(at + 8, true);
  if ((objectFlags & ~(OBJECT_TYPE_PRESENT | INHERITED_OBJECT_TYPE_PRESENT)) !== 0) {
    throw invalid(`${where} has unknown object flags 0x${objectFlags.toString(16)}`, at + 8);
  }
  let p = at + 12;
  let objectType: string | undefined;
  let inheritedObjectType: string | undefined;
  if ((objectFlags & OBJECT_TYPE_PRESENT) !== 0) {
    if (p + 16 > end) throw invalid(`${where} object type GUID runs past the end of the ACE`, p);
    objectType = decodeGuid(bytes, p);
    p += 16;
  }
  if ((objectFlags & INHERITED_OBJECT_TYPE_PRESENT) !== 0) {
    if (p + 16 > end) throw invalid(`${where} inherited object type GUID runs past the end of the ACE`, p);
    inheritedObjectType = decodeGuid(bytes, p);
    p += 16;
  }
  const sid = readSid(bytes, p, end, `${where} SID`, true);
  return {
    type: kind as ObjectAceType,
    flags,
    mask,
    ...(objectType === undefined ? {} : { objectType }),
    ...(inheritedObjectType === undefined ? {} : { inheritedObjectType }),
    sid,
  };
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** Reads a 16-byte GUID in its mixed-endian binary form as `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (lower case). */
export function decodeGuid(bytes: Uint8Array, at: number): string {
  const b = (i: number): string => hex2(bytes[at + i]!);
  return (
    b(3) +
    b(2) +
    b(1) +
    b(0) +
    '-' +
    b(5) +
    b(4) +
    '-' +
    b(7) +
    b(6) +
    '-' +
    b(8) +
    b(9) +
    '-' +
    b(10) +
    b(11) +
    b(12) +
    b(13) +
    b(14) +
    b(15)
  );
}

const GUID_TEXT = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** True for the text form of a GUID (any case). */
export function isGuid(text: string): boolean {
  return GUID_TEXT.test(text);
}

/** Writes a GUID given as text into 16 bytes at `at`. Throws `SD_INVALID` for a malformed GUID. */
export function encodeGuid(text: string, out: Uint8Array, at: number): void {
  if (!isGuid(text)) throw invalid(`"${text}" is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)`);
  const h = text.replaceAll('-', '');
  const byte = (i: number): number => Number.parseInt(h.slice(2 * i, 2 * i + 2), 16);
  const order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
  for (let i = 0; i < 16; i++) out[at + i] = byte(order[i]!);
}

// ── encoding ────────────────────────────────────────────────────────────────────────────────────────────────────────

/**
 * Encodes a security descriptor in the canonical self-relative layout: header, owner, group, SACL, DACL. The
 * control word is `sd.control` with `SE_SELF_RELATIVE` set and the presence bits recomputed from `dacl`/`sacl`.
 * ACL sizes are exact (no slack). Same input → same bytes.
 *
 * Throws `SD_INVALID` (revision not 1, ACL revision outside 2–4, a mask or flags out of range, a bad GUID, an ACL
 * over 64 KiB, an object ACE in an ACL of revision < 4) or `SID_INVALID` (a SID that cannot be encoded).
 */
export function encodeSecurityDescriptor(sd: SecurityDescriptor): Uint8Array {
  if (sd.revision !== 1) throw invalid(`security descriptor revision is ${sd.revision}, not 1`);
  if (!Number.isInteger(sd.control) || sd.control < 0 || sd.control > 0xffff) {
    throw invalid(`control ${sd.control} is not a 16-bit value`);
  }
  const ownerLen = sd.owner === undefined ? 0 : sidByteLength(sd.owner);
  const groupLen = sd.group === undefined ? 0 : sidByteLength(sd.group);
  const saclLen = sd.sacl ? aclByteLength(sd.sacl, 'SACL') : 0;
  const daclLen = sd.dacl ? aclByteLength(sd.dacl, 'DACL') : 0;
  const out = new Uint8Array(SD_HEADER_SIZE + ownerLen + groupLen + saclLen + daclLen);
  const view = new DataView(out.buffer);
  let control = (sd.control | SE_CONTROL.SELF_RELATIVE) & ~(SE_CONTROL.DACL_PRESENT | SE_CONTROL.SACL_PRESENT);
  if (sd.dacl !== undefined) control |= SE_CONTROL.DACL_PRESENT;
  if (sd.sacl !== undefined) control |= SE_CONTROL.SACL_PRESENT;
  out[SD_HEADER.revision.at] = 1;
  view.setUint16(SD_HEADER.control.at, control, true);
  let p = SD_HEADER_SIZE;
  if (sd.owner !== undefined) {
    view.setUint32(SD_HEADER.owner.at, p, true);
    p = writeSid(out, p, sd.owner);
  }
  if (sd.group !== undefined) {
    view.setUint32(SD_HEADER.group.at, p, true);
    p = writeSid(out, p, sd.group);
  }
  if (sd.sacl) {
    view.setUint32(SD_HEADER.sacl.at, p, true);
    p = writeAcl(out, view, p, sd.sacl, 'SACL');
  }
  if (sd.dacl) {
    view.setUint32(SD_HEADER.dacl.at, p, true);
    p = writeAcl(out, view, p, sd.dacl, 'DACL');
  }
  return out;
}

/** The encoded size of one ACE. Throws `SD_INVALID` when it cannot be encoded. */
function aceByteLength(ace: Ace): number {
  if (ace.type === 'unknown') return ACE_HEADER_SIZE + ace.data.length;
  if (isObjectAce(ace)) {
    return (
      12 +
      (ace.objectType === undefined ? 0 : 16) +
      (ace.inheritedObjectType === undefined ? 0 : 16) +
      sidByteLength(ace.sid)
    );
  }
  return 8 + sidByteLength(ace.sid);
}

function aclByteLength(acl: Acl, what: string): number {
  let n = ACL_HEADER_SIZE;
  for (const ace of acl.aces) n += aceByteLength(ace);
  if (n > MAX_ACL_SIZE) throw invalid(`${what} would be ${n} bytes, over the 65535-byte limit of an ACL`);
  if (acl.aces.length > 0xffff) throw invalid(`${what} has ${acl.aces.length} ACEs, over 65535`);
  return n;
}

function writeAcl(out: Uint8Array, view: DataView, at: number, acl: Acl, what: string): number {
  if (!Number.isInteger(acl.revision) || acl.revision < 2 || acl.revision > 4) {
    throw invalid(`${what} revision is ${acl.revision}, not 2 to 4`);
  }
  out[at] = acl.revision;
  view.setUint16(at + ACL_HEADER.size.at, aclByteLength(acl, what), true);
  view.setUint16(at + ACL_HEADER.count.at, acl.aces.length, true);
  let p = at + ACL_HEADER_SIZE;
  acl.aces.forEach((ace, i) => {
    p = writeAce(out, view, p, ace, `${what} ACE ${i}`, acl.revision);
  });
  return p;
}

function writeAce(out: Uint8Array, view: DataView, at: number, ace: Ace, where: string, aclRevision: number): number {
  const size = aceByteLength(ace);
  if (size % 4 !== 0) throw invalid(`${where} would be ${size} bytes, not a multiple of 4`);
  if (!isByte(ace.flags)) throw invalid(`${where} flags ${ace.flags} are not a byte`);
  view.setUint16(at + ACE_LAYOUT.size.at, size, true);
  out[at + 1] = ace.flags;
  if (ace.type === 'unknown') {
    if (!isByte(ace.aceType)) throw invalid(`${where} type ${ace.aceType} is not a byte`);
    out[at] = ace.aceType;
    out.set(ace.data, at + ACE_HEADER_SIZE);
    return at + size;
  }
  const typeByte = ACE_TYPE[ace.type];
  if (typeByte === undefined) throw invalid(`${where} has an unknown type "${String(ace.type)}"`);
  out[at] = typeByte;
  if (!Number.isInteger(ace.mask) || ace.mask < 0 || ace.mask > 0xffffffff) {
    throw invalid(`${where} mask ${ace.mask} is not a uint32`);
  }
  view.setUint32(at + ACE_LAYOUT.mask.at, ace.mask, true);
  if (!isObjectAce(ace)) {
    writeSid(out, at + 8, ace.sid);
    return at + size;
  }
  if (aclRevision < 4) throw invalid(`${where} is an object ACE, which needs ACL revision 4 (ACL_REVISION_DS)`);
  let objectFlags = 0;
  let p = at + 12;
  if (ace.objectType !== undefined) {
    objectFlags |= OBJECT_TYPE_PRESENT;
    encodeGuid(ace.objectType, out, p);
    p += 16;
  }
  if (ace.inheritedObjectType !== undefined) {
    objectFlags |= INHERITED_OBJECT_TYPE_PRESENT;
    encodeGuid(ace.inheritedObjectType, out, p);
    p += 16;
  }
  view.setUint32(at + 8, objectFlags, true);
  writeSid(out, p, ace.sid);
  return at + size;
}

function isByte(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xff;
}
