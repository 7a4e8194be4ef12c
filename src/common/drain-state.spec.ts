import { describe, expect, it } from 'vitest';
import { DrainState } from './drain-state';

describe('DrainState', () => {
  it('is not ready while starting, ready once marked, and not ready again once draining', () => {
    const state = new DrainState();
    expect([state.phase, state.isReady()]).toEqual(['starting', false]);
    state.markReady();
    expect([state.phase, state.isReady()]).toEqual(['ready', true]);
    state.startDraining();
    expect([state.phase, state.isReady()]).toEqual(['draining', false]);
  });

  it('draining is final: a late markReady does not bring the replica back', () => {
    const state = new DrainState();
    state.startDraining();
    state.markReady();
    expect(state.isReady()).toBe(false);
    expect(state.phase).toBe('draining');
  });
});
