/** `winlayer push <source> <ref>`: copy an image (layout, archive or registry) to a registry. */
import { openImage, parseReference, type Reference, type WriteImageResult, writeImage } from '../../oci/index.js';
import { defineCommand } from '../command.js';
import { JSON_OPTION, platformOption, QUIET_OPTION, REGISTRY_OPTIONS } from '../options.js';
import { openRegistries, type RegistryFlags, registryFlags } from '../registries.js';
import { renderWritten } from './image-shared.js';

interface PushOptions {
  readonly source: string;
  readonly ref: Reference;
  readonly platform?: string;
  readonly access: RegistryFlags;
  readonly json: boolean;
}

export const command = defineCommand({
  name: 'push',
  usage: ['<source> <registry/repository[:tag]> [--platform P] [--insecure] [--ca-file FILE]'],
  about: [
    'Pushes an image or index: blobs the registry has are skipped, blobs in another repository of the same registry',
    'are mounted, the rest uploaded (large ones in chunks, resumed or retried on failure). The tag moves last.',
    'Credentials: ~/.docker/config.json (winlayer login, docker login, credential helpers).',
    '',
    'Sources: oci:DIR[:TAG], docker-archive:FILE, docker://REF, or a bare layout folder / archive .tar.',
  ],
  options: [
    platformOption('push only this platform of an index (windows/amd64[:OS_VERSION])'),
    ...REGISTRY_OPTIONS,
    QUIET_OPTION,
    JSON_OPTION,
  ],
  parse(args): PushOptions {
    const [source, ref] = args.exactly(2, '<source> and <ref>');
    const platform = args.string('platform');
    return {
      source: source!,
      ref: parseReference(ref!),
      ...(platform === undefined ? {} : { platform }),
      access: registryFlags(args),
      json: args.flag('json'),
    };
  },
  async run(opts, session): Promise<WriteImageResult> {
    const registries = openRegistries(session, opts.access, opts.ref.registry);
    const h = await openImage(opts.source, registries);
    return writeImage(
      h,
      { kind: 'registry', reference: opts.ref },
      { registries, ...(opts.platform === undefined ? {} : { platform: opts.platform }) },
    );
  },
  render(r, opts, io) {
    renderWritten(io, 'pushed', r, opts.json);
  },
});
