/**
 * The Lua scripts of the shared key pools. Every key one script touches belongs to one provider and carries its
 * hash tag (`{kp:<provider>}`), so each script runs on one node of a Redis Cluster. Time is Redis' own (TIME), so
 * replicas with skewed clocks count in the same windows.
 *
 * A key's window hash holds one field per kind and bucket: `r<bucket>` requests, `i<bucket>` input tokens (the
 * estimate at admission, corrected once the usage is known), `o<bucket>` output tokens; a bucket is windowMs/60.
 * An amount counts while its bucket is one of the last 61, i.e. for windowMs to windowMs + one bucket: never more
 * than the limit in any window (the local SlidingWindow is exact; this errs on the safe side by at most a bucket).
 */

/**
 * ADMIT. KEYS: the candidates' window hashes (nc of them), then the window hashes of settlements.
 * ARGV: bucketMs, buckets, estimate, nc, then rpm itpm otpm per candidate, then inputDelta output per settlement.
 * Applies the settlements, then admits the first candidate that fits (counting the request and its estimate):
 * returns {index (0-based), 0}, or {-1, ms until the soonest candidate might fit}.
 */
export const ADMIT_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local bms = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local est = tonumber(ARGV[3])
local nc = tonumber(ARGV[4])
local cur = math.floor(now / bms)
local oldest = cur - n
local ttl = (n + 2) * bms
local base = 4 + 3 * nc
for j = nc + 1, #KEYS do
  local a = base + 2 * (j - nc) - 1
  local di = tonumber(ARGV[a])
  local out = tonumber(ARGV[a + 1])
  if di ~= 0 then redis.call('HINCRBY', KEYS[j], 'i' .. cur, di) end
  if out ~= 0 then redis.call('HINCRBY', KEYS[j], 'o' .. cur, out) end
  redis.call('PEXPIRE', KEYS[j], ttl)
end
local function untilFits(buckets, sum, need, limit)
  if limit <= 0 or sum + need <= limit then return 0 end
  if need > limit then return (n + 1) * bms end
  local freed = 0
  for b = oldest, cur do
    freed = freed + (buckets[b] or 0)
    if sum - freed + need <= limit then return (b + n + 1) * bms - now end
  end
  return (n + 1) * bms
end
local soonest = -1
for c = 1, nc do
  local rpm = tonumber(ARGV[2 + 3 * c])
  local itpm = tonumber(ARGV[3 + 3 * c])
  local otpm = tonumber(ARGV[4 + 3 * c])
  local raw = redis.call('HGETALL', KEYS[c])
  local r, i, o = {}, {}, {}
  local sr, si, so = 0, 0, 0
  local stale = {}
  for k = 1, #raw, 2 do
    local f = raw[k]
    local kind = string.sub(f, 1, 1)
    local b = tonumber(string.sub(f, 2))
    local v = tonumber(raw[k + 1])
    if b == nil or b < oldest then stale[#stale + 1] = f
    elseif kind == 'r' then r[b] = v; sr = sr + v
    elseif kind == 'i' then i[b] = v; si = si + v
    else o[b] = v; so = so + v end
  end
  if #stale > 0 then redis.call('HDEL', KEYS[c], unpack(stale)) end
  if si < 0 then si = 0 end
  local needI = math.max(1, math.min(est, itpm))
  local wait = math.max(untilFits(r, sr, 1, rpm), untilFits(i, si, needI, itpm), untilFits(o, so, 1, otpm))
  if wait <= 0 then
    redis.call('HINCRBY', KEYS[c], 'r' .. cur, 1)
    if est > 0 then redis.call('HINCRBY', KEYS[c], 'i' .. cur, est) end
    redis.call('PEXPIRE', KEYS[c], ttl)
    return {c - 1, 0}
  end
  if soonest < 0 or wait < soonest then soonest = wait end
end
return {-1, soonest}
`;

/**
 * PENALISE. KEYS: the provider's penalty hash. ARGV: fingerprint, cooldownUntil, rejectedUntil, rejectedAt,
 * acceptedAt, ttlMs, channel, message prefix. Merges into the key's "c,r,a,u" (cooldown the later one, parking the
 * newer one, a success newer than the parking ends it) and publishes the merged value.
 */
export const PENALISE_SCRIPT = `
local c, r, a, u = 0, 0, 0, 0
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  local v = {}
  for x in string.gmatch(old, '[^,]+') do v[#v + 1] = tonumber(x) end
  c, r, a, u = v[1] or 0, v[2] or 0, v[3] or 0, v[4] or 0
end
c = math.max(c, tonumber(ARGV[2]))
if tonumber(ARGV[3]) > r then r = tonumber(ARGV[3]); a = tonumber(ARGV[4]) end
if tonumber(ARGV[5]) > u then u = tonumber(ARGV[5]) end
if r > 0 and u >= a then r = 0; a = 0 end
local value = string.format('%d,%d,%d,%d', c, r, a, u)
redis.call('HSET', KEYS[1], ARGV[1], value)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[6]))
redis.call('PUBLISH', ARGV[7], ARGV[8] .. ' ' .. ARGV[1] .. ' ' .. value)
return value
`;

/**
 * CLEAR. KEYS: the provider's penalty hash. ARGV: ttlMs, channel, message prefix. Drops every penalty and leaves
 * the time of the clear (field "~clear") so a replica that missed the message still sees it.
 */
export const CLEAR_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], '~clear', now)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
redis.call('PUBLISH', ARGV[2], ARGV[3] .. ' ~clear ' .. now)
return now
`;

/**
 * LEARN. KEYS: the provider's learned-limits hash. ARGV: ttlMs, then field value pairs ("<fp>:<family>", JSON of
 * the observation). A field keeps the observation seen last by the upstream (the highest observedAtMs).
 */
export const LEARN_SCRIPT = `
for k = 2, #ARGV, 2 do
  local old = redis.call('HGET', KEYS[1], ARGV[k])
  local keep = false
  if old then
    local ok, o = pcall(cjson.decode, old)
    local ok2, n = pcall(cjson.decode, ARGV[k + 1])
    keep = ok and ok2 and type(o) == 'table' and type(n) == 'table' and (o.observedAtMs or 0) > (n.observedAtMs or 0)
  end
  if not keep then redis.call('HSET', KEYS[1], ARGV[k], ARGV[k + 1]) end
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))
return 1
`;

/** STATE. KEYS: the provider's penalty hash, its learned-limits hash. Returns both, for the periodic read. */
export const STATE_SCRIPT = `
return {redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2])}
`;
