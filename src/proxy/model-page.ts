import { RelayError, RelayErrorCode } from '../protocol/relay-error';

/** The pagination query of `GET /v1/models` (Anthropic's list parameters). */
export interface ModelPageQuery {
  limit?: string;
  after_id?: string;
  before_id?: string;
}

/** One page of a list, in Anthropic's list shape. */
export interface ModelPage<T> {
  data: T[];
  has_more: boolean;
  first_id: string | null;
  last_id: string | null;
}

/**
 * The page of `items` a list query asks for: the items after `after_id` (or before `before_id`), at most `limit`
 * of them (1 to 1000). Without `limit` the page holds every remaining item, so a client that never pages still
 * sees all models. A malformed limit or an unknown cursor id is the client's error (400).
 */
export function modelPage<T extends { id: string }>(
  items: readonly T[],
  query: ModelPageQuery,
): ModelPage<T> {
  let limit = Infinity;
  if (query.limit !== undefined) {
    limit = Number(query.limit);
    if (!/^\d+$/.test(query.limit) || limit < 1 || limit > 1000) {
      throw new RelayError(RelayErrorCode.InvalidRequest, 'limit: an integer from 1 to 1000 is expected');
    }
  }
  if (query.after_id !== undefined && query.before_id !== undefined) {
    throw new RelayError(RelayErrorCode.InvalidRequest, 'after_id and before_id cannot be used together');
  }
  const indexOf = (id: string, name: string) => {
    const i = items.findIndex((m) => m.id === id);
    if (i === -1)
      throw new RelayError(RelayErrorCode.InvalidRequest, `${name}: unknown model id ${JSON.stringify(id)}`);
    return i;
  };
  let data: T[];
  let hasMore: boolean;
  if (query.before_id !== undefined) {
    const end = indexOf(query.before_id, 'before_id');
    const start = Math.max(0, end - limit);
    data = items.slice(start, end);
    hasMore = start > 0;
  } else {
    const start = query.after_id === undefined ? 0 : indexOf(query.after_id, 'after_id') + 1;
    data = items.slice(start, start + limit);
    hasMore = start + data.length < items.length;
  }
  return {
    data,
    has_more: hasMore,
    first_id: data[0]?.id ?? null,
    last_id: data[data.length - 1]?.id ?? null,
  };
}
