#!/usr/bin/env node
/**
 * The CLI: route, parse, print help, map errors to exit codes. Commands live in `commands/<name>.ts` (see
 * `command.ts` for their shape) and are loaded lazily so that `winlayer --version` starts fast. Every exit status is
 * decided here: `reportError` for failures, the command's `status(result)` for "different" and "findings".
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { isWinlayerError, WinlayerError } from '../errors.js';
import { escapeControls, escapeMessage } from '../terminal-text.js';
import { type Command, type CommandIO, openSession } from './command.js';
import { Args, parseConfig, renderOptions } from './options.js';

interface Route {
  /** One line for `winlayer --help` (kept here so help does not load every command). */
  readonly summary: string;
  readonly load: () => Promise<{ command: Command }>;
}

/** The routing table. One line per command, sorted by name; `group sub` for subcommands. */
const COMMANDS: Record<string, Route> = {
  diff: {
    summary: 'compare two layers or images semantically (exit 0 equal, 1 different)',
    load: () => import('./commands/diff.js'),
  },
  export: {
    summary: 'write a layer folder as a Windows layer tar (plain, gzip, zstd) and print its digests',
    load: () => import('./commands/export.js'),
  },
  'hive apply': {
    summary: "apply differencing hives (a layer's Hives/*_Delta) to a registry hive, writing a new hive",
    load: () => import('./commands/hive-apply.js'),
  },
  'hive check': {
    summary: 'check a registry hive against every rule Windows applies (exit 1 on errors)',
    load: () => import('./commands/hive-check.js'),
  },
  'hive delta': {
    summary: "write the changes of .reg files as a differencing hive (a layer's Hives/*_Delta)",
    load: () => import('./commands/hive-delta.js'),
  },
  'hive dump': {
    summary: 'print every key and value of a registry hive (text, NDJSON or .reg)',
    load: () => import('./commands/hive-dump.js'),
  },
  'hive merge': {
    summary: 'apply a .reg file to a registry hive, rewriting it atomically',
    load: () => import('./commands/hive-merge.js'),
  },
  'hive new': {
    summary: 'write an empty registry hive, or one built from a .reg file',
    load: () => import('./commands/hive-new.js'),
  },
  'image append': {
    summary: 'add a layer from a folder or a Linux tar onto a Windows image',
    load: () => import('./commands/image-append.js'),
  },
  'image create': {
    summary: 'build a Windows image from a folder (it becomes C:\\), hives added',
    load: () => import('./commands/image-create.js'),
  },
  'image index': {
    summary: 'build an image index over images of several Windows builds (os.version)',
    load: () => import('./commands/image-index.js'),
  },
  'image platform': {
    summary: 'set os, architecture and os.version of an image',
    load: () => import('./commands/image-platform.js'),
  },
  'image squash': {
    summary: 'apply all layers of an image into one base layer',
    load: () => import('./commands/image-squash.js'),
  },
  import: {
    summary: 'import a Windows layer tar (file or stdin) into a layer folder, safely and atomically',
    load: () => import('./commands/import.js'),
  },
  lint: {
    summary: 'check a layer or image for what breaks on Windows (exit 1 on errors)',
    load: () => import('./commands/lint.js'),
  },
  login: {
    summary: 'check registry credentials and store them in the Docker config',
    load: () => import('./commands/login.js'),
  },
  ls: {
    summary: 'list the entries of a layer or image with their Windows metadata',
    load: () => import('./commands/ls.js'),
  },
  makebaselayer: {
    summary: 'add the registry hives a base layer needs to a folder; check the UtilityVM BCD',
    load: () => import('./commands/makebaselayer.js'),
  },
  pull: {
    summary: 'pull one platform of an image from a registry into an OCI layout, verified',
    load: () => import('./commands/pull.js'),
  },
  push: {
    summary: 'push an image (OCI layout, docker archive, registry) to a registry',
    load: () => import('./commands/push.js'),
  },
  'sd decode': {
    summary: 'print the SDDL of a base64 MSWINDOWS.rawsd value',
    load: () => import('./commands/sd-decode.js'),
  },
  'sd encode': {
    summary: 'print the base64 MSWINDOWS.rawsd of an SDDL string',
    load: () => import('./commands/sd-encode.js'),
  },
};

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** The command names of a group (`hive` → `hive check`, `hive dump`…), sorted; empty for a plain command. */
function groupOf(word: string): string[] {
  return Object.keys(COMMANDS)
    .filter((k) => k.startsWith(`${word} `))
    .sort();
}

/** Two columns: names and their summaries. */
function commandList(names: readonly string[]): string[] {
  const width = Math.max(...names.map((k) => k.length));
  return names.map((k) => `  ${k.padEnd(width)}  ${COMMANDS[k]!.summary}`);
}

function mainHelp(): string {
  return [
    'winlayer — create, export, import, inspect and publish Windows container layers on any OS',
    '',
    'Usage: winlayer <command> [options]',
    '       winlayer help <command>',
    '',
    'Commands:',
    ...commandList(Object.keys(COMMANDS).sort()),
    '',
    "Options: --help, --version. Run 'winlayer <command> --help' for a command.",
    'Exit status: 0 ok, 1 failure (or differences/findings for diff, lint, hive check), 2 usage error.',
  ].join('\n');
}

/** `winlayer hive --help`: the subcommands of a group. */
function groupHelp(group: string): string {
  return [
    `Usage: winlayer ${group} <command> [options]`,
    '',
    'Commands:',
    ...commandList(groupOf(group)),
    '',
    `Run 'winlayer ${group} <command> --help' for a command.`,
  ].join('\n');
}

/** The one help renderer: usage lines, what the command does, its options, its notes. */
export function commandHelp(c: Command): string {
  const lead = `winlayer ${c.name} `;
  // A usage line starting with a space continues the one before it; any other is a form of its own.
  const usage = c.usage.map((u, i) =>
    u.startsWith(' ')
      ? `${' '.repeat(7 + lead.length)}${u.trimStart()}`
      : `${i === 0 ? 'Usage: ' : '       '}${lead}${u}`,
  );
  return [
    ...usage,
    '',
    ...c.about,
    ...(c.options.length === 0 ? [] : ['', 'Options:', ...renderOptions(c.options)]),
    ...(c.notes === undefined ? [] : ['', ...c.notes]),
  ].join('\n');
}

/** The command a word list names (`hive merge`, `ls`), and the words after it; undefined when none. */
function route(words: readonly string[]): { key: string; rest: string[] } | undefined {
  const two = words.length > 1 ? `${words[0]} ${words[1]}` : '';
  const key = two in COMMANDS ? two : words[0]!;
  if (!(key in COMMANDS)) return undefined;
  return { key, rest: words.slice(key.split(' ').length) };
}

/** A usage error before any command is known: `error:`, then where to look. */
function routeError(io: CommandIO, what: string, see: string): number {
  io.stderr.write(`error: ${escapeControls(what)}\nsee '${see}'\n`);
  return 2;
}

/** `winlayer help [CMD [SUB]]`, `winlayer CMD --help`, `winlayer GROUP --help`. */
async function printHelp(words: readonly string[], io: CommandIO): Promise<number> {
  if (words.length === 0 || words[0]!.startsWith('-')) {
    io.stdout.write(`${mainHelp()}\n`);
    return 0;
  }
  const r = route(words);
  if (r !== undefined) {
    const { command } = await COMMANDS[r.key]!.load();
    io.stdout.write(`${commandHelp(command)}\n`);
    return 0;
  }
  if (groupOf(words[0]!).length > 0) {
    io.stdout.write(`${groupHelp(words[0]!)}\n`);
    return 0;
  }
  return routeError(io, `unknown command '${words.join(' ')}'`, 'winlayer --help');
}

/** parseArgs' complaint in our words (its own messages name its API, not ours). */
function parseError(e: unknown): WinlayerError {
  const err = e as { code?: string; message?: string };
  const opt = /'(?:-\w, )?(-[^' ]+)/.exec(err.message ?? '')?.[1] ?? '';
  const what =
    err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
      ? `unknown option ${opt}`
      : err.code !== 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE'
        ? 'the command line is not valid'
        : /does not take/.test(err.message ?? '')
          ? `${opt} takes no value`
          : /ambiguous/.test(err.message ?? '')
            ? `the value of ${opt} starts with a dash, so it reads as an option`
            : `${opt} needs a value`;
  // `--cmd -File` (PowerShell): the value must be attached to its option.
  const hint = /ambiguous/.test(err.message ?? '') ? { hint: `write ${opt}=VALUE, e.g. ${opt}=-File` } : {};
  return new WinlayerError('USAGE', what, hint);
}

/** Runs the CLI with the given arguments; returns the exit status. */
export async function main(argv: string[], io: CommandIO): Promise<number> {
  if (argv.length === 0) {
    io.stdout.write(`${mainHelp()}\n`);
    return 2;
  }
  if (argv[0] === '--help' || argv[0] === '-h') return printHelp([], io);
  if (argv[0] === 'help') return printHelp(argv.slice(1), io);
  if (argv[0] === '--version' || argv[0] === '-V') {
    io.stdout.write(`${version()}\n`);
    return 0;
  }
  const r = route(argv);
  if (r === undefined) {
    const group = groupOf(argv[0]!);
    if (group.length === 0) return routeError(io, `unknown command '${argv[0]}'`, 'winlayer --help');
    if (argv[1] === '--help' || argv[1] === '-h') return printHelp([argv[0]!], io);
    const sub = argv[1] === undefined ? 'a command' : `a command, not '${argv[1]}'`;
    const names = group.map((g) => g.split(' ')[1]).join(', ');
    return routeError(io, `winlayer ${argv[0]} needs ${sub} (one of: ${names})`, `winlayer ${argv[0]} --help`);
  }
  const { key, rest } = r;
  const { command } = await COMMANDS[key]!.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(`${commandHelp(command)}\n`);
    return 0;
  }
  let args: Args;
  try {
    const parsed = parseArgs({
      args: rest,
      options: parseConfig(command.options),
      allowPositionals: true,
      strict: true,
    });
    args = new Args(
      parsed.values as Record<string, string | boolean | (string | boolean)[] | undefined>,
      parsed.positionals,
    );
  } catch (e) {
    return reportError(command, parseError(e), io);
  }
  const session = openSession(io, args.flag('quiet'));
  try {
    return await command.execute(args, session);
  } catch (e) {
    session.endProgress();
    return reportError(command, e, io);
  } finally {
    session.close();
  }
}

/**
 * The one place that turns an error into a message and an exit status. A usage error prints `error: <what>`, the
 * command's one-line usage and where its help is (exit 2); any other coded error prints its message and exits with
 * its catalogue status, or 2 for a command whose input trouble is a usage matter (`troubleIsUsage`: diff, hive
 * check). Messages quote names from archives and hives, which an attacker chooses: their control characters are
 * escaped (`\x1b`, `\r`…), so none reaches the terminal.
 */
export function reportError(
  command: Pick<Command, 'name' | 'usage' | 'troubleIsUsage'>,
  e: unknown,
  io: CommandIO,
): number {
  if (isWinlayerError(e) && e.code === 'USAGE') {
    const text = escapeMessage(e.message, e.hint).replace(/ \(USAGE\)(?=\n|$)/, '');
    io.stderr.write(
      `error: ${text}\nusage: winlayer ${command.name} ${command.usage[0] ?? ''}\n` +
        `see 'winlayer ${command.name} --help'\n`,
    );
    return 2;
  }
  if (e instanceof WinlayerError) {
    io.stderr.write(`winlayer ${command.name}: ${escapeMessage(e.message, e.hint)}\n`);
    return command.troubleIsUsage === true && e.code !== 'INTERNAL' ? 2 : e.exitCode;
  }
  const err = e as Error;
  const text = (err?.stack ?? String(e)).split('\n').map(escapeControls).join('\n');
  io.stderr.write(
    `winlayer ${command.name}: internal error: ${text}\n` +
      'This is a bug in winlayer: please report it with the command you ran.\n',
  );
  return 1;
}

/** Runs the CLI as a process: real streams, exit status, and a quiet end when a reader closes the pipe early. */
export function runProcess(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      // `winlayer ls … | head`: the reader is gone; that is not a failure of ours.
      if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw e;
    });
  }
  main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
  })
    .then((code) => {
      process.exitCode = code;
    })
    .catch((e) => {
      process.stderr.write(`winlayer: ${String(e)}\n`);
      process.exitCode = 1;
    });
}

const isEntry = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isEntry) runProcess();
