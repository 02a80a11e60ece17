/** `winlayer sd encode "<SDDL>"`: prints the base64 `MSWINDOWS.rawsd` value of an SDDL string. */
import { WinlayerError } from '../../errors.js';
import { parseSddl, summarizeSecurityDescriptor } from '../../windows/index.js';
import { type Command, flagOpt, writeJsonLine } from '../command.js';

export const command: Command = {
  name: 'sd encode',
  help: [
    'Usage: winlayer sd encode [--json] "<SDDL>"',
    '',
    'Prints the canonical self-relative security descriptor of an SDDL string as padded standard base64: the value',
    'of the MSWINDOWS.rawsd PAX record. Example: winlayer sd encode "O:BAG:SYD:(A;;FA;;;BA)(A;;FA;;;SY)"',
    '',
    'Options:',
    '  --json   print { sddl, base64, size, owner, group, control, controlFlags, dacl, sacl } instead',
  ].join('\n'),
  options: { json: { type: 'boolean' } },
  async run(ctx) {
    if (ctx.positionals.length !== 1) {
      throw new WinlayerError('USAGE', `expected one SDDL string, got ${ctx.positionals.length} arguments`, {
        hint: 'quote the SDDL: winlayer sd encode "O:BUG:BU"',
      });
    }
    const summary = summarizeSecurityDescriptor(parseSddl(ctx.positionals[0]!));
    if (flagOpt(ctx, 'json')) writeJsonLine(ctx.stdout, summary);
    else ctx.stdout.write(`${summary.base64}\n`);
    return 0;
  },
};
