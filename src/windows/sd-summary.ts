/**
 * A JSON-friendly description of a security descriptor: what `winlayer sd encode|decode --json` prints, and what
 * `ls --json`-style reports can embed.
 */
import { WinlayerError } from '../errors.js';
import {
  type Ace,
  decodeSecurityDescriptor,
  encodeSecurityDescriptor as encodeCanonical,
  SE_CONTROL,
  type SecurityDescriptor,
} from './sd.js';
import { formatAceFlags, formatRights, formatSddl, SDDL_ACE_TYPES } from './sddl.js';
import { formatSid, type Sid, sidToString } from './sid.js';

/** One SID: its `S-1-…` form and, when it has one, its SDDL alias. */
export interface SidSummary {
  sid: string;
  alias?: string;
}

/** One ACE in JSON form. `flags`/`rights` are SDDL spellings; `mask` is the number. */
export type AceSummary =
  | {
      type: string;
      sddlType: string;
      flags: string;
      mask: number;
      rights: string;
      objectType?: string;
      inheritedObjectType?: string;
      sid: SidSummary;
    }
  | { type: 'unknown'; aceType: number; flags: number; data: string };

/** The description of one security descriptor. `dacl`/`sacl`: absent = no ACL, `null` = NULL ACL. */
export interface SdSummary {
  /** Canonical SDDL, or null when an ACE has no SDDL form. */
  sddl: string | null;
  /** Padded standard base64 of the canonical bytes (the `MSWINDOWS.rawsd` value). */
  base64: string;
  /** Size of the canonical bytes. */
  size: number;
  owner?: SidSummary;
  group?: SidSummary;
  control: number;
  /** Names of the control bits set (`SE_CONTROL` keys). */
  controlFlags: string[];
  dacl?: AceSummary[] | null;
  sacl?: AceSummary[] | null;
}

/**
 * Describes a security descriptor given as bytes (any valid layout; the summary shows the canonical form) or as a
 * decoded structure. Buffers (SDs are small). Throws `SD_INVALID` for malformed bytes or a structure that cannot be
 * encoded.
 */
export function summarizeSecurityDescriptor(input: Uint8Array | SecurityDescriptor): SdSummary {
  const sd = input instanceof Uint8Array ? decodeSecurityDescriptor(input) : input;
  const canonical = encodeCanonical(sd);
  const again = decodeSecurityDescriptor(canonical);
  let sddl: string | null;
  try {
    sddl = formatSddl(again);
  } catch (e) {
    if (!(e instanceof WinlayerError)) throw e;
    sddl = null;
  }
  const summary: SdSummary = {
    sddl,
    base64: Buffer.from(canonical).toString('base64'),
    size: canonical.length,
    control: again.control,
    controlFlags: Object.entries(SE_CONTROL)
      .filter(([, bit]) => (again.control & bit) !== 0)
      .map(([name]) => name),
  };
  if (again.owner !== undefined) summary.owner = sidSummary(again.owner);
  if (again.group !== undefined) summary.group = sidSummary(again.group);
  if (again.dacl !== undefined) summary.dacl = again.dacl === null ? null : again.dacl.aces.map(aceSummary);
  if (again.sacl !== undefined) summary.sacl = again.sacl === null ? null : again.sacl.aces.map(aceSummary);
  return summary;
}

const TYPE_TOKEN = new Map(Object.entries(SDDL_ACE_TYPES).map(([t, k]) => [k, t]));

function sidSummary(sid: Sid): SidSummary {
  const s = sidToString(sid);
  const alias = formatSid(sid);
  return alias === s ? { sid: s } : { sid: s, alias };
}

function aceSummary(ace: Ace): AceSummary {
  if (ace.type === 'unknown') {
    return { type: 'unknown', aceType: ace.aceType, flags: ace.flags, data: Buffer.from(ace.data).toString('base64') };
  }
  return {
    type: ace.type,
    sddlType: TYPE_TOKEN.get(ace.type)!,
    flags: formatAceFlags(ace.flags),
    mask: ace.mask,
    rights: formatRights(ace.mask, ace.type === 'mandatoryLabel'),
    ...('objectType' in ace && ace.objectType !== undefined ? { objectType: ace.objectType } : {}),
    ...('inheritedObjectType' in ace && ace.inheritedObjectType !== undefined
      ? { inheritedObjectType: ace.inheritedObjectType }
      : {}),
    sid: sidSummary(ace.sid),
  };
}
