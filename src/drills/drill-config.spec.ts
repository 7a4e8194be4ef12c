import { describe, expect, it } from 'vitest';
import { ConfigError } from '../config/config-error';
import { validateConfig } from '../config/config-validation';

const base = {
  providers: [{ name: 'anthropic', type: 'anthropic', keys: [{ key: 'sk-ant-0123456789abcdef0123' }] }],
};

function problems(drills: unknown): string {
  try {
    validateConfig({ ...base, drills });
    return '';
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.message;
  }
}

describe('drills config', () => {
  it('accepts the pinned example with its defaults', () => {
    const { config } = validateConfig({
      ...base,
      drills: [{ name: 'anthropic-off', provider: 'anthropic', schedule: '0 3 * * 1' }],
    });
    expect(config.drills[0]).toMatchObject({
      duration_ms: 300_000,
      abort_below_success_ratio: 0.95,
      min_requests: 20,
    });
  });

  it('lists path, value and expectation for a bad cron', () => {
    const msg = problems([{ name: 'x', provider: 'anthropic', schedule: '0 3 * * 9' }]);
    expect(msg).toContain('drills[0].schedule');
    expect(msg).toContain('0 3 * * 9');
    expect(msg).toMatch(/cron expression/);
  });

  it('refuses an unknown provider, a bad period and a missing schedule', () => {
    expect(problems([{ name: 'x', provider: 'antropic', every: '90d' }])).toMatch(
      /drills\[0\]\.provider[\s\S]*did you mean anthropic/,
    );
    expect(problems([{ name: 'x', provider: 'anthropic', every: '3 months' }])).toContain('drills[0].every');
    expect(problems([{ name: 'x', provider: 'anthropic' }])).toMatch(/drills\[0\][\s\S]*a schedule/);
  });
});
