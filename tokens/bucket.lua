-- One atomic step of the shared Keepa token bucket (see tokens/bucket.py for the model).
--
-- KEYS[1] state hash, KEYS[2] reservations hash (id -> "cost:seq:ghost_seq"),
-- KEYS[3] reservation expiry zset (id -> expiry ms).
-- ARGV[1] op, ARGV[2] now (clock ms, from the caller's clock, never Redis TIME),
-- ARGV[3..11] policy: threshold, timeout_ms, floor, auto (0/1), auto_below_rate,
-- auto_below_balance, reservation_ttl_ms, probe_wait_ms, skew_ms (how far two clocks may
-- disagree before one is called wrong); ARGV[12..] op arguments.
-- Every reply is a flat list of name/value strings: the status plus what the op decided.

local state_key, res_key, exp_key = KEYS[1], KEYS[2], KEYS[3]
local op = ARGV[1]
local now = tonumber(ARGV[2])
local threshold = tonumber(ARGV[3])
local timeout_ms = tonumber(ARGV[4])
local floor_ = tonumber(ARGV[5])
local auto = ARGV[6] == '1'
local auto_rate = tonumber(ARGV[7])
local auto_balance = tonumber(ARGV[8])
local ttl_ms = tonumber(ARGV[9])
local probe_wait_ms = tonumber(ARGV[10])
local skew_bound = tonumber(ARGV[11])
local TICK = 60000
local FALLBACK_WAIT = 60000

local function fmt(x)
  if x == nil then return '' end
  if type(x) == 'number' then return string.format('%.0f', x) end
  return tostring(x)
end

local s = {}
local raw = redis.call('HGETALL', state_key)
for i = 1, #raw, 2 do s[raw[i]] = raw[i + 1] end
local dirty = {}
local function get(name) local v = s[name]; if v == nil or v == '' then return nil end; return v end
local function num(name, default) local v = get(name); if v == nil then return default end; return tonumber(v) end
local function set(name, value) s[name] = fmt(value); dirty[name] = true end

-- What the bucket last saw of a clock that disagreed by more than the bound (for diagnose).
local function note_skew(kind, amount)
  set('skew_kind', kind)
  set('skew_ms', amount)
  set('skew_at', now)
end

-- Time never runs backwards inside the bucket, across the small disagreements of hosts'
-- clocks. A high-water mark further ahead than the bound came from a clock that was wrong
-- (a caller's, or a demo's x60 clock): holding it would freeze every projection until real
-- time caught up, so the bucket follows the earlier clock, which can only make it late, and
-- says so. The balance projected on the wrong clock is no longer known: one probe call brings
-- Keepa's reading, which settles which clock was right.
local last_now = num('last_now', now)
if now < last_now then
  if last_now - now <= skew_bound then
    now = last_now
  else
    note_skew('bucket_ahead', last_now - now)
    set('known', 0)
  end
end
set('last_now', now)

-- A dead worker's reservation expires instead of leaking.
if #redis.call('ZRANGEBYSCORE', exp_key, '-inf', now, 'LIMIT', 0, 1) > 0 then
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', exp_key, '-inf', now)) do
    redis.call('HDEL', res_key, id)
  end
  redis.call('ZREMRANGEBYSCORE', exp_key, '-inf', now)
end

local function parse(entry)
  local cost, seq, ghost = string.match(entry, '^(-?%d+):(%d+):(%d+)$')
  return tonumber(cost), tonumber(seq), tonumber(ghost)
end

local function in_flight()
  local total, live, ghosts = 0, 0, 0
  local all = redis.call('HGETALL', res_key)
  for i = 1, #all, 2 do
    local cost, _, ghost = parse(all[i + 1])
    total = total + cost
    if ghost == 0 then live = live + 1 else ghosts = ghosts + 1 end
  end
  return total, live, ghosts
end

local known = get('known') == '1'
local rate = num('rate', 0)
local anchor_balance = num('balance', 0)
local next_refill = num('next_refill', now)

local function capacity() return 60 * rate end
local function clamped_threshold()
  local t = math.min(threshold, capacity() - rate)
  if t < 0 then t = 0 end
  return t
end
local function ticks_until(t)
  if rate <= 0 or t < next_refill then return 0 end
  return math.floor((t - next_refill) / TICK) + 1
end
-- Keepa's balance at time t from the last reading: rate per whole minute, capped at 60 x rate.
local function projected(t)
  local n = ticks_until(t)
  if n == 0 then return anchor_balance end
  local b = anchor_balance + n * rate
  if b > capacity() then b = math.max(anchor_balance, capacity()) end
  return b
end
-- The first time >= now at which the projected balance reaches target (nil: never by refills).
local function time_to_reach(target)
  if projected(now) >= target then return now end
  if rate <= 0 or target > capacity() then return nil end
  local needed = math.ceil((target - anchor_balance) / rate)
  return next_refill + (needed - 1) * TICK
end
local function next_tick()
  if not known or rate <= 0 then return nil end
  return next_refill + ticks_until(now) * TICK
end
local function earliest_expiry()
  local first = redis.call('ZRANGE', exp_key, 0, 0, 'WITHSCORES')
  if #first == 0 then return nil end
  return tonumber(first[2])
end

local function state_label()
  if get('fatal_reason') then return 'paused' end
  if get('recharge_active') == '1' then return 'recharging' end
  return 'active'
end

local transitions = {}
local function transition(action, old, actor, reason)
  table.insert(transitions, table.concat({action, old, state_label(), actor, reason}, '\31'))
end

local function begin_recharge(actor, reason)
  local old = state_label()
  set('recharge_active', 1)
  set('recharge_started_at', now)
  set('recharge_deadline', now + timeout_ms)
  set('recharge_actor', actor)
  set('recharge_reason', reason)
  transition('recharge_on', old, actor, reason)
end

local function finish_recharge(actor, reason)
  local old = state_label()
  set('recharge_active', 0)
  set('recharge_started_at', '')
  set('recharge_deadline', '')
  set('recharge_actor', '')
  set('recharge_reason', '')
  transition('recharge_off', old, actor, reason)
end

local inflight, live, ghosts = in_flight()

-- A recharge ends once the projected balance reaches the clamped threshold, or at its timeout.
local function settle_recharge()
  if get('recharge_active') ~= '1' then return end
  local thr = clamped_threshold()
  if known and projected(now) - inflight >= thr then
    finish_recharge('automatic', 'threshold ' .. fmt(thr) .. ' reached')
  elseif now >= num('recharge_deadline', now) then
    finish_recharge('automatic', 'timeout: threshold ' .. fmt(thr) .. ' not reached after '
      .. fmt(timeout_ms / 60000) .. ' min')
  end
end

local out = {}
local function put(name, value) table.insert(out, name); table.insert(out, fmt(value)) end

local function refuse(reason, wait_at, detail)
  local wait = FALLBACK_WAIT
  if wait_at ~= nil then wait = math.max(0, wait_at - now) end
  put('granted', 0)
  put('reason', reason)
  put('wait_ms', math.max(wait, 1))
  put('detail', detail or '')
end

if op == 'reserve' then
  local id, cost = ARGV[12], tonumber(ARGV[13])
  settle_recharge()
  local function grant()
    local seq = num('seq', 0) + 1
    set('seq', seq)
    redis.call('HSET', res_key, id, fmt(cost) .. ':' .. fmt(seq) .. ':0')
    redis.call('ZADD', exp_key, now + ttl_ms, id)
    inflight = inflight + cost
    live = live + 1
    put('granted', 1)
    put('reservation_id', id)
  end
  if get('fatal_reason') then
    refuse('fatal', now + FALLBACK_WAIT * 5, get('fatal_reason'))
  elseif not known then
    -- Unknown balance: one probe call at a time, so the first reading arrives. Reservations
    -- expiring beyond any ttl were stamped on a clock that was ahead: they do not block it.
    local misdated = redis.call('ZCOUNT', exp_key, '(' .. fmt(now + ttl_ms + skew_bound), '+inf')
    if live <= misdated then
      grant()
    else
      local until_ = now + probe_wait_ms
      local expiry = earliest_expiry()
      if expiry ~= nil and expiry < until_ then until_ = expiry end
      refuse('empty', until_, 'balance unknown: waiting for the probe call to report')
    end
  else
    local available = projected(now) - inflight
    if auto and get('recharge_active') ~= '1' and rate < auto_rate
        and available < auto_balance and available < clamped_threshold() then
      begin_recharge('automatic', 'refill rate ' .. fmt(rate) .. '/min below ' .. fmt(auto_rate)
        .. ' and balance ' .. fmt(available) .. ' below ' .. fmt(auto_balance))
    end
    if get('recharge_active') == '1' then
      local at = time_to_reach(clamped_threshold() + inflight)
      -- Out of reach only while reservations hold tokens: look again when the first expires.
      if at == nil then at = earliest_expiry() end
      local deadline = num('recharge_deadline', now)
      if at == nil or deadline < at then at = deadline end
      refuse('recharging', at, 'recharging to ' .. fmt(clamped_threshold()))
    elseif available > floor_ and (live == 0 or available - cost >= floor_) then
      grant()
    else
      local at, detail = time_to_reach(floor_ + inflight + 1), ''
      if available > floor_ then
        -- Only a call on its own may overdraw: with others in flight Keepa may see them in
        -- any order, and a later one would find the balance spent (a 429).
        at, detail = time_to_reach(floor_ + inflight + cost), 'would overdraw while calls are in flight'
        if at == nil or now + probe_wait_ms < at then at = now + probe_wait_ms end
      end
      if at == nil then at = earliest_expiry() end
      refuse('empty', at, detail)
    end
  end
elseif op == 'settle' then
  local id = ARGV[12]
  local has_reading = ARGV[13] == '1'
  local http_status = tonumber(ARGV[19])
  local caller_offset = tonumber(ARGV[20]) or 0
  local entry = nil
  if id ~= '' then entry = redis.call('HGET', res_key, id) end
  local cost, seq = 0, nil
  if entry then cost, seq = parse(entry) end
  -- Keepa refused the call: remember what it answered (a 402 is the plan, not the balance).
  if http_status == 429 or http_status == 402 then
    set('last_refusal_status', http_status)
    set('last_refusal_at', now)
  end
  if http_status == 429 then set('last_429_at', now) end
  -- Times stamped on a clock that Keepa's reading shows to be ahead (reservations' expiry, a
  -- recharge's deadline) are brought back to now, so none outlives its own length.
  local function resync_times()
    local too_late = now + ttl_ms + skew_bound
    for _, member in ipairs(redis.call('ZRANGEBYSCORE', exp_key, '(' .. fmt(too_late), '+inf')) do
      redis.call('ZADD', exp_key, now + ttl_ms, member)
    end
    if num('recharge_deadline', now) > now + timeout_ms then set('recharge_deadline', now + timeout_ms) end
    if num('recharge_started_at', now) > now then set('recharge_started_at', now) end
    set('last_now', now)
  end
  if caller_offset ~= 0 then
    -- The caller found its own clock off Keepa's by more than the bound and sent a corrected now.
    note_skew(caller_offset > 0 and 'caller_ahead' or 'caller_behind', math.abs(caller_offset))
    resync_times()
  end
  if has_reading then
    local left, refill_in, new_rate = tonumber(ARGV[14]), tonumber(ARGV[15]), tonumber(ARGV[16])
    local ts, consumed = tonumber(ARGV[17]), tonumber(ARGV[18])
    if entry then
      redis.call('HDEL', res_key, id)
      redis.call('ZREM', exp_key, id)
      -- This call left after every ghost older than it had finished, so Keepa's reading
      -- already holds their charges.
      local all = redis.call('HGETALL', res_key)
      for i = 1, #all, 2 do
        local _, _, ghost = parse(all[i + 1])
        if ghost > 0 and ghost <= seq then
          redis.call('HDEL', res_key, all[i])
          redis.call('ZREM', exp_key, all[i])
        end
      end
      if http_status == nil and cost > 0 and consumed == 0 and left <= 0 then set('last_429_at', now) end
    end
    local applied_ts = num('applied_ts', nil)
    local newer = applied_ts == nil or ts > applied_ts
      or (ts == applied_ts and left < anchor_balance)
    -- A held reading stamped further ahead of this fresh one (Keepa's own time, agreeing with
    -- the caller's clock) than any request lasts came from a wrong clock: a skewed host or an
    -- earlier demo's x60 clock. Holding it would throw away every real reading until Keepa's
    -- time caught up, so the fresh reading replaces it.
    local resync = not newer and applied_ts - ts > skew_bound and math.abs(now - ts) <= skew_bound
    if resync then
      note_skew('reading_ahead', applied_ts - ts)
      resync_times()
      newer = true
    end
    if newer then
      local new_next = now + refill_in
      if not resync and known and new_rate == rate and math.abs(new_next - next_refill) < TICK / 2 then
        -- Both readings fall between the same two refills, where the balance only goes down:
        -- a later reading showing more was assembled before a charge it does not show.
        if anchor_balance < left then left = anchor_balance end
        if next_refill > new_next then new_next = next_refill end
      end
      set('known', 1)
      set('balance', left)
      set('rate', new_rate)
      set('next_refill', new_next)
      set('applied_ts', ts)
      set('applied_at', now)
      known, rate, anchor_balance, next_refill = true, new_rate, left, new_next
      put('applied', 1)
    else
      put('applied', 0)
    end
  elseif entry then
    -- The call may or may not have been charged: keep its cost until a later call reports.
    redis.call('HSET', res_key, id, fmt(cost) .. ':' .. fmt(seq) .. ':' .. fmt(num('seq', 0) + 1))
  end
  inflight, live, ghosts = in_flight()
elseif op == 'start_recharge' then
  settle_recharge()
  if get('recharge_active') ~= '1' then begin_recharge(ARGV[12], ARGV[13]) end
elseif op == 'end_recharge' then
  if get('recharge_active') == '1' then finish_recharge(ARGV[12], ARGV[13]) end
elseif op == 'pause_fatal' then
  if not get('fatal_reason') then
    local old = state_label()
    set('fatal_reason', ARGV[13])
    set('fatal_at', now)
    transition('fatal_pause', old, ARGV[12], ARGV[13])
  end
elseif op == 'release_fatal' then
  if get('fatal_reason') then
    local old = state_label()
    set('fatal_reason', '')
    set('fatal_at', '')
    transition('fatal_release', old, ARGV[12], ARGV[13])
  end
else
  settle_recharge()
end

local flat = {}
for name, _ in pairs(dirty) do table.insert(flat, name); table.insert(flat, s[name]) end
if #flat > 0 then redis.call('HSET', state_key, unpack(flat)) end

put('now', now)
put('known', known and 1 or 0)
put('tokens', projected(now))
put('refill_rate', rate)
put('next_refill_at', next_tick())
put('recharge_active', get('recharge_active') == '1' and 1 or 0)
put('recharge_threshold', clamped_threshold())
put('recharge_started_at', get('recharge_started_at'))
put('recharge_deadline', get('recharge_deadline'))
put('recharge_reason', get('recharge_reason'))
put('recharge_actor', get('recharge_actor'))
if get('recharge_active') == '1' and known then
  put('recharge_ready_at', time_to_reach(clamped_threshold() + inflight))
end
put('in_flight_tokens', inflight)
put('reservations_in_flight', live)
put('unconfirmed_reservations', ghosts)
put('applied_at', get('applied_at'))
put('last_429_at', get('last_429_at'))
put('last_refusal_status', get('last_refusal_status'))
put('last_refusal_at', get('last_refusal_at'))
put('skew_kind', get('skew_kind'))
put('skew_ms', get('skew_ms'))
put('skew_at', get('skew_at'))
put('fatal_reason', get('fatal_reason'))
put('fatal_at', get('fatal_at'))
put('transitions', table.concat(transitions, '\30'))
return out
