/** `winlayer image index -o <dest> <image>…`: one index over several images (one per os.version). */
import { WinlayerError } from '../../errors.js';
import { createImageIndex, type WriteImageResult } from '../../oci/index.js';
import { defineCommand } from '../command.js';
import { JSON_OPTION, outputOption, QUIET_OPTION, REGISTRY_OPTIONS } from '../options.js';
import { openRegistries, type RegistryFlags, registryFlags, registryNamed } from '../registries.js';
import { renderWritten } from './image-shared.js';

interface IndexOptions {
  readonly images: readonly string[];
  readonly output: string;
  readonly access: RegistryFlags;
  readonly json: boolean;
}

export const command = defineCommand({
  name: 'image index',
  usage: ['-o <dest> <image>...'],
  about: [
    'Builds an image index over the images given, each entry carrying the platform of its config. This is how',
    'Windows images are published: one image per Windows build (os.version), and runtimes pick theirs. Two images',
    'with the same platform and os.version are refused. Set os.version first with `winlayer image platform`.',
  ],
  options: [
    outputOption('DEST', [
      'oci:DIR[:TAG], docker://REF or a bare folder (a docker archive cannot hold an index);',
      'an existing OCI layout is added to: the tag moves to the index, other images stay',
    ]),
    ...REGISTRY_OPTIONS,
    QUIET_OPTION,
    JSON_OPTION,
  ],
  parse(args): IndexOptions {
    const output = args.required('output');
    if (args.positionals.length === 0) throw new WinlayerError('USAGE', 'expected at least one image');
    return { images: args.positionals, output, access: registryFlags(args), json: args.flag('json') };
  },
  run(opts, session): Promise<WriteImageResult> {
    const registries = openRegistries(session, opts.access, registryNamed(opts.output));
    return createImageIndex(opts.images, opts.output, { registries });
  },
  render(r, opts, io) {
    renderWritten(io, 'wrote', r, opts.json);
  },
});
