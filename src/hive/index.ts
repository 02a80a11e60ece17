/**
 * `src/hive/`: Windows registry hives (regf). A strict reader (`openHive` + accessors), a checker (`checkHive`), an
 * offreg-faithful writer (`HiveBuilder` + `buildHive`/`writeHive`/`createEmptyHive`) and `.reg` text
 * (`toRegText`/`parseRegText`/`applyRegChanges`, streaming `applyRegText`/`applyRegFile`). Hives are small: a hive is
 * held as one buffer; `.reg` input is read line by line. The public surface of the folder: what a user of `hive.*`
 * may call (`hive.root(h)`, `hive.child(k, 'Select')`); these generic names are never at the package root. What other
 * folders need but users must not see is re-exported by `src/internal/hive.ts`.
 */
export { type ApplyDeltaHivesOptions, applyDeltaHives } from './apply.js';
export {
  type BuilderValue,
  builderFromHive,
  buildHive,
  createEmptyHive,
  createHiveBuilder,
  DEFAULT_ROOT_SD,
  HiveBuilder,
  type HiveBuilderOptions,
  HiveKeyBuilder,
  writeHive,
} from './build.js';
export {
  type ChangeSetOptions,
  changeSetFromRegFiles,
  changeSetFromRegText,
  DEFAULT_DELTA_SDDL,
  deltaHiveOf,
  HIVE_NAMES,
  type HiveName,
  RegChangeSet,
  selectedControlSet,
} from './changes.js';
export { checkHive } from './check.js';
export {
  DELTA_HIVES,
  type DeltaHiveName,
  decodeLayer,
  deltaHiveAt,
  describeLayer,
  encodeLayer,
  isDifferencingHive,
  type KeyLayer,
  type LayerSemantics,
} from './delta.js';
export { type WriteDeltaOptions, writeDeltaHive } from './delta-write.js';
export {
  type DumpKeyRecord,
  dumpKeyLine,
  dumpKeyRecord,
  dumpValueLine,
  regTypeName,
  valueDataText,
} from './dump-text.js';
export {
  type FindingCode,
  type FindingInfo,
  findingsTable,
  HIVE_FINDINGS,
  type HiveErrorCode,
} from './findings.js';
export { type MergeRegFileOptions, type MergeRegFileResult, mergeRegFile } from './merge-file.js';
export {
  asDword,
  asMultiString,
  asQword,
  asString,
  child,
  children,
  findKey,
  type Hive,
  isLinkKey,
  isTombstoneValue,
  keyAccessBits,
  keyClass,
  keyFlags,
  keyLayer,
  keyName,
  keyPath,
  keySddl,
  keySecurity,
  keyTimestamp,
  keyUserFlags,
  openHive,
  parent,
  root,
  value,
  valueData,
  valueFlags,
  valueName,
  values,
  valueType,
  walkKeys,
} from './read.js';
export {
  applyRegChanges,
  applyRegFile,
  applyRegText,
  mergeReg,
  parseRegText,
  type RegTextOptions,
  toRegFile,
  toRegText,
} from './reg.js';
export { DEFAULT_LIMITS } from './scan.js';
export {
  type BuildHiveOptions,
  type HiveCheckResult,
  type HiveFinding,
  type HiveKey,
  type HiveLimits,
  type HiveValue,
  type HiveVersion,
  type OpenHiveOptions,
  REG,
  type RegChange,
  type RootFlags,
} from './types.js';
