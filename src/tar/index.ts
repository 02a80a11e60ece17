/**
 * `src/tar/`: tar bytes ↔ `LayerEntry` stream. Our own header and PAX codec (strict, streaming), the Windows PAX
 * policy (key order, time format, modes) and compression detection. The public surface of the folder.
 */
export {
  type ByteInput,
  createOutputChain,
  decompress,
  detectCompression,
  gzipHeader,
  type TarOutputChain,
} from './compress.js';
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
  type TarHeader,
  USTAR,
  type UstarField,
} from './header.js';
export {
  joinPath,
  type NameShape,
  nameShape,
  normalizeTarName,
  OPAQUE_WHITEOUT,
  splitPath,
  splitStreamName,
  WHITEOUT_PREFIX,
} from './names.js';
export { compareKeys, decodePax, encodePax, encodePaxRecord, type PaxContext, type PaxRecord } from './pax.js';
export { DEFAULT_MAX_PAX_SIZE, readTar } from './read.js';
export { openTarFile, openTarSource, type TarSource } from './source.js';
export type { Compression, ReadTarOptions, TarModes, TarOutput, TarSummary, WriteTarOptions } from './types.js';
export {
  type DecodedPax,
  decodeBase64Strict,
  decodeWindowsPax,
  defaultAttributes,
  encodeBase64,
  encodeWindowsPax,
  isManagedPaxKey,
  PAX_KEYS,
  type PaxSource,
  sdBase64,
} from './windows-pax.js';
export { MAX_PAX_SIZE, paxHeaderName, writeTar, writeTarFile } from './write.js';
