import { describe, expect, it } from 'vitest';
import { replicaIdOf } from './replica-id';

describe('replicaIdOf', () => {
  it('is the pod name in a pod, and the host with the pid for several processes on one host', () => {
    expect(replicaIdOf({ POD_NAME: 'relay-7d9-x2k4q', HOSTNAME: 'h' }, 'os', 1234)).toBe('relay-7d9-x2k4q');
    expect(replicaIdOf({ CC_RELAY_REPLICA_ID: 'r1', POD_NAME: 'p' }, 'os', 1)).toBe('r1');
    expect(replicaIdOf({ HOSTNAME: 'container' }, 'os', 1)).toBe('container');
    expect(replicaIdOf({}, 'vm-a', 4321)).toBe('vm-a:4321');
    expect(replicaIdOf({ POD_NAME: 'a b' }, 'os', 1)).toBe('a_b');
  });
});
