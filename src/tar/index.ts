/**
 * `src/tar/`: tar bytes ↔ `LayerEntry` stream. Our own header and PAX codec (strict, streaming), the Windows PAX
 * policy (key order, time format, modes) and compression detection. The public surface of the folder: what a user of
 * `tar.*` may call. The codecs other folders need but users must not see are re-exported by `src/internal/tar.ts`.
 */
export { type ByteInput, decompress, detectCompression } from './compress.js';
export { OPAQUE_WHITEOUT, WHITEOUT_PREFIX } from './names.js';
export { PAX_KEYS } from './pax.js';
export { DEFAULT_MAX_PAX_SIZE, readTar } from './read.js';
export { openTarFile, openTarSource, type TarSource } from './source.js';
export type {
  Compression,
  ReadTarOptions,
  TarModes,
  TarOutput,
  TarProgress,
  TarSummary,
  WriteTarOptions,
} from './types.js';
export {
  type DecodedPax,
  decodeWindowsPax,
  encodeWindowsPax,
  isManagedPaxKey,
  PaxDecodeMemo,
  PaxEncodeMemo,
  type PaxSource,
  type WindowsPaxContext,
} from './windows-pax.js';
export { MAX_PAX_SIZE, writeTar, writeTarFile } from './write.js';
