/**
 * `WWW-Authenticate` challenges (RFC 7235) as registries send them: `Basic realm="…"` and
 * `Bearer realm="https://auth/token",service="registry",scope="repository:app:pull"`.
 */

export interface Challenge {
  /** Lower-case scheme: `basic`, `bearer`, … */
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

/** Parses every challenge of a `WWW-Authenticate` header value (quoted strings with `\` escapes, commas inside). */
export function parseWwwAuthenticate(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const n = header.length;
  const skipWs = (): void => {
    while (i < n && (header[i] === ' ' || header[i] === '\t' || header[i] === ',')) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < n && /[!#$%&'*+.^_`|~0-9A-Za-z-]/.test(header[i]!)) i++;
    return header.slice(start, i);
  };
  while (i < n) {
    skipWs();
    const scheme = token();
    if (scheme === '') break;
    const params: Record<string, string> = {};
    for (;;) {
      while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
      const save = i;
      if (header[i] === ',') i++;
      while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
      const key = token();
      while (i < n && header[i] === ' ') i++;
      if (key === '' || header[i] !== '=') {
        i = save;
        break;
      }
      i++;
      while (i < n && header[i] === ' ') i++;
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < n) i++;
          value += header[i];
          i++;
        }
        i++;
      } else {
        value = token();
      }
      params[key.toLowerCase()] = value;
    }
    out.push({ scheme: scheme.toLowerCase(), params });
    // a following token that is a new scheme starts the next challenge
    while (i < n && header[i] !== ',' && !/[A-Za-z]/.test(header[i]!)) i++;
  }
  return out;
}
