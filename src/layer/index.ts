/**
 * `src/layer/`: layer semantics — the layer folder and its `.winlayer/` sidecar, walking a folder into entries,
 * makebaselayer, export, import. The public surface of the folder.
 */

export * from './base-hives.js';
export * from './compare.js';
export * from './dir-writer.js';
export * from './export.js';
export * from './host-file-body.js';
export * from './import.js';
export * from './makebaselayer.js';
export * from './policy.js';
export * from './safety.js';
export * from './sidecar.js';
export * from './walk.js';
