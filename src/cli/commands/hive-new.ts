/** `winlayer hive new`: write an empty hive, or one built from a `.reg` file. */
import { lstatSync } from 'node:fs';
import { WinlayerError } from '../../errors.js';
import { applyRegFile, createHiveBuilder, writeHive } from '../../hive/index.js';
import { escapeControls } from '../../terminal-text.js';
import { type Command, flagOpt, stringOpt } from '../command.js';

/**
 * Refuses to replace a file at `file` unless `--force` (a hive lost without a word is surprising). A missing folder
 * above it, or a folder at it, is the atomic writer's to refuse; a device or pipe is written to as it is.
 */
function checkTarget(file: string, force: boolean): void {
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(file);
  } catch {
    return; // nothing there
  }
  if ((st.isFile() || st.isSymbolicLink()) && !force) {
    throw new WinlayerError('HIVE_EXISTS', 'the file exists already', {
      path: file,
      hint: 'pass --force to replace it, or `winlayer hive merge` to change the hive it holds',
    });
  }
}

export const command: Command = {
  name: 'hive new',
  help: [
    'Usage: winlayer hive new <file> [--from <file.reg> [--prefix PREFIX]] [--version 1.5|1.3] [--root-name NAME]',
    '                         [--root-flags 0x2c|0x20] [--timestamp FILETIME] [--force]',
    '',
    'Writes a registry hive (atomically): empty, or holding the keys and values of a .reg file. An existing file is',
    'refused unless --force.',
    '',
    'Options:',
    '  --from FILE.reg      keys and values to put in the hive (regedit format, UTF-16LE or UTF-8); a note on stderr',
    '                       names what the source hive had that .reg cannot carry, when the file says so',
    '  --prefix PREFIX      the key path in the .reg file that stands for the hive root (default: as hive merge,',
    '                       HKEY_LOCAL_MACHINE\\<name> or HKEY_USERS\\<name> for a regedit export of a loaded hive,',
    "                       else the first component of the file's first key)",
    '  --version 1.5|1.3    hive format version (default 1.5, what offreg writes)',
    '  --root-name NAME     name of the root key (default ROOT, as offreg)',
    "  --root-flags FLAGS   0x2c (default, the kernel's) or 0x20 (offreg's)",
    '  --timestamp FILETIME last-write time of every key (default 0)',
    '  --force              replace an existing file',
  ].join('\n'),
  options: {
    from: { type: 'string' },
    prefix: { type: 'string' },
    version: { type: 'string' },
    'root-name': { type: 'string' },
    'root-flags': { type: 'string' },
    timestamp: { type: 'string' },
    force: { type: 'boolean' },
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
    checkTarget(file, flagOpt(ctx, 'force'));
    const rootName = stringOpt(ctx, 'root-name');
    const builder = createHiveBuilder(rootName === undefined ? {} : { rootName });
    const from = stringOpt(ctx, 'from');
    if (from !== undefined) {
      const prefix = stringOpt(ctx, 'prefix');
      const onNote = (lost: string): void => {
        ctx.stderr.write(
          `winlayer hive new: note: ${escapeControls(from)} says its source hive also had ${escapeControls(lost)}; ` +
            `a .reg file cannot carry them, so ${escapeControls(file)} has none\n`,
        );
      };
      applyRegFile(builder, from, { onNote, ...(prefix === undefined ? {} : { prefix }) });
    }
    writeHive(file, builder, {
      version,
      rootFlags: rootFlags as 0x2c | 0x20,
      ...(tsText === undefined ? {} : { timestamp: BigInt(tsText) }),
    });
    return 0;
  },
};
