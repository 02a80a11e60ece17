/** `winlayer makebaselayer <layer-dir>`: adds the registry hives a base layer needs and checks the UtilityVM BCD. */
import { WinlayerError } from '../../errors.js';
import { makeBaseLayer } from '../../layer/index.js';
import { type Command, flagOpt, writeJsonLine } from '../command.js';

export const command: Command = {
  name: 'makebaselayer',
  help: [
    'Usage: winlayer makebaselayer <layer-dir> [--replace-hives] [--json] [--quiet]',
    '',
    "Makes a folder holding Files/ (and optionally UtilityVM/Files/) a Windows base layer, like hcsshim's",
    '`wclayer makebaselayer`: creates Files/Windows/System32/config/ and the empty registry hives DEFAULT, SAM,',
    'SECURITY, SOFTWARE and SYSTEM. A clean existing hive is kept; a zero-byte one (Windows Server 2025 rejects',
    'them) is replaced. If UtilityVM/Files exists, UtilityVM/Files/EFI/Microsoft/Boot/BCD must be a valid BCD store.',
    'Nothing is written when a check fails. Then: winlayer export <layer-dir> -o layer.tar',
    'A folder with content but no Files/ is refused: move the content into <layer-dir>/Files/, or build an image',
    'from a plain folder with winlayer image create.',
    '',
    'Options:',
    '  --replace-hives   replace corrupt, dirty or differencing (*_Delta) hives with empty ones instead of failing (their keys are lost)',
    '  --json            print the result as JSON',
    '  -q, --quiet       print nothing on success',
  ].join('\n'),
  options: { 'replace-hives': { type: 'boolean' }, json: { type: 'boolean' }, quiet: { type: 'boolean', short: 'q' } },
  async run(ctx) {
    if (ctx.positionals.length !== 1) {
      throw new WinlayerError('USAGE', `expected one layer folder, got ${ctx.positionals.length} arguments`);
    }
    const r = await makeBaseLayer(ctx.positionals[0]!, { replaceHives: flagOpt(ctx, 'replace-hives') });
    if (flagOpt(ctx, 'json')) writeJsonLine(ctx.stdout, r);
    else if (!flagOpt(ctx, 'quiet')) {
      const lines = [
        ...r.createdDirs.map((d) => `created  ${d}/`),
        ...r.hives.map((h) => `${h.action.padEnd(8)} ${h.path}${h.reason === undefined ? '' : ` (${h.reason})`}`),
        r.utilityVm.present
          ? `checked  ${r.utilityVm.bcd} (a valid BCD store)`
          : 'UtilityVM/Files absent: a base layer for process isolation only',
      ];
      ctx.stdout.write(`${lines.join('\n')}\n`);
    }
    return 0;
  },
};
