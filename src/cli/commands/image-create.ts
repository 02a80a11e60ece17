/** `winlayer image create <rootfs-dir> -o <dest>`: a folder as the base layer of a new Windows image. */
import { createImage, parseDestination } from '../../oci/index.js';
import { escapeControls } from '../../terminal-text.js';
import { type Command, flagOpt, stringOpt, stringsOpt } from '../command.js';
import {
  BUILD_HELP,
  BUILD_OPTIONS,
  buildPolicy,
  DESTINATION_HELP,
  FORCE_OPTIONS,
  parseLabels,
  printWritten,
  REGISTRY_HELP,
  REGISTRY_OPTIONS,
  registriesFor,
  registryOf,
} from './image-shared.js';

export const command: Command = {
  name: 'image create',
  help: [
    'Usage: winlayer image create <rootfs-dir> -o <dest> [--platform windows/amd64[:OS_VERSION]] [--entrypoint ARG]...',
    '         [--cmd ARG]... [--env K=V]... [--workdir DIR] [--user NAME] [--label K=V]... [--tag NAME] [--sd PRESET] [--zstd]',
    '',
    '<rootfs-dir> becomes C:\\ (it goes under Files/). The five registry hives a base layer needs are added as the',
    'layer streams out (empty, valid hives); your folder is only read. The base layer goes straight into the image.',
    '',
    'What such an image can do: with empty hives it runs as a HostProcess container, or serves as the base (or a',
    'storage/scratch layer) for other layers. It is not a process-isolated Windows container: that needs a',
    'Microsoft base image (its hives, services and system files).',
    '',
    'Destinations: oci:DIR[:TAG], docker-archive:FILE[:TAG], docker://REF; a bare path ending .tar is a docker',
    'archive, any other bare path an OCI layout. SOURCE_DATE_EPOCH fixes `created` and clamps file times.',
    '',
    'Options:',
    '  -o, --output DEST  where the image goes (see Destinations)',
    '  --platform P       windows/amd64[:OS_VERSION] (default windows/amd64; set os.version: containerd matches by it);',
    '                     a Windows image only: another os (linux/amd64) is refused',
    '  --entrypoint ARG   one argument of the entrypoint (repeat for each)',
    '  --cmd ARG          one argument of the command (repeat for each)',
    '  --env K=V, --label K=V (repeatable), --workdir DIR, --user NAME',
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
    entrypoint: { type: 'string', multiple: true },
    cmd: { type: 'string', multiple: true },
    env: { type: 'string', multiple: true },
    workdir: { type: 'string' },
    user: { type: 'string' },
    label: { type: 'string', multiple: true },
  },
  async run(ctx) {
    const out = stringOpt(ctx, 'output');
    if (ctx.positionals.length !== 1 || out === undefined) {
      ctx.stderr.write(`winlayer image create: expected <rootfs-dir> and -o <dest>\n\n${this.help}\n`);
      return 2;
    }
    const registries = registriesFor(ctx, registryOf(out));
    try {
      const entrypoint = stringsOpt(ctx, 'entrypoint');
      const cmd = stringsOpt(ctx, 'cmd');
      const workdir = stringOpt(ctx, 'workdir');
      const user = stringOpt(ctx, 'user');
      const platform = stringOpt(ctx, 'platform');
      const tag = stringOpt(ctx, 'tag');
      const r = await createImage(ctx.positionals[0]!, parseDestination(out), {
        ...buildPolicy(ctx),
        registries,
        env: ctx.env,
        compression: flagOpt(ctx, 'zstd') ? 'zstd' : 'gzip',
        force: flagOpt(ctx, 'force'),
        ...(platform === undefined ? {} : { platform }),
        ...(tag === undefined ? {} : { tag }),
        runtime: {
          ...(entrypoint.length === 0 ? {} : { entrypoint }),
          ...(cmd.length === 0 ? {} : { cmd }),
          env: stringsOpt(ctx, 'env'),
          ...(workdir === undefined ? {} : { workdir }),
          ...(user === undefined ? {} : { user }),
          labels: parseLabels(stringsOpt(ctx, 'label')),
        },
      });
      for (const s of r.skipped) ctx.stderr.write(`skipped ${escapeControls(s.path)}: ${escapeControls(s.reason)}\n`);
      printWritten(ctx, 'wrote', r, { layer: r.layer, hivesAdded: r.hivesAdded });
      return 0;
    } finally {
      registries.close();
    }
  },
};
