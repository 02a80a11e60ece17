/** `winlayer image squash <image> -o <dest>`: all layers into one base layer. */
import { openImage, parseDestination, squashImage } from '../../oci/index.js';
import { type Command, flagOpt, stringOpt } from '../command.js';
import {
  DESTINATION_HELP,
  FORCE_OPTIONS,
  printWritten,
  REGISTRY_HELP,
  REGISTRY_OPTIONS,
  registriesFor,
  registryOf,
} from './image-shared.js';

export const command: Command = {
  name: 'image squash',
  help: [
    'Usage: winlayer image squash <image> -o <dest> [--platform P] [--drop-hive-deltas] [--zstd] [--tag NAME]',
    '',
    'Applies every layer in order (whiteouts, replacements, hard links, also into lower layers) into one base layer',
    'with valid hives (empty ones are added when no layer has them). Layers that carry registry changes',
    '(Hives/*_Delta) cannot be merged off Windows yet: the command refuses them, or with --drop-hive-deltas leaves',
    'them out and lists what was dropped (those registry changes are then lost).',
    '',
    'Options:',
    '  -o, --output DEST    oci:DIR[:TAG], docker-archive:FILE[:TAG], docker://REF, or a bare path (.tar = archive)',
    '  --platform P         which image of an index',
    '  --drop-hive-deltas   leave registry deltas out instead of refusing',
    '  --zstd               compress the layer with zstd (default gzip)',
    '  --tag NAME           tag recorded at the destination',
    ...REGISTRY_HELP,
    ...DESTINATION_HELP,
  ].join('\n'),
  options: {
    ...REGISTRY_OPTIONS,
    ...FORCE_OPTIONS,
    output: { type: 'string', short: 'o' },
    platform: { type: 'string' },
    'drop-hive-deltas': { type: 'boolean' },
    zstd: { type: 'boolean' },
    tag: { type: 'string' },
  },
  async run(ctx) {
    const out = stringOpt(ctx, 'output');
    if (ctx.positionals.length !== 1 || out === undefined) {
      ctx.stderr.write(`winlayer image squash: expected <image> and -o <dest>\n\n${this.help}\n`);
      return 2;
    }
    const registries = registriesFor(ctx, registryOf(out) ?? registryOf(ctx.positionals[0]));
    try {
      const h = await openImage(ctx.positionals[0]!, registries);
      const platform = stringOpt(ctx, 'platform');
      const tag = stringOpt(ctx, 'tag');
      const r = await squashImage(h, parseDestination(out), {
        registries,
        env: ctx.env,
        dropHiveDeltas: flagOpt(ctx, 'drop-hive-deltas'),
        force: flagOpt(ctx, 'force'),
        compression: flagOpt(ctx, 'zstd') ? 'zstd' : 'gzip',
        ...(platform === undefined ? {} : { platform }),
        ...(tag === undefined ? {} : { tag }),
      });
      for (const d of r.droppedHiveDeltas)
        ctx.stderr.write(`dropped registry delta ${d} (its registry changes are lost)\n`);
      printWritten(ctx, 'wrote', r, {
        layer: r.layer,
        squashedLayers: r.squashedLayers,
        droppedHiveDeltas: r.droppedHiveDeltas,
      });
      return 0;
    } finally {
      registries.close();
    }
  },
};
