/** `winlayer hive merge`: apply a `.reg` file to a hive and rewrite it atomically. */
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
    'The hive keeps its version, root flags, timestamps, classes and security descriptors.',
    '',
    'Options:',
    '  --prefix PREFIX  the key path in the .reg file that stands for the hive root (default: the root key name)',
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
    writeFileAtomic(file, out);
    return 0;
  },
};
