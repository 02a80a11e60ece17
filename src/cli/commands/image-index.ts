/** `winlayer image index -o <dest> <image>…`: one index over several images (one per os.version). */
import { buildImageIndex, openImage, parseDestination, writeImage } from '../../oci/index.js';
import { type Command, stringOpt } from '../command.js';
import { printWritten, REGISTRY_HELP, REGISTRY_OPTIONS, registriesFor, registryOf } from './image-shared.js';

export const command: Command = {
  name: 'image index',
  help: [
    'Usage: winlayer image index -o <dest> <image>...',
    '',
    'Builds an image index over the images given, each entry carrying the platform of its config. This is how',
    'Windows images are published: one image per Windows build (os.version), and runtimes pick theirs. Two images',
    'with the same platform and os.version are refused. Set os.version first with `winlayer image platform`.',
    '',
    'Options:',
    '  -o, --output DEST  oci:DIR[:TAG], docker://REF or a bare folder (a docker archive cannot hold an index);',
    '                     an existing OCI layout is added to: the tag moves to the index, other images stay',
    ...REGISTRY_HELP,
  ].join('\n'),
  options: { ...REGISTRY_OPTIONS, output: { type: 'string', short: 'o' } },
  async run(ctx) {
    const out = stringOpt(ctx, 'output');
    if (ctx.positionals.length === 0 || out === undefined) {
      ctx.stderr.write(`winlayer image index: expected -o <dest> and at least one image\n\n${this.help}\n`);
      return 2;
    }
    const dest = parseDestination(out);
    if (dest.kind === 'docker-archive') {
      ctx.stderr.write('winlayer image index: a docker archive holds single images; write an OCI layout or push\n');
      return 2;
    }
    const registries = registriesFor(ctx, registryOf(out));
    try {
      const images = [];
      for (const name of ctx.positionals) images.push(await openImage(name, registries));
      const { handle, warnings } = await buildImageIndex(images);
      const r = await writeImage(handle, dest, { registries, allPlatforms: true });
      printWritten(ctx, 'wrote', { ...r, warnings: [...warnings, ...r.warnings] });
      return 0;
    } finally {
      registries.close();
    }
  },
};
