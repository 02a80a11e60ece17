/** `winlayer push <source> <ref>`: copy an image (layout, archive or registry) to a registry. */
import { openImage, parseReference, writeImage } from '../../oci/index.js';
import { type Command, stringOpt } from '../command.js';
import { printWritten, REGISTRY_HELP, REGISTRY_OPTIONS, registriesFor } from './image-shared.js';

export const command: Command = {
  name: 'push',
  help: [
    'Usage: winlayer push <source> <registry/repository[:tag]> [--platform P] [--insecure] [--ca-file FILE]',
    '',
    'Pushes an image or index: blobs the registry has are skipped, blobs in another repository of the same registry',
    'are mounted, the rest uploaded (large ones in chunks, resumed or retried on failure). The tag moves last.',
    'Credentials: ~/.docker/config.json (winlayer login, docker login, credential helpers).',
    '',
    'Sources: oci:DIR[:TAG], docker-archive:FILE, docker://REF, or a bare layout folder / archive .tar.',
    '',
    'Options:',
    '  --platform P       push only this platform of an index (windows/amd64[:OS_VERSION])',
    ...REGISTRY_HELP,
  ].join('\n'),
  options: { ...REGISTRY_OPTIONS, platform: { type: 'string' } },
  async run(ctx) {
    if (ctx.positionals.length !== 2) {
      ctx.stderr.write(`winlayer push: expected <source> and <ref>\n\n${this.help}\n`);
      return 2;
    }
    const ref = parseReference(ctx.positionals[1]!);
    const registries = registriesFor(ctx, ref.registry);
    try {
      const h = await openImage(ctx.positionals[0]!, registries);
      const platform = stringOpt(ctx, 'platform');
      const r = await writeImage(
        h,
        { kind: 'registry', reference: ref },
        { registries, ...(platform === undefined ? {} : { platform }) },
      );
      printWritten(ctx, 'pushed', r);
      return 0;
    } finally {
      registries.close();
    }
  },
};
