import { LuaScript } from '../cluster/cluster-redis';

/**
 * The shared circuit of one provider in Redis, changed only by these scripts (atomic per provider):
 *
 * - KEYS[1], a hash: `state` (closed | open | half_open), `epoch` (bumped on every transition, max(old + 1, now) so
 *   that a Redis that lost its data starts above every epoch a replica remembers), `failures` (consecutive, across
 *   replicas), `opened_at`, `retry_at`, `open_ms`, `reopens`, `forced`, `successes` (HALF_OPEN successes), `reason`,
 *   `by` (the replica that caused the transition), `detail`, `changed_at`. An OPEN whose retry_at has passed is
 *   HALF_OPEN, as in the local breaker, so that move needs no writer.
 * - KEYS[2], a sorted set: the HALF_OPEN test permits of the current epoch, scored by when they expire (a replica
 *   refreshes those it holds; a killed one stops, so its permits lapse).
 *
 * Both keys carry the provider as a hash tag (`{name}`), so a Redis Cluster keeps them in one slot.
 *
 * ARGV: [1] now (ms, the caller's clock), [2] the pub/sub channel, [3] the provider, [4] the replica, then the
 * script's own. Every script answers `{ result, HGETALL of the hash }`; a transition (and a change of the shared
 * failure count) is published as `{"p": provider, "s": HGETALL, "at": now}` on the channel, so every replica adopts
 * it without a read.
 */
const PRELUDE = `
local key, permits = KEYS[1], KEYS[2]
local now, channel, provider, by = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4]
local function num(field, default)
  local v = redis.call('HGET', key, field)
  if v then return tonumber(v) end
  return default
end
local function state()
  local s = redis.call('HGET', key, 'state') or 'closed'
  if s == 'open' and now >= num('retry_at', 0) then return 'half_open' end
  return s
end
local function bump()
  redis.call('HSET', key, 'epoch', math.max(num('epoch', 0) + 1, now))
  redis.call('DEL', permits)
end
local function duration(base, max, reopens)
  local cap = math.max(base, max)
  return math.min(cap, base * 2 ^ math.min(math.max(0, reopens), 31))
end
local function open(ms, reason, forced, reopens, detail)
  bump()
  redis.call('HSET', key, 'state', 'open', 'opened_at', now, 'retry_at', now + ms, 'open_ms', ms,
    'reason', reason, 'by', by, 'forced', forced, 'reopens', reopens, 'successes', 0, 'changed_at', now)
  if detail and detail ~= '' then redis.call('HSET', key, 'detail', detail) else redis.call('HDEL', key, 'detail') end
end
local function close(reason)
  bump()
  redis.call('HSET', key, 'state', 'closed', 'failures', 0, 'reopens', 0, 'successes', 0, 'reason', reason,
    'by', by, 'changed_at', now)
  redis.call('HDEL', key, 'opened_at', 'retry_at', 'forced', 'detail')
end
local function finish(changed, result)
  local flat = redis.call('HGETALL', key)
  if changed then
    redis.call('PUBLISH', channel, cjson.encode({p = provider, s = flat, at = now}))
  end
  return {result or 0, flat}
end
`;

function script(body: string): LuaScript {
  return new LuaScript(`${PRELUDE}\n${body}`);
}

/** ARGV[5] threshold, [6] open_duration_ms, [7] max_open_duration_ms, [8] normal | probe, [9] the probe's permit. */
export const FAILURE = script(`
local threshold, base, max, kind, permit = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), ARGV[8], ARGV[9]
local s = state()
if kind == 'normal' then
  if s ~= 'closed' then return finish(false) end
  local failures = redis.call('HINCRBY', key, 'failures', 1)
  if failures >= threshold then
    local reopens = num('reopens', 0)
    open(duration(base, max, reopens), 'failure_threshold', 0, reopens)
  end
  return finish(true)
end
if s ~= 'half_open' or not redis.call('ZSCORE', permits, permit) then return finish(false) end
redis.call('HINCRBY', key, 'failures', 1)
local reopens = num('reopens', 0) + 1
open(duration(base, max, reopens), 'half_open_failure', 0, reopens)
return finish(true)
`);

/** ARGV[5] half_open_probes, [6] normal | probe, [7] the probe's permit. */
export const SUCCESS = script(`
local probes, kind, permit = tonumber(ARGV[5]), ARGV[6], ARGV[7]
local s = state()
if kind == 'normal' then
  if s == 'closed' and num('failures', 0) > 0 then
    redis.call('HSET', key, 'failures', 0)
    return finish(true)
  end
  return finish(false)
end
if s ~= 'half_open' or not redis.call('ZSCORE', permits, permit) then return finish(false) end
redis.call('ZREM', permits, permit)
local successes = redis.call('HINCRBY', key, 'successes', 1)
if successes >= probes then
  close('half_open_succeeded')
  return finish(true)
end
return finish(false)
`);

/** ARGV[5] half_open_probes, [6] the permit's TTL (ms), [7] the permit. Result 1 when granted. */
export const ACQUIRE = script(`
local probes, ttl, permit = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]
if state() ~= 'half_open' then return finish(false, 0) end
redis.call('ZREMRANGEBYSCORE', permits, '-inf', now)
if redis.call('ZCARD', permits) + num('successes', 0) >= probes then return finish(false, 0) end
redis.call('ZADD', permits, now + ttl, permit)
redis.call('PEXPIRE', permits, ttl * 2)
return finish(false, 1)
`);

/** ARGV[5] TTL (ms), [6…] permits this replica holds: each lives another TTL. Result: how many still exist. */
export const TOUCH = script(`
local ttl = tonumber(ARGV[5])
local alive = 0
for i = 6, #ARGV do
  if redis.call('ZSCORE', permits, ARGV[i]) then
    redis.call('ZADD', permits, now + ttl, ARGV[i])
    alive = alive + 1
  end
end
if alive > 0 then redis.call('PEXPIRE', permits, ttl * 2) end
return finish(false, alive)
`);

/** ARGV[5] the permit, given back without a verdict. */
export const RELEASE = script(`
redis.call('ZREM', permits, ARGV[5])
return finish(false)
`);

/** The health probe saw the provider answer: OPEN (not forced) → HALF_OPEN. */
export const PROBE_SUCCEEDED = script(`
local s = redis.call('HGET', key, 'state')
if s ~= 'open' or state() ~= 'open' or redis.call('HGET', key, 'forced') == '1' then return finish(false) end
bump()
redis.call('HSET', key, 'state', 'half_open', 'successes', 0, 'reason', 'probe_succeeded', 'by', by, 'changed_at', now)
redis.call('HDEL', key, 'retry_at', 'forced')
return finish(true)
`);

/** ARGV[5] duration (ms), [6] the operator's reason. */
export const FORCE_OPEN = script(`
open(tonumber(ARGV[5]), 'forced_open', 1, num('reopens', 0), ARGV[6])
return finish(true)
`);

export const RESET = script(`
close('reset')
return finish(true)
`);

/**
 * After Redis returns (or with no shared state yet): a circuit this replica opened on its own while Redis was away
 * becomes the cluster's when the cluster's is CLOSED, so nothing closes and reopens (no flapping). ARGV[5] retry_at,
 * [6] open_ms, [7] reason, [8] reopens, [9] opened_at. Otherwise the shared state stands.
 */
export const ADOPT_LOCAL_OPEN = script(`
local retry, ms, reason, reopens, opened = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7], tonumber(ARGV[8]), tonumber(ARGV[9])
if state() ~= 'closed' or retry <= now then return finish(false) end
bump()
redis.call('HSET', key, 'state', 'open', 'opened_at', opened, 'retry_at', retry, 'open_ms', ms, 'reason', reason,
  'by', by, 'forced', 0, 'reopens', reopens, 'successes', 0, 'changed_at', now)
redis.call('HDEL', key, 'detail')
return finish(true)
`);
