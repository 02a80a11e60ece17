/** `winlayer image append <base> <layer-source> -o <dest>`: one new layer on a Windows image. */
import { appendImage, openImage, parseDestination } from '../../oci/index.js';
import { escapeControls } from '../../terminal-text.js';
import { type Command, flagOpt, stringOpt } from '../command.js';
import {
  BUILD_HELP,
  BUILD_OPTIONS,
  buildPolicy,
  DESTINATION_HELP,
  FORCE_OPTIONS,
  printWritten,
  REGISTRY_HELP,
  REGISTRY_OPTIONS,
  registriesFor,
  registryOf,
} from './image-shared.js';

export const command: Command = {
  name: 'image append',
  help: [
    'Usage: winlayer image append <base> <layer-source> -o <dest> [--platform P] [--sd PRESET] [--symlinks skip] [--zstd]',
    '',
    'Adds one layer on top of a Windows image. <layer-source> is a plain folder or a Linux-style tar (what becomes',
    'files under C:\\), or a Windows layer (a layer folder with Files/, or a layer tar: dir:DIR, layer:FILE) taken',
    'as is. For plain content: names and hard-link targets get Files/ (symlink targets stay as written); a Files and',
    'a Hives folder entry are written, parents first; the --sd preset and deterministic times (SOURCE_DATE_EPOCH)',
    'apply; ./ names are normalised; opaque whiteouts are refused (Windows has none); absolute symlink targets are',
    'refused unless --symlinks skip. The base layers are not rewritten (same digests); pushing onto the registry the',
    'base came from never downloads them.',
    '',
    'Options:',
    '  -o, --output DEST  oci:DIR[:TAG], docker-archive:FILE[:TAG], docker://REF, or a bare path (.tar = archive)',
    '  --platform P       which image of a base index',
    ...BUILD_HELP,
    ...REGISTRY_HELP,
    ...DESTINATION_HELP,
  ].join('\n'),
  options: {
    ...REGISTRY_OPTIONS,
    ...BUILD_OPTIONS,
    ...FORCE_OPTIONS,
    output: { type: 'string', short: 'o' },
    platform: { type: 'string' },
  },
  async run(ctx) {
    const out = stringOpt(ctx, 'output');
    if (ctx.positionals.length !== 2 || out === undefined) {
      ctx.stderr.write(`winlayer image append: expected <base>, <layer-source> and -o <dest>\n\n${this.help}\n`);
      return 2;
    }
    const registries = registriesFor(ctx, registryOf(out) ?? registryOf(ctx.positionals[0]));
    try {
      const base = await openImage(ctx.positionals[0]!, registries);
      const platform = stringOpt(ctx, 'platform');
      const tag = stringOpt(ctx, 'tag');
      const r = await appendImage(base, ctx.positionals[1]!, parseDestination(out), {
        ...buildPolicy(ctx),
        registries,
        env: ctx.env,
        compression: flagOpt(ctx, 'zstd') ? 'zstd' : 'gzip',
        force: flagOpt(ctx, 'force'),
        ...(platform === undefined ? {} : { platform }),
        ...(tag === undefined ? {} : { tag }),
      });
      for (const s of r.skipped) ctx.stderr.write(`skipped ${escapeControls(s.path)}: ${escapeControls(s.reason)}\n`);
      printWritten(ctx, 'wrote', r, { layer: r.layer });
      return 0;
    } finally {
      registries.close();
    }
  },
};
