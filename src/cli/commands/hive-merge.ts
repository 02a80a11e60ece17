/** `winlayer hive merge`: apply a `.reg` file to a hive and rewrite it atomically. */
import { type MergeRegFileResult, mergeRegFile } from '../../hive/index.js';
import { escapeControls } from '../../terminal-text.js';
import { defineCommand } from '../command.js';

export const command = defineCommand({
  name: 'hive merge',
  usage: ['<file> <changes.reg> [--prefix PREFIX]'],
  about: [
    'Applies a .reg file (additions, changes, [-key] and "name"=- deletions) to a hive and rewrites it atomically.',
    "The hive keeps its version (1.3 to 1.6), its file's permissions, and every key's flags, access and layered bits,",
    "class, security descriptor and timestamp, and every value's flags. A differencing hive (a layer's Hives/*_Delta)",
    'keeps its layered-keys flag, but the .reg applies to it as a tree: a new key is a merge node, [-key] removes the',
    "delta's own node rather than writing a deletion (src/hive/README.md).",
    'To apply a differencing hive to a hive instead, use `winlayer hive apply`.',
  ],
  options: [
    {
      name: 'prefix',
      type: 'string',
      arg: 'PREFIX',
      help: [
        'the key path in the .reg file that stands for the hive root (default: as hive new --from,',
        'HKEY_LOCAL_MACHINE\\<name> or HKEY_USERS\\<name> for a regedit export of a loaded hive,',
        "else the first component of the file's first key)",
      ],
    },
  ],
  parse(args) {
    const [file, reg] = args.exactly(2, '<file> <changes.reg>');
    const prefix = args.string('prefix');
    return { file: file!, reg: reg!, ...(prefix === undefined ? {} : { prefix }) };
  },
  async run(opts): Promise<MergeRegFileResult> {
    return mergeRegFile(opts.file, opts.reg, opts.prefix === undefined ? {} : { prefix: opts.prefix });
  },
  render(r, opts, io) {
    io.stdout.write(`merged ${escapeControls(opts.reg)} into ${escapeControls(r.path)} (${r.size} bytes)\n`);
  },
});
