/**
 * Tar codecs that other folders of winlayer use but users of the package must not see (see "Public API and
 * internals" in docs/architecture.md): the 512-byte header, PAX records, layer path helpers. The public ones are in
 * `src/tar/index.ts`.
 */
export {
  BLOCK_SIZE,
  decodeHeader,
  headerChecksum,
  isZeroBlock,
  MAX_OCTAL_SIZE,
  putOctal,
  type TarHeader,
  USTAR,
} from '../tar/header.js';
export { parentPath } from '../tar/names.js';
export { decodePax, encodePax } from '../tar/pax.js';
export { sdBase64 } from '../tar/windows-pax.js';
