import { maskSecret } from './mask';
import { type ConfigProblem, formatPath, isSecretPath, type PathSegment, renderValue } from './config-error';

/** Problems found so far, and the paths already reported (so one mistake never yields two lines). */
export class ProblemList {
  readonly problems: ConfigProblem[] = [];
  private readonly reported = new Set<string>();

  constructor(
    initial: readonly ConfigProblem[],
    private readonly written: ReadonlyMap<string, string> = new Map(),
  ) {
    for (const p of initial) this.add(p);
  }

  add(problem: ConfigProblem): void {
    this.problems.push(problem);
    this.reported.add(problem.path);
  }

  bad(segments: PathSegment[], value: unknown, expected: string): void {
    const path = formatPath(segments);
    this.add({ path, value: this.shown(path, segments, value, expected), expected });
  }

  /**
   * The bad value as a problem shows it: a value from the environment as the variable held it, masked like any value
   * (a secret path, a URL password) and followed by the variables it came from, and where a mapping or list was
   * expected a scalar only by its kind (a TOML file read as YAML is one long string, and a pasted key where a section
   * belongs is still a key).
   */
  private shown(path: string, segments: PathSegment[], value: unknown, expected: string): string {
    const written = this.written.get(path);
    const from =
      written === undefined
        ? ''
        : ` (from ${[...written.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => `\${${m[1]}}`).join(', ')})`;
    if (typeof value === 'string' && !isSecretPath(segments, value) && /^a (mapping|list)\b/.test(expected)) {
      return `a string of ${value.length} characters${from}`;
    }
    // A credential that landed at an ordinary key (`rpm_limit: ${ANTHROPIC_API_KEY}`) is still a credential.
    if (written !== undefined && typeof value === 'string' && looksSecret(written, value)) {
      return `${JSON.stringify(maskSecret(value))}${from}`;
    }
    return `${renderValue(value, segments)}${from}`;
  }

  suppress(path: string): void {
    this.reported.add(path);
  }

  /** True when this path or one of its parents already has a problem. */
  covers(segments: readonly PathSegment[]): boolean {
    for (let n = 1; n <= segments.length; n++) {
      if (this.reported.has(formatPath(segments.slice(0, n)))) return true;
    }
    return false;
  }

  /** True when any problem sits at or under this path. */
  touches(prefix: string): boolean {
    return this.problems.some(
      (p) => p.path === prefix || p.path.startsWith(`${prefix}.`) || p.path.startsWith(`${prefix}[`),
    );
  }
}

/** A value from the environment that is likely a credential: by the variable's name, or an `sk-…` key. */
function looksSecret(written: string, value: string): boolean {
  return /\$\{[A-Za-z0-9_]*(KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASS)\b/i.test(written) || /^sk-/.test(value);
}
