/** `winlayer login <registry> -u USER --password-stdin`: check and store registry credentials (Docker's config). */
import { WinlayerError } from '../../errors.js';
import { loginRegistry, parseRegistryName } from '../../oci/index.js';
import { defineCommand, writeJsonLine } from '../command.js';
import { JSON_OPTION, REGISTRY_OPTIONS } from '../options.js';
import { type RegistryFlags, registryFlags } from '../registries.js';

async function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of stdin as AsyncIterable<Buffer | string>) {
    const b = Buffer.from(c);
    n += b.length;
    if (n > 64 * 1024) throw new WinlayerError('USAGE', 'the password on stdin is longer than 64 KiB');
    parts.push(b);
  }
  return Buffer.concat(parts)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

interface LoginOptions {
  readonly registry: string;
  readonly username: string;
  readonly access: RegistryFlags;
  readonly json: boolean;
}

export const command = defineCommand({
  name: 'login',
  usage: ['<registry> -u USER --password-stdin [--insecure] [--ca-file FILE]'],
  about: [
    'Checks the credentials with the registry (Basic, or a token from its Bearer realm), then stores them where',
    'Docker does: its credential helper when ~/.docker/config.json names one, else "auths" in that file ($DOCKER_CONFIG',
    'moves it). docker, skopeo and winlayer then share the login.',
  ],
  options: [
    { name: 'username', short: 'u', type: 'string', arg: 'USER', help: 'the user name' },
    { name: 'password-stdin', type: 'boolean', help: 'read the password (or token) from stdin' },
    ...REGISTRY_OPTIONS,
    JSON_OPTION,
  ],
  parse(args): LoginOptions {
    const registry = args.exactly(1, '<registry>')[0]!;
    const username = args.required('username');
    if (!args.flag('password-stdin')) throw new WinlayerError('USAGE', '--password-stdin is required');
    return { registry: parseRegistryName(registry), username, access: registryFlags(args), json: args.flag('json') };
  },
  async run(opts, { io }) {
    const password = await readStdin(io.stdin);
    if (password === '') throw new WinlayerError('USAGE', 'the password on stdin is empty');
    return loginRegistry(
      opts.registry,
      { username: opts.username, password },
      { insecure: opts.access.insecure, caFiles: opts.access.caFiles, env: io.env },
    );
  },
  render(r, opts, io) {
    if (opts.json) writeJsonLine(io.stdout, r);
    else io.stdout.write(`login succeeded for ${r.registry} (stored in ${r.store})\n`);
  },
});
