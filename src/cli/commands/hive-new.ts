/** `winlayer hive new`: write an empty hive, or one built from `.reg` files. */
import { WinlayerError } from '../../errors.js';
import { applyRegFile, createHiveBuilder, writeHive } from '../../hive/index.js';
import { escapeControls } from '../../terminal-text.js';
import { defineCommand } from '../command.js';
import { HIVE_FORCE_OPTION, refuseExistingHive, regOption } from '../options.js';

interface NewOptions {
  readonly file: string;
  readonly version: '1.5' | '1.3';
  readonly rootFlags: 0x2c | 0x20;
  readonly timestamp?: bigint;
  readonly rootName?: string;
  readonly regs: readonly string[];
  readonly prefix?: string;
  readonly force: boolean;
}

export const command = defineCommand({
  name: 'hive new',
  usage: [
    '<file> [--reg <file.reg>]... [--prefix PREFIX] [--version 1.5|1.3] [--root-name NAME]',
    ' [--root-flags 0x2c|0x20] [--timestamp FILETIME] [--force]',
  ],
  about: [
    'Writes a registry hive (atomically): empty, or holding the keys and values of .reg files, applied in order. An',
    'existing file is refused unless --force.',
  ],
  options: [
    regOption('keys and values to put in the hive', [
      'a note on stderr names what the source hive had that .reg cannot',
      'carry, when the file says so',
    ]),
    { name: 'from', type: 'string', arg: 'FILE.reg', help: 'the same as --reg (an alias, kept for one release)' },
    {
      name: 'prefix',
      type: 'string',
      arg: 'PREFIX',
      help: [
        'the key path in the .reg file that stands for the hive root (default: as hive merge,',
        'HKEY_LOCAL_MACHINE\\<name> or HKEY_USERS\\<name> for a regedit export of a loaded hive,',
        "else the first component of the file's first key)",
      ],
    },
    { name: 'version', type: 'string', arg: '1.5|1.3', help: 'hive format version (default 1.5, what offreg writes)' },
    { name: 'root-name', type: 'string', arg: 'NAME', help: 'name of the root key (default ROOT, as offreg)' },
    { name: 'root-flags', type: 'string', arg: 'FLAGS', help: "0x2c (default, the kernel's) or 0x20 (offreg's)" },
    { name: 'timestamp', type: 'string', arg: 'FILETIME', help: 'last-write time of every key (default 0)' },
    HIVE_FORCE_OPTION,
  ],
  parse(args): NewOptions {
    const file = args.exactly(1, 'exactly one <file>')[0]!;
    const version = args.string('version') ?? '1.5';
    if (version !== '1.5' && version !== '1.3')
      throw new WinlayerError('USAGE', `--version must be 1.5 or 1.3, not ${version}`);
    const flagsText = args.string('root-flags') ?? '0x2c';
    const rootFlags = Number(flagsText);
    if (rootFlags !== 0x2c && rootFlags !== 0x20)
      throw new WinlayerError('USAGE', `--root-flags must be 0x2c or 0x20, not ${flagsText}`);
    const tsText = args.string('timestamp');
    if (tsText !== undefined && !/^\d+$/.test(tsText))
      throw new WinlayerError('USAGE', '--timestamp must be a FILETIME number');
    const rootName = args.string('root-name');
    const from = args.string('from');
    const regs = [...(from === undefined ? [] : [from]), ...args.strings('reg')];
    const prefix = args.string('prefix');
    return {
      file,
      version,
      rootFlags,
      ...(tsText === undefined ? {} : { timestamp: BigInt(tsText) }),
      ...(rootName === undefined ? {} : { rootName }),
      regs,
      ...(prefix === undefined ? {} : { prefix }),
      force: args.flag('force'),
    };
  },
  async run(opts, { io }): Promise<{ readonly path: string }> {
    const { file } = opts;
    refuseExistingHive(file, opts.force);
    const builder = createHiveBuilder(opts.rootName === undefined ? {} : { rootName: opts.rootName });
    for (const reg of opts.regs) {
      const onNote = (lost: string): void => {
        io.stderr.write(
          `winlayer hive new: note: ${escapeControls(reg)} says its source hive also had ${escapeControls(lost)}; ` +
            `a .reg file cannot carry them, so ${escapeControls(file)} has none\n`,
        );
      };
      applyRegFile(builder, reg, { onNote, ...(opts.prefix === undefined ? {} : { prefix: opts.prefix }) });
    }
    writeHive(file, builder, {
      version: opts.version,
      rootFlags: opts.rootFlags,
      ...(opts.timestamp === undefined ? {} : { timestamp: opts.timestamp }),
    });
    return { path: file };
  },
  render(r, _opts, io) {
    io.stdout.write(`wrote ${escapeControls(r.path)}\n`);
  },
});
