/**
 * Security identifiers (SIDs): the binary form (`SID` structure, [MS-DTYP] §2.4.2.2), the string form `S-1-5-32-544`
 * and the two-letter SDDL aliases (`BA`).
 *
 * Only aliases that name one fixed SID are known here. The domain-relative aliases (`DA`, `DU`, `DG`, `DD`, `DC`, `CA`,
 * `EA`, `SA`, `PA`, `RS`, `CN`, `AP`, `KA`, `EK`, `RO`, `LA`, `LG`, …) stand for a different SID on every machine or
 * domain; a layer written on Linux has no domain, so they are refused in text form: write the full `S-1-5-21-…` SID.
 */
import { WinlayerError } from '../errors.js';

/** A security identifier. `authority` is the 48-bit identifier authority; at most 15 sub-authorities (uint32 each). */
export type Sid = { revision: number; authority: bigint; subAuthorities: readonly number[] };

/** The largest number of sub-authorities a SID may have (`SID_MAX_SUB_AUTHORITIES`). */
export const SID_MAX_SUB_AUTHORITIES = 15;

/**
 * The fixed SDDL SID aliases ([MS-DTYP] §2.5.1.1, `sddl.h`): alias → SID string. Every alias here names one SID on
 * every Windows machine. Domain-relative aliases are deliberately absent (see the module doc).
 */
export const SID_ALIASES: Readonly<Record<string, string>> = Object.freeze({
  AA: 'S-1-5-32-579', // Access Control Assistance Operators
  AC: 'S-1-15-2-1', // ALL APPLICATION PACKAGES
  AN: 'S-1-5-7', // Anonymous logon
  AO: 'S-1-5-32-548', // Account Operators
  AS: 'S-1-18-1', // Authentication authority asserted identity
  AU: 'S-1-5-11', // Authenticated Users
  BA: 'S-1-5-32-544', // BUILTIN\Administrators
  BG: 'S-1-5-32-546', // BUILTIN\Guests
  BO: 'S-1-5-32-551', // Backup Operators
  BU: 'S-1-5-32-545', // BUILTIN\Users
  CD: 'S-1-5-32-574', // Certificate Service DCOM Access
  CG: 'S-1-3-1', // CREATOR GROUP
  CO: 'S-1-3-0', // CREATOR OWNER
  CY: 'S-1-5-32-569', // Cryptographic Operators
  ED: 'S-1-5-9', // Enterprise Domain Controllers
  ER: 'S-1-5-32-573', // Event Log Readers
  ES: 'S-1-5-32-576', // RDS Endpoint Servers
  HA: 'S-1-5-32-578', // Hyper-V Administrators
  HI: 'S-1-16-12288', // High mandatory level
  IS: 'S-1-5-32-568', // IIS_IUSRS
  IU: 'S-1-5-4', // INTERACTIVE
  LS: 'S-1-5-19', // LOCAL SERVICE
  LU: 'S-1-5-32-559', // Performance Log Users
  LW: 'S-1-16-4096', // Low mandatory level
  ME: 'S-1-16-8192', // Medium mandatory level
  MP: 'S-1-16-8448', // Medium Plus mandatory level
  MS: 'S-1-5-32-577', // RDS Management Servers
  MU: 'S-1-5-32-558', // Performance Monitor Users
  NO: 'S-1-5-32-556', // Network Configuration Operators
  NS: 'S-1-5-20', // NETWORK SERVICE
  NU: 'S-1-5-2', // NETWORK
  OW: 'S-1-3-4', // OWNER RIGHTS
  PO: 'S-1-5-32-550', // Print Operators
  PS: 'S-1-5-10', // PRINCIPAL SELF
  PU: 'S-1-5-32-547', // Power Users
  RA: 'S-1-5-32-575', // RDS Remote Access Servers
  RC: 'S-1-5-12', // RESTRICTED
  RD: 'S-1-5-32-555', // Remote Desktop Users
  RE: 'S-1-5-32-552', // Replicator
  RM: 'S-1-5-32-580', // Remote Management Users
  RU: 'S-1-5-32-554', // Pre-Windows 2000 Compatible Access
  SI: 'S-1-16-16384', // System mandatory level
  SO: 'S-1-5-32-549', // Server Operators
  SS: 'S-1-18-2', // Service asserted identity
  SU: 'S-1-5-6', // SERVICE
  SY: 'S-1-5-18', // LOCAL SYSTEM
  UD: 'S-1-5-84-0-0-0-0-0', // User-mode drivers
  WD: 'S-1-1-0', // Everyone
  WR: 'S-1-5-33', // WRITE RESTRICTED
});

/**
 * SDDL aliases that depend on a domain or machine SID. They cannot be resolved without Windows, so `parseSid` refuses
 * them with a hint to write the full SID.
 */
export const DOMAIN_RELATIVE_SID_ALIASES: readonly string[] = Object.freeze([
  'AP',
  'CA',
  'CN',
  'DA',
  'DC',
  'DD',
  'DG',
  'DU',
  'EA',
  'EK',
  'KA',
  'LA',
  'LG',
  'PA',
  'RO',
  'RS',
  'SA',
]);

const MAX_AUTHORITY = (1n << 48n) - 1n;
const SID_TEXT = /^S-(\d{1,3})-(0[xX][0-9a-fA-F]{1,12}|\d{1,15})((?:-\d{1,10}){0,15})$/;

const ALIAS_BY_SID: ReadonlyMap<string, string> = new Map(Object.entries(SID_ALIASES).map(([a, s]) => [s, a]));
const SID_BY_ALIAS: ReadonlyMap<string, Sid> = new Map(
  Object.entries(SID_ALIASES).map(([a, s]) => {
    const sid = parseSidString(s, s);
    // Shared by every caller: frozen so nobody can change what "BA" means.
    return [a, Object.freeze({ ...sid, subAuthorities: Object.freeze([...sid.subAuthorities]) })];
  }),
);

/**
 * Parses a SID from text: `S-1-5-32-544` (authority in decimal or `0x` hex, case of `S` ignored) or a fixed SDDL
 * alias such as `BA` (upper case, as SDDL writes them). Throws `SID_INVALID` for anything else, including the
 * domain-relative aliases.
 */
export function parseSid(text: string): Sid {
  const alias = SID_BY_ALIAS.get(text);
  if (alias !== undefined) return alias;
  if (DOMAIN_RELATIVE_SID_ALIASES.includes(text)) {
    throw new WinlayerError('SID_INVALID', `SID alias "${text}" depends on a Windows domain and cannot be resolved`, {
      hint: 'write the full SID (S-1-5-21-…) instead of the alias',
    });
  }
  return parseSidString(text, text);
}

function parseSidString(text: string, shown: string): Sid {
  const m = SID_TEXT.exec(text.length > 1 && text[0] === 's' ? `S${text.slice(1)}` : text);
  if (m === null) {
    throw new WinlayerError('SID_INVALID', `"${shown}" is not a SID (expected S-1-<authority>-<sub>… or an alias)`, {
      hint: `known aliases: ${Object.keys(SID_ALIASES).join(' ')}`,
    });
  }
  const revision = Number(m[1]);
  const authority = BigInt(m[2]!);
  const subAuthorities = m[3] === '' ? [] : m[3]!.slice(1).split('-').map(Number);
  const sid: Sid = { revision, authority, subAuthorities };
  checkSid(sid, shown);
  return sid;
}

/** Throws `SID_INVALID` unless the SID can be encoded: revision 1, authority < 2^48, ≤ 15 uint32 sub-authorities. */
function checkSid(sid: Sid, shown = sidToString(sid)): void {
  if (sid.revision !== 1) throw new WinlayerError('SID_INVALID', `SID ${shown} has revision ${sid.revision}, not 1`);
  if (sid.authority < 0n || sid.authority > MAX_AUTHORITY) {
    throw new WinlayerError('SID_INVALID', `SID ${shown} has an identifier authority beyond 48 bits`);
  }
  if (sid.subAuthorities.length > SID_MAX_SUB_AUTHORITIES) {
    throw new WinlayerError('SID_INVALID', `SID ${shown} has ${sid.subAuthorities.length} sub-authorities (max 15)`);
  }
  for (const s of sid.subAuthorities) {
    if (!Number.isInteger(s) || s < 0 || s > 0xffffffff) {
      throw new WinlayerError('SID_INVALID', `SID ${shown} has sub-authority ${s}, not a uint32`);
    }
  }
}

/** The SDDL form of a SID: its fixed alias when it has one (`BA`), else `S-1-…`. */
export function formatSid(sid: Sid): string {
  const text = sidToString(sid);
  return ALIAS_BY_SID.get(text) ?? text;
}

/**
 * The `S-1-…` form of a SID, never an alias. The authority is decimal below 2^32 and `0x` + 12 hex digits above, as
 * Windows' `ConvertSidToStringSid` writes it.
 */
export function sidToString(sid: Sid): string {
  const auth =
    sid.authority < 0x1_0000_0000n
      ? sid.authority.toString()
      : `0x${sid.authority.toString(16).toUpperCase().padStart(12, '0')}`;
  let s = `S-${sid.revision}-${auth}`;
  for (const sub of sid.subAuthorities) s += `-${sub}`;
  return s;
}

/** True when two SIDs are the same identifier. */
export function sidEquals(a: Sid, b: Sid): boolean {
  if (a.revision !== b.revision || a.authority !== b.authority) return false;
  if (a.subAuthorities.length !== b.subAuthorities.length) return false;
  return a.subAuthorities.every((s, i) => s === b.subAuthorities[i]);
}

/** The number of bytes of the binary form: 8 + 4 per sub-authority. */
export function sidByteLength(sid: Sid): number {
  return 8 + 4 * sid.subAuthorities.length;
}

/**
 * Decodes a binary SID starting at `offset`: revision (u8), sub-authority count (u8), authority (u48 big-endian),
 * then the sub-authorities (u32 little-endian). Its length is `sidByteLength(result)`. Throws `SID_INVALID` when the
 * revision is not 1, the count exceeds 15 or the SID runs past the end of `bytes`.
 */
export function decodeSid(bytes: Uint8Array, offset: number): Sid {
  if (offset < 0 || offset + 8 > bytes.length) {
    throw new WinlayerError('SID_INVALID', 'SID header runs past the end of the buffer', { offset });
  }
  const revision = bytes[offset]!;
  const count = bytes[offset + 1]!;
  if (revision !== 1) throw new WinlayerError('SID_INVALID', `SID revision is ${revision}, not 1`, { offset });
  if (count > SID_MAX_SUB_AUTHORITIES) {
    throw new WinlayerError('SID_INVALID', `SID has ${count} sub-authorities (max 15)`, { offset });
  }
  if (offset + 8 + 4 * count > bytes.length) {
    throw new WinlayerError('SID_INVALID', `SID with ${count} sub-authorities runs past the end of the buffer`, {
      offset,
    });
  }
  let authority = 0n;
  for (let i = 2; i < 8; i++) authority = (authority << 8n) | BigInt(bytes[offset + i]!);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const subAuthorities: number[] = [];
  for (let i = 0; i < count; i++) subAuthorities.push(view.getUint32(offset + 8 + 4 * i, true));
  return { revision, authority, subAuthorities };
}

/** Encodes a SID in its binary form. Throws `SID_INVALID` when it cannot be encoded (see `checkSid`). */
export function encodeSid(sid: Sid): Uint8Array {
  const out = new Uint8Array(sidByteLength(sid));
  writeSid(out, 0, sid);
  return out;
}

/** Writes a SID into `out` at `offset` (which must have room); returns the offset after it. */
export function writeSid(out: Uint8Array, offset: number, sid: Sid): number {
  checkSid(sid);
  out[offset] = sid.revision;
  out[offset + 1] = sid.subAuthorities.length;
  let a = sid.authority;
  for (let i = 7; i >= 2; i--) {
    out[offset + i] = Number(a & 0xffn);
    a >>= 8n;
  }
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  sid.subAuthorities.forEach((s, i) => {
    view.setUint32(offset + 8 + 4 * i, s, true);
  });
  return offset + sidByteLength(sid);
}
