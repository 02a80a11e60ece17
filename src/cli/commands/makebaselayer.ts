/** `winlayer makebaselayer <layer-dir>`: adds the registry hives a base layer needs and checks the UtilityVM BCD. */
import { makeBaseLayer } from '../../layer/index.js';
import { defineCommand, writeJsonLine } from '../command.js';
import { JSON_OPTION, QUIET_OPTION } from '../options.js';

export const command = defineCommand({
  name: 'makebaselayer',
  usage: ['<layer-dir> [--replace-hives] [--json] [--quiet]'],
  about: [
    "Makes a folder holding Files/ (and optionally UtilityVM/Files/) a Windows base layer, like hcsshim's",
    '`wclayer makebaselayer`: creates Files/Windows/System32/config/ and the empty registry hives DEFAULT, SAM,',
    'SECURITY, SOFTWARE and SYSTEM. A clean existing hive is kept; a zero-byte one (Windows Server 2025 rejects',
    'them) is replaced. If UtilityVM/Files exists, UtilityVM/Files/EFI/Microsoft/Boot/BCD must be a valid BCD store.',
    'Nothing is written when a check fails. Then: winlayer export <layer-dir> -o layer.tar',
    'A folder with content but no Files/ is refused: move the content into <layer-dir>/Files/, or build an image',
    'from a plain folder with winlayer image create.',
  ],
  options: [
    {
      name: 'replace-hives',
      type: 'boolean',
      help: [
        'replace corrupt, dirty or differencing (*_Delta) hives with empty ones instead of failing',
        '(their keys are lost)',
      ],
    },
    JSON_OPTION,
    // Accepted as everywhere (no progress line); this command draws none, and its summary still prints.
    QUIET_OPTION,
  ],
  parse(args) {
    return {
      layerDir: args.exactly(1, 'one layer folder')[0]!,
      replaceHives: args.flag('replace-hives'),
      json: args.flag('json'),
    };
  },
  run(opts) {
    return makeBaseLayer(opts.layerDir, { replaceHives: opts.replaceHives });
  },
  render(r, opts, io) {
    if (opts.json) {
      writeJsonLine(io.stdout, r);
      return;
    }
    const lines = [
      ...r.createdDirs.map((d) => `created  ${d}/`),
      ...r.hives.map((h) => `${h.action.padEnd(8)} ${h.path}${h.reason === undefined ? '' : ` (${h.reason})`}`),
      r.utilityVm.present
        ? `checked  ${r.utilityVm.bcd} (a valid BCD store)`
        : 'UtilityVM/Files absent: a base layer for process isolation only',
    ];
    io.stdout.write(`${lines.join('\n')}\n`);
  },
});
