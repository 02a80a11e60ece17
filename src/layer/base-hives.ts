/**
 * The base-layer hive rule, in one place: a base layer holds the five registry hives under
 * `Files/Windows/System32/config/`, found the way Windows finds them (case-insensitively). `lint` reports a missing
 * one as `base-hive-missing`; `export` refuses to write a base layer that lacks one. Both ask {@link missingBaseHives}.
 */
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { WinlayerError } from '../errors.js';
import { equalUpcase } from '../windows/index.js';

/** The hives a base layer must hold, in the order they are created. */
export const BASE_LAYER_HIVES = ['DEFAULT', 'SAM', 'SECURITY', 'SOFTWARE', 'SYSTEM'] as const;
/** Where they live, as a layer path. */
export const HIVE_CONFIG_DIR = 'Files/Windows/System32/config';
/** The five hives as layer paths (`Files/Windows/System32/config/DEFAULT`, …). */
export const BASE_HIVE_PATHS: readonly string[] = BASE_LAYER_HIVES.map((h) => `${HIVE_CONFIG_DIR}/${h}`);

/**
 * The hives of {@link BASE_HIVE_PATHS} a base layer lacks, in that order. `has` answers for one layer path whether the
 * layer holds an entry there, comparing names as Windows does (case-insensitively). Whether the hive is valid is
 * another rule (`base-hive-invalid`).
 */
export function missingBaseHives(has: (layerPath: string) => boolean): string[] {
  return BASE_HIVE_PATHS.filter((p) => !has(p));
}

/**
 * True when the layer folder `layerDir` holds something at the layer path `layerPath`, each step found as Windows
 * finds it (the exact name, else one equal by case) and every folder on the way a real folder (a symlink is exported
 * as a link, so nothing below it is in the layer).
 */
function layerFolderHas(layerDir: string, layerPath: string): boolean {
  let host = layerDir;
  const parts = layerPath.split('/');
  for (let i = 0; i < parts.length; i++) {
    let names: string[];
    try {
      names = readdirSync(host);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return false;
      throw new WinlayerError('IO', `cannot read: ${(e as Error).message}`, { path: host, cause: e });
    }
    const want = parts[i]!;
    // `Files` itself is matched exactly: hcsshim does, and so does the walk.
    const name = names.includes(want) ? want : i === 0 ? undefined : names.find((n) => equalUpcase(n, want));
    if (name === undefined) return false;
    host = join(host, name);
    if (i < parts.length - 1 && !lstatSync(host).isDirectory()) return false;
  }
  return true;
}

/**
 * Refuses a base layer folder without its five hives (`LAYER_HIVE`, naming the missing ones), the error `lint` would
 * report on the tar: Windows cannot start a container from it.
 */
export function requireBaseHives(layerDir: string): void {
  const missing = missingBaseHives((p) => layerFolderHas(layerDir, p));
  if (missing.length === 0) return;
  const names = missing.map((p) => p.slice(HIVE_CONFIG_DIR.length + 1));
  const which = missing.length === BASE_HIVE_PATHS.length ? 'it has none' : `it lacks ${names.join(', ')}`;
  throw new WinlayerError(
    'LAYER_HIVE',
    `a base layer needs the registry hives ${HIVE_CONFIG_DIR}/{${BASE_LAYER_HIVES.join(',')}}: ${which}`,
    {
      path: layerDir,
      hint: `run \`winlayer makebaselayer ${layerDir}\` (it writes valid empty hives), or pass --non-base if the layer goes on top of a parent`,
    },
  );
}
