/** `winlayer sd decode <base64>`: prints the SDDL of a base64 `MSWINDOWS.rawsd` value. */
import { WinlayerError } from '../../errors.js';
import { base64ToSddl, rawsdToBytes, summarizeSecurityDescriptor } from '../../windows/index.js';
import { type Command, flagOpt, writeJsonLine } from '../command.js';

export const command: Command = {
  name: 'sd decode',
  help: [
    'Usage: winlayer sd decode [--json] <base64>',
    '',
    'Prints the canonical SDDL of a self-relative security descriptor given as base64 (an MSWINDOWS.rawsd value).',
    'Any valid binary layout is accepted. Example: winlayer sd decode AQAAgBQAAAAkAAAAAAAAAAAAAAABAgAAAAAABSAAAAAhAgAAAQIAAAAAAAUgAAAAIQIAAA==',
    '',
    'Options:',
    '  --json   print { sddl, base64, size, owner, group, control, controlFlags, dacl, sacl } instead',
  ].join('\n'),
  options: { json: { type: 'boolean' } },
  async run(ctx) {
    if (ctx.positionals.length !== 1) {
      throw new WinlayerError('USAGE', `expected one base64 value, got ${ctx.positionals.length} arguments`);
    }
    const b64 = ctx.positionals[0]!;
    if (flagOpt(ctx, 'json')) writeJsonLine(ctx.stdout, summarizeSecurityDescriptor(rawsdToBytes(b64)));
    else ctx.stdout.write(`${base64ToSddl(b64)}\n`);
    return 0;
  },
};
