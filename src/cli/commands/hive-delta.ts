/** `winlayer hive delta`: write the changes of `.reg` files as one differencing hive (a layer's `Hives/*_Delta`). */
import { readFileSync } from 'node:fs';
import { writeFileAtomic } from '../../atomic.js';
import { inputFileError, WinlayerError } from '../../errors.js';
import {
  changeSetFromRegFiles,
  deltaHiveOf,
  HIVE_NAMES,
  type HiveName,
  openHive,
  type RegChangeSet,
  selectedControlSet,
  writeDeltaHive,
} from '../../hive/index.js';
import { escapeControls } from '../../terminal-text.js';
import { FILETIME_UNIX_EPOCH } from '../../windows/index.js';
import { defineCommand, writeJsonLine } from '../command.js';
import { sourceDateEpoch } from '../epoch.js';
import { HIVE_FORCE_OPTION, JSON_OPTION, outputOption, refuseExistingHive, regOption } from '../options.js';

interface DeltaOptions {
  readonly output: string;
  readonly regs: readonly string[];
  readonly hive?: HiveName;
  readonly base?: string;
  readonly timestamp: bigint;
  readonly force: boolean;
  readonly json: boolean;
}

/** What `hive delta` did: the file, the hive and its delta's name, and the notes of the change set. */
interface DeltaResult {
  readonly path: string;
  readonly size: number;
  readonly hive: HiveName;
  /** The name of the delta in a layer (`Hives/System_Delta`). */
  readonly layerPath: string;
  /** The key its root stands for (`HKEY_LOCAL_MACHINE\SYSTEM`). */
  readonly regRoot: string;
  readonly notes: readonly string[];
}

/** The one hive a change set changes, `--hive` when given; changes to other hives are left out with a note. */
function chooseHive(set: RegChangeSet, asked: HiveName | undefined, notes: string[]): HiveName {
  const changed = set.hives();
  if (asked !== undefined) {
    for (const h of changed) {
      if (h !== asked) {
        notes.push(`the changes to ${deltaHiveOf(h).regRoot} are not in this delta (write them with --hive ${h})`);
      }
    }
    return asked;
  }
  if (changed.length === 1) return changed[0]!;
  throw new WinlayerError(
    'USAGE',
    changed.length === 0
      ? 'the .reg files change no key: say which hive the (empty) delta is for with --hive'
      : `the .reg files change ${changed.length} hives (${changed.join(', ')}): a delta holds one`,
    { hint: `write one delta per hive: --hive ${(changed[0] ?? 'system') as string}` },
  );
}

export const command = defineCommand({
  name: 'hive delta',
  usage: [
    '-o FILE --reg <changes.reg> [--reg …] [--hive system|software|sam|security|default] [--base HIVE] [--force]',
  ],
  about: [
    "Writes the changes of .reg files as one differencing hive, the form of a layer's Hives/*_Delta, laid out as",
    'Windows writes one: [KEY] creates or updates (a merge node), [-KEY] deletes (a tombstone), [-KEY] then [KEY]',
    'replaces (supersede-tree), "name"=- deletes a value (a tombstone value). Keys are named as in regedit, under',
    'HKEY_LOCAL_MACHINE\\SYSTEM, \\SOFTWARE, \\SAM, \\SECURITY or HKEY_USERS\\.DEFAULT (HKLM, HKU; HKEY_CLASSES_ROOT is',
    'written to HKLM\\SOFTWARE\\Classes); CurrentControlSet is written to the control set the base selects',
    '(ControlSet001 without --base), said in a note. The other direction, a delta merged into its base hive, is',
    '`winlayer hive apply`; `winlayer hive merge` applies a .reg to a hive directly. Not yet tried on a Windows host.',
  ],
  options: [
    outputOption('FILE', 'the differencing hive to write (atomically; an existing file is refused unless --force)'),
    regOption('changes'),
    {
      name: 'hive',
      type: 'string',
      arg: 'HIVE',
      help: [
        'system, software, sam, security or default (HKEY_USERS\\.DEFAULT): the hive the delta is for',
        '(default: the one the changes change; changes to others are left out, with a note)',
      ],
    },
    {
      name: 'base',
      type: 'string',
      arg: 'HIVE',
      help: [
        "the hive below (the base layer's Windows/System32/config/<HIVE>): new keys are written",
        'as Windows writes new keys, deletions of what it lacks are dropped, and each key carries',
        "the descriptor of the same key there (a new key: its parent's); without it, each key",
        "carries the hive's default descriptor (src/hive/README.md)",
      ],
    },
    HIVE_FORCE_OPTION,
    JSON_OPTION,
  ],
  notes: ['Key times: SOURCE_DATE_EPOCH when set, else 0; the same inputs give the same bytes.'],
  parse(args, io): DeltaOptions {
    args.exactly(0, 'no arguments besides the options');
    const output = args.required('output');
    const regs = args.strings('reg');
    if (regs.length === 0) throw new WinlayerError('USAGE', '--reg is required: the changes to write');
    const hiveText = args.string('hive');
    const hive = hiveText === undefined ? undefined : HIVE_NAMES.find((h) => h === hiveText.toLowerCase());
    if (hiveText !== undefined && hive === undefined) {
      throw new WinlayerError('USAGE', `--hive must be one of ${HIVE_NAMES.join(', ')}, not ${hiveText}`);
    }
    const base = args.string('base');
    const epoch = sourceDateEpoch(io);
    return {
      output,
      regs,
      ...(hive === undefined ? {} : { hive }),
      ...(base === undefined ? {} : { base }),
      timestamp: epoch === undefined ? 0n : BigInt(epoch) * 10_000_000n + FILETIME_UNIX_EPOCH,
      force: args.flag('force'),
      json: args.flag('json'),
    };
  },
  async run(opts): Promise<DeltaResult> {
    refuseExistingHive(opts.output, opts.force);
    let base: ReturnType<typeof openHive> | undefined;
    if (opts.base !== undefined) {
      let bytes: Uint8Array;
      try {
        bytes = readFileSync(opts.base);
      } catch (e) {
        throw inputFileError(e, opts.base);
      }
      base = openHive(bytes, { path: opts.base });
    }
    const controlSet = base === undefined ? undefined : selectedControlSet(base);
    const set = changeSetFromRegFiles(opts.regs, controlSet === undefined ? {} : { controlSet });
    const notes = [...set.notes];
    const hive = chooseHive(set, opts.hive, notes);
    const bytes = writeDeltaHive(set, {
      hive,
      timestamp: opts.timestamp,
      ...(base === undefined ? {} : { base }),
    });
    writeFileAtomic(opts.output, bytes);
    const d = deltaHiveOf(hive);
    return { path: opts.output, size: bytes.length, hive, layerPath: `Hives/${d.name}`, regRoot: d.regRoot, notes };
  },
  render(r, opts, io) {
    if (opts.json) {
      writeJsonLine(io.stdout, r);
      return;
    }
    for (const n of r.notes) io.stderr.write(`winlayer hive delta: note: ${escapeControls(n)}\n`);
    io.stdout.write(
      `wrote ${escapeControls(r.path)} (${r.size} bytes): the changes to ${r.regRoot}, a layer's ${r.layerPath}\n`,
    );
  },
});
