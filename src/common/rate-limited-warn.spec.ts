import { describe, expect, it } from 'vitest';
import { RateLimitedWarn } from './rate-limited-warn';

describe('RateLimitedWarn', () => {
  it('lets one line per kind through per interval and says how many it swallowed', () => {
    let now = 1_000;
    const lines: string[] = [];
    const log = new RateLimitedWarn({ warn: (m) => lines.push(m) }, { now: () => now }, 10_000);
    log.warn('write', 'dropped 1');
    log.warn('write', 'dropped 2');
    log.warn('read', 'read failed'); // another kind has its own window
    now += 9_999;
    log.warn('write', 'dropped 3');
    now += 1;
    log.warn('write', 'dropped 4');
    log.warn('write', 'dropped 5');
    now += 10_000;
    log.warn('write', 'dropped 6');
    expect(lines).toEqual([
      'dropped 1',
      'read failed',
      'dropped 4 (2 similar suppressed)',
      'dropped 6 (1 similar suppressed)',
    ]);
  });
});
