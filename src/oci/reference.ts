/**
 * Registry references (`registry.example.com:5000/team/app:tag`, `app@sha256:…`), normalised as Docker does: no
 * registry part → `docker.io`, a one-component Docker Hub name → `library/NAME`, no tag and no digest → `latest`.
 */
import { WinlayerError } from '../errors.js';
import { isDigest } from './digest.js';

/** A parsed, normalised registry reference. */
export interface Reference {
  /** The registry host as written (`localhost:5000`, `docker.io`). */
  readonly registry: string;
  /** The repository path (`team/app`, `library/nginx`). */
  readonly repository: string;
  /** The tag, when the reference names one (`latest` when it names neither a tag nor a digest). */
  readonly tag?: string;
  /** The digest, when the reference pins one (it wins over the tag for fetching). */
  readonly digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9a-fA-F:]+\])(?::\d+)?$/;

/** Parses a reference. Throws `OCI_REF` with the rule broken. */
export function parseReference(s: string): Reference {
  const bad = (rule: string): never => {
    throw new WinlayerError('OCI_REF', `${JSON.stringify(s)}: ${rule}`, {
      hint: 'write REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST], e.g. localhost:5000/app:1.0',
    });
  };
  if (s.length === 0 || s.length > 4096) bad('empty or too long');
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) bad(`digest ${digest} is not sha256:<64 hex>`);
  }
  let tag: string | undefined;
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) bad(`tag ${JSON.stringify(tag)} is not valid`);
  }
  const parts = rest.split('/');
  let registry = 'docker.io';
  const first = parts[0] ?? '';
  if (
    parts.length > 1 &&
    (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('['))
  ) {
    registry = first;
    parts.shift();
    if (!HOST.test(registry)) bad(`registry ${registry} is not a host[:port]`);
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = 'docker.io';
  if (registry === 'docker.io' && parts.length === 1) parts.unshift('library');
  for (const p of parts) if (!COMPONENT.test(p)) bad(`repository component ${JSON.stringify(p)} is not valid`);
  const repository = parts.join('/');
  if (repository.length === 0 || repository.length > 255) bad('repository is empty or too long');
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { registry, repository, ...(tag === undefined ? {} : { tag }), ...(digest === undefined ? {} : { digest }) };
}

/** The full reference string (`registry/repo:tag@digest`). */
export function formatReference(r: Reference): string {
  return `${r.registry}/${r.repository}${r.tag === undefined ? '' : `:${r.tag}`}${r.digest === undefined ? '' : `@${r.digest}`}`;
}

/** `registry/repo:tag` or `registry/repo@sha256:…`: how messages name what a request asked for (a tag or a digest). */
export function formatTarget(registry: string, repository: string, target: string): string {
  return `${registry}/${repository}${isDigest(target) ? '@' : ':'}${target}`;
}

/** What to ask the registry for: the digest when pinned, else the tag. */
export function referenceTarget(r: Reference): string {
  return r.digest ?? r.tag ?? 'latest';
}

/** The host that serves the registry API (`docker.io` → `registry-1.docker.io`). */
export function apiHost(registry: string): string {
  return registry === 'docker.io' ? 'registry-1.docker.io' : registry;
}

/** Parses a bare registry name given to `login` (`localhost:5000`, `https://ghcr.io/`). */
export function parseRegistryName(s: string): string {
  const host = s.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  if (!HOST.test(host)) throw new WinlayerError('OCI_REF', `${JSON.stringify(s)} is not a registry host[:port]`);
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? 'docker.io' : host;
}
