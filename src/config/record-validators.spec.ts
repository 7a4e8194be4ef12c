import { validateSync } from 'class-validator';
import { describe, expect, it } from 'vitest';
import { IsStringListRecord, IsStringRecord } from './record-validators';

class Holder {
  @IsStringRecord()
  mapping: unknown = {};

  @IsStringListRecord()
  routes: unknown = {};
}

function failures(mapping: unknown, routes: unknown): string[] {
  const holder = Object.assign(new Holder(), { mapping, routes });
  return validateSync(holder).flatMap((e) => Object.keys(e.constraints ?? {}));
}

describe('record validators', () => {
  it('accept mappings of the right shape, including empty ones', () => {
    expect(failures({}, {})).toEqual([]);
    expect(failures({ a: 'b' }, { claude: ['x', 'y'], other: [] })).toEqual([]);
  });

  it('reject lists, null, scalars and wrongly typed values', () => {
    for (const bad of [null, [], 'a', 1, { a: 1 }, { a: ['b'] }]) {
      expect(failures(bad, {})).toEqual(['isStringRecord']);
    }
    for (const bad of [null, ['a'], { a: 'b' }, { a: ['b', 2] }, { a: [['b']] }]) {
      expect(failures({}, bad)).toEqual(['isStringListRecord']);
    }
  });
});
