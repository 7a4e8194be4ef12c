import { describe, expect, it } from 'vitest';
import { CaptureBudget } from './capture-budget';

describe('CaptureBudget', () => {
  it('reserves while the sum fits, refuses what does not, and takes returns back', () => {
    const budget = new CaptureBudget(100);
    expect(budget.take(60)).toBe(true);
    expect(budget.take(50)).toBe(false);
    expect(budget.usedBytes).toBe(60);
    expect(budget.take(40)).toBe(true);
    budget.give(60);
    expect(budget.usedBytes).toBe(40);
    expect(budget.take(60)).toBe(true);
    budget.give(1_000);
    expect(budget.usedBytes).toBe(0);
  });
});
