#!lua name=haechi_engine_v1
--
-- engine.lua - the release engine's Redis functions (Redis 7 FUNCTION LOAD).
--
-- Every function runs atomically, so any number of schedulers and workers
-- can share one Redis: a due release is claimed by exactly one scheduler,
-- and a work item is acknowledged in the same step that records its
-- outcome. All keys live under one hash tag, PREFIX:{e}:, so every call
-- touches one slot. The C side passes "now" (the one clock, possibly
-- virtual) and does all time-zone arithmetic; these functions only compare
-- numbers.
--
-- Keys (P = "PREFIX:{e}:"):
--   P..due              ZSET  "r:ID:RID|M;SPEC" -> next firing of a release (ms);
--                             M is 1 when later firings wait in occ:ID:RID,
--                             SPEC its "ch:expiry_ms,..." (so a claim needs
--                             no lookup per release)
--                             "i:ITEM"   -> a delayed item (retry, quiet hours)
--   P..occ:ID:RID       LIST  the release's later firings, ascending (ms)
--   P..camp:ID          HASH  status, version, tz, releases, pending,
--                             rel:RID = "ch:expiry_ms,...",
--                             quiet = "ch=start-end,ch=,..." (minutes; empty: none),
--                             more:RID = 1 when the release has later firings
--   P..armed            HASH  ID -> version armed
--   P..fires:ID         HASH  "RID|due|CH" -> JSON state of one delivery
--   P..held:ID          ZSET  "RID|due" firings that came due while paused
--   P..heldq:ID         LIST  items that reached a worker while paused
--   P..expired:ID       HASH  "RID|due" -> channels that expired
--   P..delayed          HASH  ITEM -> JSON {attempt, version, fired}
--   P..q:CH             STREAM work items of channel CH (group "workers")
--   P..pause:CH         STRING {until, reason, item}: channel CH paused (expires itself)
--   P..rate:CH          HASH  tokens, at: channel CH's token bucket
--   P..dead             STREAM dead letters
--   P..metrics:ID       HASH  "CH|YYYYMMDDHH|outcome" -> count
--                             "CH|YYYYMMDDHH|FIGURE|RID|TARGET" -> an insights
--                             figure's growth in that hour (impressions, reach,
--                             clicks, opens; insights())
--   P..insights         ZSET  {item, ext, after} JSON -> when to poll a sent
--                             post's figures (ms)
--   P..totals           HASH  "CH|outcome" -> count over every campaign, written
--                             with metrics:ID (so /metrics reads one key)
--   P..events           pub/sub channel: "wake" when something earlier is due
-- A finished or cancelled campaign's fires:, metrics:, expired:, held:,
-- heldq: and occ: keys expire after camp:ID's "retention" seconds (retain());
-- arming it again keeps them (keep()).
-- An item id is "ID|RID|due|CH": one delivery, stable across retries; a
-- fanned-out release's targets are "ID|RID|due|CH|TARGET", with their
-- states in fires:ID under "RID|due|CH|TARGET" and rolled up into the
-- parent's "RID|due|CH" (haechi_fanout, rollup()).
-- A stream entry is deleted once acknowledged (done()): its outcome lives
-- in fires:ID, and the streams stay as short as the work in flight.

-- Acknowledges a stream entry and drops it.
local function done(stream, group, entry)
  redis.call('XACK', stream, group, entry)
  redis.call('XDEL', stream, entry)
end

local function split(s, sep)
  local out = {}
  if not s or s == '' then return out end
  for part in string.gmatch(s, '([^' .. sep .. ']+)') do out[#out + 1] = part end
  return out
end

-- An item id is "ID|RID|due|CH" for a whole release on a channel, or
-- "ID|RID|due|CH|TARGET" for one target of a fanned-out one (a recipient
-- batch, a network). Returns id, rid, due, ch, target (nil for a parent).
local function item_parts(item)
  local id, rid, due, ch, target =
    string.match(item, '^([^|]+)|([^|]+)|([^|]+)|([^|]+)|([^|]+)$')
  if id then return id, rid, due, ch, target end
  id, rid, due, ch = string.match(item, '^([^|]+)|([^|]+)|([^|]+)|([^|]+)$')
  return id, rid, due, ch, nil
end

-- The state field of a delivery: "CH", or "CH|TARGET" for one target.
local function chkey(ch, target)
  if target then return ch .. '|' .. target end
  return ch
end

-- The one writer of a delivery's state. Returns the state and the unknown
-- flag the record had before (begin() needs them: one read, not two).
local function set_state(p, id, rid, due, ch, fields)
  local key = p .. 'fires:' .. id
  local field = rid .. '|' .. due .. '|' .. ch
  local cur = redis.call('HGET', key, field)
  local rec = cur and cjson.decode(cur) or { due = tonumber(due) }
  local prior_state, prior_unknown = rec.state, rec.unknown
  for k, v in pairs(fields) do rec[k] = v end
  if fields.reason == nil and (fields.state == 'queued' or fields.state == 'sending'
      or fields.state == 'sent') then
    rec.reason = nil
  end
  redis.call('HSET', key, field, cjson.encode(rec))
  return prior_state, prior_unknown
end

-- A claim of thousands of releases collects its writes in a tally and
-- flush()es them at the end: each counter once, each campaign's new states
-- in a few HSETs.
local function new_tally()
  return { counts = {}, fires = {} }
end

-- Adds to a metrics counter, at once or (with a tally) when flush() runs;
-- a tally counts in plain tables and makes the key strings once.
local function count(p, id, ch, hour, what, n, tally)
  if tally then
    local byid = tally.counts[id]
    if not byid then
      byid = { hour = hour }
      tally.counts[id] = byid
    end
    local k = ch .. '|' .. what
    byid[k] = (byid[k] or 0) + (n or 1)
  else
    redis.call('HINCRBY', p .. 'metrics:' .. id, ch .. '|' .. hour .. '|' .. what, n or 1)
    redis.call('HINCRBY', p .. 'totals', ch .. '|' .. what, n or 1)
  end
end

-- The engine keys of a campaign that grow with its deliveries.
local function history_keys(p, id, releases)
  local keys = { p .. 'fires:' .. id, p .. 'metrics:' .. id, p .. 'expired:' .. id,
    p .. 'held:' .. id, p .. 'heldq:' .. id }
  for _, rid in ipairs(split(releases, ',')) do keys[#keys + 1] = p .. 'occ:' .. id .. ':' .. rid end
  return keys
end

-- A campaign that is over keeps its history for its retention, then Redis
-- drops it; late outcomes written meanwhile keep the TTL (HSET, HINCRBY).
local function retain(p, id)
  local v = redis.call('HMGET', p .. 'camp:' .. id, 'retention', 'releases')
  local secs = tonumber(v[1] or '0') or 0
  if secs <= 0 then return end
  for _, key in ipairs(history_keys(p, id, v[2] or '')) do redis.call('EXPIRE', key, secs) end
end

-- A campaign armed again (a new version of a finished one) keeps its history.
local function keep(p, id, releases)
  for _, key in ipairs(history_keys(p, id, releases)) do redis.call('PERSIST', key) end
end

-- FINISHED: the ids of campaigns that ended in this step; they are
-- retain()ed last, once every key they write exists.
local function flush(p, tally, finished)
  local totals = {}
  for id, byid in pairs(tally.counts) do
    local key = p .. 'metrics:' .. id
    for k, n in pairs(byid) do
      if k ~= 'hour' then
        local ch, what = string.match(k, '^([^|]+)|(.+)$')
        redis.call('HINCRBY', key, ch .. '|' .. byid.hour .. '|' .. what, n)
        totals[k] = (totals[k] or 0) + n
      end
    end
  end
  for k, n in pairs(totals) do redis.call('HINCRBY', p .. 'totals', k, n) end
  for key, pairs_ in pairs(tally.fires) do
    -- In slices: unpack() is limited by Lua's C stack.
    for i = 1, #pairs_, 4000 do
      redis.call('HSET', key, unpack(pairs_, i, math.min(i + 3999, #pairs_)))
    end
  end
  for _, id in ipairs(finished or {}) do retain(p, id) end
end

-- Wakes the schedulers when SCORE became the earliest due entry.
local function wake_if_first(p, score)
  local first = redis.call('ZRANGE', p .. 'due', 0, 0, 'WITHSCORES')
  if first[2] and tonumber(first[2]) >= tonumber(score) then
    redis.call('PUBLISH', p .. 'events', 'wake')
  end
end

-- A campaign's engine view, without its releases: those are read one at
-- a time by rel_of(), so a campaign with a thousand releases costs a
-- claim only the ones it fires. Quiet hours come as one field,
-- "ch=start-end,ch=,..." (the C side owns the list of channels).
local function load_camp(p, id)
  local key = p .. 'camp:' .. id
  local v = redis.call('HMGET', key, 'status', 'version', 'tz', 'releases', 'quiet')
  if not v[1] then return nil end
  local c = { id = id, key = key, status = v[1], version = v[2], tz = v[3] or 'UTC',
    releases = v[4] or '', quiet = {}, rel = {}, more = {}, fires_key = p .. 'fires:' .. id }
  for ch, q in string.gmatch(v[5] or '', '([^=,]+)=([^,]*)') do c.quiet[ch] = q end
  return c
end

local function parse_spec(spec)
  local r = {}
  for _, pair in ipairs(split(spec, ',')) do
    local ch, exp = string.match(pair, '^([^:]+):(%d+)$')
    r[#r + 1] = { ch = ch, exp = tonumber(exp) }
  end
  return r
end

-- The due-set member of release RID of campaign ID, from what was armed.
local function member_of(camp_key, id, rid)
  local v = redis.call('HMGET', camp_key, 'rel:' .. rid, 'more:' .. rid)
  return 'r:' .. id .. ':' .. rid .. '|' .. (v[2] and '1' or '0') .. ';' .. (v[1] or '')
end

-- The channels of release RID, each {ch, exp}, read once per call.
local function rel_of(camp, rid)
  local r = camp.rel[rid]
  if r == nil then
    local v = redis.call('HMGET', camp.key, 'rel:' .. rid, 'more:' .. rid)
    r = parse_spec(v[1] or '')
    camp.rel[rid] = r
    camp.more[rid] = v[2] and true or false
  end
  return r
end

-- Puts one delivery on its channel's stream. FRESH: a first firing, which
-- has no state yet to merge with (the hot path of a burst).
local function enqueue(p, camp, rid, due, ch, now, attempt, hour, fired, fresh, tally, target)
  -- The item id carries campaign, release, due time, channel (and target).
  local item = camp.id .. '|' .. rid .. '|' .. due .. '|' .. chkey(ch, target)
  redis.call('XADD', p .. 'q:' .. ch, '*', 'item', item, 'version', camp.version,
    'fired', fired, 'attempt', attempt, 'target', target or 'all',
    'tz', camp.tz, 'quiet', camp.quiet[ch] or '')
  if fresh then
    -- Written without reading: no earlier state to merge (the hot path).
    local list = tally.fires[camp.fires_key]
    if not list then
      list = {}
      tally.fires[camp.fires_key] = list
    end
    list[#list + 1] = rid .. '|' .. due .. '|' .. ch
    list[#list + 1] = string.format(
      '{"due":%s,"state":"queued","at":%d,"fired":%d,"late":%d,"attempts":0}',
      due, now, fired, tonumber(fired) - tonumber(due))
  else
    set_state(p, camp.id, rid, due, chkey(ch, target), { state = 'queued', at = now,
      fired = tonumber(fired), late = tonumber(fired) - tonumber(due),
      attempts = attempt - 1 })
  end
  if not target then count(p, camp.id, ch, hour, 'queued', 1, tally) end
end

-- A campaign with nothing left to fire is finished (unless paused: a
-- paused one finishes when resumed). N firings of CAMP were just claimed.
local function settle(p, camp, n, finished)
  local left = redis.call('HINCRBY', p .. 'camp:' .. camp.id, 'pending', -n)
  if left <= 0 and camp.status == 'scheduled' then
    redis.call('HSET', p .. 'camp:' .. camp.id, 'status', 'finished')
    camp.status = 'finished'
    finished[#finished + 1] = camp.id
  end
end

-- Fires release RID of CAMP due at DUE: enqueue, expire or hold each channel.
local function fire(p, camp, rid, due, now, hour, default_exp, stats, tally)
  local chans = rel_of(camp, rid)
  if camp.status == 'paused' then
    redis.call('ZADD', p .. 'held:' .. camp.id, due, rid .. '|' .. due)
    for _, c in ipairs(chans) do
      set_state(p, camp.id, rid, due, c.ch, { state = 'held', at = now,
        reason = 'campaign paused' })
    end
    stats.held = stats.held + 1
    return
  end
  local late = now - tonumber(due)
  local lost = {}
  for _, c in ipairs(chans) do
    local exp = c.exp > 0 and c.exp or default_exp
    if late > exp then
      lost[#lost + 1] = c.ch
      set_state(p, camp.id, rid, due, c.ch, { state = 'expired', at = now, late = late,
        reason = string.format('not sent: %d s late, over its expiry of %d s; '
          .. '`haechi release %s:%s --now` sends it', math.floor(late / 1000),
          math.floor(exp / 1000), camp.id, rid) })
      count(p, camp.id, c.ch, hour, 'expired', 1, tally)
      stats.expired = stats.expired + 1
    else
      enqueue(p, camp, rid, due, c.ch, now, 1, hour, now, true, tally)
      stats.items = stats.items + 1
    end
  end
  if #lost > 0 then
    redis.call('HSET', p .. 'expired:' .. camp.id, rid .. '|' .. due, table.concat(lost, ','))
  end
  stats.released = stats.released + 1
end

-- KEYS due. ARGV now, batch, P, hour, default_expiry_ms.
-- Returns {taken, released, items, expired, held, next_due or -1,
-- finished ids...}; taken == batch means more may be due already.
local function claim(keys, args)
  local due_key, now, batch, p = keys[1], tonumber(args[1]), tonumber(args[2]), args[3]
  local hour, default_exp = args[4], tonumber(args[5])
  -- Pop the earliest entries; any not yet due go straight back.
  local got = redis.call('ZPOPMIN', due_key, batch)
  local stats = { released = 0, items = 0, expired = 0, held = 0 }
  local finished, camps, claimed, tally = {}, {}, {}, new_tally()
  local taken = 0
  for i = 1, #got, 2 do
    local member, score = got[i], got[i + 1]
    if tonumber(score) > now then
      for j = i, #got, 2 do redis.call('ZADD', due_key, got[j + 1], got[j]) end
      break
    end
    taken = taken + 1
    local kind = string.sub(member, 1, 2)
    if kind == 'r:' then
      local id, rid, more, spec = string.match(member, '^r:([^:]+):([^|]+)|(%d);(.*)$')
      local camp = id and camps[id]
      if id and camp == nil then
        camp = load_camp(p, id) or false
        camps[id] = camp
      end
      if camp and camp.status ~= 'cancelled' and camp.status ~= 'finished' then
        camp.rel[rid] = parse_spec(spec)
        camp.more[rid] = more == '1'
        if camp.more[rid] then
          local nxt = redis.call('LPOP', p .. 'occ:' .. id .. ':' .. rid)
          if nxt then redis.call('ZADD', due_key, nxt, member) end
        end
        fire(p, camp, rid, score, now, hour, default_exp, stats, tally)
        claimed[id] = (claimed[id] or 0) + 1
      end
    elseif kind == 'i:' then
      local item = string.sub(member, 3)
      local saved = redis.call('HGET', p .. 'delayed', item)
      redis.call('HDEL', p .. 'delayed', item)
      local id, rid, due, ch, target = item_parts(item)
      local camp = id and camps[id]
      if id and camp == nil then
        camp = load_camp(p, id) or false
        camps[id] = camp
      end
      if saved and camp and camp.status ~= 'cancelled' then
        local d = cjson.decode(saved)
        enqueue(p, camp, rid, due, ch, now, d.attempt, hour, d.fired, false, tally, target)
        stats.items = stats.items + 1
      elseif id then
        set_state(p, id, rid, due, chkey(ch, target), { state = 'cancelled', at = now })
      end
    end
  end
  for id, n in pairs(claimed) do settle(p, camps[id], n, finished) end
  flush(p, tally, finished)
  local first = redis.call('ZRANGE', due_key, 0, 0, 'WITHSCORES')
  local out = { taken, stats.released, stats.items, stats.expired, stats.held,
    first[2] and tonumber(first[2]) or -1 }
  for _, id in ipairs(finished) do out[#out + 1] = id end
  return out
end

-- KEYS camp:ID, due, armed. ARGV id, version, status, tz, P, nsettings,
-- then nsettings (field, value) pairs, then nreleases, then per release:
-- rid, "ch:expiry_ms,...", k, then k firing times ascending (ms).
-- Replaces whatever an earlier version armed.
local function arm(keys, args)
  local camp_key, due_key, armed_key = keys[1], keys[2], keys[3]
  local id, version, status, tz, p = args[1], args[2], args[3], args[4], args[5]
  local old = redis.call('HGET', camp_key, 'releases')
  for _, rid in ipairs(split(old, ',')) do
    redis.call('ZREM', due_key, member_of(camp_key, id, rid))
    redis.call('DEL', p .. 'occ:' .. id .. ':' .. rid)
  end
  redis.call('DEL', camp_key)
  local i = 6
  local nsettings = tonumber(args[i])
  i = i + 1
  for _ = 1, nsettings do
    redis.call('HSET', camp_key, args[i], args[i + 1])
    i = i + 2
  end
  local nrel = tonumber(args[i])
  i = i + 1
  local rids, pending, earliest = {}, 0, nil
  for _ = 1, nrel do
    local rid, chans, k = args[i], args[i + 1], tonumber(args[i + 2])
    i = i + 3
    rids[#rids + 1] = rid
    redis.call('HSET', camp_key, 'rel:' .. rid, chans)
    if k > 0 and status ~= 'cancelled' then
      redis.call('ZADD', due_key, args[i],
        'r:' .. id .. ':' .. rid .. '|' .. (k > 1 and '1' or '0') .. ';' .. chans)
      if earliest == nil or tonumber(args[i]) < earliest then earliest = tonumber(args[i]) end
      local occ = p .. 'occ:' .. id .. ':' .. rid
      -- RPUSH in slices: unpack() is limited by Lua's C stack.
      if k > 1 then redis.call('HSET', camp_key, 'more:' .. rid, '1') end
      local j = i + 1
      while j <= i + k - 1 do
        local last = math.min(j + 999, i + k - 1)
        redis.call('RPUSH', occ, unpack(args, j, last))
        j = last + 1
      end
      pending = pending + k
    end
    i = i + k
  end
  if pending == 0 and status == 'scheduled' then status = 'finished' end
  redis.call('HSET', camp_key, 'id', id, 'version', version, 'status', status, 'tz', tz,
    'releases', table.concat(rids, ','), 'pending', pending)
  redis.call('HSET', armed_key, id, version)
  if status == 'finished' or status == 'cancelled' then
    retain(p, id)
  else
    keep(p, id, table.concat(rids, ','))
  end
  if earliest then wake_if_first(p, earliest) end
  return { pending, status }
end

-- Sends the firings held while paused now, marked late.
local function catch_up(p, camp, now, hour)
  local held = redis.call('ZRANGE', p .. 'held:' .. camp.id, 0, -1)
  for _, m in ipairs(held) do
    local rid, due = string.match(m, '^(.+)|(%d+)$')
    for _, c in ipairs(rel_of(camp, rid)) do
      enqueue(p, camp, rid, due, c.ch, now, 1, hour, now)
    end
  end
  return #held
end

local function skip_held(p, camp, now)
  local held = redis.call('ZRANGE', p .. 'held:' .. camp.id, 0, -1)
  for _, m in ipairs(held) do
    local rid, due = string.match(m, '^(.+)|(%d+)$')
    for _, c in ipairs(rel_of(camp, rid)) do
      set_state(p, camp.id, rid, due, c.ch, { state = 'skipped', at = now,
        reason = 'came due while the campaign was paused; resume --catch-up would send it' })
    end
  end
  return #held
end

-- KEYS camp:ID. ARGV action (pause|resume|cancel), P, now, hour, catch_up (0|1).
-- Returns {status, affected}.
local function set_status(keys, args)
  local camp_key, action, p, now, hour = keys[1], args[1], args[2], tonumber(args[3]), args[4]
  local camp = load_camp(p, string.match(camp_key, 'camp:(.+)$'))
  if not camp then return { 'not-armed', 0 } end
  local affected = 0
  if action == 'pause' then
    if camp.status == 'scheduled' then camp.status = 'paused' end
  elseif action == 'resume' then
    if camp.status == 'paused' then
      local left = tonumber(redis.call('HGET', camp_key, 'pending') or '0')
      camp.status = left > 0 and 'scheduled' or 'finished'
      if args[5] == '1' then
        affected = catch_up(p, camp, now, hour)
      else
        affected = skip_held(p, camp, now)
      end
      redis.call('DEL', p .. 'held:' .. camp.id)
      -- Items that reached a worker while paused were already due: resend.
      local waiting = redis.call('LRANGE', p .. 'heldq:' .. camp.id, 0, -1)
      for _, saved in ipairs(waiting) do
        local d = cjson.decode(saved)
        local _, rid, due, ch, target = item_parts(d.item)
        enqueue(p, camp, rid, due, ch, now, d.attempt, hour, d.fired, false, nil, target)
      end
      redis.call('DEL', p .. 'heldq:' .. camp.id)
    end
  elseif action == 'cancel' then
    if camp.status ~= 'finished' then camp.status = 'cancelled' end
    for _, rid in ipairs(split(camp.releases, ',')) do
      affected = affected + redis.call('ZREM', p .. 'due', member_of(camp.key, camp.id, rid))
      redis.call('DEL', p .. 'occ:' .. camp.id .. ':' .. rid)
    end
    redis.call('DEL', p .. 'held:' .. camp.id, p .. 'heldq:' .. camp.id)
  end
  redis.call('HSET', camp_key, 'status', camp.status)
  if camp.status == 'finished' or camp.status == 'cancelled' then retain(p, camp.id) end
  return { camp.status, affected }
end

-- ---- fan-out ----------------------------------------------------------------

-- What each end of a target adds to its parent's record.
local ROLLUP_FIELD = { ok = 'ok', dead = 'failed', declined = 'declined',
  cancelled = 'cancelled' }

-- A target's end rolls up into its parent's record ("RID|due|CH"): counts
-- of targets and recipients, and once no target remains, the parent's own
-- state: sent, partial (some targets failed), declined, cancelled or dead.
-- HOUR nil: count nothing (a cancelled campaign).
-- BATCH (optional): a batch's {skipped = n, by = {reason = n}}.
local function rollup(p, id, rid, due, ch, outcome, accepted, rejected, reach, hour, now, batch)
  local field = rid .. '|' .. due .. '|' .. ch
  local cur = redis.call('HGET', p .. 'fires:' .. id, field)
  local rec = cur and cjson.decode(cur)
  if not rec or not rec.target_count then return end
  local f = ROLLUP_FIELD[outcome] or 'failed'
  rec[f] = (rec[f] or 0) + 1
  rec.remaining = (rec.remaining or rec.target_count) - 1
  rec.accepted = (rec.accepted or 0) + accepted
  rec.rejected = (rec.rejected or 0) + rejected
  rec.reach = (rec.reach or 0) + reach
  if batch then
    rec.skipped = (rec.skipped or 0) + batch.skipped
    if next(batch.by) then
      local by = rec.rejected_by or {}
      for code, k in pairs(batch.by) do by[code] = (by[code] or 0) + k end
      rec.rejected_by = by
    end
  end
  rec.at = now
  if rec.remaining <= 0 then
    local ok, failed = rec.ok or 0, rec.failed or 0
    if ok > 0 and failed == 0 then
      rec.state, rec.reason = 'sent', nil
    elseif ok > 0 then
      rec.state = 'partial'
      rec.reason = string.format('%d of %d targets failed; each target says why', failed,
        rec.target_count)
    elseif failed > 0 then
      rec.state, rec.reason = 'dead', 'every target failed; each target says why'
    elseif (rec.cancelled or 0) > 0 then
      rec.state, rec.reason = 'cancelled', nil
    else
      rec.state, rec.reason = 'declined', 'every target was declined'
    end
    if hour then
      count(p, id, ch, hour, rec.state == 'partial' and 'sent' or rec.state)
      if rec.state == 'partial' then count(p, id, ch, hour, 'partial') end
    end
  end
  redis.call('HSET', p .. 'fires:' .. id, field, cjson.encode(rec))
end

-- Replaces a release's parent item by one item per target, in the same
-- step as the parent's acknowledgement: a worker that dies before this
-- leaves the parent to be reclaimed and planned again; after it only the
-- targets remain, each sent once. KEYS q:CH. ARGV P, entry, item, group,
-- now, version, fired, tz, quiet, recipients (the plan's expected total,
-- 0: not known), then the targets. Returns how many were queued, or -1
-- when the parent was no longer pending (planned elsewhere).
local function fanout(keys, args)
  local p, entry, item, group, now = args[1], args[2], args[3], args[4], tonumber(args[5])
  local id, rid, due, ch = item_parts(item)
  if not id or redis.call('XACK', keys[1], group, entry) == 0 then return -1 end
  redis.call('XDEL', keys[1], entry)
  local recipients = tonumber(args[10]) or 0
  local n = #args - 10
  for i = 11, #args do
    local target = args[i]
    redis.call('XADD', keys[1], '*', 'item', item .. '|' .. target, 'version', args[6],
      'fired', args[7], 'attempt', 1, 'target', target, 'tz', args[8], 'quiet', args[9])
    set_state(p, id, rid, due, chkey(ch, target), { state = 'queued', at = now,
      fired = tonumber(args[7]), attempts = 0 })
  end
  set_state(p, id, rid, due, ch, { state = 'sending', at = now, target_count = n, remaining = n,
    ok = 0, failed = 0, declined = 0, cancelled = 0, accepted = 0, rejected = 0, reach = 0,
    skipped = 0, started = now, recipients = recipients > 0 and recipients or nil })
  return n
end

-- A channel-wide pause (an adapter's AGAIN for the whole channel: a 429),
-- or nil: {until = ms, reason = text, ttl = ms left}.
local function channel_pause(p, ch)
  local key = p .. 'pause:' .. ch
  local v = redis.call('GET', key)
  if not v then return nil end
  local d = cjson.decode(v)
  d.ttl = redis.call('PTTL', key)
  return d
end

-- A token bucket per channel, shared by every worker: RATE sends a second,
-- up to BURST at once. Takes a token and returns 0, or returns the ms until
-- there will be one. A clock a moment behind another worker's refills nothing.
local function take_token(p, ch, now, rate, burst)
  if rate <= 0 then return 0 end
  if burst <= 0 then burst = rate end
  local key = p .. 'rate:' .. ch
  local v = redis.call('HMGET', key, 'tokens', 'at')
  local tokens, at = tonumber(v[1]) or burst, tonumber(v[2]) or now
  if now > at then
    tokens = math.min(burst, tokens + (now - at) * rate / 1000)
    at = now
  end
  if tokens < 1 then return math.ceil((1 - tokens) * 1000 / rate) end
  redis.call('HSET', key, 'tokens', tostring(tokens - 1), 'at', string.format('%d', at))
  redis.call('PEXPIRE', key, math.ceil(burst * 1000 / rate) + 1000)
  return 0
end

-- Puts an item back in the due set until TILL without using an attempt,
-- and acknowledges its entry.
local function park(p, stream, group, entry, item, attempt, fired, till, now, reason)
  local id, rid, due, ch, target = item_parts(item)
  redis.call('HSET', p .. 'delayed', item, cjson.encode({ attempt = tonumber(attempt),
    fired = tonumber(fired) }))
  redis.call('ZADD', p .. 'due', till, 'i:' .. item)
  done(stream, group, entry)
  set_state(p, id, rid, due, chkey(ch, target), { state = 'held', at = tonumber(now),
    reason = reason, until_ms = tonumber(till) })
  wake_if_first(p, till)
end

-- A worker got an item. KEYS q:CH. ARGV P, entry id, item, attempt, now, group, fired,
-- and the channel's rate and burst (0: unlimited).
-- Returns {'go', prior state, unknown (1: the last attempt timed out)};
-- {'cancelled'} / {'held'} / {'paused', ms left, reason} (then it is
-- acknowledged; paused: back in the due set until the channel's pause ends,
-- no attempt used); or {'wait', ms}: no token yet, nothing changed.
local function begin(keys, args)
  local p, entry, item, attempt, now = args[1], args[2], args[3], tonumber(args[4]),
    tonumber(args[5])
  local id, rid, due, ch, target = item_parts(item)
  local key = chkey(ch, target)
  local status = redis.call('HGET', p .. 'camp:' .. id, 'status')
  if status == false or status == 'cancelled' then
    done(keys[1], args[6], entry)
    set_state(p, id, rid, due, key, { state = 'cancelled', at = now })
    if target then rollup(p, id, rid, due, ch, 'cancelled', 0, 0, 0, nil, now) end
    return { 'cancelled' }
  end
  if status == 'paused' then
    redis.call('RPUSH', p .. 'heldq:' .. id, cjson.encode({ item = item, attempt = attempt,
      fired = tonumber(args[7]) }))
    done(keys[1], args[6], entry)
    set_state(p, id, rid, due, key, { state = 'held', at = now, reason = 'campaign paused' })
    return { 'held' }
  end
  local pause = channel_pause(p, ch)
  if pause then
    park(p, keys[1], args[6], entry, item, attempt, args[7], pause['until'], now,
      'channel ' .. ch .. ' paused: ' .. (pause.reason or ''))
    return { 'paused', pause.ttl, pause.reason or '' }
  end
  local wait = take_token(p, ch, now, tonumber(args[8] or '0'), tonumber(args[9] or '0'))
  if wait > 0 then return { 'wait', wait } end
  -- What the record said before this attempt: 'sending' means an attempt
  -- whose worker died in flight; unknown, that the last attempt timed out.
  -- Either way it may have reached the channel (the adapter's maybe_sent).
  local prior, unknown = set_state(p, id, rid, due, key, { state = 'sending', at = now,
    attempts = attempt })
  return { 'go', prior or '', unknown == true and 1 or 0 }
end

-- Parks an item until UNTIL (quiet hours, a drain). KEYS q:CH. ARGV P, entry, item,
-- attempt, fired, until, now, reason, group.
local function hold(keys, args)
  park(args[1], keys[1], args[9], args[2], args[3], args[4], args[5], args[6], args[7], args[8])
  return 1
end

-- The outcome of one send, stored and acknowledged in one step.
-- KEYS q:CH. ARGV P, entry, item, attempt, outcome (ok|retry|declined|dead), now,
-- hour, group, external_id, reach, reason, next_at, fired, accepted, rejected
-- (a target's recipients; optional), pause_ms: when over 0, the adapter
-- held back the whole channel (a 429): every worker stops sending on it for
-- that long (PREFIX:{e}:pause:CH = {until, reason, item}), and the outcome's
-- error class ("timeout", ...; optional), and the insights delays ("ms,ms";
-- optional): an OK with an external id is polled that long after now;
-- then a batch's skipped members and its refusals by reason (JSON; both
-- optional). A target's end (ok, declined, dead) also rolls up into its parent.
local function complete(keys, args)
  local p, entry, item, attempt, outcome = args[1], args[2], args[3], tonumber(args[4]), args[5]
  local now, hour, group = tonumber(args[6]), args[7], args[8]
  local id, rid, due, ch, target = item_parts(item)
  local key = chkey(ch, target)
  local reach = tonumber(args[10]) or 0
  local accepted, rejected = tonumber(args[14]) or 0, tonumber(args[15]) or 0
  -- A batch's members not sent to for their status, and its refusals by
  -- reason ({"not-friend": 3}): kept with the target, summed in the parent.
  local batch = { skipped = tonumber(args[19] or '0') or 0, by = {} }
  if (args[20] or '') ~= '' then
    local ok, by = pcall(cjson.decode, args[20])
    if ok and type(by) == 'table' then
      for code, k in pairs(by) do
        if type(k) == 'number' then batch.by[tostring(code)] = k end
      end
    end
  end
  if outcome == 'ok' then
    -- A success may carry a note for people ("found on the account after an
    -- unknown outcome; not posted again"): kept, never a failure reason.
    set_state(p, id, rid, due, key, { state = 'sent', at = now, attempts = attempt,
      external_id = args[9], reach = reach, accepted = target and accepted or nil,
      rejected = target and rejected or nil, note = args[11] ~= '' and args[11] or nil,
      skipped = target and batch.skipped > 0 and batch.skipped or nil,
      rejected_by = target and next(batch.by) and batch.by or nil })
    if target then
      if accepted > 0 then count(p, id, ch, hour, 'accepted', accepted) end
      if rejected > 0 then count(p, id, ch, hour, 'rejected', rejected) end
    else
      count(p, id, ch, hour, 'sent')
    end
    if reach > 0 then count(p, id, ch, hour, 'reach', reach) end
    if (args[18] or '') ~= '' and (args[9] or '') ~= '' then
      for _, after in ipairs(split(args[18], ',')) do
        redis.call('ZADD', p .. 'insights', now + tonumber(after),
          cjson.encode({ item = item, ext = args[9], after = tonumber(after) }))
      end
    end
  elseif outcome == 'retry' then
    redis.call('HSET', p .. 'delayed', item, cjson.encode({ attempt = attempt + 1,
      fired = tonumber(args[13]) }))
    redis.call('ZADD', p .. 'due', args[12], 'i:' .. item)
    -- Each failed attempt is kept: when, why, and when the next one is due.
    local cur = redis.call('HGET', p .. 'fires:' .. id, rid .. '|' .. due .. '|' .. key)
    local retries = cur and cjson.decode(cur).retries or {}
    retries[#retries + 1] = { attempt = attempt, at = now, reason = args[11],
      next_attempt = tonumber(args[12]) }
    -- unknown: the attempt timed out, so it may have been sent after all;
    -- false, not nil, so that an earlier attempt's true is overwritten.
    set_state(p, id, rid, due, key, { state = 'failed', at = now, attempts = attempt,
      reason = args[11], next_attempt = tonumber(args[12]), retries = retries,
      unknown = args[17] == 'timeout' })
    count(p, id, ch, hour, 'retry')
    wake_if_first(p, args[12])
  elseif outcome == 'declined' then
    -- Not for this channel or target: recorded with why, not a dead letter.
    set_state(p, id, rid, due, key, { state = 'declined', at = now, attempts = attempt,
      reason = args[11] })
    if not target then count(p, id, ch, hour, 'declined') end
  else
    redis.call('XADD', p .. 'dead', 'MAXLEN', '~', '100000', '*', 'item', item,
      'campaign', id, 'release', rid, 'channel', ch, 'target', target or '', 'due', due,
      'attempts', attempt, 'reason', args[11], 'at', now)
    set_state(p, id, rid, due, key, { state = 'dead', at = now, attempts = attempt,
      reason = args[11] })
    if not target then count(p, id, ch, hour, 'dead') end
  end
  if target and outcome ~= 'retry' then
    rollup(p, id, rid, due, ch, outcome, accepted, rejected, reach, hour, now, batch)
  end
  local pause_ms = tonumber(args[16] or '0')
  local pkey = p .. 'pause:' .. ch
  if pause_ms > 0 and redis.call('PTTL', pkey) < pause_ms then
    redis.call('SET', pkey, cjson.encode({ ['until'] = now + pause_ms, reason = args[11],
      item = item }), 'PX', pause_ms)
  end
  done(keys[1], group, entry)
  return 1
end

-- A worker's read of one channel, for at most COUNT items, unless the
-- channel is paused. KEYS q:CH. ARGV P, CH, group, consumer, count.
-- Returns {'ok', entries} or {'paused', ms left, reason}.
local function read(keys, args)
  local pause = channel_pause(args[1], args[2])
  if pause then return { 'paused', pause.ttl, pause.reason or '' } end
  local got = redis.call('XREADGROUP', 'GROUP', args[3], args[4], 'COUNT', args[5],
    'STREAMS', keys[1], '>')
  return { 'ok', got and got[1][2] or {} }
end

-- Takes up to COUNT polls due by NOW, each by one worker only: a poll whose
-- worker dies is lost (figures are a best effort; the next poll catches up).
-- KEYS insights. ARGV now, count. Returns the members.
local function polls(keys, args)
  local got = redis.call('ZRANGEBYSCORE', keys[1], '-inf', args[1], 'LIMIT', 0, tonumber(args[2]))
  for _, m in ipairs(got) do redis.call('ZREM', keys[1], m) end
  return got
end

local FIGURES = { 'impressions', 'reach', 'clicks', 'opens' }

-- A poll's answer. The channel reports totals so far; the record keeps the
-- latest (what status shows) and the metrics count each figure's growth in
-- the hour it was seen, so that a campaign's hours add up to the totals.
-- KEYS insights. ARGV P, item, now, hour, impressions, reach, clicks, opens
-- (-1: not reported). Returns 1, or 0 when the record is gone (retention).
local function insights(keys, args)
  local p, item, now, hour = args[1], args[2], tonumber(args[3]), args[4]
  local id, rid, due, ch, target = item_parts(item)
  if not id then return 0 end
  local key, field = p .. 'fires:' .. id, rid .. '|' .. due .. '|' .. chkey(ch, target)
  local cur = redis.call('HGET', key, field)
  if not cur then return 0 end
  local rec = cjson.decode(cur)
  local prev = rec.insights or {}
  local got = { polls = (prev.polls or 0) + 1, at = now }
  for i, name in ipairs(FIGURES) do
    local v = tonumber(args[4 + i]) or -1
    if v >= 0 then
      got[name] = v
      local delta = v - (prev[name] or 0)
      if delta ~= 0 then
        redis.call('HINCRBY', p .. 'metrics:' .. id,
          ch .. '|' .. hour .. '|' .. name .. '|' .. rid .. '|' .. (target or 'all'), delta)
      end
    else
      got[name] = prev[name]
    end
  end
  rec.insights = got
  redis.call('HSET', key, field, cjson.encode(rec))
  return 1
end

-- Keeps a live worker's entries fresh: resets the idle time of each entry
-- still pending to CONSUMER, so that XAUTOCLAIM takes over only a silent
-- worker's items. One another worker took over meanwhile stays that one's.
-- KEYS q:CH. ARGV group, consumer, entry ids. Returns the ids no longer ours.
local function touch(keys, args)
  local group, consumer, lost = args[1], args[2], {}
  for i = 3, #args do
    local mine = redis.call('XPENDING', keys[1], group, args[i], args[i], 1, consumer)
    if #mine == 1 then
      redis.call('XCLAIM', keys[1], group, consumer, 0, args[i], 'JUSTID')
    else
      lost[#lost + 1] = args[i]
    end
  end
  return lost
end

-- Replays dead letters. KEYS dead. ARGV P, now, hour, id or '*' (all),
-- channel filter or ''. Returns how many were requeued.
local function dead_retry(keys, args)
  local p, now, hour, which, only = args[1], tonumber(args[2]), args[3], args[4], args[5]
  local entries
  if which == '*' then
    entries = redis.call('XRANGE', keys[1], '-', '+', 'COUNT', 10000)
  else
    entries = redis.call('XRANGE', keys[1], which, which)
  end
  local n = 0
  for _, e in ipairs(entries) do
    local f = {}
    for i = 1, #e[2], 2 do f[e[2][i]] = e[2][i + 1] end
    if only == '' or f.channel == only then
      local camp = load_camp(p, f.campaign)
      if camp and camp.status ~= 'cancelled' then
        local target = f.target ~= '' and f.target or nil
        enqueue(p, camp, f.release, f.due, f.channel, now, 1, hour, now, false, nil, target)
        n = n + 1
      end
      redis.call('XDEL', keys[1], e[1])
    end
  end
  return n
end

-- Sends the latest expired firing of RID now. KEYS camp:ID. ARGV P, rid, now, hour.
-- Returns {due, channels...} or {} when nothing of RID expired.
local function send_now(keys, args)
  local p, rid, now, hour = args[1], args[2], tonumber(args[3]), args[4]
  local id = string.match(keys[1], 'camp:(.+)$')
  local camp = load_camp(p, id)
  if not camp then return {} end
  local flat = redis.call('HGETALL', p .. 'expired:' .. id)
  local best, chans = nil, nil
  for i = 1, #flat, 2 do
    local r, due = string.match(flat[i], '^(.+)|(%d+)$')
    if r == rid and (best == nil or tonumber(due) > tonumber(best)) then
      best, chans = due, flat[i + 1]
    end
  end
  if not best then return {} end
  redis.call('HDEL', p .. 'expired:' .. id, rid .. '|' .. best)
  local out = { best }
  for _, ch in ipairs(split(chans, ',')) do
    enqueue(p, camp, rid, best, ch, now, 1, hour, now)
    out[#out + 1] = ch
  end
  return out
end

-- What status ID and the releases route show, a page at a time: a
-- campaign's deliveries may be many thousands. KEYS camp:ID. ARGV P, max
-- upcoming per release, cursor ('0': the first page), count (a hint, as
-- HSCAN takes it). Returns {fires flat (one HSCAN page), upcoming flat
-- (rid, ms)... (first page only), status, tz, releases flat
-- (rid, "ch:expiry,..."), next cursor ('0' after the last page)}.
local function releases(keys, args)
  local p, max = args[1], tonumber(args[2])
  local cursor, count = args[3] or '0', args[4] or '1000'
  local id = string.match(keys[1], 'camp:(.+)$')
  local page = redis.call('HSCAN', p .. 'fires:' .. id, cursor, 'COUNT', count)
  local fires = page[2]
  local upcoming = {}
  local rids = cursor == '0' and redis.call('HGET', keys[1], 'releases') or ''
  for _, rid in ipairs(split(rids, ',')) do
    local nxt = redis.call('ZSCORE', p .. 'due', member_of(keys[1], id, rid))
    if nxt then
      upcoming[#upcoming + 1] = rid
      upcoming[#upcoming + 1] = nxt
      for _, t in ipairs(redis.call('LRANGE', p .. 'occ:' .. id .. ':' .. rid, 0, max - 2)) do
        upcoming[#upcoming + 1] = rid
        upcoming[#upcoming + 1] = t
      end
    end
  end
  local rels = {}
  for _, rid in ipairs(split(redis.call('HGET', keys[1], 'releases'), ',')) do
    rels[#rels + 1] = rid
    rels[#rels + 1] = redis.call('HGET', keys[1], 'rel:' .. rid) or ''
  end
  return { fires, upcoming, redis.call('HGET', keys[1], 'status') or '',
    redis.call('HGET', keys[1], 'tz') or 'UTC', rels, page[1] }
end

redis.register_function('haechi_claim', claim)
redis.register_function('haechi_arm', arm)
redis.register_function('haechi_status', set_status)
redis.register_function('haechi_begin', begin)
redis.register_function('haechi_hold', hold)
redis.register_function('haechi_complete', complete)
redis.register_function('haechi_fanout', fanout)
redis.register_function('haechi_touch', touch)
redis.register_function('haechi_read', read)
redis.register_function('haechi_polls', polls)
redis.register_function('haechi_insights', insights)
redis.register_function('haechi_dead_retry', dead_retry)
redis.register_function('haechi_send_now', send_now)
redis.register_function('haechi_releases', releases)
