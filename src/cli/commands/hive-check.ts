/** `winlayer hive check`: every finding of the strict checker. Exit 0 clean (warnings allowed), 1 errors, 2 unreadable. */
import { WinlayerError } from '../../errors.js';
import { checkHive, type HiveFinding } from '../../hive/index.js';
import { type Command, flagOpt } from '../command.js';
import { readInput } from './hive-read-file.js';

function line(f: HiveFinding): string {
  const where = [
    f.offset === undefined ? '' : `at 0x${f.offset.toString(16)}`,
    f.keyPath === undefined ? '' : `key \\${f.keyPath}`,
  ]
    .filter((s) => s !== '')
    .join(', ');
  return `${f.severity} ${f.code}: ${f.message}${where === '' ? '' : ` (${where})`}`;
}

export const command: Command = {
  name: 'hive check',
  help: [
    'Usage: winlayer hive check <file> [--json]',
    '',
    'Checks a registry hive against every rule Windows applies (regf.md §7).',
    'Exit status: 0 clean (warnings allowed), 1 errors (a corrupt file is a finding), 2 the file cannot be opened.',
    '',
    'Options:',
    '  --json   print the result object { errors, warnings, dirty }',
  ].join('\n'),
  options: { json: { type: 'boolean' } },
  async run(ctx) {
    const [file, ...extra] = ctx.positionals;
    if (file === undefined || extra.length > 0) throw new WinlayerError('USAGE', 'expected exactly one <file>');
    let bytes: Uint8Array;
    try {
      bytes = readInput(file);
    } catch (e) {
      if (e instanceof WinlayerError) {
        ctx.stderr.write(`winlayer hive check: ${e.message}\n`);
        return 2;
      }
      throw e;
    }
    const result = checkHive(bytes);
    if (flagOpt(ctx, 'json')) {
      ctx.stdout.write(`${JSON.stringify({ file, ...result })}\n`);
    } else {
      for (const f of [...result.errors, ...result.warnings]) ctx.stdout.write(`${file}: ${line(f)}\n`);
      const verdict = result.errors.length === 0 ? 'ok' : 'not valid';
      ctx.stdout.write(`${file}: ${verdict}: ${result.errors.length} errors, ${result.warnings.length} warnings\n`);
    }
    return result.errors.length === 0 ? 0 : 1;
  },
};
