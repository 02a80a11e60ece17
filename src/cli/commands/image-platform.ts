/** `winlayer image platform <image> --platform windows/amd64:OS_VERSION -o <dest>`: set os/arch/os.version. */
import { openImage, parseDestination, setImagePlatform, writeImage } from '../../oci/index.js';
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
  name: 'image platform',
  help: [
    'Usage: winlayer image platform <image> --platform OS/ARCH[:OS_VERSION] -o <dest> [--from-platform P]',
    '',
    'Writes a copy of the image whose config, manifest and descriptor carry the platform (os, architecture,',
    'os.version). Layers are untouched. containerd matches Windows images by os.version: set it to the build the',
    'image was made for (e.g. windows/amd64:10.0.20348.2113 for Windows Server 2022).',
    '',
    'Destinations: oci:DIR[:TAG], docker-archive:FILE[:TAG], docker://REF; a bare path ending .tar is a docker',
    'archive, any other bare path an OCI layout.',
    '',
    'Options:',
    '  --platform P       the new platform',
    '  --from-platform P  which image of an index to start from',
    '  -o, --output DEST  where the copy goes (see Destinations)',
    ...REGISTRY_HELP,
    ...DESTINATION_HELP,
  ].join('\n'),
  options: {
    ...REGISTRY_OPTIONS,
    ...FORCE_OPTIONS,
    platform: { type: 'string' },
    'from-platform': { type: 'string' },
    output: { type: 'string', short: 'o' },
  },
  async run(ctx) {
    const out = stringOpt(ctx, 'output');
    const platform = stringOpt(ctx, 'platform');
    if (ctx.positionals.length !== 1 || out === undefined || platform === undefined) {
      ctx.stderr.write(`winlayer image platform: expected <image>, --platform and -o\n\n${this.help}\n`);
      return 2;
    }
    const dest = parseDestination(out);
    const registries = registriesFor(ctx, registryOf(out) ?? registryOf(ctx.positionals[0]));
    try {
      const h = await openImage(ctx.positionals[0]!, registries);
      const from = stringOpt(ctx, 'from-platform');
      const derived = await setImagePlatform(h, platform, from);
      const r = await writeImage(derived, dest, { registries, force: flagOpt(ctx, 'force') });
      printWritten(ctx, 'wrote', r);
      return 0;
    } finally {
      registries.close();
    }
  },
};
