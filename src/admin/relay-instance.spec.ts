import { describe, expect, it } from 'vitest';
import { instanceName } from './relay-instance';

describe('instanceName', () => {
  it('prefers POD_NAME, then HOSTNAME, then the OS hostname', () => {
    const env = { POD_NAME: 'cc-relay-7d9f8-abcde', HOSTNAME: 'container-id' };
    expect(instanceName(env, 'node-1')).toBe('cc-relay-7d9f8-abcde');
    expect(instanceName({ HOSTNAME: 'container-id' }, 'node-1')).toBe('container-id');
    expect(instanceName({}, 'node-1')).toBe('node-1');
  });

  it('skips empty and blank values, as an unset ${POD_NAME:-} leaves them', () => {
    expect(instanceName({ POD_NAME: '', HOSTNAME: '  ' }, 'node-1')).toBe('node-1');
    expect(instanceName({ POD_NAME: ' cc-relay-0 ' }, 'node-1')).toBe('cc-relay-0');
    expect(instanceName({}, '')).toBe('unknown');
  });

  it('keeps only what an HTTP header can carry, and at most a DNS name of it', () => {
    expect(instanceName({ POD_NAME: 'a\r\nx-injected: 1' }, 'h')).toBe('a__x-injected:_1');
    expect(instanceName({ POD_NAME: 'pod-é' }, 'h')).toBe('pod-_');
    expect(instanceName({ POD_NAME: 'p'.repeat(400) }, 'h')).toHaveLength(253);
  });
});
