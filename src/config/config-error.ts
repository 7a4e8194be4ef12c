import { maskSecret, maskUrlPasswords } from './mask';

/** One step of a path into the config tree: a key name, or a list index. */
export type PathSegment = string | number;

/** One thing wrong with a config file. */
export interface ConfigProblem {
  /** Where, written like `providers[1].keys[0].rpm_limit`. */
  path: string;
  /** The offending value, already rendered for humans with secrets masked; absent when there is none worth showing. */
  value?: string;
  /** What was expected there (or, when there is no value, what is wrong). */
  expected: string;
}

/** Thrown when a config cannot be used; lists every problem found, not just the first. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(
    readonly problems: ConfigProblem[],
    /** The file the problems are in, when there is one. */
    readonly source?: string,
  ) {
    super(formatConfigError(problems, source));
  }
}

/** The human-readable report: a heading, then one `- path: …` line per problem. */
export function formatConfigError(problems: readonly ConfigProblem[], source?: string): string {
  const where = source === undefined ? 'invalid config' : `invalid config ${source}`;
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  return [`${where} (${count}):`, ...problems.map((p) => `- ${formatProblem(p)}`)].join('\n');
}

/** One problem as one line (without the leading dash). */
export function formatProblem(problem: ConfigProblem): string {
  return problem.value === undefined
    ? `${problem.path}: ${problem.expected}`
    : `${problem.path}: got ${problem.value}, expected ${problem.expected}`;
}

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** Writes a path the way users read it: `providers[1].keys[0].rpm_limit`, `routing.fallbacks["claude-3.5"]`. */
export function formatPath(segments: readonly PathSegment[]): string {
  if (segments.length === 0) return '(top level)';
  let out = '';
  for (const seg of segments) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (PLAIN_KEY.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** Config keys whose values are credentials, wherever they sit in the tree. */
const SECRET_FIELDS = new Set(['key', 'api_keys', 'token']);

/** True when a value at this path is a credential and must never be shown in full. */
export function isSecretPath(segments: readonly PathSegment[], value: unknown): boolean {
  const field = [...segments].reverse().find((s): s is string => typeof s === 'string');
  if (field === undefined) return false;
  if (SECRET_FIELDS.has(field)) return true;
  // `keys: ["sk-ant-…"]` (a bare key where a mapping belongs) is the classic mistake; the string is still a key.
  return field === 'keys' && typeof value === 'string';
}

const MAX_SHOWN = 80;

/** Renders a bad value for an error message: scalars shown (masked where secret), structures only named. */
export function renderValue(value: unknown, segments: readonly PathSegment[]): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (value instanceof Date) return 'a date';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  const scalar = typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint';
  if (scalar && isSecretPath(segments, value)) return JSON.stringify(maskSecret(String(value)));
  if (typeof value === 'string') {
    const shown = isSecretPath(segments, value) ? maskSecret(value) : maskUrlPasswords(value);
    const cut = shown.length > MAX_SHOWN ? `${shown.slice(0, MAX_SHOWN)}…` : shown;
    return JSON.stringify(cut);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  return typeof value;
}
