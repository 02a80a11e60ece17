/** `winlayer lint <source> [--json] [--strict] [--base|--non-base]`: find what breaks a Windows layer. */
import {
  flattenSource,
  type LintFinding,
  type LintReport,
  lintSource,
  openInspectSource,
} from '../../inspect/index.js';
import { type Command, flagOpt, stringOpt, writeJsonLine } from '../command.js';

/** Findings shown per rule in text output before the rest are counted (`--json` lists them all). */
const PER_RULE = 20;

export const command: Command = {
  name: 'lint',
  help: [
    'Usage: winlayer lint <source> [--json] [--strict] [--base|--non-base] [--flatten] [--platform P]',
    '',
    'Checks a layer or image for what Windows refuses or loses: entries outside Files/, UtilityVM/ and Hives/,',
    'children before parents, duplicates (also by case), names Windows cannot hold, missing or bad hives and BCD,',
    'broken hard links, invalid security descriptors, non-canonical headers and more. Each finding has a stable',
    'rule id, a severity and a fix hint (see src/inspect/README.md for the table).',
    '',
    'Sources: layer:FILE or a tar (plain, gzip, zstd), dir:DIR or a layer folder, oci:DIR[:TAG],',
    'docker-archive:FILE, docker://REF, - (a tar on stdin). Images are linted layer by layer.',
    '',
    'Options:',
    '  --json        print the report as one JSON object',
    '  --strict      exit 1 on warnings too',
    '  --base        lint a single layer as a base layer (default: detect; Hives/ or whiteouts mean non-base)',
    '  --non-base    lint a single layer as a non-base layer',
    "  --flatten     apply an image's layers first and lint the result as one base layer",
    '  --platform P  for an index: the image to read (windows/amd64[:os.version])',
    '',
    'Exit status: 0 no errors (warnings allowed unless --strict), 1 errors found (a corrupt input is a finding),',
    '2 usage or a source that cannot be opened.',
  ].join('\n'),
  options: {
    json: { type: 'boolean' },
    strict: { type: 'boolean' },
    base: { type: 'boolean' },
    'non-base': { type: 'boolean' },
    flatten: { type: 'boolean' },
    platform: { type: 'string' },
  },
  async run(ctx) {
    if (ctx.positionals.length !== 1) {
      ctx.stderr.write(`winlayer lint: expected one source\n\n${this.help}\n`);
      return 2;
    }
    if (flagOpt(ctx, 'base') && flagOpt(ctx, 'non-base')) {
      ctx.stderr.write('winlayer lint: --base and --non-base exclude each other\n');
      return 2;
    }
    const base = flagOpt(ctx, 'base') ? true : flagOpt(ctx, 'non-base') ? false : undefined;
    const platform = stringOpt(ctx, 'platform');
    let src = await openInspectSource(ctx.positionals[0]!, {
      stdin: ctx.stdin,
      ...(platform === undefined ? {} : { platform }),
    });
    if (flagOpt(ctx, 'flatten')) src = flattenSource(src);
    const report = await lintSource(src, base === undefined ? {} : { base });
    if (flagOpt(ctx, 'json')) writeJsonLine(ctx.stdout, report);
    else ctx.stdout.write(renderReport(report));
    if (report.errors > 0) return 1;
    return flagOpt(ctx, 'strict') && report.warnings > 0 ? 1 : 0;
  },
};

function renderReport(r: LintReport): string {
  const lines: string[] = [];
  const shown = new Map<string, number>();
  const hidden = new Map<string, number>();
  for (const f of r.findings) {
    const n = shown.get(f.rule) ?? 0;
    if (n >= PER_RULE) {
      hidden.set(f.rule, (hidden.get(f.rule) ?? 0) + 1);
      continue;
    }
    shown.set(f.rule, n + 1);
    lines.push(line(f), `    hint: ${f.hint}`);
  }
  for (const [rule, n] of hidden) lines.push(`… ${n} more ${rule} finding${n > 1 ? 's' : ''} (--json lists all)`);
  const kind = r.base ? 'base layer' : 'non-base layer';
  lines.push(
    r.findings.length === 0
      ? `clean: ${r.entries} entries, ${kind}`
      : `${r.errors} error${r.errors === 1 ? '' : 's'}, ${r.warnings} warning${r.warnings === 1 ? '' : 's'} in ${r.entries} entries (${kind})`,
  );
  return `${lines.join('\n')}\n`;
}

function line(f: LintFinding): string {
  const where = [f.layer, f.entry].filter((s) => s !== undefined).join(': ');
  return `${f.severity === 'error' ? 'error  ' : 'warning'} ${f.rule}  ${where === '' ? '' : `${where}: `}${f.message}`;
}
