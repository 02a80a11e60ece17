/** `winlayer lint <source> [--json] [--strict] [--base|--non-base]`: find what breaks a Windows layer. */

import { WinlayerError } from '../../errors.js';
import { LINT_RULES, type LintReport, lintNamedSource, renderLintReport } from '../../inspect/index.js';
import { type Command, flagOpt, stringOpt, writeJsonLine } from '../command.js';
import { registriesFor, registryOf } from './image-shared.js';

/** Findings shown per rule in text output before the rest are counted (`--json` lists them all). */
const PER_RULE = 20;

export const command: Command = {
  name: 'lint',
  help: [
    'Usage: winlayer lint <source> [--json] [--strict] [--base|--non-base] [--flatten] [--platform P]',
    '',
    'Checks a layer or image for what Windows refuses or loses: entries outside Files/, UtilityVM/ and Hives/,',
    'children before parents, duplicates (also by case), names Windows cannot hold, missing or bad hives and BCD',
    '(a differencing hive where a base hive belongs; in a non-base layer each Hives/*_Delta must be a clean one),',
    'broken hard links, invalid security descriptors, non-canonical headers and more. Each finding has a stable',
    'rule id, a severity and a fix hint; `winlayer lint --rules` lists every rule.',
    '',
    'Sources: layer:FILE or a tar (plain, gzip, zstd), dir:DIR or a layer folder, oci:DIR[:TAG],',
    'docker-archive:FILE, docker://REF, - (a tar on stdin). Images are linted layer by layer.',
    '',
    'Options:',
    '  --json        print the report as one JSON object',
    '  --rules       list the rules (id, severity, what each finds) and exit',
    '  --strict      exit 1 on warnings too',
    '  --base        lint a single layer as a base layer (default: detect; Hives/ or whiteouts mean non-base)',
    '  --non-base    lint a single layer as a non-base layer',
    "  --flatten     apply an image's layers first and lint the result as one base layer",
    '  --platform P  for an index: the image to read (windows/amd64[:os.version])',
    '  --insecure    allow plain HTTP (and unverified TLS) to the registry of a docker:// source, no other',
    '  --ca-file F   trust this PEM CA beside the system roots (repeatable)',
    '',
    'Exit status: 0 no errors (warnings allowed unless --strict), 1 errors found (a corrupt input is a finding),',
    '2 usage or a source that cannot be opened or is not a tar (text, zip, a hive, empty).',
  ].join('\n'),
  options: {
    json: { type: 'boolean' },
    rules: { type: 'boolean' },
    strict: { type: 'boolean' },
    base: { type: 'boolean' },
    'non-base': { type: 'boolean' },
    flatten: { type: 'boolean' },
    platform: { type: 'string' },
    insecure: { type: 'boolean' },
    'ca-file': { type: 'string', multiple: true },
  },
  async run(ctx) {
    if (flagOpt(ctx, 'rules')) {
      const rules = Object.entries(LINT_RULES).map(([id, r]) => ({ id, ...r }));
      if (flagOpt(ctx, 'json')) for (const r of rules) writeJsonLine(ctx.stdout, r);
      else for (const r of rules) ctx.stdout.write(`${r.severity.padEnd(7)} ${r.id.padEnd(28)} ${r.summary}\n`);
      return 0;
    }
    if (ctx.positionals.length !== 1) {
      throw new WinlayerError('USAGE', `expected one source, got ${ctx.positionals.length}`, {
        hint: 'winlayer lint layer.tar (see winlayer lint --help)',
      });
    }
    if (flagOpt(ctx, 'base') && flagOpt(ctx, 'non-base')) {
      throw new WinlayerError('USAGE', '--base and --non-base exclude each other');
    }
    const base = flagOpt(ctx, 'base') ? true : flagOpt(ctx, 'non-base') ? false : undefined;
    const platform = stringOpt(ctx, 'platform');
    const registries = registriesFor(ctx, registryOf(ctx.positionals[0]));
    let report: LintReport;
    try {
      report = await lintNamedSource(ctx.positionals[0]!, {
        stdin: ctx.stdin,
        registries,
        flatten: flagOpt(ctx, 'flatten'),
        ...(platform === undefined ? {} : { platform }),
        ...(base === undefined ? {} : { base }),
      });
    } finally {
      registries.close();
    }
    if (flagOpt(ctx, 'json')) writeJsonLine(ctx.stdout, report);
    else ctx.stdout.write(`${renderLintReport(report, { perRule: PER_RULE }).join('\n')}\n`);
    if (report.errors > 0) return 1;
    return flagOpt(ctx, 'strict') && report.warnings > 0 ? 1 : 0;
  },
};
