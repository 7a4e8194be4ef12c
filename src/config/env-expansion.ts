import { type ConfigProblem, formatPath, type PathSegment } from './config-error';

/** What expanding `${VAR}` references in a parsed config tree produced. */
export interface Expansion {
  /** The tree with every string value expanded; keys untouched; tables are plain objects. */
  value: unknown;
  /** Unset variables without a default, and malformed references. */
  problems: ConfigProblem[];
  /** Paths whose string was exactly one reference (`rpm_limit: ${RPM}`): only these may become numbers/booleans. */
  whole: Set<string>;
  /** Paths whose string held references and expanded to the empty string, with the text as written. */
  emptied: Map<string, string>;
  /**
   * Every path whose string held a reference, with the text as written: a problem there shows that, never the
   * expanded value (the environment is where secrets live, and one may sit where the config expects something else).
   */
  written: Map<string, string>;
}

/** The variables a config reads; typed loosely so process.env and plain test objects both fit. */
export type Env = Record<string, string | undefined>;

const REFERENCE = /\$\{([^}]*)\}/g;
const INNER = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

/**
 * Expands `${VAR}` and `${VAR:-default}` inside string values only. Comments never reach the parsed tree and keys are
 * copied as written, so neither is ever expanded. `:-` uses the default when the variable is unset or empty, as in sh.
 */
export function expandEnv(tree: unknown, env: Env): Expansion {
  const out: Expansion = {
    value: undefined,
    problems: [],
    whole: new Set(),
    emptied: new Map(),
    written: new Map(),
  };
  out.value = walk(tree, [], env, out, new Set());
  return out;
}

function walk(
  node: unknown,
  segments: PathSegment[],
  env: Env,
  out: Expansion,
  within: Set<object>,
): unknown {
  if (typeof node === 'string') return expandString(node, segments, env, out);
  if (typeof node !== 'object' || node === null || node instanceof Date) return node;
  // A YAML alias inside its own anchor (`a: &a [*a]`) makes a structure that contains itself.
  if (within.has(node)) {
    out.problems.push({
      path: formatPath(segments),
      expected: 'no YAML alias inside its own anchor (&a … *a)',
    });
    return null;
  }
  within.add(node);
  const copy = Array.isArray(node)
    ? node.map((item: unknown, i) => walk(item, [...segments, i], env, out, within))
    : // Object.fromEntries defines own properties, so a `__proto__` key stays a key and TOML's null-prototype
      // tables become ordinary objects that compare equal to YAML's.
      Object.fromEntries(
        Object.entries(node).map(([key, value]) => [key, walk(value, [...segments, key], env, out, within)]),
      );
  within.delete(node);
  return copy;
}

function expandString(text: string, segments: PathSegment[], env: Env, out: Expansion): string {
  if (!text.includes('${')) return text;
  const path = formatPath(segments);
  out.written.set(path, text);
  if (text.replace(REFERENCE, '').includes('${')) {
    out.problems.push({ path, expected: 'unterminated ${ reference: write ${NAME} or ${NAME:-default}' });
    return text;
  }
  let failed = false;
  let references = 0;
  const expanded = text.replace(REFERENCE, (match, inner: string) => {
    references++;
    const parsed = INNER.exec(inner);
    const name = parsed?.[1];
    const fallback = parsed?.[2];
    if (name === undefined || fallback?.includes('${')) {
      failed = true;
      out.problems.push({
        path,
        // Only the name is quoted: the rest (a default written `${NAME-…}`) may be a secret.
        expected: `malformed reference \${${/^[A-Za-z0-9_]*/.exec(inner)?.[0] ?? ''}…}: write \${NAME} or \${NAME:-default} (no nesting)`,
      });
      return match;
    }
    const value = env[name];
    if (fallback !== undefined) return value === undefined || value === '' ? fallback : value;
    if (value === undefined) {
      failed = true;
      out.problems.push({
        path,
        expected: `environment variable ${name} is not set (write \${${name}:-} to allow it to be empty)`,
      });
      return match;
    }
    return value;
  });
  if (failed) return text;
  if (references === 1 && text.startsWith('${') && text.endsWith('}')) out.whole.add(path);
  if (expanded === '') out.emptied.set(path, text);
  return expanded;
}
