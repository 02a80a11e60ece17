/**
 * The shapes of the JSON documents images are made of (OCI descriptor, platform, manifest, index, config; the
 * `oci-layout` file; a docker archive's `manifest.json`) and one checker for them. Every reader checks a document
 * here before it uses a field, so a malformed image ends in `INVALID_IMAGE` naming the document and the field
 * (`manifests[0].platform: is null, not an object`), never in a TypeError deep inside a command.
 *
 * Only the fields winlayer reads are described; unknown fields are allowed (the specs say to ignore them). `null`
 * is refused wherever the spec says "array" or "object", except in the fields where Docker's Go code writes `null`
 * for an absent value (a container config's lists and maps, `RepoTags`): those read as absent.
 */
import { WinlayerError } from '../errors.js';
import { isDigest } from './digest.js';

/** What a JSON value must be. Built with the helpers below, checked with `validate`. */
export type Schema =
  | { readonly kind: 'string' }
  | { readonly kind: 'boolean' }
  | { readonly kind: 'size' }
  | { readonly kind: 'digest' }
  | { readonly kind: 'literal'; readonly value: string | number }
  | { readonly kind: 'array'; readonly of: Schema; readonly nonEmpty: boolean }
  | { readonly kind: 'map' }
  | { readonly kind: 'object'; readonly fields: Readonly<Record<string, Field>> }
  | { readonly kind: 'nullable'; readonly of: Schema };

/** One field of an object schema. */
export interface Field {
  readonly schema: Schema;
  readonly required: boolean;
}

const str: Schema = { kind: 'string' };
const bool: Schema = { kind: 'boolean' };
/** A byte count: a non-negative safe integer. */
const size: Schema = { kind: 'size' };
/** `sha256:<64 hex>` or `sha512:<128 hex>`. */
const digest: Schema = { kind: 'digest' };
/** An object of string values (annotations, labels). */
const stringMap: Schema = { kind: 'map' };

function literal(value: string | number): Schema {
  return { kind: 'literal', value };
}
function arrayOf(of: Schema, nonEmpty = false): Schema {
  return { kind: 'array', of, nonEmpty };
}
export function object(fields: Record<string, Field>): Schema {
  return { kind: 'object', fields };
}
/** `null` reads as absent (Go's encoding of a nil slice or map). */
function nullable(of: Schema): Schema {
  return { kind: 'nullable', of };
}
function req(schema: Schema): Field {
  return { schema, required: true };
}
function opt(schema: Schema): Field {
  return { schema, required: false };
}

/** Where a document was read from: the file (or registry reference) and, inside an archive, the member. */
export interface DocumentName {
  readonly path: string;
  readonly entry?: string;
}

/** Checks `value` against `schema`. Throws `INVALID_IMAGE` naming `doc` and the path of the first bad field. */
export function validate<T>(value: unknown, schema: Schema, doc: DocumentName | string): T {
  const problem = check(value, schema, '');
  if (problem !== undefined) {
    const [field, rule] = problem;
    throw invalidImage(field === '' ? rule : `${field}: ${rule}`, doc);
  }
  return value as T;
}

/** The `INVALID_IMAGE` error for `doc` (for rules a schema cannot say, e.g. "lists no image"). */
export function invalidImage(rule: string, doc: DocumentName | string, hint?: string): WinlayerError {
  const d = typeof doc === 'string' ? { path: doc } : doc;
  return new WinlayerError('INVALID_IMAGE', rule, { ...d, ...(hint === undefined ? {} : { hint }) });
}

/** Parses JSON bytes and checks them against `schema`. Throws `INVALID_IMAGE`. */
export function parseDocument<T>(bytes: Uint8Array | string, schema: Schema, doc: DocumentName | string): T {
  let v: unknown;
  try {
    v = JSON.parse(typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8'));
  } catch (e) {
    throw invalidImage(`not valid JSON (${(e as Error).message})`, doc);
  }
  return validate<T>(v, schema, doc);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fieldPath(parent: string, key: string): string {
  if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)) return parent === '' ? key : `${parent}.${key}`;
  return `${parent}[${JSON.stringify(key)}]`;
}

/** The first problem as [field path, rule], or undefined. */
function check(v: unknown, s: Schema, at: string): [string, string] | undefined {
  const bad = (want: string): [string, string] => [at, `is ${describe(v)}, not ${want}`];
  switch (s.kind) {
    case 'string':
      return typeof v === 'string' ? undefined : bad('a string');
    case 'boolean':
      return typeof v === 'boolean' ? undefined : bad('true or false');
    case 'size':
      return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? undefined : bad('a byte count');
    case 'digest':
      return typeof v === 'string' && isDigest(v) ? undefined : bad('a digest (sha256:<64 hex>)');
    case 'literal':
      return v === s.value ? undefined : bad(JSON.stringify(s.value));
    case 'nullable':
      return v === null ? undefined : check(v, s.of, at);
    case 'map': {
      if (!isPlainObject(v)) return bad('an object of strings');
      for (const [k, x] of Object.entries(v)) {
        if (typeof x !== 'string') return [fieldPath(at, k), `is ${describe(x)}, not a string`];
      }
      return undefined;
    }
    case 'array': {
      if (!Array.isArray(v)) return bad('an array');
      if (s.nonEmpty && v.length === 0) return [at, 'is empty'];
      for (const [i, x] of v.entries()) {
        const p = check(x, s.of, `${at}[${i}]`);
        if (p !== undefined) return p;
      }
      return undefined;
    }
    case 'object': {
      if (!isPlainObject(v)) return bad('an object');
      for (const [k, f] of Object.entries(s.fields)) {
        const x = v[k];
        if (x === undefined) {
          if (f.required) return [fieldPath(at, k), 'is missing'];
          continue;
        }
        const p = check(x, f.schema, fieldPath(at, k));
        if (p !== undefined) return p;
      }
      return undefined;
    }
  }
}

// ── the documents ──────────────────────────────────────────────────────────────────────────────────────────────────

/** Where an image runs: a descriptor's `platform` and the top of a config say it with the same fields. */
const PLATFORM_FIELDS = {
  architecture: req(str),
  os: req(str),
  'os.version': opt(str),
  'os.features': opt(arrayOf(str)),
  variant: opt(str),
};

const PLATFORM: Schema = object({ ...PLATFORM_FIELDS, features: opt(arrayOf(str)) });

const DESCRIPTOR: Schema = object({
  mediaType: req(str),
  digest: req(digest),
  size: req(size),
  urls: opt(arrayOf(str)),
  annotations: opt(stringMap),
  platform: opt(PLATFORM),
  artifactType: opt(str),
});

export const MANIFEST: Schema = object({
  schemaVersion: req(literal(2)),
  mediaType: opt(str),
  config: req(DESCRIPTOR),
  layers: req(arrayOf(DESCRIPTOR)),
  annotations: opt(stringMap),
  subject: opt(DESCRIPTOR),
});

export const INDEX: Schema = object({
  schemaVersion: req(literal(2)),
  mediaType: opt(str),
  manifests: req(arrayOf(DESCRIPTOR)),
  annotations: opt(stringMap),
  subject: opt(DESCRIPTOR),
});

/** The runtime part of a config. Docker writes `null` for the lists and maps it leaves empty. */
const CONTAINER_CONFIG: Schema = object({
  User: opt(str),
  Env: opt(nullable(arrayOf(str))),
  Entrypoint: opt(nullable(arrayOf(str))),
  Cmd: opt(nullable(arrayOf(str))),
  WorkingDir: opt(str),
  Labels: opt(nullable(stringMap)),
});

export const CONFIG: Schema = object({
  ...PLATFORM_FIELDS,
  created: opt(str),
  config: opt(CONTAINER_CONFIG),
  rootfs: req(object({ type: req(literal('layers')), diff_ids: req(arrayOf(digest)) })),
  history: opt(
    arrayOf(
      object({ created: opt(str), created_by: opt(str), comment: opt(str), author: opt(str), empty_layer: opt(bool) }),
    ),
  ),
});

/** `oci-layout`. */
export const OCI_LAYOUT: Schema = object({ imageLayoutVersion: req(str) });

/** A docker archive's `manifest.json`: `[{Config, RepoTags, Layers}]`, at least one image. */
export const DOCKER_MANIFEST: Schema = arrayOf(
  object({ Config: req(str), RepoTags: opt(nullable(arrayOf(str))), Layers: req(arrayOf(str)) }),
  true,
);
