/** `winlayer hive check`: every finding of the strict checker. Exit 0 clean (warnings allowed), 1 errors, 2 unreadable. */
import { WinlayerError } from '../../errors.js';
import { checkHive } from '../../hive/index.js';
import { escapeMessage } from '../../terminal-text.js';
import { type Command, flagOpt } from '../command.js';
import { findingLine } from './hive-finding-line.js';
import { readInput } from './hive-read-file.js';

export const command: Command = {
  name: 'hive check',
  help: [
    'Usage: winlayer hive check <file> [--json]',
    '',
    'Checks a registry hive against every rule Windows applies. An error is what makes Windows refuse the hive or a',
    'reader guess (a dirty hive is one); a warning is what Windows loads as it is. Every code, its severity and why:',
    "docs/hive-findings.md. Offsets are file offsets. A differencing hive (a layer's Hives/*_Delta: version 1.6 with",
    'the layered-keys flag) is checked against the layer rules too: tombstones, supersede-tree subtrees, layer bits.',
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
        ctx.stderr.write(`winlayer hive check: ${escapeMessage(e.message, e.hint)}\n`);
        return 2;
      }
      throw e;
    }
    const result = checkHive(bytes);
    if (flagOpt(ctx, 'json')) {
      ctx.stdout.write(`${JSON.stringify({ file, ...result })}\n`);
    } else {
      for (const f of [...result.errors, ...result.warnings])
        ctx.stdout.write(`${file}: ${f.severity} ${findingLine(f)}\n`);
      const verdict = result.errors.length === 0 ? 'ok' : 'not valid';
      ctx.stdout.write(`${file}: ${verdict}: ${result.errors.length} errors, ${result.warnings.length} warnings\n`);
    }
    return result.errors.length === 0 ? 0 : 1;
  },
};
