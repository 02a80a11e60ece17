/** `winlayer export <layer-dir>`: writes a layer folder as a Windows layer tar and prints its digests. */
import { WinlayerError } from '../../errors.js';
import { type ExportLayerOptions, type ExportResult, exportLayer, type SdPreset } from '../../layer/index.js';
import type { Compression } from '../../tar/index.js';
import {
  byteOutput,
  type Command,
  type CommandContext,
  flagOpt,
  progressLine,
  stringOpt,
  writeJsonLine,
} from '../command.js';

export const command: Command = {
  name: 'export',
  help: [
    'Usage: winlayer export <layer-dir> [-o FILE|-] [-z|--gzip] [--zstd] [--level N] [--sd PRESET] [--dir-sd SDDL]',
    '                       [--file-sd SDDL] [--source-date-epoch N] [--symlinks error|skip] [--base|--non-base]',
    '                       [--json] [--quiet]',
    '',
    'Writes the layer folder (Files/, optionally UtilityVM/Files/; Hives/ and whiteouts for non-base layers) as a',
    'Windows container layer tar, the way hcsshim exports it, and prints its diff_id, digest and size. Metadata comes',
    'from the .winlayer sidecar where it has a record (see docs/layer-folder.md), else from the default policy.',
    'The same folder always gives the same bytes. Nothing is left out without a word: a name beside Files/ that is',
    'not part of a layer (docs/layer-folder.md), or names Windows cannot hold (all of them listed), stop the export.',
    'A base layer must hold its five registry hives (winlayer makebaselayer writes them); --non-base says the layer',
    'goes on top of a parent and needs none.',
    '',
    'Options:',
    '  -o, --output FILE      write here (atomically); "-" = stdout. Without -o the tar goes to stdout, which must',
    '                         not be a terminal. When the tar goes to stdout the summary goes to stderr. A name',
    '                         ending in .tar.gz/.tgz or .tar.zst/.tzst compresses so without a flag (the summary',
    '                         says so); a flag that contradicts such a name is a usage error.',
    '  -z, --gzip             gzip the tar (reproducible header: no name, mtime 0, OS 255)',
    '      --zstd             zstd the tar',
    '      --level N          compression level (gzip 1-9, default 6; zstd 1-22, default 3)',
    '      --sd PRESET        security descriptors of entries without sidecar metadata: users (default: O:BUG:BU,',
    '                         what ko, crane and the .NET SDK write), admins (BuildKit/buildah), none (no rawsd)',
    '      --dir-sd SDDL      security descriptor of folders (overrides the preset)',
    '      --file-sd SDDL     security descriptor of files and file symlinks (overrides the preset)',
    '      --source-date-epoch N  clamp default times to N seconds (default: $SOURCE_DATE_EPOCH)',
    '      --symlinks MODE    error (default) or skip symlinks that are absolute or leave the layer',
    '      --base, --non-base override the layer kind of the sidecar (plain folders are base layers; a base layer',
    '                         needs its hives, a non-base one exports Hives/ and whiteouts)',
    '      --json             print the result as JSON',
    '  -q, --quiet            print nothing on success',
  ].join('\n'),
  options: {
    output: { type: 'string', short: 'o' },
    gzip: { type: 'boolean', short: 'z' },
    zstd: { type: 'boolean' },
    level: { type: 'string' },
    sd: { type: 'string' },
    'dir-sd': { type: 'string' },
    'file-sd': { type: 'string' },
    'source-date-epoch': { type: 'string' },
    symlinks: { type: 'string' },
    base: { type: 'boolean' },
    'non-base': { type: 'boolean' },
    json: { type: 'boolean' },
    quiet: { type: 'boolean', short: 'q' },
  },
  async run(ctx) {
    if (ctx.positionals.length !== 1) {
      throw new WinlayerError('USAGE', `expected one layer folder, got ${ctx.positionals.length} arguments`);
    }
    if (flagOpt(ctx, 'gzip') && flagOpt(ctx, 'zstd'))
      throw new WinlayerError('USAGE', 'choose one of --gzip and --zstd');
    if (flagOpt(ctx, 'base') && flagOpt(ctx, 'non-base')) {
      throw new WinlayerError('USAGE', 'choose one of --base and --non-base');
    }
    const out = stringOpt(ctx, 'output');
    const toStdout = out === undefined || out === '-';
    if (toStdout && ctx.stdout.isTTY === true) {
      throw new WinlayerError('USAGE', 'refusing to write a tar to a terminal', {
        hint: 'give -o FILE, or redirect stdout: winlayer export DIR > layer.tar',
      });
    }
    const compression = chooseCompression(ctx, toStdout ? undefined : out);
    const level = stringOpt(ctx, 'level');
    if (level !== undefined && !/^\d{1,2}$/.test(level))
      throw new WinlayerError('USAGE', `--level ${level} is not a number`);
    const symlinks = stringOpt(ctx, 'symlinks');
    const epoch = stringOpt(ctx, 'source-date-epoch') ?? nonEmpty(ctx.env.SOURCE_DATE_EPOCH);
    const opts: ExportLayerOptions = {
      output: toStdout ? byteOutput(ctx.stdout) : out,
      compression: compression.compression,
      ...(level === undefined ? {} : { level: Number(level) }),
      ...(stringOpt(ctx, 'sd') === undefined ? {} : { sd: stringOpt(ctx, 'sd') as SdPreset }),
      ...(stringOpt(ctx, 'dir-sd') === undefined ? {} : { dirSd: stringOpt(ctx, 'dir-sd') }),
      ...(stringOpt(ctx, 'file-sd') === undefined ? {} : { fileSd: stringOpt(ctx, 'file-sd') }),
      ...(epoch === undefined ? {} : { sourceDateEpoch: epoch }),
      ...(symlinks === undefined ? {} : { symlinks: symlinks as 'error' | 'skip' }),
      ...(flagOpt(ctx, 'base')
        ? { kind: 'base' as const }
        : flagOpt(ctx, 'non-base')
          ? { kind: 'non-base' as const }
          : {}),
    };
    const progress = progressLine(ctx);
    const result = await exportLayer(
      ctx.positionals[0]!,
      progress === undefined ? opts : { ...opts, onProgress: progress.report },
    ).finally(() => progress?.done());
    render(ctx, result, toStdout ? ctx.stderr : ctx.stdout, compression.byName);
    return 0;
  },
};

/** Compressed-tar suffixes and what they mean, as GNU tar's `-a` reads them. */
const SUFFIXES: readonly (readonly [RegExp, Compression])[] = [
  [/\.(tar\.gz|tgz)$/i, 'gzip'],
  [/\.(tar\.zst|tzst)$/i, 'zstd'],
];

/**
 * The compression: the flag's, else the one the output's name says (`x.tar.gz`, `.tgz`, `.tar.zst`, `.tzst`; then
 * `byName` is the suffix, for the summary). A compressed name that contradicts the flag is a usage error; a plain
 * `.tar` name with a flag is fine (`tar -czf x.tar` works too).
 */
function chooseCompression(
  ctx: CommandContext,
  out: string | undefined,
): { readonly compression: Compression; readonly byName?: string } {
  const flag: Compression | undefined = flagOpt(ctx, 'gzip') ? 'gzip' : flagOpt(ctx, 'zstd') ? 'zstd' : undefined;
  const named = out === undefined ? undefined : compressionOfName(out);
  if (named === undefined) return { compression: flag ?? 'none' };
  if (flag === undefined) return { compression: named.compression, byName: named.suffix };
  if (flag !== named.compression) {
    const stem = out!.slice(0, -named.suffix.length);
    throw new WinlayerError('USAGE', `the name ${out} says ${named.compression}, but --${flag} asks for ${flag}`, {
      hint: `drop --${flag} to write ${named.compression}, or name the file ${stem}${flag === 'gzip' ? '.tar.gz' : '.tar.zst'}`,
    });
  }
  return { compression: flag };
}

/** The compression a file name asks for by its suffix, and the suffix as written; undefined for any other name. */
function compressionOfName(name: string): { readonly compression: Compression; readonly suffix: string } | undefined {
  for (const [suffix, compression] of SUFFIXES) {
    const m = suffix.exec(name);
    if (m !== null) return { compression, suffix: m[0] };
  }
  return undefined;
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s.trim() === '' ? undefined : s;
}

function render(ctx: CommandContext, r: ExportResult, to: NodeJS.WritableStream, byName: string | undefined): void {
  if (flagOpt(ctx, 'json')) {
    writeJsonLine(to, r);
    return;
  }
  if (flagOpt(ctx, 'quiet')) return;
  const lines = [
    `diff_id  ${r.diffId}`,
    ...(r.compression === 'none'
      ? []
      : [`digest   ${r.digest} (${r.compression}${byName === undefined ? '' : `, chosen by the name ${byName}`})`]),
    `size     ${r.size}${r.compression === 'none' ? '' : ` (uncompressed ${r.uncompressedSize})`}`,
    `entries  ${r.entries} (${r.kind} layer)`,
    ...(r.output === undefined ? [] : [`wrote    ${r.output}`]),
    ...r.skipped.map((s) => `skipped  ${s.path}: ${s.reason}`),
  ];
  to.write(`${lines.join('\n')}\n`);
}
