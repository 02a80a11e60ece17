/** `winlayer image squash <image> -o <dest>`: all layers into one base layer. */
import { openImage, parseDestination, type SquashOptions, type SquashResult, squashImage } from '../../oci/index.js';
import { defineCommand } from '../command.js';
import { sourceDateEpochOption } from '../epoch.js';
import {
  DESTINATION_NOTES,
  IMAGE_FORCE_OPTION,
  JSON_OPTION,
  outputOption,
  platformOption,
  QUIET_OPTION,
  REGISTRY_OPTIONS,
} from '../options.js';
import { openRegistries, type RegistryFlags, registryFlags, registryNamed } from '../registries.js';
import { DESTINATIONS_HELP, renderWritten } from './image-shared.js';

interface SquashCommandOptions {
  readonly image: string;
  readonly output: string;
  readonly library: Omit<SquashOptions, 'registries'>;
  readonly access: RegistryFlags;
  readonly json: boolean;
}

export const command = defineCommand({
  name: 'image squash',
  usage: ['<image> -o <dest> [--platform P] [--zstd] [--tag NAME]'],
  about: [
    'Applies every layer in order (whiteouts, replacements, hard links, also into lower layers) into one base layer',
    'with valid hives (empty ones are added when no layer has them). The registry changes layers carry',
    '(Hives/*_Delta) are merged into the base hives in layer order, as Windows does on import (`winlayer hive apply`',
    "does it for one hive), and the rewritten hives' stale .LOG transaction logs are left out.",
  ],
  options: [
    outputOption('DEST', DESTINATIONS_HELP),
    platformOption('which image of an index'),
    { name: 'zstd', type: 'boolean', help: 'compress the layer with zstd (default gzip)' },
    { name: 'tag', type: 'string', arg: 'NAME', help: 'tag recorded at the destination' },
    IMAGE_FORCE_OPTION,
    ...REGISTRY_OPTIONS,
    QUIET_OPTION,
    JSON_OPTION,
  ],
  notes: DESTINATION_NOTES,
  parse(args, io): SquashCommandOptions {
    const image = args.exactly(1, '<image>')[0]!;
    const output = args.required('output');
    const platform = args.string('platform');
    const tag = args.string('tag');
    return {
      image,
      output,
      library: {
        ...sourceDateEpochOption(io),
        force: args.flag('force'),
        compression: args.flag('zstd') ? 'zstd' : 'gzip',
        ...(platform === undefined ? {} : { platform }),
        ...(tag === undefined ? {} : { tag }),
      },
      access: registryFlags(args),
      json: args.flag('json'),
    };
  },
  async run(opts, session): Promise<SquashResult> {
    const registries = openRegistries(session, opts.access, registryNamed(opts.output, opts.image));
    const h = await openImage(opts.image, registries);
    return squashImage(h, parseDestination(opts.output), { ...opts.library, registries });
  },
  render(r, opts, io) {
    renderWritten(
      io,
      'wrote',
      r,
      opts.json,
      r.mergedHiveDeltas.map((d) => `merged registry delta ${d}`),
    );
  },
});
