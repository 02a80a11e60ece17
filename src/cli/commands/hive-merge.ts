/** `winlayer hive merge`: apply `.reg` files to a hive and rewrite it atomically. */
import { type MergeRegFileResult, mergeRegFile } from '../../hive/index.js';
import { escapeControls } from '../../terminal-text.js';
import { defineCommand } from '../command.js';
import { regOption } from '../options.js';

export const command = defineCommand({
  name: 'hive merge',
  usage: ['<file> --reg <changes.reg> [--reg …] [--prefix PREFIX]', '<file> <changes.reg> [--prefix PREFIX]'],
  about: [
    'Applies .reg files (additions, changes, [-key] and "name"=- deletions), in order, to a hive and rewrites it',
    'atomically (all of them or nothing).',
    "The hive keeps its version (1.3 to 1.6), its file's permissions, and every key's flags, access and layered bits,",
    "class, security descriptor and timestamp, and every value's flags. A differencing hive (a layer's Hives/*_Delta)",
    'keeps its layered-keys flag, but the .reg applies to it as a tree: a new key is a merge node, [-key] removes the',
    "delta's own node rather than writing a deletion (src/hive/README.md).",
    'To apply a differencing hive to a hive instead, use `winlayer hive apply`.',
    'The second form (a positional <changes.reg>) is an alias, kept for one release.',
  ],
  options: [
    regOption('changes'),
    {
      name: 'prefix',
      type: 'string',
      arg: 'PREFIX',
      help: [
        'the key path in the .reg file that stands for the hive root (default: as hive new --reg,',
        'HKEY_LOCAL_MACHINE\\<name> or HKEY_USERS\\<name> for a regedit export of a loaded hive,',
        "else the first component of the file's first key)",
      ],
    },
  ],
  parse(args) {
    const regs = args.strings('reg');
    let file: string;
    if (regs.length > 0) file = args.exactly(1, '<file> (the changes come with --reg)')[0]!;
    else {
      const [f, reg] = args.exactly(2, '<file> and --reg <changes.reg>');
      file = f!;
      regs.push(reg!);
    }
    const prefix = args.string('prefix');
    return { file, regs, ...(prefix === undefined ? {} : { prefix }) };
  },
  async run(opts): Promise<MergeRegFileResult> {
    return mergeRegFile(opts.file, opts.regs, opts.prefix === undefined ? {} : { prefix: opts.prefix });
  },
  render(r, opts, io) {
    const regs = opts.regs.map(escapeControls).join(', ');
    io.stdout.write(`merged ${regs} into ${escapeControls(r.path)} (${r.size} bytes)\n`);
  },
});
