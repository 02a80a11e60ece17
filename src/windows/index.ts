/**
 * `src/windows/`: pure codecs for Windows data (no fs, no streams, no clock). The public surface of the folder.
 */
export * from './attributes.js';
export * from './case.js';
export * from './filetime.js';
export * from './names.js';
export * from './reparse.js';
export * from './sd.js';
export * from './sd-presets.js';
export * from './sd-summary.js';
export * from './sddl.js';
export * from './sid.js';
export * from './utf8-order.js';
