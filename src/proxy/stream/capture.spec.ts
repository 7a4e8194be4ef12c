import { describe, expect, it } from 'vitest';
import { CaptureBudget } from '../../protocol/capture-budget';
import { StreamCapture } from './capture';

const bytes = (n: number) => Buffer.alloc(n, 0x61);

describe('StreamCapture', () => {
  it('holds the chunks within its limit and the budget, and gives the budget back on release', () => {
    const budget = new CaptureBudget(100);
    const capture = new StreamCapture(50, budget);
    capture.add(bytes(20));
    capture.add(bytes(30));
    expect(capture.chunks?.map((c) => c.length)).toEqual([20, 30]);
    expect(budget.usedBytes).toBe(50);
    capture.release();
    expect(budget.usedBytes).toBe(0);
    expect(capture.chunks).toHaveLength(2);
  });

  it('stops capturing a stream longer than its limit, and gives back what it held at once', () => {
    const budget = new CaptureBudget(100);
    const capture = new StreamCapture(50, budget);
    capture.add(bytes(40));
    capture.add(bytes(11));
    expect(capture).toMatchObject({ chunks: undefined, overflowed: true, refused: false });
    expect(budget.usedBytes).toBe(0);
    capture.add(bytes(1));
    expect(capture.chunks).toBeUndefined();
  });

  it('stops capturing when the captures in flight have spent the budget', () => {
    const budget = new CaptureBudget(30);
    expect(budget.take(20)).toBe(true);
    const capture = new StreamCapture(50, budget);
    capture.add(bytes(5));
    capture.add(bytes(6));
    expect(capture).toMatchObject({ chunks: undefined, overflowed: false, refused: true });
    expect(budget.usedBytes).toBe(20);
  });

  it('captures nothing with a limit of 0', () => {
    const capture = new StreamCapture(0, undefined);
    capture.add(bytes(5));
    expect(capture.chunks).toBeUndefined();
  });
});
