/**
 * `src/hive/`: Windows registry hives (regf). A strict reader (`openHive` + accessors), a checker (`checkHive`), an
 * offreg-faithful writer (`HiveBuilder` + `buildHive`/`writeHive`/`createEmptyHive`) and `.reg` text
 * (`toRegText`/`parseRegText`/`applyRegChanges`, streaming `applyRegText`/`applyRegFile`). Hives are small: a hive is
 * held as one buffer; `.reg` input is read line by line.
 */
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
  NOT_A_BASE_HIVE,
} from './delta.js';
export { type FindingCode, type FindingInfo, findingsTable, HIVE_FINDINGS } from './findings.js';
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
export * from './types.js';
