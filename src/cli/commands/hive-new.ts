/** `winlayer hive new`: write an empty hive, or one built from a `.reg` file. */
import { WinlayerError } from '../../errors.js';
import { applyRegFile, createHiveBuilder, writeHive } from '../../hive/index.js';
import { type Command, stringOpt } from '../command.js';

export const command: Command = {
  name: 'hive new',
  help: [
    'Usage: winlayer hive new <file> [--from <file.reg>] [--version 1.3|1.5] [--root-name NAME] [--root-flags 0x2c|0x20]',
    '',
    'Writes a registry hive (atomically): empty, or holding the keys and values of a .reg file.',
    '',
    'Options:',
    '  --from FILE.reg      keys and values to put in the hive (regedit format, UTF-16LE or UTF-8)',
    '  --prefix PREFIX      the key path in the .reg file that stands for the hive root (default: its first component)',
    '  --version 1.5|1.3    hive format version (default 1.5, what offreg writes)',
    '  --root-name NAME     name of the root key (default ROOT, as offreg)',
    "  --root-flags FLAGS   0x2c (default, the kernel's) or 0x20 (offreg's)",
    '  --timestamp FILETIME last-write time of every key (default 0)',
  ].join('\n'),
  options: {
    from: { type: 'string' },
    prefix: { type: 'string' },
    version: { type: 'string' },
    'root-name': { type: 'string' },
    'root-flags': { type: 'string' },
    timestamp: { type: 'string' },
  },
  async run(ctx) {
    const [file, ...extra] = ctx.positionals;
    if (file === undefined || extra.length > 0) throw new WinlayerError('USAGE', 'expected exactly one <file>');
    const version = stringOpt(ctx, 'version') ?? '1.5';
    if (version !== '1.5' && version !== '1.3')
      throw new WinlayerError('USAGE', `--version must be 1.5 or 1.3, not ${version}`);
    const flagsText = stringOpt(ctx, 'root-flags') ?? '0x2c';
    const rootFlags = Number(flagsText);
    if (rootFlags !== 0x2c && rootFlags !== 0x20)
      throw new WinlayerError('USAGE', `--root-flags must be 0x2c or 0x20, not ${flagsText}`);
    const tsText = stringOpt(ctx, 'timestamp');
    if (tsText !== undefined && !/^\d+$/.test(tsText))
      throw new WinlayerError('USAGE', '--timestamp must be a FILETIME number');
    const rootName = stringOpt(ctx, 'root-name');
    const builder = createHiveBuilder(rootName === undefined ? {} : { rootName });
    const from = stringOpt(ctx, 'from');
    if (from !== undefined) {
      const prefix = stringOpt(ctx, 'prefix');
      applyRegFile(builder, from, prefix === undefined ? {} : { prefix });
    }
    writeHive(file, builder, {
      version,
      rootFlags: rootFlags as 0x2c | 0x20,
      ...(tsText === undefined ? {} : { timestamp: BigInt(tsText) }),
    });
    return 0;
  },
};
