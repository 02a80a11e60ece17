/**
 * `src/windows/`: pure codecs for Windows data (no fs, no streams, no clock). The public surface of the folder: what a
 * user of `windows.*` may call. Helpers other folders need but users must not see are re-exported by
 * `src/internal/windows.ts`.
 */
export {
  type DefaultAttributesOptions,
  defaultAttributes,
  FILE_ATTRIBUTE,
  type FileAttributeName,
  formatAttributes,
  parseAttributes,
} from './attributes.js';
export { compareUpcase, equalUpcase, upcase } from './case.js';
export {
  dateToUnixNanos,
  FILETIME_UNIX_EPOCH,
  filetimeToUnixNanos,
  formatPaxTime,
  parsePaxTime,
  type UnixNanos,
  unixNanosToFiletime,
} from './filetime.js';
export { checkLayerPath, MAX_COMPONENT_LENGTH, MAX_PATH_LENGTH, windowsNameProblem } from './names.js';
export { decodeReparsePoint, encodeReparsePoint, REPARSE_TAG, type ReparsePoint } from './reparse.js';
export {
  ACE_FLAG,
  ACE_TYPE,
  type Ace,
  type Acl,
  decodeSecurityDescriptor,
  encodeSecurityDescriptor,
  type ObjectAce,
  type ObjectAceType,
  SE_CONTROL,
  type SecurityDescriptor,
  type SimpleAce,
  type SimpleAceType,
  type UnknownAce,
} from './sd.js';
export { isSdPresetName, SD_PRESETS, type SdPresetName } from './sd-presets.js';
export { type AceSummary, type SdSummary, type SidSummary, summarizeSecurityDescriptor } from './sd-summary.js';
export { bytesToSddl, formatSddl, parseSddl, sddlToBytes } from './sddl.js';
export { decodeSid, encodeSid, formatSid, parseSid, SID_ALIASES, type Sid, sidToString } from './sid.js';
export { compareUtf8 } from './utf8-order.js';
