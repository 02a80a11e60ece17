/**
 * The strict checker: the structural pass of `openHive`, collecting every finding instead of stopping.
 * Each finding's severity comes from the catalogue (`findings.ts`, `docs/hive-findings.md`).
 */
import { type FindingCode, makeFinding } from './findings.js';
import { scanHive } from './scan.js';
import type { HiveCheckResult, HiveFinding } from './types.js';

/**
 * Checks a hive against every rule Windows applies (`docs/hive-findings.md`). Never throws: a corrupt or truncated file
 * gives findings. A hive is fit for a layer when `errors` is empty; a dirty hive gives the `DIRTY` error.
 */
export function checkHive(bytes: Uint8Array): HiveCheckResult {
  const errors: HiveFinding[] = [];
  const warnings: HiveFinding[] = [];
  let dirty = false;
  const report = (code: FindingCode, message: string, where?: { offset?: number; keyPath?: string }): void => {
    if (code === 'DIRTY') dirty = true;
    const finding = makeFinding(code, message, where);
    const list = finding.severity === 'error' ? errors : warnings;
    if (list.length < 1000) list.push(finding); // bounded output for hostile input
  };
  try {
    scanHive(bytes, { report });
  } catch (e) {
    report('UNREADABLE', `the checker could not finish (a bug in winlayer, please report it): ${(e as Error).message}`);
  }
  return { errors, warnings, dirty };
}
