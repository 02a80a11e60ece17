/** `winlayer login <registry> -u USER --password-stdin`: check and store registry credentials (Docker's config). */
import { WinlayerError } from '../../errors.js';
import { loginRegistry, parseRegistryName } from '../../oci/index.js';
import { type Command, flagOpt, stringOpt, stringsOpt, writeJsonLine } from '../command.js';

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

export const command: Command = {
  name: 'login',
  help: [
    'Usage: winlayer login <registry> -u USER --password-stdin [--insecure] [--ca-file FILE]',
    '',
    'Checks the credentials with the registry (Basic, or a token from its Bearer realm), then stores them where',
    'Docker does: its credential helper when ~/.docker/config.json names one, else "auths" in that file ($DOCKER_CONFIG',
    'moves it). docker, skopeo and winlayer then share the login.',
    '',
    'Options:',
    '  -u, --username USER',
    '  --password-stdin   read the password (or token) from stdin',
    '  --insecure         allow plain HTTP to this registry',
    '  --ca-file FILE     trust this PEM CA beside the system roots (repeatable)',
    '  --json             print the result as JSON',
  ].join('\n'),
  options: {
    username: { type: 'string', short: 'u' },
    'password-stdin': { type: 'boolean' },
    insecure: { type: 'boolean' },
    'ca-file': { type: 'string', multiple: true },
    json: { type: 'boolean' },
  },
  async run(ctx) {
    const user = stringOpt(ctx, 'username');
    if (ctx.positionals.length !== 1 || user === undefined || !flagOpt(ctx, 'password-stdin')) {
      ctx.stderr.write(`winlayer login: expected <registry>, -u USER and --password-stdin\n\n${this.help}\n`);
      return 2;
    }
    const registry = parseRegistryName(ctx.positionals[0]!);
    const password = await readStdin(ctx.stdin);
    if (password === '') throw new WinlayerError('USAGE', 'the password on stdin is empty');
    const r = await loginRegistry(
      registry,
      { username: user, password },
      {
        insecure: flagOpt(ctx, 'insecure'),
        caFiles: stringsOpt(ctx, 'ca-file'),
        env: ctx.env,
      },
    );
    if (flagOpt(ctx, 'json')) writeJsonLine(ctx.stdout, r);
    else ctx.stdout.write(`login succeeded for ${r.registry} (stored in ${r.store})\n`);
    return 0;
  },
};
