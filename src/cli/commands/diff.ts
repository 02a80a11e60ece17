/** `winlayer diff <a> <b> [--json]`: semantic, order-insensitive comparison of two layers or images. */
import { isWinlayerError, WinlayerError } from '../../errors.js';
import { diffSources, flattenSource, openInspectSource, renderSourceDiff } from '../../inspect/index.js';
import { escapeMessage } from '../../terminal-text.js';
import { type Command, flagOpt, stringOpt, writeJsonLine } from '../command.js';
import { registriesFor, registryOf } from './image-shared.js';

export const command: Command = {
  name: 'diff',
  help: [
    'Usage: winlayer diff <a> <b> [--json] [--flatten] [--platform P]',
    '',
    'Compares what Windows would see: names added and removed, and for common names each field that differs —',
    'content digest, size, attributes (by name), security descriptor (as SDDL), the four times at 100 ns, link',
    'targets; hard-link groups are compared as groups. Entry order, modes, uid/gid, PAX spelling, ./ and trailing /',
    'are noise: shown apart, never a difference. Images are compared layer by layer. A Hives/*_Delta (registry',
    'changes) that differs is also shown as the registry changes only one side makes (~ registry, a: / b: lines).',
    '',
    'Sources: layer:FILE or a tar (plain, gzip, zstd), dir:DIR or a layer folder, oci:DIR[:TAG],',
    'docker-archive:FILE, docker://REF.',
    '',
    'Options:',
    '  --json         print the result as one JSON object',
    "  --flatten      apply each image's layers first and compare the results as single layers",
    '  --platform P   for an index: the image to read (windows/amd64[:os.version])',
    '  --insecure     allow plain HTTP (and unverified TLS) to the registry of a docker:// source (the first',
    '                 one named), no other',
    '  --ca-file FILE trust this PEM CA beside the system roots (repeatable)',
    '',
    'Exit status: 0 equal (order-only differences included), 1 different, 2 usage or an input that cannot be read.',
  ].join('\n'),
  options: {
    json: { type: 'boolean' },
    flatten: { type: 'boolean' },
    platform: { type: 'string' },
    insecure: { type: 'boolean' },
    'ca-file': { type: 'string', multiple: true },
  },
  async run(ctx) {
    if (ctx.positionals.length !== 2) {
      throw new WinlayerError('USAGE', `expected two sources, got ${ctx.positionals.length}`, {
        hint: 'winlayer diff a.tar b.tar (see winlayer diff --help)',
      });
    }
    let result: Awaited<ReturnType<typeof diffSources>>;
    const [na, nb] = [ctx.positionals[0]!, ctx.positionals[1]!];
    const registries = registriesFor(ctx, registryOf(na) ?? registryOf(nb));
    try {
      const platform = stringOpt(ctx, 'platform');
      const opts = { stdin: ctx.stdin, registries, ...(platform === undefined ? {} : { platform }) };
      let a = await openInspectSource(na, opts);
      let b = await openInspectSource(nb, opts);
      if (flagOpt(ctx, 'flatten')) {
        a = flattenSource(a);
        b = flattenSource(b);
      }
      result = await diffSources(a, b);
    } catch (e) {
      // diff(1): trouble reading an input is exit 2, never "different".
      if (!isWinlayerError(e) || e.code === 'INTERNAL') throw e;
      ctx.stderr.write(`winlayer diff: ${escapeMessage(e.message, e.hint)}\n`);
      return 2;
    } finally {
      registries.close();
    }
    if (flagOpt(ctx, 'json')) writeJsonLine(ctx.stdout, result);
    else ctx.stdout.write(`${renderSourceDiff(result).join('\n')}\n`);
    return result.equal ? 0 : 1;
  },
};
