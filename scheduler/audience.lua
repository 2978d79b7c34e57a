#!lua name=haechi_audience_v1
--
-- audience.lua - audience lists' Redis functions (Redis 7 FUNCTION LOAD);
-- the key layout is in scheduler/audience.h.
--
-- Every function takes KEYS[1] = P:{a:L}:meta and derives the list's other
-- keys from it, so each touches the one slot of {a:L}; begin and commit
-- also take KEYS[2] = P:audiences, the index. The C side computes the
-- index bucket of every id (audience_bucket()), so nothing here hashes:
-- a call that needs a bucket says which version it computed it for, and
-- is refused with "moved" when that is no longer the version in force.
--
-- The counts of a version are kept as its rows are staged, against the
-- overlay as it then is; a status change adjusts the counts of the version
-- in force and of the one being staged, so that no commit has to walk the
-- overlay (which may hold millions of entries).
--
-- Staging-only keys besides those of audience.h:
--   v:V:ln  STRING  the file line of each position, 4 bytes big-endian
--                   (0: carried over from the previous version), so that a
--                   duplicate can name the line it repeats
--   v:V:rm  HASH    ids whose overlay says "removed" and that this import
--                   brings back: the commit clears their overlay entry

local function base_of(meta_key)
  return string.sub(meta_key, 1, -5)
end

local function vkey(base, v, name)
  return base .. 'v:' .. v .. ':' .. name
end

local function hash_to_table(flat)
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end

-- The status an overlay entry (as HGET/HMGET gave it) says: 'active' for
-- none, or one that does not parse.
local function status_in(raw)
  if not raw then return 'active' end
  local ok, doc = pcall(cjson.decode, raw)
  if not ok or type(doc) ~= 'table' or type(doc.s) ~= 'string' then return 'active' end
  return doc.s
end

local function overlay_status(base, id)
  local o = redis.call('HGET', base .. 'status', id)
  local s = status_in(o)
  return s, s ~= 'active' and o or nil
end

-- The id of a stored record line: the first string of its JSON array (ids
-- are phone numbers and dot-atom e-mail addresses: never a quote).
local function record_id(line)
  return string.match(line, '^%["([^"]*)"')
end

-- The lines of chunk text, in order.
local function lines_of(text)
  local out = {}
  if not text then return out end
  for line in string.gmatch(text, '([^\n]*)\n') do out[#out + 1] = line end
  return out
end

-- APPEND leaves a string room to grow (up to twice its size); a chunk
-- written anew once it is full takes only what it holds.
local function compact(key)
  local text = redis.call('GET', key)
  if text then redis.call('SET', key, text, 'KEEPTTL') end
end

local function staging_info(base, v)
  local info = vkey(base, v, 'info')
  local state = redis.call('HGET', info, 'state')
  if state ~= 'staging' then
    return redis.error_reply('version ' .. v .. ' is not being staged (expired or committed)')
  end
  return nil
end

-- ---- an import ------------------------------------------------------------

-- KEYS meta, index; ARGV list, kind, buckets, fields (JSON), now, by, ttl.
-- Returns {version, the version in force it starts from (0: none)}.
local function begin(keys, args)
  local meta, base = keys[1], base_of(keys[1])
  local list, kind, buckets, fields, now, by, ttl =
    args[1], args[2], args[3], args[4], args[5], args[6], tonumber(args[7])
  local have = redis.call('HGET', meta, 'kind')
  if have and have ~= kind then
    return redis.error_reply('list ' .. list .. ' holds ' ..
      (have == 'phone' and 'phone numbers' or 'e-mail addresses') ..
      '; this file has ' .. (kind == 'phone' and 'phone numbers' or 'e-mail addresses'))
  end
  if not have then
    redis.call('HSET', meta, 'id', list, 'kind', kind, 'created_at', now, 'seq', 0)
  end
  local v = redis.call('HINCRBY', meta, 'seq', 1)
  local from = redis.call('HGET', meta, 'version') or '0'
  redis.call('HSET', meta, 'staging', v)
  local info = vkey(base, v, 'info')
  redis.call('HSET', info, 'members', 0, 'chunks', 0, 'buckets', buckets, 'fields', fields,
    'kind', kind, 'at', now, 'by', by, 'state', 'staging', 'from', from)
  redis.call('EXPIRE', info, ttl)
  return {v, tonumber(from)}
end

-- KEYS meta; ARGV version, ttl, n, then n rows of 5: id, bucket, line,
-- record (JSON array text), status ('' or the status column's value).
-- A row of line 0 is carried over from the previous version.
-- Returns {members staged, rows skipped (carried, removed), {row, line of
-- the first, ...} for every duplicate (row 1-based in this call)}.
local function stage(keys, args)
  local base = base_of(keys[1])
  local v, ttl, n = args[1], tonumber(args[2]), tonumber(args[3])
  local err = staging_info(base, v)
  if err then return err end
  local info = vkey(base, v, 'info')
  local ln, st, rm, counts =
    vkey(base, v, 'ln'), vkey(base, v, 'st'), vkey(base, v, 'rm'), vkey(base, v, 'counts')
  local members = tonumber(redis.call('HGET', info, 'members'))
  local skipped, dups = 0, {}
  for i = 0, n - 1 do
    local at = 4 + i * 5
    local id, bucket, line, record, status =
      args[at], args[at + 1], tonumber(args[at + 2]), args[at + 3], args[at + 4]
    local o = overlay_status(base, id)
    if line == 0 and o == 'removed' then
      skipped = skipped + 1
    else
      local x = vkey(base, v, 'x:' .. bucket)
      if redis.call('HSETNX', x, id, members) == 0 then
        local pos = tonumber(redis.call('HGET', x, id))
        local first = redis.call('GETRANGE', ln, pos * 4, pos * 4 + 3)
        dups[#dups + 1] = i + 1
        dups[#dups + 1] = #first == 4 and struct.unpack('>I4', first) or 0
        -- A duplicate's status column still counts: an append of "phone,status"
        -- rows sets the statuses of members already there. The overlay wins.
        if status ~= '' and status ~= 'active' and (o == 'active' or o == 'removed') then
          local before = redis.call('HGET', st, id) or 'active'
          redis.call('HSET', st, id, status)
          if before ~= 'active' then redis.call('HINCRBY', counts, before, -1) end
          redis.call('HINCRBY', counts, status, 1)
        end
      else
        redis.call('EXPIRE', x, ttl)
        local chunk = vkey(base, v, 'c:' .. math.floor(members / 1000))
        if redis.call('APPEND', chunk, record .. '\n') == #record + 1 then
          redis.call('EXPIRE', chunk, ttl)
        end
        if members % 1000 == 999 then compact(chunk) end
        redis.call('SETRANGE', ln, members * 4, struct.pack('>I4', line))
        local effective = o
        if o == 'removed' then
          redis.call('HSET', rm, id, 1)
          effective = 'active'
        end
        if status ~= '' and status ~= 'active' then
          redis.call('HSET', st, id, status)
          if effective == 'active' then effective = status end
        end
        if effective ~= 'active' then redis.call('HINCRBY', counts, effective, 1) end
        members = members + 1
      end
    end
  end
  redis.call('HSET', info, 'members', members, 'chunks', math.ceil(members / 1000))
  for _, k in ipairs({info, ln, st, rm, counts}) do redis.call('EXPIRE', k, ttl) end
  return {members, skipped, dups}
end

-- Calls FN(key) for every key of version V that lives as long as V does.
local function version_keys(base, v, fn)
  local info = vkey(base, v, 'info')
  local chunks = tonumber(redis.call('HGET', info, 'chunks') or '0')
  local buckets = tonumber(redis.call('HGET', info, 'buckets') or '0')
  fn(info)
  fn(vkey(base, v, 'st'))
  fn(vkey(base, v, 'counts'))
  for c = 0, chunks - 1 do fn(vkey(base, v, 'c:' .. c)) end
  for b = 0, buckets - 1 do fn(vkey(base, v, 'x:' .. b)) end
end

-- Calls FN(field, value) for every entry of hash KEY, a page at a time.
local function hash_each(key, fn)
  local cursor = '0'
  repeat
    local page = redis.call('HSCAN', key, cursor, 'COUNT', 500)
    cursor = page[1]
    local kv = page[2]
    for i = 1, #kv, 2 do fn(kv[i], kv[i + 1]) end
  until cursor == '0'
end

-- KEYS meta, index; ARGV version, the version the import started from,
-- keep_old_s, now, by, list. Returns {version, members}.
local function commit(keys, args)
  local meta, index, base = keys[1], keys[2], base_of(keys[1])
  local v, from, keep_old, now, by, list =
    args[1], args[2], tonumber(args[3]), args[4], args[5], args[6]
  local cur = redis.call('HGET', meta, 'version') or '0'
  if cur ~= from then
    return redis.error_reply('list ' .. list .. ' changed during the import (version ' .. cur ..
      ' is in force now, the import started from ' .. from .. '): nothing was changed')
  end
  local err = staging_info(base, v)
  if err then return err end
  local last = tonumber(redis.call('HGET', vkey(base, v, 'info'), 'members')) - 1
  if last >= 0 and last % 1000 ~= 999 then
    compact(vkey(base, v, 'c:' .. math.floor(last / 1000)))
  end
  version_keys(base, v, function(k) redis.call('PERSIST', k) end)
  redis.call('DEL', vkey(base, v, 'ln'))
  local overlay = base .. 'status'
  local rm = vkey(base, v, 'rm')
  hash_each(rm, function(id)
    if overlay_status(base, id) == 'removed' then redis.call('HDEL', overlay, id) end
  end)
  redis.call('DEL', rm)
  hash_each(vkey(base, v, 'st'), function(id, status)
    local o = overlay_status(base, id)
    if o == 'active' or o == 'removed' then
      redis.call('HSET', overlay, id,
        cjson.encode({s = status, at = tonumber(now), by = by, reason = 'import'}))
    end
  end)
  local info = vkey(base, v, 'info')
  redis.call('HSET', info, 'state', 'ready')
  redis.call('HSET', meta, 'version', v, 'updated_at', now, 'updated_by', by)
  if redis.call('HGET', meta, 'staging') == v then redis.call('HDEL', meta, 'staging') end
  if cur ~= '0' and keep_old > 0 then
    version_keys(base, cur, function(k) redis.call('EXPIRE', k, keep_old) end)
  end
  redis.call('ZADD', index, 'NX', now, list)
  return {tonumber(v), tonumber(redis.call('HGET', info, 'members'))}
end

-- ---- reads ----------------------------------------------------------------

-- KEYS meta. Returns {0} for no list, else {1, meta, info, counts} (flat
-- hashes; info and counts empty before the first import).
local function info(keys)
  local meta, base = keys[1], base_of(keys[1])
  local m = redis.call('HGETALL', meta)
  if #m == 0 then return {0} end
  local v = redis.call('HGET', meta, 'version')
  if not v then return {1, m, {}, {}} end
  return {1, m, redis.call('HGETALL', vkey(base, v, 'info')),
    redis.call('HGETALL', vkey(base, v, 'counts'))}
end

-- The version in force and the one being staged, with their bucket
-- counts, and the list's kind: what the C side needs to find an id.
-- KEYS meta. Returns {found, kind, version, buckets, staging, buckets}.
local function locate(keys)
  local meta, base = keys[1], base_of(keys[1])
  local kind = redis.call('HGET', meta, 'kind')
  if not kind then return {0, '', 0, 0, 0, 0} end
  local v = redis.call('HGET', meta, 'version') or '0'
  local s = redis.call('HGET', meta, 'staging') or '0'
  local vb = v ~= '0' and redis.call('HGET', vkey(base, v, 'info'), 'buckets') or '0'
  local sb = '0'
  if s ~= '0' and redis.call('HGET', vkey(base, s, 'info'), 'state') == 'staging' then
    sb = redis.call('HGET', vkey(base, s, 'info'), 'buckets') or '0'
  else
    s = '0'
  end
  return {1, kind, tonumber(v), tonumber(vb), tonumber(s), tonumber(sb)}
end

local function check_located(base, meta, v, s)
  local cur = redis.call('HGET', meta, 'version') or '0'
  local stg = redis.call('HGET', meta, 'staging') or '0'
  if stg ~= '0' and redis.call('HGET', vkey(base, stg, 'info'), 'state') ~= 'staging' then
    stg = '0'
  end
  if cur ~= v or stg ~= s then return redis.error_reply('moved: the list changed, look again') end
  return nil
end

-- The record at position POS of version V, or nil.
local function record_at(base, v, pos)
  local text = redis.call('GET', vkey(base, v, 'c:' .. math.floor(pos / 1000)))
  return lines_of(text)[pos % 1000 + 1]
end

-- KEYS meta; ARGV id, version, bucket (as locate() found them).
-- Returns {1, position, record, overlay entry or '', fields} or {0, overlay or ''}.
local function member(keys, args)
  local meta, base = keys[1], base_of(keys[1])
  local id, v, bucket = args[1], args[2], args[3]
  if (redis.call('HGET', meta, 'version') or '0') ~= v then
    return redis.error_reply('moved: the list changed, look again')
  end
  local _, o = overlay_status(base, id)
  if v == '0' then return {0, o or ''} end
  local pos = redis.call('HGET', vkey(base, v, 'x:' .. bucket), id)
  if not pos then return {0, o or ''} end
  return {1, tonumber(pos), record_at(base, v, tonumber(pos)) or '', o or '',
    redis.call('HGET', vkey(base, v, 'info'), 'fields') or '[]'}
end

local function bit_set(s, i)
  local byte = string.byte(s, math.floor(i / 8) + 1)
  return byte ~= nil and bit.band(byte, bit.rshift(128, i % 8)) ~= 0
end

-- KEYS meta; ARGV version, first, count, release. Returns {1} when the
-- version is gone, else {0, sent_before, failed_before, {status, n, ...},
-- fields, {position, record, ...}} for the members to send to now.
local function read_batch(keys, args)
  local base = base_of(keys[1])
  local v, first, count, release = args[1], tonumber(args[2]), tonumber(args[3]), args[4]
  local vinfo = vkey(base, v, 'info')
  local members = tonumber(redis.call('HGET', vinfo, 'members'))
  if not members then return {1} end
  local fields = redis.call('HGET', vinfo, 'fields') or '[]'
  local last = math.min(first + count - 1, members - 1)
  if last < first then return {0, 0, 0, {}, fields, {}} end
  -- The bitmaps' bytes for the range, with the bit offset of the first.
  local b0 = math.floor(first / 8)
  local sent = redis.call('GETRANGE', base .. 'sent:' .. release, b0, math.floor(last / 8))
  local fail = redis.call('GETRANGE', base .. 'fail:' .. release, b0, math.floor(last / 8))
  local sent_before, failed_before = 0, 0
  local cand, ids = {}, {}
  local c0, c1 = math.floor(first / 1000), math.floor(last / 1000)
  for c = c0, c1 do
    local lines = lines_of(redis.call('GET', vkey(base, v, 'c:' .. c)))
    for k = 1, #lines do
      local pos = c * 1000 + k - 1
      if pos >= first and pos <= last then
        if bit_set(sent, pos - b0 * 8) then
          sent_before = sent_before + 1
        elseif bit_set(fail, pos - b0 * 8) then
          failed_before = failed_before + 1
        else
          cand[#cand + 1] = {pos, lines[k]}
          ids[#ids + 1] = record_id(lines[k]) or ''
        end
      end
    end
  end
  local statuses = #ids > 0 and redis.call('HMGET', base .. 'status', unpack(ids)) or {}
  local by, out = {}, {}
  for i = 1, #cand do
    local s = status_in(statuses[i])
    if s == 'active' then
      out[#out + 1] = cand[i][1]
      out[#out + 1] = cand[i][2]
    else
      by[s] = (by[s] or 0) + 1
    end
  end
  local flat = {}
  for s, n in pairs(by) do
    flat[#flat + 1] = s
    flat[#flat + 1] = n
  end
  return {0, sent_before, failed_before, flat, fields, out}
end

-- KEYS meta; ARGV version ('0': the one in force), chunk N. Returns
-- {version, chunks, members, fields, text, {status of each line}}.
local function export(keys, args)
  local meta, base = keys[1], base_of(keys[1])
  local v, n = args[1], tonumber(args[2])
  if v == '0' then v = redis.call('HGET', meta, 'version') or '0' end
  if v == '0' then return redis.error_reply('nothing imported yet') end
  local vinfo = vkey(base, v, 'info')
  local h = hash_to_table(redis.call('HGETALL', vinfo))
  if h.state ~= 'ready' then return redis.error_reply('version ' .. v .. ' is gone') end
  local text = redis.call('GET', vkey(base, v, 'c:' .. n)) or ''
  local lines = lines_of(text)
  local ids = {}
  for k = 1, #lines do ids[k] = record_id(lines[k]) or '' end
  local raw = #ids > 0 and redis.call('HMGET', base .. 'status', unpack(ids)) or {}
  local st = {}
  for k = 1, #lines do st[k] = status_in(raw[k]) end
  return {tonumber(v), tonumber(h.chunks), tonumber(h.members), h.fields or '[]', text, st}
end

-- KEYS index; ARGV offset, count. Returns {lists, {id, created_at, ...}}.
local function lists(keys, args)
  local first, n = tonumber(args[1]), tonumber(args[2])
  return {redis.call('ZCARD', keys[1]),
    redis.call('ZRANGE', keys[1], first, first + n - 1, 'WITHSCORES')}
end

-- ---- writes ---------------------------------------------------------------

-- KEYS meta; ARGV release, ttl, na, positions..., nf, positions...
local function mark(keys, args)
  local base = base_of(keys[1])
  local release, ttl, na = args[1], tonumber(args[2]), tonumber(args[3])
  local sent, fail = base .. 'sent:' .. release, base .. 'fail:' .. release
  for i = 1, na do redis.call('SETBIT', sent, args[3 + i], 1) end
  local nf = tonumber(args[4 + na])
  for i = 1, nf do redis.call('SETBIT', fail, args[4 + na + i], 1) end
  if na > 0 or redis.call('EXISTS', sent) == 1 then redis.call('EXPIRE', sent, ttl) end
  if nf > 0 or redis.call('EXISTS', fail) == 1 then redis.call('EXPIRE', fail, ttl) end
  return na + nf
end

local function counts_move(counts, old, new)
  if old ~= 'active' then redis.call('HINCRBY', counts, old, -1) end
  if new ~= 'active' then redis.call('HINCRBY', counts, new, 1) end
end

-- KEYS meta; ARGV id, status, by, at, reason, version, bucket, staging,
-- its bucket (as locate() found them). Returns {changed, old status}.
local function set_status(keys, args)
  local meta, base = keys[1], base_of(keys[1])
  local id, status, by, at, reason, v, vb, s, sb =
    args[1], args[2], args[3], args[4], args[5], args[6], args[7], args[8], args[9]
  local err = check_located(base, meta, v, s)
  if err then return err end
  local in_v = v ~= '0' and redis.call('HEXISTS', vkey(base, v, 'x:' .. vb), id) == 1
  local in_s = s ~= '0' and redis.call('HEXISTS', vkey(base, s, 'x:' .. sb), id) == 1
  local old = overlay_status(base, id)
  if not in_v and not in_s then
    return redis.error_reply('not a member')
  end
  if old == status then return {0, old} end
  if status == 'active' then
    redis.call('HDEL', base .. 'status', id)
  else
    redis.call('HSET', base .. 'status', id,
      cjson.encode({s = status, at = tonumber(at), by = by, reason = reason}))
  end
  if in_v then counts_move(vkey(base, v, 'counts'), old, status) end
  if in_s then
    -- The staging counted a member without an overlay status (or a removed
    -- one it brings back) under its import status: the commit gives it that.
    local imported = redis.call('HGET', vkey(base, s, 'st'), id) or 'active'
    local staged_old, staged_new = old, status
    if old == 'active' or old == 'removed' then staged_old = imported end
    if status == 'active' then staged_new = imported end
    if old == 'removed' then redis.call('HDEL', vkey(base, s, 'rm'), id) end
    counts_move(vkey(base, s, 'counts'), staged_old, staged_new)
  end
  redis.call('HSET', meta, 'updated_at', at, 'updated_by', by)
  return {1, old}
end

redis.register_function('haechi_aud_begin', begin)
redis.register_function('haechi_aud_stage', stage)
redis.register_function('haechi_aud_commit', commit)
redis.register_function{function_name = 'haechi_aud_info', callback = info, flags = {'no-writes'}}
redis.register_function{function_name = 'haechi_aud_locate', callback = locate,
  flags = {'no-writes'}}
redis.register_function{function_name = 'haechi_aud_member', callback = member,
  flags = {'no-writes'}}
redis.register_function{function_name = 'haechi_aud_read_batch', callback = read_batch,
  flags = {'no-writes'}}
redis.register_function{function_name = 'haechi_aud_export', callback = export,
  flags = {'no-writes'}}
redis.register_function{function_name = 'haechi_aud_lists', callback = lists,
  flags = {'no-writes'}}
redis.register_function('haechi_aud_mark', mark)
redis.register_function('haechi_aud_set_status', set_status)
