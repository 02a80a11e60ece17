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
  asDword,
  asMultiString,
  asQword,
  asString,
  child,
  children,
  findKey,
  type Hive,
  isLinkKey,
  keyClass,
  keyFlags,
  keyName,
  keyPath,
  keySddl,
  keySecurity,
  keyTimestamp,
  openHive,
  parent,
  root,
  value,
  valueData,
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
