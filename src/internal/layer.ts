/**
 * Layer helpers that other folders of winlayer use but users of the package must not see (see "Public API and
 * internals" in docs/architecture.md). The public ones are in `src/layer/index.ts`.
 */
export { baseHiveEntries, hiveFolderSpelling, withBaseHives } from '../layer/add-hives.js';
export { BASE_HIVE_PATHS, missingBaseHives } from '../layer/base-hives.js';
export { UVM_BCD_PATH } from '../layer/makebaselayer.js';
export {
  asWindowsLayer,
  madeUpTime,
  type PlainOptions,
  plainFolderLayer,
  walkPlainFolderSync,
} from '../layer/plain.js';
export { checkSourceDateEpoch, defaultMetadata, resolvePolicy } from '../layer/policy.js';
