/**
 * Windows codec helpers that other folders of winlayer use but users of the package must not see (see "Public API and
 * internals" in docs/architecture.md). The public ones are in `src/windows/index.ts`.
 */
export { attributeNames } from '../windows/attributes.js';
export { upcaseHash, upcaseUnit } from '../windows/case.js';
export { formatIso7, secondsToUnixNanos, truncateTo100ns, unixSeconds } from '../windows/filetime.js';
export { certainlyValidName, NameIndex } from '../windows/names.js';
export { checkEntrySecurityDescriptor } from '../windows/sd.js';
export { base64ToSddl, rawsdToBytes } from '../windows/sddl.js';
