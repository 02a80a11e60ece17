/**
 * `src/inspect/`: reports over layers — lint rules, diff rendering, listings and the HTML picture. Pure functions over
 * `LayerEntry` streams and `compareLayers` results; the CLI's `ls`, `diff` and `lint` are thin shells over them.
 */
export * from './diff.js';
export * from './diff-source.js';
export * from './flatten.js';
export * from './format.js';
export * from './html.js';
export * from './lint.js';
export * from './lint-source.js';
export * from './listing.js';
export * from './picture.js';
export * from './rules.js';
export * from './source.js';
export * from './summary.js';
export * from './treemap.js';
