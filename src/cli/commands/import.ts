/** `winlayer import <layer-dir>`: a Windows layer tar (file or stdin; plain, gzip or zstd) → a layer folder. */
import { statSync } from 'node:fs';
import { WinlayerError } from '../../errors.js';
import { type ImportLayerOptions, importLayer } from '../../layer/index.js';
import { defineCommand, writeJsonLine } from '../command.js';
import { JSON_OPTION, KIND_OPTIONS, layerKind, QUIET_OPTION } from '../options.js';
import { counted } from '../words.js';

interface ImportCommandOptions {
  readonly layerDir: string;
  /** A file name, or `-` for standard input. */
  readonly input: string;
  readonly library: ImportLayerOptions;
  readonly json: boolean;
}

export const command = defineCommand({
  name: 'import',
  usage: ['<layer-dir> [-i FILE|-] [--base|--non-base] [--parent DIR]... [--force] [--json] [--quiet]'],
  about: [
    'Imports a Windows container layer tar (plain, gzip or zstd, detected) into a layer folder: Files/,',
    'UtilityVM/Files/, Hives/ (non-base), bcd*.bak copies of the original UtilityVM boot files, and the .winlayer/',
    'sidecar that keeps what the filesystem cannot (attributes, security descriptors, 100 ns times, EAs, ADS,',
    'symbolic links, whiteouts). `winlayer export` turns the folder back into the same layer.',
    '',
    'Hostile archives are refused with the entry and the rule (names outside the layer, .., links, devices, ...);',
    'the folder is built in a temporary sibling and renamed into place, so a failure leaves nothing behind.',
  ],
  options: [
    { name: 'input', short: 'i', type: 'string', arg: 'FILE', help: 'the layer tar (default, or -: standard input)' },
    ...KIND_OPTIONS,
    {
      name: 'parent',
      type: 'string',
      multiple: true,
      arg: 'DIR',
      help: 'a parent layer folder, nearest first (repeatable): resolves hard links into parents',
    },
    {
      name: 'force',
      type: 'boolean',
      help: [
        'replace an existing layer folder (one holding Files/ or .winlayer/; never a file or',
        'another folder): the old one is kept until the new one is in place',
      ],
    },
    JSON_OPTION,
    QUIET_OPTION,
  ],
  notes: [
    'Exit status: 0 ok, 1 the archive is refused or cannot be written, 2 usage or an input that cannot be opened.',
  ],
  parse(args, io): ImportCommandOptions {
    if (args.positionals.length !== 1) {
      throw new WinlayerError('USAGE', `expected one layer folder, got ${args.positionals.length} arguments`, {
        hint: 'winlayer import ./layer -i layer.tar',
      });
    }
    const kind = layerKind(args);
    const input = args.string('input') ?? '-';
    if (input === '-' && io.stdin.isTTY === true) {
      throw new WinlayerError('USAGE', 'no input: standard input is a terminal', { hint: 'pass -i layer.tar' });
    }
    return {
      layerDir: args.positionals[0]!,
      input,
      library: {
        ...(kind === undefined ? {} : { kind }),
        parents: args.strings('parent'),
        force: args.flag('force'),
        // Only words NOT_A_TAR for an empty input: "empty standard input" rather than "an empty file".
        ...(input === '-' ? { tar: { stdin: true } } : {}),
      },
      json: args.flag('json'),
    };
  },
  async run(opts, session): ReturnType<typeof importLayer> {
    const onProgress = session.entryProgress(opts.input === '-' ? undefined : inputSize(opts.input));
    return importLayer(opts.input === '-' ? session.io.stdin : opts.input, opts.layerDir, {
      ...opts.library,
      ...(onProgress === undefined ? {} : { onProgress }),
    });
  },
  render(result, opts, io) {
    if (opts.json) {
      writeJsonLine(io.stdout, result);
      return;
    }
    const parts = [
      counted(result.files, 'file'),
      counted(result.directories, 'folder'),
      result.hardlinks > 0 ? counted(result.hardlinks, 'hard link') : '',
      result.parentLinks > 0 ? counted(result.parentLinks, 'link into parents', 'links into parents') : '',
      result.symlinks > 0 ? counted(result.symlinks, 'symlink') : '',
      result.whiteouts > 0 ? counted(result.whiteouts, 'whiteout') : '',
      result.streams > 0 ? counted(result.streams, 'stream') : '',
    ].filter((s) => s !== '');
    io.stdout.write(
      `imported a ${result.kind} layer into ${result.layerDir}${result.replaced ? ' (replaced)' : ''}: ` +
        `${parts.join(', ')}, ${counted(result.bytes, 'byte')}, ` +
        `${counted(result.securityDescriptors, 'distinct security descriptor')}\n`,
    );
    if (result.bcdBackups.length > 0)
      io.stdout.write(`kept the original boot files: ${result.bcdBackups.join(', ')}\n`);
  },
});

/** The input file's size, the total of the progress percentage; undefined when it cannot be read (import says why). */
function inputSize(path: string): number | undefined {
  try {
    const st = statSync(path);
    return st.isFile() ? st.size : undefined;
  } catch {
    return undefined;
  }
}
