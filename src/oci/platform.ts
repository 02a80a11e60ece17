/**
 * Platforms as users write them (`windows/amd64`, `windows/amd64:10.0.20348.2113`, `linux/arm64/v8`) and the matching
 * rule of pull: os and architecture equal, variant equal when asked, `os.version` a prefix match on dot boundaries
 * (`10.0.20348` matches `10.0.20348.2113`).
 */
import { WinlayerError } from '../errors.js';
import type { Descriptor, Platform } from './spec.js';

const PLATFORM = /^([a-z0-9]+)\/([a-z0-9_]+)(?:\/([a-z0-9]+))?(?::(\d+(?:\.\d+){0,3}))?$/;

/** Parses `OS/ARCH[/VARIANT][:OS_VERSION]`. Throws `USAGE` on anything else. */
export function parsePlatform(s: string): Platform {
  const m = PLATFORM.exec(s);
  if (m === null) {
    throw new WinlayerError('USAGE', `platform ${JSON.stringify(s)} is not OS/ARCH[/VARIANT][:OS_VERSION]`, {
      hint: 'for example windows/amd64:10.0.20348.2113',
    });
  }
  return {
    architecture: m[2]!,
    os: m[1]!,
    ...(m[4] === undefined ? {} : { 'os.version': m[4] }),
    ...(m[3] === undefined ? {} : { variant: m[3] }),
  };
}

/** `windows/amd64:10.0.20348.2113`: the inverse of `parsePlatform`. */
export function formatPlatform(p: Platform): string {
  const v = p.variant === undefined ? '' : `/${p.variant}`;
  const ver = p['os.version'] === undefined ? '' : `:${p['os.version']}`;
  return `${p.os}/${p.architecture}${v}${ver}`;
}

/** True when `have` satisfies `want` (see the module comment). */
export function platformMatches(want: Platform, have: Platform | undefined): boolean {
  if (have === undefined) return false;
  if (want.os !== have.os || want.architecture !== have.architecture) return false;
  if (want.variant !== undefined && want.variant !== have.variant) return false;
  const wv = want['os.version'];
  if (wv !== undefined) {
    const hv = have['os.version'];
    if (hv === undefined) return false;
    if (hv !== wv && !hv.startsWith(`${wv}.`)) return false;
  }
  return true;
}

/**
 * Picks the one manifest of an index that matches `want`. Among several matches, the highest `os.version` wins
 * (newest patch of that build). Throws `OCI_PLATFORM` naming what the index holds when nothing matches.
 */
export function selectManifest(manifests: readonly Descriptor[], want: Platform, what: string): Descriptor {
  const hits = manifests.filter((m) => platformMatches(want, m.platform));
  if (hits.length === 0) {
    const have = manifests.map((m) => (m.platform === undefined ? '(no platform)' : formatPlatform(m.platform)));
    throw new WinlayerError('OCI_PLATFORM', `${what} has no image for ${formatPlatform(want)}`, {
      hint: `it holds: ${have.join(', ') || 'nothing'}`,
    });
  }
  return hits.reduce((best, m) =>
    compareVersions(m.platform?.['os.version'], best.platform?.['os.version']) > 0 ? m : best,
  );
}

function compareVersions(a: string | undefined, b: string | undefined): number {
  const pa = (a ?? '').split('.').map(Number);
  const pb = (b ?? '').split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? -1) - (pb[i] ?? -1);
    if (d !== 0) return d;
  }
  return 0;
}
