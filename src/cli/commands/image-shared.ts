/** What the commands that write an image share (not a command): printing what was written. */
import type { WriteImageResult } from '../../oci/index.js';
import { escapeControls } from '../../terminal-text.js';
import { type CommandIO, writeJsonLine } from '../command.js';

/** `-o DEST` of the commands that write an image anywhere. */
export const DESTINATIONS_HELP =
  'oci:DIR[:TAG], docker-archive:FILE[:TAG], docker://REF, or a bare path (.tar = archive)';

/**
 * Prints a written image: its warnings (and `notes`, such as skipped symlinks) on stderr, then the result object as
 * it is with `--json`, else `VERB REF (blobs: …)`.
 */
export function renderWritten(
  io: CommandIO,
  verb: string,
  r: WriteImageResult,
  json: boolean,
  notes: readonly string[] = [],
): void {
  for (const n of notes) io.stderr.write(`${escapeControls(n)}\n`);
  for (const w of r.warnings) io.stderr.write(`warning: ${w}\n`);
  if (json) {
    writeJsonLine(io.stdout, r);
    return;
  }
  const b = r.push?.blobs;
  const counts = b === undefined ? '' : ` (blobs: ${b.uploaded} uploaded, ${b.existed} present, ${b.mounted} mounted)`;
  io.stdout.write(`${verb} ${r.push?.reference ?? `${r.destination}@${r.descriptor.digest}`}${counts}\n`);
}
