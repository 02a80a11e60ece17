/** `winlayer hive apply`: a hive with differencing hives applied (offreg's ORMergeHives), written atomically. */
import { writeFileAtomic } from '../../atomic.js';
import { WinlayerError } from '../../errors.js';
import { applyDeltaHives, checkHive } from '../../hive/index.js';
import { readInputFile } from '../../internal/read-input.js';
import { escapeControls } from '../../terminal-text.js';
import { defineCommand } from '../command.js';
import { HIVE_FORCE_OPTION, outputOption, refuseExistingHive } from '../options.js';

interface ApplyOptions {
  readonly base: string;
  readonly deltas: readonly string[];
  readonly output: string;
  readonly force: boolean;
}

export const command = defineCommand({
  name: 'hive apply',
  usage: ['<base> <delta>... -o <out> [--force]'],
  about: [
    "Applies differencing hives (a layer's Hives/*_Delta) to a registry hive, in the order given, as Windows does when",
    'it imports a layer (offreg ORMergeHives): tombstones delete, supersede-tree keys replace, merge nodes update and',
    "keep. Writes a normal hive of the base's version (atomically) that `hive check` passes, with every flag, class,",
    'security descriptor and value flag of the base kept. The base itself is not changed. To apply a .reg file',
    'instead, use `winlayer hive merge`.',
  ],
  options: [outputOption('OUT', 'the hive to write (an existing file is refused unless --force)'), HIVE_FORCE_OPTION],
  parse(args): ApplyOptions {
    const [base, ...deltas] = args.positionals;
    if (base === undefined || deltas.length === 0) {
      throw new WinlayerError('USAGE', 'expected a base hive and at least one differencing hive', {
        hint: 'winlayer hive apply SYSTEM System_Delta -o SYSTEM.merged',
      });
    }
    return { base, deltas, output: args.required('output'), force: args.flag('force') };
  },
  async run(opts): Promise<{ readonly path: string; readonly size: number }> {
    refuseExistingHive(opts.output, opts.force);
    const out = applyDeltaHives(
      readInputFile(opts.base),
      opts.deltas.map((d) => readInputFile(d)),
      { basePath: opts.base, deltaPaths: opts.deltas },
    );
    const check = checkHive(out);
    if (check.errors.length > 0) {
      throw new WinlayerError('INTERNAL', `the merged hive does not check clean: ${check.errors[0]!.message}`, {
        path: opts.output,
      });
    }
    writeFileAtomic(opts.output, out);
    return { path: opts.output, size: out.length };
  },
  render(r, opts, io) {
    io.stdout.write(
      `applied ${opts.deltas.length} differencing hive${opts.deltas.length === 1 ? '' : 's'} to ${escapeControls(opts.base)}: wrote ${escapeControls(r.path)} (${r.size} bytes)\n`,
    );
  },
});
