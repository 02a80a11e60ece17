/**
 * What the image commands share (not a command): registry flags, the progress line, and printing a written image.
 */
import { WinlayerError } from '../../errors.js';
import type { SdPreset } from '../../layer/index.js';
import type { TransferProgress, WriteImageResult } from '../../oci/index.js';
import { dockerCredentials, Registries } from '../../oci/index.js';
import {
  type CommandContext,
  type OptionSpec,
  stringOpt,
  stringsOpt,
  wantsProgress,
  writeJsonLine,
} from '../command.js';

/** `--insecure`, `--ca-file`, `--quiet`, `--json`. */
export const REGISTRY_OPTIONS: OptionSpec = {
  insecure: { type: 'boolean' },
  'ca-file': { type: 'string', multiple: true },
  quiet: { type: 'boolean', short: 'q' },
  json: { type: 'boolean' },
};

export const REGISTRY_HELP = [
  '  --insecure         allow plain HTTP (and unverified TLS) to the registry this command names, no other',
  '  --ca-file FILE     trust this PEM CA beside the system roots (repeatable)',
  '  -q, --quiet        no progress line (progress is shown on a terminal only)',
  '  --json             print the result as one JSON object',
];

/** A progress line on stderr (terminal only): blobs done and bytes moved. */
export function progressLine(ctx: CommandContext): ((p: TransferProgress) => void) | undefined {
  if (!wantsProgress(ctx)) return undefined;
  const state = new Map<string, TransferProgress>();
  let last = 0;
  return (p) => {
    state.set(p.digest, p);
    const now = Date.now();
    if (now - last < 100) return;
    last = now;
    let done = 0;
    let total = 0;
    let finished = 0;
    for (const s of state.values()) {
      done += s.phase === 'exists' || s.phase === 'mounted' ? s.total : s.done;
      total += s.total;
      if (s.phase !== 'upload' && s.phase !== 'download') finished++;
      else if (s.done === s.total) finished++;
    }
    const mb = (n: number): string => (n / 1e6).toFixed(1);
    ctx.stderr.write(`\r${finished}/${state.size} blobs, ${mb(done)} / ${mb(total)} MB   `);
  };
}

/** The registry access for a command; `--insecure` applies to `named` only. */
export function registriesFor(ctx: CommandContext, named: string | undefined): Registries {
  const onProgress = progressLine(ctx);
  return new Registries({
    ...(ctx.values.insecure === true && named !== undefined ? { insecureRegistry: named } : {}),
    caFiles: stringsOpt(ctx, 'ca-file'),
    credentials: dockerCredentials(ctx.env),
    ...(onProgress === undefined ? {} : { onProgress }),
  });
}

/** Prints warnings (stderr) and the written image (text or JSON). */
export function printWritten(
  ctx: CommandContext,
  verb: string,
  r: WriteImageResult,
  extra: Record<string, unknown> = {},
): void {
  if (wantsProgress(ctx)) ctx.stderr.write('\r\x1b[K');
  for (const w of r.warnings) ctx.stderr.write(`warning: ${w}\n`);
  if (ctx.values.json === true) {
    writeJsonLine(ctx.stdout, {
      destination: r.destination,
      descriptor: r.descriptor,
      ...(r.push === undefined ? {} : { push: r.push }),
      warnings: r.warnings,
      ...extra,
    });
    return;
  }
  const b = r.push?.blobs;
  const counts = b === undefined ? '' : ` (blobs: ${b.uploaded} uploaded, ${b.existed} present, ${b.mounted} mounted)`;
  ctx.stdout.write(`${verb} ${r.push?.reference ?? `${r.destination}@${r.descriptor.digest}`}${counts}\n`);
}

/** The registry named by a destination or source name (`docker://REF`), if it is one. */
export function registryOf(name: string | undefined): string | undefined {
  if (name === undefined || !name.startsWith('docker://')) return undefined;
  const rest = name.slice('docker://'.length);
  const first = rest.split('/')[0] ?? '';
  return rest.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')
    ? first
    : 'docker.io';
}

/** `--force` of the commands that write an image to a destination they are given with `-o`. */
export const FORCE_OPTIONS: OptionSpec = { force: { type: 'boolean' } };

/** What `-o` does to what is there already; printed by every command that writes an image. */
export const DESTINATION_HELP = [
  '  --force            replace an existing docker-archive file (it holds one image, so that image is lost)',
  '',
  'An existing OCI layout is added to, as skopeo does with oci:DIR[:TAG]: the tag moves to the new image, other',
  'images and their blobs stay (an untagged image is added untagged; name it oci:DIR@DIGEST, as printed). An',
  'existing docker archive is refused unless --force; any other existing file or non-empty folder is refused.',
];

/** `--sd`, `--symlinks`, `--zstd`, `--tag` of the commands that build layers. */
export const BUILD_OPTIONS: OptionSpec = {
  sd: { type: 'string' },
  symlinks: { type: 'string' },
  zstd: { type: 'boolean' },
  tag: { type: 'string' },
};

export const BUILD_HELP = [
  '  --sd PRESET        security descriptors of new entries: users (default), admins or none',
  '  --symlinks skip    leave out symlinks with absolute or escaping targets instead of refusing them',
  '  --zstd             compress the layer with zstd (default gzip, which every Windows runtime reads)',
  '  --tag NAME         tag recorded at the destination (layout ref.name, archive RepoTags)',
];

/** The policy options from `--sd` / `--symlinks`. */
export function buildPolicy(ctx: CommandContext): { sd?: SdPreset; symlinks?: 'error' | 'skip' } {
  const sd = stringOpt(ctx, 'sd');
  const symlinks = stringOpt(ctx, 'symlinks');
  if (symlinks !== undefined && symlinks !== 'skip' && symlinks !== 'error') {
    throw new WinlayerError('USAGE', `--symlinks must be "skip" or "error", not "${symlinks}"`);
  }
  return { ...(sd === undefined ? {} : { sd: sd as SdPreset }), ...(symlinks === undefined ? {} : { symlinks }) };
}

/** `K=V` strings → a map (`--label`). */
export function parseLabels(items: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const i = item.indexOf('=');
    if (i <= 0) throw new WinlayerError('USAGE', `--label ${JSON.stringify(item)} is not KEY=VALUE`);
    out[item.slice(0, i)] = item.slice(i + 1);
  }
  return out;
}

export { stringOpt };
