/** `winlayer pull <ref> -o <oci-layout>`: fetch one platform of an image into an OCI layout, verified. */
import { parseReference, pullImage, type Reference } from '../../oci/index.js';
import { defineCommand } from '../command.js';
import { JSON_OPTION, outputOption, platformOption, QUIET_OPTION, REGISTRY_OPTIONS } from '../options.js';
import { openRegistries, type RegistryFlags, registryFlags } from '../registries.js';
import { renderWritten } from './image-shared.js';

interface PullOptions {
  readonly ref: Reference;
  readonly output: string;
  readonly platform?: string;
  readonly allPlatforms: boolean;
  readonly access: RegistryFlags;
  readonly json: boolean;
}

export const command = defineCommand({
  name: 'pull',
  usage: ['<registry/repository[:tag|@digest]> -o <oci-layout> [--platform P] [--all-platforms]'],
  about: [
    'Pulls into an OCI layout (every blob checked against its digest first). From an index it takes one image:',
    '--platform (os.version matches by prefix, the newest match wins), default windows/amd64. An existing layout is',
    'added to, as skopeo does: the image is tagged with the tag pulled (the tag moves to it from the image that had',
    'it), other images and their blobs stay, and index.json is replaced last, atomically.',
  ],
  options: [
    outputOption('DIR', 'the OCI layout to write or add to'),
    platformOption('windows/amd64[:OS_VERSION], e.g. windows/amd64:10.0.20348'),
    { name: 'all-platforms', type: 'boolean', help: 'keep the whole index' },
    ...REGISTRY_OPTIONS,
    QUIET_OPTION,
    JSON_OPTION,
  ],
  parse(args): PullOptions {
    const ref = args.exactly(1, '<ref>')[0]!;
    const output = args.required('output');
    const platform = args.string('platform');
    return {
      ref: parseReference(ref),
      output,
      ...(platform === undefined ? {} : { platform }),
      allPlatforms: args.flag('all-platforms'),
      access: registryFlags(args),
      json: args.flag('json'),
    };
  },
  run(opts, session) {
    return pullImage(opts.ref, opts.output, {
      registries: openRegistries(session, opts.access, opts.ref.registry),
      allPlatforms: opts.allPlatforms,
      ...(opts.platform === undefined ? {} : { platform: opts.platform }),
    });
  },
  render(r, opts, io) {
    renderWritten(io, 'pulled', r, opts.json);
  },
});
