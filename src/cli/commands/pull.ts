/** `winlayer pull <ref> -o <oci-layout>`: fetch one platform of an image into an OCI layout, verified. */
import { parseReference, pullImage } from '../../oci/index.js';
import { type Command, flagOpt, stringOpt } from '../command.js';
import { printWritten, REGISTRY_HELP, REGISTRY_OPTIONS, registriesFor } from './image-shared.js';

export const command: Command = {
  name: 'pull',
  help: [
    'Usage: winlayer pull <registry/repository[:tag|@digest]> -o <oci-layout> [--platform P] [--all-platforms]',
    '',
    'Pulls into an OCI layout (every blob checked against its digest first). From an index it takes one image:',
    '--platform (os.version matches by prefix, the newest match wins), default windows/amd64. An existing layout is',
    'added to, as skopeo does: the image is tagged with the tag pulled (the tag moves to it from the image that had',
    'it), other images and their blobs stay, and index.json is replaced last, atomically.',
    '',
    'Options:',
    '  -o, --output DIR   the OCI layout to write or add to',
    '  --platform P       windows/amd64[:OS_VERSION], e.g. windows/amd64:10.0.20348',
    '  --all-platforms    keep the whole index',
    ...REGISTRY_HELP,
  ].join('\n'),
  options: {
    ...REGISTRY_OPTIONS,
    output: { type: 'string', short: 'o' },
    platform: { type: 'string' },
    'all-platforms': { type: 'boolean' },
  },
  async run(ctx) {
    const out = stringOpt(ctx, 'output');
    if (ctx.positionals.length !== 1 || out === undefined) {
      ctx.stderr.write(`winlayer pull: expected <ref> and -o <dir>\n\n${this.help}\n`);
      return 2;
    }
    const ref = parseReference(ctx.positionals[0]!);
    const registries = registriesFor(ctx, ref.registry);
    try {
      const platform = stringOpt(ctx, 'platform');
      const r = await pullImage(ref, out, {
        registries,
        allPlatforms: flagOpt(ctx, 'all-platforms'),
        ...(platform === undefined ? {} : { platform }),
      });
      printWritten(ctx, 'pulled', r, r.platform === undefined ? {} : { platform: r.platform });
      return 0;
    } finally {
      registries.close();
    }
  },
};
