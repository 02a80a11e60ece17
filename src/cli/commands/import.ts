/** `winlayer import <layer-dir>`: a Windows layer tar (file or stdin; plain, gzip or zstd) → a layer folder. */
import { WinlayerError } from '../../errors.js';
import { importLayer } from '../../layer/index.js';
import {
  type Command,
  type CommandContext,
  flagOpt,
  progressLine,
  stringOpt,
  stringsOpt,
  writeJsonLine,
} from '../command.js';

export const command: Command = {
  name: 'import',
  help: [
    'Usage: winlayer import <layer-dir> [-i FILE|-] [--base|--non-base] [--parent DIR]... [--force] [--json] [--quiet]',
    '',
    'Imports a Windows container layer tar (plain, gzip or zstd, detected) into a layer folder: Files/,',
    'UtilityVM/Files/, Hives/ (non-base), bcd*.bak copies of the original UtilityVM boot files, and the .winlayer/',
    'sidecar that keeps what the filesystem cannot (attributes, security descriptors, 100 ns times, EAs, ADS,',
    'symbolic links, whiteouts). `winlayer export` turns the folder back into the same layer.',
    '',
    'Hostile archives are refused with the entry and the rule (names outside the layer, .., links, devices, ...);',
    'the folder is built in a temporary sibling and renamed into place, so a failure leaves nothing behind.',
    '',
    'Options:',
    '  -i, --input FILE   the layer tar (default, or -: standard input)',
    '  --base             import as a base layer (refuses whiteouts and Hives/)',
    '  --non-base         import as a non-base layer (default: non-base when the tar has Hives/ or whiteouts)',
    '  --parent DIR       a parent layer folder, nearest first (repeatable): resolves hard links into parents',
    '  --force            replace an existing layer folder (one holding Files/ or .winlayer/; never a file or',
    '                     another folder): the old one is kept until the new one is in place',
    '  --json             print the result as one JSON object',
    '  --quiet            print nothing on success',
    '',
    'Exit status: 0 ok, 1 the archive is refused or cannot be written, 2 usage or an input that cannot be opened.',
  ].join('\n'),
  options: {
    input: { type: 'string', short: 'i' },
    base: { type: 'boolean' },
    'non-base': { type: 'boolean' },
    parent: { type: 'string', multiple: true },
    force: { type: 'boolean' },
    json: { type: 'boolean' },
    quiet: { type: 'boolean' },
  },
  async run(ctx: CommandContext) {
    if (ctx.positionals.length !== 1) {
      throw new WinlayerError('USAGE', `expected one layer folder, got ${ctx.positionals.length} arguments`, {
        hint: 'winlayer import ./layer -i layer.tar',
      });
    }
    if (flagOpt(ctx, 'base') && flagOpt(ctx, 'non-base')) {
      throw new WinlayerError('USAGE', '--base and --non-base exclude each other');
    }
    const input = stringOpt(ctx, 'input') ?? '-';
    if (input === '-' && ctx.stdin.isTTY === true) {
      throw new WinlayerError('USAGE', 'no input: standard input is a terminal', { hint: 'pass -i layer.tar' });
    }
    const kind = flagOpt(ctx, 'base') ? 'base' : flagOpt(ctx, 'non-base') ? 'non-base' : undefined;
    const progress = progressLine(ctx);
    const result = await importLayer(input === '-' ? ctx.stdin : input, ctx.positionals[0]!, {
      ...(kind === undefined ? {} : { kind }),
      parents: stringsOpt(ctx, 'parent'),
      force: flagOpt(ctx, 'force'),
      ...(progress === undefined ? {} : { onProgress: progress.report }),
      // Only words NOT_A_TAR for an empty input: "empty standard input" rather than "an empty file".
      ...(input === '-' ? { tar: { stdin: true } } : {}),
    }).finally(() => progress?.done());
    if (flagOpt(ctx, 'json')) {
      writeJsonLine(ctx.stdout, result);
    } else if (!flagOpt(ctx, 'quiet')) {
      const parts = [
        `${result.files} files`,
        `${result.directories} folders`,
        result.hardlinks > 0 ? `${result.hardlinks} hard links` : '',
        result.parentLinks > 0 ? `${result.parentLinks} links into parents` : '',
        result.symlinks > 0 ? `${result.symlinks} symlinks` : '',
        result.whiteouts > 0 ? `${result.whiteouts} whiteouts` : '',
        result.streams > 0 ? `${result.streams} streams` : '',
      ].filter((s) => s !== '');
      ctx.stdout.write(
        `imported a ${result.kind} layer into ${result.layerDir}${result.replaced ? ' (replaced)' : ''}: ` +
          `${parts.join(', ')}, ${result.bytes} bytes, ${result.securityDescriptors} distinct security descriptors\n`,
      );
      if (result.bcdBackups.length > 0)
        ctx.stdout.write(`kept the original boot files: ${result.bcdBackups.join(', ')}\n`);
    }
    return 0;
  },
};
