/**
 * Layer helpers that other folders of winlayer use but users of the package must not see (see "Public API and
 * internals" in docs/architecture.md). The public ones are in `src/layer/index.ts`.
 */
export { baseHiveEntries, hostSpelling, withBaseHives } from '../layer/add-hives.js';
export { BASE_HIVE_PATHS, HIVE_CONFIG_DIR, missingBaseHives, requireBaseHives } from '../layer/base-hives.js';
export { UVM_BCD_PATH } from '../layer/makebaselayer.js';
export { asWindowsLayer, type PlainOptions, plainFolderLayer, walkPlainFolder } from '../layer/plain.js';
export { checkSourceDateEpoch, defaultMetadata, policyTime, policyTimes, resolvePolicy } from '../layer/policy.js';
export { readSidecar, type Sidecar, type SidecarRecord } from '../layer/sidecar.js';
export { symlinkTargetProblem, type WalkSyncOptions, walkLayerSync } from '../layer/walk.js';
