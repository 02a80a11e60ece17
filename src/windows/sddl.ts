/**
 * SDDL (Security Descriptor Definition Language) ↔ security descriptors.
 *
 * Grammar: `O:owner G:group D:flags(ace)(ace)… S:flags(ace)(ace)…` (sections in any order, each at most once, no
 * whitespace); `flags` = any of `P`, `AR`, `AI`, and `NO_ACCESS_CONTROL` for a NULL ACL; an ACE is
 * `(type;flags;rights;objectGuid;inheritObjectGuid;sid)`.
 *
 * Canonical output (`formatSddl`): `O:`, `G:`, `D:`, `S:` in that order; ACL flags in the order Windows writes them
 * (`P`, `AR`, `AI`); ACE flags in bit order (`OI CI NP IO ID SA FA`); rights as the one alias whose mask equals the
 * ACE mask exactly (KR wins over KX, both 0x20019), otherwise lower-case `0x…`; SIDs as their fixed alias when they
 * have one. Windows itself would write a mask such as 0x3 as `CCDC`; we write `0x3` (one spelling per mask).
 *
 * Not representable and therefore refused: conditional/callback ACEs (`XA`, `XD`, `XU`, `ZA`), resource attribute
 * (`RA`) and access filter (`FL`) ACEs, domain-relative SID aliases (`DA`, `DU`, …: write the `S-1-5-21-…` SID).
 * Lost in SDDL (but kept by the binary codec): control bits other than the presence, `P`, `AR` and `AI` bits, and a
 * non-default ACL revision.
 */
import { WinlayerError } from '../errors.js';
import {
  ACE_FLAG,
  type Ace,
  type Acl,
  decodeSecurityDescriptor,
  encodeSecurityDescriptor,
  isGuid,
  isObjectAce,
  type ObjectAceType,
  SE_CONTROL,
  type SecurityDescriptor,
  type SimpleAceType,
} from './sd.js';
import { formatSid, parseSid, type Sid } from './sid.js';

/** SDDL ACE type tokens → ACE kind. */
export const SDDL_ACE_TYPES: Readonly<Record<string, SimpleAceType | ObjectAceType>> = Object.freeze({
  A: 'allow',
  D: 'deny',
  AU: 'audit',
  AL: 'alarm',
  OA: 'allowObject',
  OD: 'denyObject',
  OU: 'auditObject',
  OL: 'alarmObject',
  ML: 'mandatoryLabel',
  SP: 'scopedPolicyId',
  TL: 'processTrustLabel',
});
const TYPE_TOKEN: ReadonlyMap<string, string> = new Map(Object.entries(SDDL_ACE_TYPES).map(([t, k]) => [k, t]));
const UNSUPPORTED_ACE_TYPES: ReadonlySet<string> = new Set(['XA', 'XD', 'XU', 'ZA', 'RA', 'FL']);

/** SDDL ACE flag tokens → bit, in the order they are written. */
const SDDL_ACE_FLAGS: Readonly<Record<string, number>> = Object.freeze({
  OI: ACE_FLAG.OBJECT_INHERIT,
  CI: ACE_FLAG.CONTAINER_INHERIT,
  NP: ACE_FLAG.NO_PROPAGATE_INHERIT,
  IO: ACE_FLAG.INHERIT_ONLY,
  ID: ACE_FLAG.INHERITED,
  SA: ACE_FLAG.SUCCESSFUL_ACCESS,
  FA: ACE_FLAG.FAILED_ACCESS,
});
const KNOWN_ACE_FLAGS = Object.values(SDDL_ACE_FLAGS).reduce((a, b) => a | b, 0);

/**
 * SDDL access right aliases → mask. Generic, standard, directory-service, file and key rights. When several aliases
 * share a mask (KR and KX) the first listed is the one written.
 */
export const SDDL_RIGHTS: Readonly<Record<string, number>> = Object.freeze({
  GA: 0x10000000,
  GR: 0x80000000,
  GW: 0x40000000,
  GX: 0x20000000,
  RC: 0x00020000,
  SD: 0x00010000,
  WD: 0x00040000,
  WO: 0x00080000,
  RP: 0x00000010,
  WP: 0x00000020,
  CC: 0x00000001,
  DC: 0x00000002,
  LC: 0x00000004,
  SW: 0x00000008,
  LO: 0x00000080,
  DT: 0x00000040,
  CR: 0x00000100,
  FA: 0x001f01ff,
  FR: 0x00120089,
  FW: 0x00120116,
  FX: 0x001200a0,
  KA: 0x000f003f,
  KR: 0x00020019,
  KW: 0x00020006,
  KX: 0x00020019,
});

/** Rights of mandatory label ACEs (`ML`): no-write-up, no-read-up, no-execute-up. */
const SDDL_LABEL_RIGHTS: Readonly<Record<string, number>> = Object.freeze({ NW: 0x1, NR: 0x2, NX: 0x4 });

const ALIAS_BY_MASK = firstAliasByMask(SDDL_RIGHTS);
const LABEL_ALIAS_BY_MASK = firstAliasByMask(SDDL_LABEL_RIGHTS);

function firstAliasByMask(table: Readonly<Record<string, number>>): ReadonlyMap<number, string> {
  const m = new Map<number, string>();
  for (const [alias, mask] of Object.entries(table)) if (!m.has(mask)) m.set(mask, alias);
  return m;
}

const NULL_ACL = 'NO_ACCESS_CONTROL';

// ── parsing ─────────────────────────────────────────────────────────────────────────────────────────────────────────

class SddlParser {
  pos = 0;
  constructor(readonly text: string) {}

  fail(rule: string, at = this.pos, hint?: string): never {
    const t = this.text;
    const shown =
      t.length <= 160
        ? t
        : `${at > 60 ? '…' : ''}${t.slice(Math.max(0, at - 60), at + 60)}${at + 60 < t.length ? '…' : ''}`;
    throw new WinlayerError('SDDL_INVALID', `SDDL ${rule} at position ${at} of "${shown}"`, hint ? { hint } : {});
  }

  startsWith(s: string): boolean {
    return this.text.startsWith(s, this.pos);
  }

  atSectionStart(): boolean {
    return /^[OGDS]:/.test(this.text.slice(this.pos, this.pos + 2));
  }

  parse(): SecurityDescriptor {
    const sd: SecurityDescriptor = { revision: 1, control: SE_CONTROL.SELF_RELATIVE };
    const seen = new Set<string>();
    while (this.pos < this.text.length) {
      const at = this.pos;
      if (!this.atSectionStart()) {
        this.fail(`token "${this.text.slice(at, at + 8)}" is not a section (expected O:, G:, D: or S:)`, at);
      }
      const tag = this.text[at]!;
      if (seen.has(tag)) this.fail(`section "${tag}:" appears twice`, at);
      seen.add(tag);
      this.pos += 2;
      if (tag === 'O') sd.owner = this.sid('owner');
      else if (tag === 'G') sd.group = this.sid('group');
      else {
        const { flags, acl } = this.acl(tag === 'D' ? 'DACL' : 'SACL');
        if (tag === 'D') {
          sd.control |= SE_CONTROL.DACL_PRESENT;
          if (flags.P) sd.control |= SE_CONTROL.DACL_PROTECTED;
          if (flags.AR) sd.control |= SE_CONTROL.DACL_AUTO_INHERIT_REQ;
          if (flags.AI) sd.control |= SE_CONTROL.DACL_AUTO_INHERITED;
          sd.dacl = acl;
        } else {
          sd.control |= SE_CONTROL.SACL_PRESENT;
          if (flags.P) sd.control |= SE_CONTROL.SACL_PROTECTED;
          if (flags.AR) sd.control |= SE_CONTROL.SACL_AUTO_INHERIT_REQ;
          if (flags.AI) sd.control |= SE_CONTROL.SACL_AUTO_INHERITED;
          sd.sacl = acl;
        }
      }
    }
    return sd;
  }

  /** A SID token at the current position: `S-…` or a two-letter alias. */
  sid(what: string): Sid {
    const at = this.pos;
    let token: string;
    if (this.startsWith('S-')) {
      const re = /S-\d+-(?:0[xX][0-9a-fA-F]{1,12}|\d+)(?:-\d+)*/y; // Windows writes 12 hex digits
      re.lastIndex = at;
      const m = re.exec(this.text);
      token = m === null ? this.text.slice(at, at + 2) : m[0];
    } else {
      token = this.text.slice(at, at + 2);
    }
    if (token.length === 0) this.fail(`${what} SID is missing`, at);
    this.pos += token.length;
    return this.resolveSid(token, at, what);
  }

  resolveSid(token: string, at: number, what: string): Sid {
    try {
      return parseSid(token);
    } catch (e) {
      if (e instanceof WinlayerError) {
        const rule = e.message.replace(/ \(SID_INVALID\)[\s\S]*$/, '');
        this.fail(`${what} SID "${token}" is not valid: ${rule}`, at, e.hint);
      }
      throw e;
    }
  }

  acl(what: string): { flags: { P: boolean; AR: boolean; AI: boolean }; acl: Acl | null } {
    const flags = { P: false, AR: false, AI: false };
    let isNull = false;
    for (;;) {
      const at = this.pos;
      if (this.startsWith(NULL_ACL)) {
        if (isNull) this.fail(`${what} flag ${NULL_ACL} appears twice`, at);
        isNull = true;
        this.pos += NULL_ACL.length;
      } else if (this.startsWith('P')) {
        flags.P = true;
        this.pos += 1;
      } else if (this.startsWith('AR') || this.startsWith('AI')) {
        flags[this.text.slice(at, at + 2) as 'AR' | 'AI'] = true;
        this.pos += 2;
      } else break;
    }
    const aces: Ace[] = [];
    while (this.startsWith('(')) aces.push(this.ace(what, aces.length));
    if (this.pos < this.text.length && !this.atSectionStart()) {
      this.fail(
        `token "${this.text.slice(this.pos, this.pos + 8)}" in the ${what} is neither a flag (P, AR, AI, ${NULL_ACL}) nor an ACE "(…)"`,
      );
    }
    if (isNull) {
      if (aces.length > 0) this.fail(`${what} is ${NULL_ACL} but also lists ACEs`);
      return { flags, acl: null };
    }
    return { flags, acl: { revision: aces.some(isObjectAce) ? 4 : 2, aces } };
  }

  ace(what: string, index: number): Ace {
    const open = this.pos;
    const close = this.text.indexOf(')', open);
    if (close < 0) this.fail(`${what} ACE ${index} "${this.text.slice(open, open + 24)}" has no closing ")"`, open);
    const body = this.text.slice(open + 1, close);
    const fields = body.split(';');
    if (fields.length !== 6) {
      const detail = fields.length > 6 ? ' (conditional ACEs are not supported)' : '';
      this.fail(
        `${what} ACE "(${body})" has ${fields.length} fields, not 6 (type;flags;rights;object;inherit;sid)${detail}`,
        open,
      );
    }
    const starts: number[] = [];
    let p = open + 1;
    for (const f of fields) {
      starts.push(p);
      p += f.length + 1;
    }
    const [typeTok, flagsTok, rightsTok, objTok, inhTok, sidTok] = fields as [
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    const kind = SDDL_ACE_TYPES[typeTok];
    if (kind === undefined) {
      const why = UNSUPPORTED_ACE_TYPES.has(typeTok) ? 'is not supported by winlayer' : 'is not an ACE type';
      this.fail(`ACE type "${typeTok}" ${why}`, starts[0]!, `use one of ${Object.keys(SDDL_ACE_TYPES).join(' ')}`);
    }
    const flags = this.aceFlags(flagsTok, starts[1]!);
    const mask = this.rights(rightsTok, starts[2]!);
    const sid = this.resolveSid(sidTok, starts[5]!, 'ACE');
    this.pos = close + 1;
    if (kind.endsWith('Object')) {
      const objectType = this.guid(objTok, starts[3]!);
      const inheritedObjectType = this.guid(inhTok, starts[4]!);
      return {
        type: kind as ObjectAceType,
        flags,
        mask,
        ...(objectType === undefined ? {} : { objectType }),
        ...(inheritedObjectType === undefined ? {} : { inheritedObjectType }),
        sid,
      };
    }
    if (objTok !== '' || inhTok !== '') {
      this.fail(`ACE type "${typeTok}" takes no object GUIDs (found "${objTok || inhTok}")`, starts[objTok ? 3 : 4]!);
    }
    return { type: kind as SimpleAceType, flags, mask, sid };
  }

  guid(tok: string, at: number): string | undefined {
    if (tok === '') return undefined;
    if (!isGuid(tok)) this.fail(`"${tok}" is not a GUID`, at);
    return tok.toLowerCase();
  }

  aceFlags(tok: string, at: number): number {
    if (/^0[xX][0-9a-fA-F]{1,2}$/.test(tok)) return Number.parseInt(tok.slice(2), 16);
    let flags = 0;
    for (let i = 0; i < tok.length; i += 2) {
      const t = tok.slice(i, i + 2);
      const bit = SDDL_ACE_FLAGS[t];
      if (bit === undefined) {
        this.fail(`ACE flag "${t}" is unknown`, at + i, `use ${Object.keys(SDDL_ACE_FLAGS).join(' ')} or 0x…`);
      }
      flags |= bit;
    }
    return flags;
  }

  rights(tok: string, at: number): number {
    if (tok === '') return 0;
    let n: number | undefined;
    if (/^0[xX][0-9a-fA-F]{1,8}$/.test(tok)) n = Number.parseInt(tok.slice(2), 16);
    else if (/^\d{1,10}$/.test(tok)) n = Number(tok);
    if (n !== undefined) {
      if (n > 0xffffffff) this.fail(`access mask "${tok}" exceeds 32 bits`, at);
      return n;
    }
    if (/^0[xX]/.test(tok)) this.fail(`access mask "${tok}" is not a 32-bit hex number`, at);
    let mask = 0;
    for (let i = 0; i < tok.length; i += 2) {
      const t = tok.slice(i, i + 2);
      const bits = SDDL_RIGHTS[t] ?? SDDL_LABEL_RIGHTS[t];
      if (bits === undefined) {
        this.fail(`access right "${t}" is unknown`, at + i, 'use aliases such as FA, FR, KR, GA, RC, or a number 0x…');
      }
      mask = (mask | bits) >>> 0;
    }
    return mask;
  }
}

/**
 * Parses an SDDL string into a security descriptor (control gets `SE_SELF_RELATIVE`, the presence bits and the `P`,
 * `AR`, `AI` bits; ACL revision 4 when an ACL holds an object ACE, else 2). Rights accept aliases, concatenated
 * aliases (`CCDCLCSWRPWPDTLOCRSDRCWDWO`), `0x` hex and decimal; ACE flags accept tokens or `0x` hex. The empty
 * string is the empty descriptor (no owner, group or ACL), which `formatSddl` writes as "".
 * Throws `SDDL_INVALID` naming the offending token and its position.
 */
export function parseSddl(text: string): SecurityDescriptor {
  return new SddlParser(text).parse();
}

// ── formatting ──────────────────────────────────────────────────────────────────────────────────────────────────────

/**
 * Formats a security descriptor as canonical SDDL (see the module doc). Throws `SDDL_INVALID` for an ACE that has
 * no SDDL form (an `unknown` ACE).
 */
export function formatSddl(sd: SecurityDescriptor): string {
  let out = '';
  if (sd.owner !== undefined) out += `O:${formatSid(sd.owner)}`;
  if (sd.group !== undefined) out += `G:${formatSid(sd.group)}`;
  if (sd.dacl !== undefined) {
    const c = sd.control;
    out += `D:${aclFlags(c, SE_CONTROL.DACL_PROTECTED, SE_CONTROL.DACL_AUTO_INHERIT_REQ, SE_CONTROL.DACL_AUTO_INHERITED)}`;
    out += formatAcl(sd.dacl, 'DACL');
  }
  if (sd.sacl !== undefined) {
    const c = sd.control;
    out += `S:${aclFlags(c, SE_CONTROL.SACL_PROTECTED, SE_CONTROL.SACL_AUTO_INHERIT_REQ, SE_CONTROL.SACL_AUTO_INHERITED)}`;
    out += formatAcl(sd.sacl, 'SACL');
  }
  return out;
}

function aclFlags(control: number, p: number, ar: number, ai: number): string {
  return (control & p ? 'P' : '') + (control & ar ? 'AR' : '') + (control & ai ? 'AI' : '');
}

function formatAcl(acl: Acl | null, what: string): string {
  if (acl === null) return NULL_ACL;
  return acl.aces.map((ace, i) => formatAce(ace, `${what} ACE ${i}`)).join('');
}

/** Formats one ACE as `(type;flags;rights;object;inherit;sid)`. Throws `SDDL_INVALID` for an `unknown` ACE. */
function formatAce(ace: Ace, where = 'ACE'): string {
  if (ace.type === 'unknown') {
    throw new WinlayerError(
      'SDDL_INVALID',
      `${where} has type 0x${ace.aceType.toString(16).padStart(2, '0')}, which has no SDDL form in winlayer`,
      { hint: 'keep the security descriptor in binary (rawsd) form' },
    );
  }
  const type = TYPE_TOKEN.get(ace.type)!;
  const rights = formatRights(ace.mask, ace.type === 'mandatoryLabel');
  const obj = isObjectAce(ace) ? (ace.objectType ?? '') : '';
  const inh = isObjectAce(ace) ? (ace.inheritedObjectType ?? '') : '';
  return `(${type};${formatAceFlags(ace.flags)};${rights};${obj};${inh};${formatSid(ace.sid)})`;
}

/** ACE flags as tokens in bit order (`OICIIO`); flags with bits that have no token as `0x…`. */
export function formatAceFlags(flags: number): string {
  if ((flags & ~KNOWN_ACE_FLAGS) !== 0) return `0x${flags.toString(16)}`;
  let s = '';
  for (const [tok, bit] of Object.entries(SDDL_ACE_FLAGS)) if (flags & bit) s += tok;
  return s;
}

/** A mask as its one exact alias (`FA`, `KR`), else lower-case `0x…`. `label` selects the `NW NR NX` table. */
export function formatRights(mask: number, label = false): string {
  const alias = (label ? LABEL_ALIAS_BY_MASK : ALIAS_BY_MASK).get(mask >>> 0);
  return alias ?? `0x${(mask >>> 0).toString(16)}`;
}

// ── conveniences ────────────────────────────────────────────────────────────────────────────────────────────────────

/** SDDL → canonical self-relative bytes. Throws `SDDL_INVALID` (or `SD_INVALID` for values that cannot be encoded). */
export function sddlToBytes(text: string): Uint8Array {
  return encodeSecurityDescriptor(parseSddl(text));
}

/** Self-relative bytes → canonical SDDL. Throws `SD_INVALID` for malformed bytes, `SDDL_INVALID` for unknown ACEs. */
export function bytesToSddl(bytes: Uint8Array): string {
  return formatSddl(decodeSecurityDescriptor(bytes));
}

/** Bytes → the `MSWINDOWS.rawsd` text: padded standard base64. */
export function bytesToRawsd(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** SDDL → the padded standard base64 of the canonical bytes (the `MSWINDOWS.rawsd` PAX value). */
export function sddlToBase64(text: string): string {
  return bytesToRawsd(sddlToBytes(text));
}

/**
 * Base64 (an `MSWINDOWS.rawsd` value) → canonical SDDL. Accepts standard base64, padded or not; throws `SD_INVALID`
 * for anything else, or for a malformed descriptor.
 */
export function base64ToSddl(b64: string): string {
  return bytesToSddl(rawsdToBytes(b64));
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/;

/**
 * Decodes an `MSWINDOWS.rawsd` value (standard base64, padded or not) to bytes, without checking the descriptor.
 * Throws `SD_INVALID` when the text is not standard base64 (URL-safe letters, whitespace or bad padding).
 */
export function rawsdToBytes(b64: string): Uint8Array {
  if (!BASE64.test(b64)) {
    throw new WinlayerError(
      'SD_INVALID',
      `"${b64.length > 40 ? `${b64.slice(0, 40)}…` : b64}" is not standard base64`,
      {
        hint: 'MSWINDOWS.rawsd values are standard base64 (A–Z a–z 0–9 + /, padded with =)',
      },
    );
  }
  return new Uint8Array(Buffer.from(b64, 'base64'));
}
