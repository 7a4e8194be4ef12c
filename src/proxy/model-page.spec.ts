import { describe, expect, it } from 'vitest';
import { RelayError } from '../protocol/relay-error';
import { modelPage } from './model-page';

const items = ['a', 'b', 'c', 'd'].map((id) => ({ id }));
const ids = (q: Parameters<typeof modelPage>[1]) => modelPage(items, q).data.map((m) => m.id);

describe('modelPage', () => {
  it('returns every model without a limit', () => {
    expect(modelPage(items, {})).toEqual({ data: items, has_more: false, first_id: 'a', last_id: 'd' });
  });

  it('honours limit, after_id and before_id the way the SDK pages', () => {
    expect(modelPage(items, { limit: '2' })).toMatchObject({ has_more: true, first_id: 'a', last_id: 'b' });
    expect(ids({ limit: '2', after_id: 'b' })).toEqual(['c', 'd']);
    expect(modelPage(items, { limit: '2', after_id: 'b' }).has_more).toBe(false);
    expect(ids({ after_id: 'd' })).toEqual([]);
    expect(modelPage(items, { after_id: 'd' })).toMatchObject({ first_id: null, last_id: null });
    expect(ids({ limit: '2', before_id: 'd' })).toEqual(['b', 'c']);
    expect(modelPage(items, { limit: '2', before_id: 'd' }).has_more).toBe(true);
    expect(modelPage(items, { limit: '5', before_id: 'c' }).has_more).toBe(false);
  });

  it('refuses a malformed limit, an unknown cursor and both cursors at once with 400', () => {
    for (const q of [
      { limit: '0' },
      { limit: 'x' },
      { limit: '1001' },
      { after_id: 'zz' },
      { after_id: 'a', before_id: 'c' },
    ]) {
      expect(() => modelPage(items, q)).toThrow(RelayError);
    }
  });
});
