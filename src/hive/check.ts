/**
 * The strict checker: the structural pass of `openHive`, collecting every finding (regf.md §7) instead of stopping.
 */
import { scanHive } from './scan.js';
import type { HiveCheckResult, HiveFinding } from './types.js';

/**
 * Checks a hive against every rule of regf.md §7. Never throws: a corrupt or truncated file gives findings. A hive is
 * fit for a layer when `errors` is empty; a dirty hive gives the `DIRTY` error.
 */
export function checkHive(bytes: Uint8Array): HiveCheckResult {
  const errors: HiveFinding[] = [];
  const warnings: HiveFinding[] = [];
  let dirty = false;
  const add =
    (list: HiveFinding[], severity: 'error' | 'warning') =>
    (code: string, message: string, where?: { offset?: number; keyPath?: string }) => {
      if (code === 'DIRTY') dirty = true;
      if (list.length >= 1000) return; // bounded output for hostile input
      list.push({
        code,
        severity,
        ...(where?.offset === undefined ? {} : { offset: where.offset }),
        ...(where?.keyPath === undefined ? {} : { keyPath: where.keyPath }),
        message,
      });
    };
  try {
    scanHive(bytes, { error: add(errors, 'error'), warning: add(warnings, 'warning') });
  } catch (e) {
    errors.push({
      code: 'UNREADABLE',
      severity: 'error',
      message: `the checker could not finish (a bug in winlayer, please report it): ${(e as Error).message}`,
    });
  }
  return { errors, warnings, dirty };
}
