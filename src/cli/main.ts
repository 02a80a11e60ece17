#!/usr/bin/env node
/**
 * The CLI: parse, route, map errors to exit codes. Commands live in `commands/<name>.ts` and are loaded lazily so
 * that `winlayer --version` starts fast.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { WinlayerError } from '../errors.js';
import { escapeControls, escapeMessage } from '../terminal-text.js';
import type { Command, CommandIO } from './command.js';

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
  'hive check': {
    summary: 'check a registry hive against every rule Windows applies (exit 1 on errors)',
    load: () => import('./commands/hive-check.js'),
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

function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  const lines = Object.keys(COMMANDS)
    .sort()
    .map((k) => `  ${k.padEnd(width)}  ${COMMANDS[k]!.summary}`);
  return [
    'winlayer — create, export, import, inspect and publish Windows container layers on any OS',
    '',
    'Usage: winlayer <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Options: --help, --version. Run `winlayer <command> --help` for a command.',
    'Exit status: 0 ok, 1 failure (or differences/findings for diff, lint, hive check), 2 usage error.',
  ].join('\n');
}

/** Runs the CLI with the given arguments; returns the exit status. */
export async function main(argv: string[], io: CommandIO): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.stdout.write(`${mainHelp()}\n`);
    return argv.length === 0 ? 2 : 0;
  }
  if (argv[0] === '--version' || argv[0] === '-V') {
    io.stdout.write(`${version()}\n`);
    return 0;
  }
  const two = argv.length > 1 ? `${argv[0]} ${argv[1]}` : '';
  const key = two in COMMANDS ? two : argv[0]!;
  const route = COMMANDS[key];
  if (route === undefined) {
    const group = Object.keys(COMMANDS).filter((k) => k.startsWith(`${argv[0]} `));
    if (group.length > 0) {
      io.stderr.write(`winlayer ${argv[0]}: expected one of: ${group.map((g) => g.split(' ')[1]).join(', ')}\n`);
    } else {
      io.stderr.write(`winlayer: unknown command '${argv[0]}'. Run 'winlayer --help' for the list.\n`);
    }
    return 2;
  }
  const rest = argv.slice(key.split(' ').length);
  const { command } = await route.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(`${command.help}\n`);
    return 0;
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: true });
  } catch (e) {
    io.stderr.write(`winlayer ${key}: ${(e as Error).message}\n\n${command.help}\n`);
    return 2;
  }
  try {
    return await command.run({
      ...io,
      values: parsed.values as Record<string, string | boolean | (string | boolean)[] | undefined>,
      positionals: parsed.positionals,
    });
  } catch (e) {
    return reportError(key, e, io);
  }
}

/**
 * The one place that turns an error into a message and an exit status. Messages quote names from archives and hives,
 * which an attacker chooses: their control characters are escaped (`\x1b`, `\r`…), so none reaches the terminal.
 */
export function reportError(command: string, e: unknown, io: CommandIO): number {
  if (e instanceof WinlayerError) {
    io.stderr.write(`winlayer ${command}: ${escapeMessage(e.message, e.hint)}\n`);
    return e.exitCode;
  }
  const err = e as Error;
  const text = (err?.stack ?? String(e)).split('\n').map(escapeControls).join('\n');
  io.stderr.write(
    `winlayer ${command}: internal error: ${text}\n` +
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
