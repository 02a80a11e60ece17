/** `winlayer export <layer-dir>`: writes a layer folder as a Windows layer tar and prints its digests. */
import { WinlayerError } from '../../errors.js';
import { type ExportLayerOptions, type ExportResult, exportLayer, type SdPreset } from '../../layer/index.js';
import type { Compression } from '../../tar/index.js';
import { byteOutput, defineCommand, writeJsonLine } from '../command.js';
import { sourceDateEpochOption } from '../epoch.js';
import {
  type Args,
  JSON_OPTION,
  KIND_OPTIONS,
  layerKind,
  outputOption,
  QUIET_OPTION,
  SD_OPTION,
  SYMLINKS_OPTION,
  symlinkMode,
} from '../options.js';

interface ExportCommandOptions {
  readonly layerDir: string;
  readonly library: ExportLayerOptions;
  /** The tar goes to stdout, so the summary goes to stderr. */
  readonly toStdout: boolean;
  /** The output name's suffix that chose the compression, for the summary. */
  readonly byName: string | undefined;
  readonly json: boolean;
}

export const command = defineCommand({
  name: 'export',
  usage: [
    '<layer-dir> [-o FILE|-] [-z|--gzip] [--zstd] [--level N] [--sd PRESET] [--dir-sd SDDL]',
    ' [--file-sd SDDL] [--source-date-epoch N] [--symlinks error|skip] [--base|--non-base]',
    ' [--json] [--quiet]',
  ],
  about: [
    'Writes the layer folder (Files/, optionally UtilityVM/Files/; Hives/ and whiteouts for non-base layers) as a',
    'Windows container layer tar, the way hcsshim exports it, and prints its diff_id, digest and size. Metadata comes',
    'from the .winlayer sidecar where it has a record (see docs/layer-folder.md), else from the default policy.',
    'The same folder always gives the same bytes. Nothing is left out without a word: a name beside Files/ that is',
    'not part of a layer (docs/layer-folder.md), or names Windows cannot hold (all of them listed), stop the export.',
    'A base layer must hold its five registry hives (winlayer makebaselayer writes them); --non-base says the layer',
    'goes on top of a parent and needs none.',
  ],
  options: [
    outputOption('FILE', [
      'write here (atomically); "-" = stdout. Without -o the tar goes to stdout, which must',
      'not be a terminal. When the tar goes to stdout the summary goes to stderr. A name',
      'ending in .tar.gz/.tgz or .tar.zst/.tzst compresses so without a flag (the summary',
      'says so); a flag that contradicts such a name is a usage error.',
    ]),
    { name: 'gzip', short: 'z', type: 'boolean', help: 'gzip the tar (reproducible header: no name, mtime 0, OS 255)' },
    { name: 'zstd', type: 'boolean', help: 'zstd the tar' },
    { name: 'level', type: 'string', arg: 'N', help: 'compression level (gzip 1-9, default 6; zstd 1-22, default 3)' },
    {
      ...SD_OPTION,
      help: [
        'security descriptors of entries without sidecar metadata: users (default: O:BUG:BU,',
        'what ko, crane and the .NET SDK write), admins (BuildKit/buildah), none (no rawsd)',
      ],
    },
    { name: 'dir-sd', type: 'string', arg: 'SDDL', help: 'security descriptor of folders (overrides the preset)' },
    {
      name: 'file-sd',
      type: 'string',
      arg: 'SDDL',
      help: 'security descriptor of files and file symlinks (overrides the preset)',
    },
    {
      name: 'source-date-epoch',
      type: 'string',
      arg: 'N',
      help: 'clamp default times to N seconds (default: $SOURCE_DATE_EPOCH)',
    },
    SYMLINKS_OPTION,
    ...KIND_OPTIONS,
    JSON_OPTION,
    QUIET_OPTION,
  ],
  parse(args, io): ExportCommandOptions {
    const layerDir = args.exactly(1, 'one layer folder')[0]!;
    if (args.flag('gzip') && args.flag('zstd')) throw new WinlayerError('USAGE', 'choose one of --gzip and --zstd');
    const kind = layerKind(args);
    const out = args.string('output');
    const toStdout = out === undefined || out === '-';
    if (toStdout && io.stdout.isTTY === true) {
      throw new WinlayerError('USAGE', 'refusing to write a tar to a terminal', {
        hint: 'give -o FILE, or redirect stdout: winlayer export DIR > layer.tar',
      });
    }
    const compression = chooseCompression(args, toStdout ? undefined : out);
    const level = args.string('level');
    if (level !== undefined && !/^\d{1,2}$/.test(level)) {
      throw new WinlayerError('USAGE', `--level ${level} is not a number`);
    }
    const symlinks = symlinkMode(args);
    const sd = args.string('sd');
    const dirSd = args.string('dir-sd');
    const fileSd = args.string('file-sd');
    const epochFlag = args.string('source-date-epoch');
    return {
      layerDir,
      library: {
        output: toStdout ? byteOutput(io.stdout) : out,
        compression: compression.compression,
        ...(level === undefined ? {} : { level: Number(level) }),
        ...(sd === undefined ? {} : { sd: sd as SdPreset }),
        ...(dirSd === undefined ? {} : { dirSd }),
        ...(fileSd === undefined ? {} : { fileSd }),
        ...sourceDateEpochOption(io, epochFlag),
        ...(symlinks === undefined ? {} : { symlinks }),
        ...(kind === undefined ? {} : { kind }),
      },
      toStdout,
      byName: compression.byName,
      json: args.flag('json'),
    };
  },
  async run(opts, session): Promise<ExportResult> {
    const onProgress = session.entryProgress();
    return exportLayer(opts.layerDir, onProgress === undefined ? opts.library : { ...opts.library, onProgress });
  },
  render(r, opts, io) {
    const to = opts.toStdout ? io.stderr : io.stdout;
    if (opts.json) {
      writeJsonLine(to, r);
      return;
    }
    const { byName } = opts;
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
  },
});

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
  args: Args,
  out: string | undefined,
): { readonly compression: Compression; readonly byName?: string } {
  const flag: Compression | undefined = args.flag('gzip') ? 'gzip' : args.flag('zstd') ? 'zstd' : undefined;
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
