import { describe, expect, it } from 'vitest';
import { parseCommandLine } from './cli';

describe('parseCommandLine', () => {
  it('serves with nothing, --config PATH or --config=PATH', () => {
    expect(parseCommandLine([])).toEqual({ kind: 'serve', argv: [] });
    expect(parseCommandLine(['--config', 'a.yaml'])).toEqual({ kind: 'serve', argv: ['--config', 'a.yaml'] });
    expect(parseCommandLine(['--config=a.toml'])).toEqual({ kind: 'serve', argv: ['--config=a.toml'] });
  });

  it('validates the given file, or the one the relay would load', () => {
    expect(parseCommandLine(['config', 'validate'])).toEqual({ kind: 'validate', path: undefined });
    expect(parseCommandLine(['config', 'validate', 'a.yaml'])).toEqual({ kind: 'validate', path: 'a.yaml' });
    expect(parseCommandLine(['config', 'validate', '--config', 'a.yaml'])).toEqual({
      kind: 'validate',
      path: 'a.yaml',
    });
  });

  it('answers --help and --version', () => {
    expect(parseCommandLine(['--help'])).toEqual({ kind: 'help' });
    expect(parseCommandLine(['-h'])).toEqual({ kind: 'help' });
    expect(parseCommandLine(['--version'])).toEqual({ kind: 'version' });
  });

  it('refuses anything else instead of serving the bundled config', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--conifg', 'a.yaml'], /unknown argument "--conifg"/],
      [['a.yaml'], /unknown argument "a.yaml"/],
      [['config'], /unknown command "config"/],
      [['config', 'check', 'a.yaml'], /unknown command "config check"/],
      [['--config'], /--config needs a file path/],
      [['--config='], /--config needs a file path/],
      [['--config', '--help'], /--config needs a file path/],
      [['--config', 'a.yaml', '--config', 'b.yaml'], /--config given twice/],
      [['config', 'validate', 'a.yaml', 'b.yaml'], /unknown argument "a.yaml"/],
      [['--help', '--config', 'a.yaml'], /unknown argument "--help"/],
    ];
    for (const [argv, message] of cases) {
      const got = parseCommandLine(argv);
      expect(got.kind, argv.join(' ')).toBe('error');
      expect(got.kind === 'error' && got.message, argv.join(' ')).toMatch(message);
    }
  });
});
