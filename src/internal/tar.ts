/**
 * Tar codecs that other folders of winlayer use but users of the package must not see (see "Public API and
 * internals" in docs/architecture.md): the 512-byte header, PAX records, layer path helpers. The public ones are in
 * `src/tar/index.ts`.
 */
export { createOutputChain, gzipHeader, type TarOutputChain } from '../tar/compress.js';
export {
  asciiField,
  BLOCK_SIZE,
  decodeHeader,
  encodeHeader,
  fitsField,
  type HeaderFields,
  type HeaderFormat,
  headerChecksum,
  isZeroBlock,
  MAX_OCTAL_SIZE,
  parseNumeric,
  putOctal,
  type TarHeader,
  USTAR,
  type UstarField,
} from '../tar/header.js';
export {
  joinPath,
  type NameShape,
  nameShape,
  normalizeTarName,
  parentPath,
  splitPath,
  splitStreamName,
} from '../tar/names.js';
export { compareKeys, decodePax, encodePax, encodePaxRecord, type PaxContext } from '../tar/pax.js';
export { decodeBase64Strict, encodeBase64, sdBase64 } from '../tar/windows-pax.js';
export { paxHeaderName } from '../tar/write.js';
