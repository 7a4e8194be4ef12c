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
 * ADMIT, for a batch of requests of one provider (those that arrived while the previous call was out).
 * KEYS: the window hashes the batch names (each once). ARGV: bucketMs, buckets, then the number of requests and per
 * request: estimate, nc, then nc times (key index in KEYS, rpm, itpm, otpm); then the number of settlements and per
 * settlement: key index, inputDelta, output. Applies the settlements, then admits each request, in order, on its
 * first candidate that fits (counting the request and its estimate). Returns per request {index (0-based), 0} or
 * {-1, ms until the soonest candidate might fit}, flattened.
 */
export const ADMIT_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local bms = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local cur = math.floor(now / bms)
local oldest = cur - n
local ttl = (n + 2) * bms
local state = {}
local function load(k)
  local s = state[k]
  if s then return s end
  s = { r = {}, i = {}, o = {}, sr = 0, si = 0, so = 0, dr = 0, di = 0, dout = 0 }
  local raw = redis.call('HGETALL', KEYS[k])
  local stale = {}
  for x = 1, #raw, 2 do
    local f = raw[x]
    local kind = string.sub(f, 1, 1)
    local b = tonumber(string.sub(f, 2))
    local v = tonumber(raw[x + 1])
    if b == nil or b < oldest then stale[#stale + 1] = f
    elseif kind == 'r' then s.r[b] = v; s.sr = s.sr + v
    elseif kind == 'i' then s.i[b] = v; s.si = s.si + v
    else s.o[b] = v; s.so = s.so + v end
  end
  if #stale > 0 then redis.call('HDEL', KEYS[k], unpack(stale)) end
  state[k] = s
  return s
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
local pos = 4
local reqs = {}
for q = 1, tonumber(ARGV[3]) do
  local est = tonumber(ARGV[pos])
  local nc = tonumber(ARGV[pos + 1])
  pos = pos + 2
  local cands = {}
  for c = 1, nc do
    cands[c] = { tonumber(ARGV[pos]), tonumber(ARGV[pos + 1]), tonumber(ARGV[pos + 2]), tonumber(ARGV[pos + 3]) }
    pos = pos + 4
  end
  reqs[q] = { est, cands }
end
local ns = tonumber(ARGV[pos])
pos = pos + 1
for j = 1, ns do
  local s = load(tonumber(ARGV[pos]))
  local di = tonumber(ARGV[pos + 1])
  local out = tonumber(ARGV[pos + 2])
  pos = pos + 3
  s.i[cur] = (s.i[cur] or 0) + di; s.si = s.si + di; s.di = s.di + di
  s.o[cur] = (s.o[cur] or 0) + out; s.so = s.so + out; s.dout = s.dout + out
end
local answers = {}
for q = 1, #reqs do
  local est = reqs[q][1]
  local cands = reqs[q][2]
  local admitted = -1
  local soonest = -1
  for c = 1, #cands do
    local s = load(cands[c][1])
    local rpm, itpm, otpm = cands[c][2], cands[c][3], cands[c][4]
    local si = s.si
    if si < 0 then si = 0 end
    local needI = math.max(1, math.min(est, itpm))
    local wait = math.max(untilFits(s.r, s.sr, 1, rpm), untilFits(s.i, si, needI, itpm), untilFits(s.o, s.so, 1, otpm))
    if wait <= 0 then
      s.r[cur] = (s.r[cur] or 0) + 1; s.sr = s.sr + 1; s.dr = s.dr + 1
      if est > 0 then s.i[cur] = (s.i[cur] or 0) + est; s.si = s.si + est; s.di = s.di + est end
      admitted = c - 1
      break
    end
    if soonest < 0 or wait < soonest then soonest = wait end
  end
  answers[#answers + 1] = admitted
  answers[#answers + 1] = admitted >= 0 and 0 or soonest
end
for k, s in pairs(state) do
  if s.dr ~= 0 then redis.call('HINCRBY', KEYS[k], 'r' .. cur, s.dr) end
  if s.di ~= 0 then redis.call('HINCRBY', KEYS[k], 'i' .. cur, s.di) end
  if s.dout ~= 0 then redis.call('HINCRBY', KEYS[k], 'o' .. cur, s.dout) end
  if s.dr ~= 0 or s.di ~= 0 or s.dout ~= 0 then redis.call('PEXPIRE', KEYS[k], ttl) end
end
return answers
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
