/**
 * The registry group of the CLI (`--insecure`, `--ca-file`) and the registries a command opens. Apart from
 * `command.ts` so that only the commands that reach a registry load the OCI code: every command's start-up pays for
 * what `main` and `command.ts` import.
 */
import { dockerCredentials, parseReference, Registries } from '../oci/index.js';
import type { Session } from './command.js';
import type { Args } from './options.js';

/** The registry group's flags (`--insecure`, `--ca-file`), parsed. */
export interface RegistryFlags {
  readonly insecure: boolean;
  readonly caFiles: readonly string[];
}

/** The registry flags of the parsed command line. */
export function registryFlags(args: Args): RegistryFlags {
  return { insecure: args.flag('insecure'), caFiles: args.strings('ca-file') };
}

/**
 * The registry the first `docker://REF` among `names` names, by the reference parser (so `[::1]:5000` hosts and the
 * Docker Hub default read as everywhere else); undefined when none is a registry name. `--insecure` applies to it.
 */
export function registryNamed(...names: readonly (string | undefined)[]): string | undefined {
  for (const n of names) {
    if (n?.startsWith('docker://')) return parseReference(n.slice('docker://'.length)).registry;
  }
  return undefined;
}

/**
 * The registry access of a command: `--insecure` applies to `named` only (the registry the command names first),
 * credentials come from the Docker config of the command's environment, transfers draw the session's progress line,
 * and the session closes the connections when the command ends.
 */
export function openRegistries(session: Session, access: RegistryFlags, named: string | undefined): Registries {
  const onProgress = session.transferProgress();
  const r = new Registries({
    ...(access.insecure && named !== undefined ? { insecureRegistry: named } : {}),
    caFiles: access.caFiles,
    credentials: dockerCredentials(session.io.env),
    ...(onProgress === undefined ? {} : { onProgress }),
  });
  session.onClose(() => r.close());
  return r;
}
