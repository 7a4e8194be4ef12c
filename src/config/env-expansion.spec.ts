import { parse as parseToml } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { expandEnv } from './env-expansion';

describe('expandEnv', () => {
  it('replaces ${VAR} and ${VAR:-default} inside string values, many per string', () => {
    const out = expandEnv(
      { url: 'https://${HOST}:${PORT:-443}/v1', list: ['${HOST}', 7, true, null] },
      { HOST: 'example.com' },
    );
    expect(out.value).toEqual({ url: 'https://example.com:443/v1', list: ['example.com', 7, true, null] });
    expect(out.problems).toEqual([]);
  });

  it('uses the default when the variable is unset or empty, like sh', () => {
    expect(expandEnv({ a: '${X:-d}', b: '${Y:-d}', c: '${Z}' }, { Y: '', Z: '' }).value).toEqual({
      a: 'd',
      b: 'd',
      c: '',
    });
  });

  it('never touches keys', () => {
    const out = expandEnv({ '${K}': { '${K2:-x}': '${V}' } }, { K: 'key', V: 'value' });
    expect(out.value).toEqual({ '${K}': { '${K2:-x}': 'value' } });
  });

  it('names an unset variable without default, with the path, and keeps the text', () => {
    const out = expandEnv({ providers: [{ keys: [{ key: 'sk-${SECRET_PART}' }] }] }, {});
    expect(out.problems).toEqual([
      {
        path: 'providers[0].keys[0].key',
        expected:
          'environment variable SECRET_PART is not set (write ${SECRET_PART:-} to allow it to be empty)',
      },
    ]);
    expect(out.value).toEqual({ providers: [{ keys: [{ key: 'sk-${SECRET_PART}' }] }] });
  });

  it('reports every unset variable, not just the first', () => {
    const out = expandEnv({ a: '${A}', b: ['${B}'] }, {});
    expect(out.problems.map((p) => p.path)).toEqual(['a', 'b[0]']);
  });

  it('rejects malformed and unterminated references', () => {
    const out = expandEnv({ a: '${1BAD}', b: '${OPEN', c: '${A:-${B}}' }, { A: 'x', B: 'y' });
    expect(out.problems.map((p) => p.path)).toEqual(['a', 'b', 'c']);
    expect(out.problems[1]?.expected).toContain('unterminated');
  });

  it('marks values made by exactly one reference, and those that came out empty', () => {
    const out = expandEnv(
      { n: '${N}', part: 'x${N}', two: '${N}${N}', empty: '${E:-}', plain: '' },
      { N: '5' },
    );
    expect([...out.whole]).toEqual(['n', 'empty']);
    expect([...out.emptied]).toEqual([['empty', '${E:-}']]);
  });

  it("leaves a lone $ alone and turns TOML's null-prototype tables into plain objects", () => {
    const out = expandEnv(parseToml('[a]\nprice = "$5 ${X:-}"\n'), {});
    expect(out.value).toEqual({ a: { price: '$5 ' } });
    expect(Object.getPrototypeOf((out.value as { a: object }).a)).toBe(Object.prototype);
  });

  it('reports a structure that contains itself (a YAML alias inside its own anchor) instead of recursing forever', () => {
    const loop: unknown[] = [];
    loop.push(loop);
    const shared = { key: 'k' };
    const out = expandEnv({ a: loop, b: [shared, shared] }, {});
    expect(out.problems).toEqual([
      { path: 'a[0]', expected: 'no YAML alias inside its own anchor (&a … *a)' },
    ]);
    // The same value used twice (an ordinary alias) is no loop.
    expect(out.value).toEqual({ a: [null], b: [{ key: 'k' }, { key: 'k' }] });
  });
});
