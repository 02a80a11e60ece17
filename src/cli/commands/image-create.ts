/** `winlayer image create <rootfs-dir> -o <dest>`: a folder as the base layer of a new Windows image. */
import { type BuildResult, type CreateImageOptions, createImage, parseDestination } from '../../oci/index.js';
import { defineCommand } from '../command.js';
import { sourceDateEpochOption } from '../epoch.js';
import {
  BUILD_OPTIONS,
  buildPolicy,
  DESTINATION_NOTES,
  IMAGE_FORCE_OPTION,
  JSON_OPTION,
  outputOption,
  parseLabels,
  platformOption,
  QUIET_OPTION,
  REGISTRY_OPTIONS,
  regOption,
} from '../options.js';
import { openRegistries, type RegistryFlags, registryFlags, registryNamed } from '../registries.js';
import { renderWritten } from './image-shared.js';

interface CreateOptions {
  readonly rootfs: string;
  readonly output: string;
  readonly library: Omit<CreateImageOptions, 'registries'>;
  readonly access: RegistryFlags;
  readonly json: boolean;
}

export const command = defineCommand({
  name: 'image create',
  usage: [
    '<rootfs-dir> -o <dest> [--platform windows/amd64[:OS_VERSION]] [--entrypoint ARG]...',
    ' [--cmd ARG]... [--env K=V]... [--workdir DIR] [--user NAME] [--label K=V]... [--tag NAME] [--sd PRESET] [--zstd]',
    ' [--reg FILE.reg]...',
  ],
  about: [
    '<rootfs-dir> becomes C:\\ (it goes under Files/). The five registry hives a base layer needs are added as the',
    'layer streams out (empty, valid hives); your folder is only read. The base layer goes straight into the image.',
    'With --reg, the registry changes of .reg files are written straight into those hives (a base layer carries no',
    'differencing hives); docs/registry-changes.md.',
    '',
    'What such an image can do: with empty hives it runs as a HostProcess container, or serves as the base (or a',
    'storage/scratch layer) for other layers. It is not a process-isolated Windows container: that needs a',
    'Microsoft base image (its hives, services and system files).',
    '',
    'Destinations: oci:DIR[:TAG], docker-archive:FILE[:TAG], docker://REF; a bare path ending .tar is a docker',
    'archive, any other bare path an OCI layout. SOURCE_DATE_EPOCH fixes `created` and clamps file times.',
  ],
  options: [
    outputOption('DEST', 'where the image goes (see Destinations)'),
    platformOption([
      'windows/amd64[:OS_VERSION] (default windows/amd64; set os.version: containerd matches by it);',
      'a Windows image only: another os (linux/amd64) is refused',
    ]),
    {
      name: 'entrypoint',
      type: 'string',
      multiple: true,
      arg: 'ARG',
      help: 'one argument of the entrypoint (repeat for each)',
    },
    { name: 'cmd', type: 'string', multiple: true, arg: 'ARG', help: 'one argument of the command (repeat for each)' },
    {
      name: 'env',
      type: 'string',
      multiple: true,
      arg: 'K=V',
      help: 'an environment variable of the image (repeatable)',
    },
    { name: 'workdir', type: 'string', arg: 'DIR', help: 'the working directory' },
    { name: 'user', type: 'string', arg: 'NAME', help: 'the user the container runs as' },
    { name: 'label', type: 'string', multiple: true, arg: 'K=V', help: 'a label of the image (repeatable)' },
    regOption('registry changes'),
    ...BUILD_OPTIONS,
    IMAGE_FORCE_OPTION,
    ...REGISTRY_OPTIONS,
    QUIET_OPTION,
    JSON_OPTION,
  ],
  notes: DESTINATION_NOTES,
  parse(args, io): CreateOptions {
    const rootfs = args.exactly(1, '<rootfs-dir>')[0]!;
    const output = args.required('output');
    const entrypoint = args.strings('entrypoint');
    const cmd = args.strings('cmd');
    const workdir = args.string('workdir');
    const user = args.string('user');
    const platform = args.string('platform');
    const tag = args.string('tag');
    const reg = args.strings('reg');
    return {
      rootfs,
      output,
      library: {
        ...buildPolicy(args),
        ...sourceDateEpochOption(io),
        compression: args.flag('zstd') ? 'zstd' : 'gzip',
        force: args.flag('force'),
        ...(platform === undefined ? {} : { platform }),
        ...(tag === undefined ? {} : { tag }),
        ...(reg.length === 0 ? {} : { reg }),
        runtime: {
          ...(entrypoint.length === 0 ? {} : { entrypoint }),
          ...(cmd.length === 0 ? {} : { cmd }),
          env: args.strings('env'),
          ...(workdir === undefined ? {} : { workdir }),
          ...(user === undefined ? {} : { user }),
          labels: parseLabels(args.strings('label')),
        },
      },
      access: registryFlags(args),
      json: args.flag('json'),
    };
  },
  run(opts, session): Promise<BuildResult> {
    const registries = openRegistries(session, opts.access, registryNamed(opts.output));
    return createImage(opts.rootfs, parseDestination(opts.output), { ...opts.library, registries });
  },
  render(r, opts, io) {
    renderWritten(io, 'wrote', r, opts.json, [
      ...(r.registryNotes ?? []).map((n) => `note: ${n}`),
      ...r.skipped.map((s) => `skipped ${s.path}: ${s.reason}`),
    ]);
  },
});
