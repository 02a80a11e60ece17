/** `winlayer hive merge`: apply a `.reg` file to a hive and rewrite it atomically. */
import { statSync } from 'node:fs';
import { writeFileAtomic } from '../../atomic.js';
import { WinlayerError } from '../../errors.js';
import { checkHive, mergeReg } from '../../hive/index.js';
import { type Command, stringOpt } from '../command.js';
import { readInput } from './hive-read-file.js';

export const command: Command = {
  name: 'hive merge',
  help: [
    'Usage: winlayer hive merge <file> <changes.reg> [--prefix PREFIX]',
    '',
    'Applies a .reg file (additions, changes, [-key] and "name"=- deletions) to a hive and rewrites it atomically.',
    "The hive keeps its version (1.3 to 1.6), its file's permissions, and every key's flags, access and layered bits,",
    "class, security descriptor and timestamp, and every value's flags. A differencing hive (a layer's Hives/*_Delta)",
    'keeps its layered-keys flag, but the .reg applies to it as a tree: a new key is a merge node, [-key] removes the',
    "delta's own node rather than writing a deletion (src/hive/README.md).",
    '',
    'Options:',
    '  --prefix PREFIX  the key path in the .reg file that stands for the hive root (default: as hive new --from,',
    '                   HKEY_LOCAL_MACHINE\\<name> or HKEY_USERS\\<name> for a regedit export of a loaded hive,',
    "                   else the first component of the file's first key)",
  ].join('\n'),
  options: { prefix: { type: 'string' } },
  async run(ctx) {
    const [file, reg, ...extra] = ctx.positionals;
    if (file === undefined || reg === undefined || extra.length > 0) {
      throw new WinlayerError('USAGE', 'expected <file> <changes.reg>');
    }
    const prefix = stringOpt(ctx, 'prefix');
    const out = mergeReg(readInput(file), readInput(reg), { path: file, ...(prefix === undefined ? {} : { prefix }) });
    const check = checkHive(out);
    if (check.errors.length > 0) {
      throw new WinlayerError('INTERNAL', `the merged hive does not check clean: ${check.errors[0]!.message}`, {
        path: file,
      });
    }
    // the rewrite keeps the file's permission bits (a 0600 SAM stays 0600)
    writeFileAtomic(file, out, { mode: statSync(file).mode & 0o7777 });
    return 0;
  },
};
