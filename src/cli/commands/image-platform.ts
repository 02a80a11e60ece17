/** `winlayer image platform <image> --platform windows/amd64:OS_VERSION -o <dest>`: set os/arch/os.version. */
import { openImage, parseDestination, setImagePlatform, type WriteImageResult, writeImage } from '../../oci/index.js';
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
import { renderWritten } from './image-shared.js';

interface PlatformOptions {
  readonly image: string;
  readonly output: string;
  readonly platform: string;
  readonly from?: string;
  readonly force: boolean;
  readonly sourceDateEpoch?: number;
  readonly access: RegistryFlags;
  readonly json: boolean;
}

export const command = defineCommand({
  name: 'image platform',
  usage: ['<image> --platform OS/ARCH[:OS_VERSION] -o <dest> [--from-platform P]'],
  about: [
    'Writes a copy of the image whose config, manifest and descriptor carry the platform (os, architecture,',
    'os.version). Layers are untouched. containerd matches Windows images by os.version: set it to the build the',
    'image was made for (e.g. windows/amd64:10.0.20348.2113 for Windows Server 2022).',
    '',
    'Destinations: oci:DIR[:TAG], docker-archive:FILE[:TAG], docker://REF; a bare path ending .tar is a docker',
    'archive, any other bare path an OCI layout.',
  ],
  options: [
    platformOption('the new platform'),
    { name: 'from-platform', type: 'string', arg: 'P', help: 'which image of an index to start from' },
    outputOption('DEST', 'where the copy goes (see Destinations)'),
    IMAGE_FORCE_OPTION,
    ...REGISTRY_OPTIONS,
    QUIET_OPTION,
    JSON_OPTION,
  ],
  notes: DESTINATION_NOTES,
  parse(args, io): PlatformOptions {
    const image = args.exactly(1, '<image>')[0]!;
    const platform = args.required('platform');
    const output = args.required('output');
    const from = args.string('from-platform');
    return {
      image,
      output,
      platform,
      ...(from === undefined ? {} : { from }),
      force: args.flag('force'),
      ...sourceDateEpochOption(io),
      access: registryFlags(args),
      json: args.flag('json'),
    };
  },
  async run(opts, session): Promise<WriteImageResult> {
    const dest = parseDestination(opts.output);
    const registries = openRegistries(session, opts.access, registryNamed(opts.output, opts.image));
    const h = await openImage(opts.image, registries);
    const derived = await setImagePlatform(h, opts.platform, { from: opts.from });
    return writeImage(derived, dest, {
      registries,
      force: opts.force,
      ...(opts.sourceDateEpoch === undefined ? {} : { sourceDateEpoch: opts.sourceDateEpoch }),
    });
  },
  render(r, opts, io) {
    renderWritten(io, 'wrote', r, opts.json);
  },
});
