/**
 * Hive helpers that other folders of winlayer use but users of the package must not see (see "Public API and
 * internals" in docs/architecture.md). The public ones are in `src/hive/index.ts`.
 */
export { NOT_A_BASE_HIVE } from '../hive/delta.js';
