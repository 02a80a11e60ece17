/**
 * winlayer's public library API: the folder indexes of the house, re-exported. See docs/architecture.md.
 */
export * from './atomic.js';
export * from './entry.js';
export * from './errors.js';
export * from './hive/index.js';
export * from './inspect/index.js';
export * from './layer/index.js';
export * from './oci/index.js';
export * from './tar/index.js';
export * from './windows/index.js';
