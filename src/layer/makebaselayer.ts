/**
 * makebaselayer: turns a folder holding `Files/` (and optionally `UtilityVM/Files/`) into a base layer that Windows
 * accepts — hcsshim's `ConvertToBaseLayer` without the Windows-only post-processing (`ProcessBaseImage`), which the
 * Windows host runs itself when it imports the layer.
 *
 * It creates `Files/Windows/System32/config/` and the five empty hives with our offreg-equivalent writer, keeps clean
 * existing hives, replaces zero-byte ones (Windows Server 2025 rejects them), and checks the UtilityVM boot store.
 * Everything is checked before anything is written; each hive is written atomically.
 */
import { lstatSync, mkdirSync, readdirSync, readFileSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic.js';
import { WinlayerError } from '../errors.js';
import {
  checkHive,
  child,
  createEmptyHive,
  type HiveFinding,
  isDifferencingHive,
  openHive,
  root,
} from '../hive/index.js';
import { NOT_A_BASE_HIVE } from '../internal/hive.js';
import { escapeControls } from '../terminal-text.js';
import { compareUtf8, equalUpcase } from '../windows/index.js';
import { BASE_LAYER_HIVES, HIVE_CONFIG_DIR } from './base-hives.js';
import { readSidecar, type Sidecar } from './sidecar.js';
import { requireLayerFolder } from './walk.js';

/** The UtilityVM boot store, as a layer path. */
export const UVM_BCD_PATH = 'UtilityVM/Files/EFI/Microsoft/Boot/BCD';
/** hcsshim's message when a UtilityVM has no BCD; ours says the same. */
export const MISSING_BCD_MESSAGE = 'UtilityVM must contain Files/EFI/Microsoft/Boot/BCD';

/** Options of {@link makeBaseLayer}. */
export interface MakeBaseLayerOptions {
  /** Replace an existing hive that is corrupt or dirty instead of failing. Default false. */
  readonly replaceHives?: boolean;
}

/** What happened to one hive. */
export interface HiveAction {
  /** `DEFAULT`, `SAM`, … (the name on disk when one existed in another case). */
  readonly name: string;
  /** Layer path, e.g. `Files/Windows/System32/config/SAM`. */
  readonly path: string;
  readonly action: 'created' | 'kept' | 'replaced';
  /** Why a hive was replaced: `zero-byte file` or the first defect found. */
  readonly reason?: string;
}

/** The UtilityVM verdict: absent, or present with a BCD that checked clean. */
export type UtilityVmVerdict =
  | { readonly present: false }
  | { readonly present: true; readonly bcd: string; readonly warnings: number };

/** What {@link makeBaseLayer} did. */
export interface MakeBaseLayerResult {
  readonly layerDir: string;
  /** Folders created, as layer paths, parents first. */
  readonly createdDirs: string[];
  readonly hives: HiveAction[];
  readonly utilityVm: UtilityVmVerdict;
}

/**
 * Makes `layerDir` a base layer (see the module comment). Resolves with what was created, kept and replaced.
 *
 * Throws `NOT_FOUND` when `layerDir` does not exist, `SOURCE_UNREADABLE` when it is a file; `LAYER_INVALID` when it
 * has content but no `Files/` (a plain folder: `image create` is for that), when its sidecar says it is a non-base
 * layer, or holds whiteouts or `Hives/` (a base layer has neither), or when a path that must be a folder is not;
 * `LAYER_HIVE` naming the file and its first defect for a corrupt, dirty or differencing hive (a layer's
 * `Hives/*_Delta`, not a registry) unless `replaceHives`, or for a hive path that is not a regular file; `LAYER_BCD`
 * when `UtilityVM/Files` exists without a clean BCD store (`MISSING_BCD_MESSAGE`, or the defect found); `IO` on a write
 * failure. Nothing is written when a check fails.
 */
export async function makeBaseLayer(layerDir: string, opts: MakeBaseLayerOptions = {}): Promise<MakeBaseLayerResult> {
  requireLayerFolder(layerDir);
  checkFilesFolder(layerDir);
  checkSidecar(layerDir);
  const utilityVm = checkUtilityVm(layerDir);

  // Plan: which folders to create, what to do with each hive. No writes yet.
  const missingDirs: string[] = [];
  let dirMissing = false;
  const parts = HIVE_CONFIG_DIR.split('/');
  for (let i = 1; i <= parts.length; i++) {
    const p = parts.slice(0, i).join('/');
    const st = dirMissing ? undefined : statOrUndefined(host(layerDir, p));
    if (st === undefined) {
      dirMissing = true;
      missingDirs.push(p);
    } else if (!st.isDirectory()) {
      throw new WinlayerError('LAYER_INVALID', 'must be a folder', {
        path: host(layerDir, p),
        hint: 'a base layer keeps its registry hives in Files/Windows/System32/config/',
      });
    }
  }
  const existing = dirMissing ? [] : readdirSync(host(layerDir, HIVE_CONFIG_DIR));
  const plan = BASE_LAYER_HIVES.map((name) => planHive(layerDir, name, existing, opts.replaceHives === true));

  // Write.
  for (const d of missingDirs) {
    try {
      mkdirSync(host(layerDir, d));
    } catch (e) {
      throw new WinlayerError('IO', `cannot create the folder: ${(e as Error).message}`, {
        path: host(layerDir, d),
        cause: e,
      });
    }
  }
  for (const h of plan) {
    if (h.action === 'kept') continue;
    writeFileAtomic(host(layerDir, h.path), createEmptyHive());
  }
  return { layerDir, createdDirs: missingDirs, hives: plan, utilityVm };
}

function host(layerDir: string, layerPath: string): string {
  return join(layerDir, ...layerPath.split('/'));
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') {
      return undefined;
    }
    throw new WinlayerError('IO', `cannot read: ${(e as Error).message}`, { path, cause: e });
  }
}

/**
 * A folder with content but no `Files/` is a root file system, not a layer folder: makebaselayer would put the hives
 * in a new `Files/` beside that content, which the layer would not hold (export refuses it). An empty folder is a new
 * layer.
 */
function checkFilesFolder(layerDir: string): void {
  if (statOrUndefined(host(layerDir, 'Files')) !== undefined) return;
  const content = readdirSync(layerDir).sort(compareUtf8);
  if (content.length === 0) return;
  throw new WinlayerError('LAYER_INVALID', 'has no Files/ folder, so it is not a layer folder', {
    path: layerDir,
    hint: `to build an image from a plain folder, use \`winlayer image create ${layerDir} -o IMAGE\`; to make a layer folder, move its content (${content.length} ${content.length === 1 ? 'entry' : 'entries'}, e.g. ${escapeControls(content[0]!)}) into ${layerDir}/Files/ and run makebaselayer again`,
  });
}

function checkSidecar(layerDir: string): void {
  const sidecar = readSidecar(layerDir);
  if (sidecar === undefined) return;
  const refuse = (why: string, entry?: string) =>
    new WinlayerError('LAYER_INVALID', `not a base layer: ${why}`, {
      path: sidecar.dir,
      ...(entry === undefined ? {} : { entry }),
      hint: 'makebaselayer works on a base layer folder (Files/ and optionally UtilityVM/Files/); this one was imported as a layer with parents',
    });
  try {
    checkBaseRecords(sidecar, refuse);
  } finally {
    sidecar.close(); // releases the record file and, for a large layer, the index's temporary folder
  }
}

function checkBaseRecords(sidecar: Sidecar, refuse: (why: string, entry?: string) => WinlayerError): void {
  if (sidecar.manifest.kind !== 'base') throw refuse('its .winlayer manifest says "non-base"');
  for (const group of sidecar.detached.values()) {
    const r = group.find((g) => g.kind !== 'symlink'); // symlinks are fine in a base layer
    if (r === undefined) continue;
    throw refuse(
      r.kind === 'whiteout'
        ? 'it holds whiteouts, which only a layer with parents can have'
        : 'it links into a parent layer',
      r.path,
    );
  }
  for (const p of sidecar.paths()) {
    if (p === 'Hives' || p.startsWith('Hives/'))
      throw refuse('it holds Hives/ (registry deltas of a layer with parents)', p);
  }
}

function firstDefect(findings: readonly HiveFinding[], dirty: boolean): string {
  const f = findings[0];
  if (f !== undefined) return `${f.message}${f.offset === undefined ? '' : ` (at 0x${f.offset.toString(16)})`}`;
  return dirty
    ? 'the hive is dirty: it needs transaction logs (.LOG1/.LOG2) that a layer does not carry'
    : 'unknown defect';
}

function planHive(layerDir: string, name: string, existing: readonly string[], replace: boolean): HiveAction {
  const onDisk = existing.find((n) => n === name) ?? existing.find((n) => equalUpcase(n, name));
  const path = `${HIVE_CONFIG_DIR}/${onDisk ?? name}`;
  const file = host(layerDir, path);
  if (onDisk === undefined) return { name, path, action: 'created' };
  const st = statOrUndefined(file);
  if (st === undefined) return { name, path, action: 'created' };
  if (!st.isFile()) {
    throw new WinlayerError('LAYER_HIVE', 'a registry hive must be a regular file', {
      path: file,
      hint: 'remove it; makebaselayer then creates an empty hive',
    });
  }
  if (st.size === 0) {
    return {
      name: onDisk,
      path,
      action: 'replaced',
      reason: 'zero-byte file (older tools wrote these; Windows Server 2025 rejects them)',
    };
  }
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new WinlayerError('IO', `cannot read: ${(e as Error).message}`, { path: file, cause: e });
  }
  if (isDifferencingHive(bytes)) {
    // a layer's registry changes (Hives/*_Delta), not a registry: as a base hive every key it does not change is lost
    if (replace) return { name: onDisk, path, action: 'replaced', reason: NOT_A_BASE_HIVE };
    throw new WinlayerError('LAYER_HIVE', `the hive is ${NOT_A_BASE_HIVE}`, {
      path: file,
      hint: 'put the base registry hive here, or pass --replace-hives to replace it with an empty hive',
    });
  }
  const result = checkHive(bytes);
  if (result.errors.length === 0 && !result.dirty) return { name: onDisk, path, action: 'kept' };
  const defect = firstDefect(result.errors, result.dirty);
  if (replace) return { name: onDisk, path, action: 'replaced', reason: defect };
  throw new WinlayerError('LAYER_HIVE', `the hive is ${result.dirty ? 'dirty' : 'corrupt'}: ${defect}`, {
    path: file,
    hint: 'pass --replace-hives to replace it with an empty hive (its keys are lost), or repair it on Windows',
  });
}

function checkUtilityVm(layerDir: string): UtilityVmVerdict {
  const uvm = statOrUndefined(host(layerDir, 'UtilityVM'));
  const uvmFiles = statOrUndefined(host(layerDir, 'UtilityVM/Files'));
  if (uvmFiles === undefined) return { present: false };
  if (uvm?.isSymbolicLink() === true || !uvmFiles.isDirectory()) {
    throw new WinlayerError('LAYER_INVALID', 'UtilityVM and UtilityVM/Files must be folders, not links or files', {
      path: host(layerDir, 'UtilityVM/Files'),
    });
  }
  const bcdFile = host(layerDir, UVM_BCD_PATH);
  const st = statOrUndefined(bcdFile);
  if (st === undefined || !st.isFile()) {
    // hcsshim's words, which name the file inside the layer folder.
    throw new WinlayerError('LAYER_BCD', MISSING_BCD_MESSAGE, {
      path: layerDir,
      hint: 'copy the BCD store of the Windows image into UtilityVM/Files/EFI/Microsoft/Boot/, or remove UtilityVM/ for a process-isolation-only base layer',
    });
  }
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(bcdFile);
  } catch (e) {
    throw new WinlayerError('IO', `cannot read: ${(e as Error).message}`, { path: bcdFile, cause: e });
  }
  const bad = (why: string) =>
    new WinlayerError('LAYER_BCD', `${MISSING_BCD_MESSAGE} as a valid BCD store: ${why}`, {
      path: layerDir,
      hint: 'use the BCD store of the Windows image the UtilityVM comes from',
    });
  const result = checkHive(bytes);
  if (result.errors.length > 0 || result.dirty) {
    throw bad(
      `the registry hive is ${result.dirty ? 'dirty' : 'corrupt'}: ${firstDefect(result.errors, result.dirty)}`,
    );
  }
  const hive = openHive(bytes, { path: bcdFile });
  const rootKey = root(hive);
  for (const key of ['Description', 'Objects']) {
    if (child(rootKey, key) === undefined) throw bad(`the hive has no ${key} key, so it is not a BCD store`);
  }
  return { present: true, bcd: UVM_BCD_PATH, warnings: result.warnings.length };
}
