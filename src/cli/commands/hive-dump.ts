/** `winlayer hive dump`: every key and value of a hive, as text, NDJSON or `.reg`. */
import { WinlayerError } from '../../errors.js';
import {
  dumpKeyLine,
  dumpKeyRecord,
  dumpValueLine,
  type Hive,
  keyPath,
  openHive,
  toRegFile,
  toRegText,
  values,
  walkKeys,
} from '../../hive/index.js';
import { readInputFile } from '../../internal/read-input.js';
import { escapeControls } from '../../terminal-text.js';
import { type CommandIO, defineCommand, writeJsonLine } from '../command.js';
import { JSON_OPTION } from '../options.js';
import { findingLine } from './hive-finding-line.js';

interface DumpOptions {
  readonly file: string;
  readonly format: 'text' | 'json' | 'reg';
  readonly prefix?: string;
  readonly strict: boolean;
}

export const command = defineCommand({
  name: 'hive dump',
  usage: ['<file> [--json|--reg] [--prefix PREFIX] [--strict]'],
  about: [
    'Prints every key and value of a registry hive, in hive order.',
    "A differencing hive (a layer's Hives/*_Delta, version 1.6 with layered keys) shows what each key does to the",
    'hive below: "(merge)", "(tombstone)" (deleted with its subtree), "(supersede-local)", "(supersede-tree)" (replaced',
    'with its subtree), ", inherits class"; a deleted value shows as "tombstone". --json adds "layer" to such keys and',
    '"tombstone": true to such values; --reg writes the .reg that makes the same change ([-KEY] for a deleted key,',
    '"name"=- for a deleted value, [-KEY] then [KEY] for a replaced subtree, [KEY] for a merge).',
    'A hive with errors (see `winlayer hive check`) is read as far as its structure can be walked, with one warning',
    'per error on stderr; what is itself broken (a key, a value) is left out. Names are shown with control characters',
    'escaped (\\n, \\x1b, \\u202e; see docs/hive-findings.md).',
  ],
  options: [
    {
      ...JSON_OPTION,
      help: 'one JSON object per key (NDJSON): path, timestamp, class, security (base64) and sddl, values (data base64)',
    },
    {
      name: 'reg',
      type: 'boolean',
      help: [
        'the hive as a .reg file (UTF-16LE with BOM, as regedit exports; UTF-8 to a terminal); what .reg',
        'cannot carry (classes, security descriptors, key times, flags) is named in a comment; names with',
        'control characters are escaped so that hive new and hive merge read them back (src/hive/README.md)',
      ],
    },
    {
      name: 'prefix',
      type: 'string',
      arg: 'PREFIX',
      help: 'key path the root stands for (default: the root key name)',
    },
    {
      name: 'strict',
      type: 'boolean',
      help: 'refuse a hive with errors (a dirty one included) instead of reading what can be read',
    },
  ],
  parse(args): DumpOptions {
    const file = args.exactly(1, 'exactly one <file>')[0]!;
    if (args.flag('json') && args.flag('reg')) throw new WinlayerError('USAGE', '--json and --reg exclude each other');
    const prefix = args.string('prefix');
    return {
      file,
      format: args.flag('json') ? 'json' : args.flag('reg') ? 'reg' : 'text',
      ...(prefix === undefined ? {} : { prefix }),
      strict: args.flag('strict'),
    };
  },
  async run(opts, session): Promise<Hive> {
    return openForDump(opts, session.io);
  },
  render(hive, opts, io) {
    const { prefix } = opts;
    if (opts.format === 'reg') {
      const regOpts = prefix === undefined ? {} : { prefix };
      // a terminal shows UTF-8; a file or pipe gets what regedit writes
      io.stdout.write(io.stdout.isTTY === true ? toRegText(hive, regOpts) : toRegFile(hive, regOpts));
      return;
    }
    for (const k of walkKeys(hive)) {
      const path = keyPath(k);
      const shown = prefix === undefined ? `\\${path}` : path === '' ? prefix : `${prefix}\\${path}`;
      if (opts.format === 'json') {
        writeJsonLine(io.stdout, dumpKeyRecord(k, shown));
        continue;
      }
      io.stdout.write(`${escapeControls(dumpKeyLine(k, shown))}\n`);
      // JSON escapes C0 controls but not DEL, C1 controls or bidi controls: escape what is left
      for (const v of values(k)) io.stdout.write(`${escapeControls(dumpValueLine(v))}\n`);
    }
  },
});

/**
 * Opens the hive to dump. `--strict`: the first error (or a dirty hive) is refused. Otherwise each error is a warning
 * on stderr and the hive is read as far as it can be walked.
 */
function openForDump(opts: DumpOptions, io: CommandIO): Hive {
  const { file } = opts;
  const bytes = readInputFile(file);
  if (!opts.strict) {
    return openHive(bytes, {
      path: file,
      onError: (f) => io.stderr.write(`winlayer hive dump: ${escapeControls(file)}: warning: ${findingLine(f)}\n`),
    });
  }
  const hive = openHive(bytes, { path: file });
  if (hive.dirty) {
    throw new WinlayerError('HIVE_DIRTY', 'the hive needs transaction logs that are not here (--strict)', {
      path: file,
    });
  }
  return hive;
}
