//! The broker's Lua scripts. Each runs atomically in the slot of one room (every key it
//! touches is hash-tagged with the room), so a message or a change is either stored,
//! trimmed and published once, or not at all.
//!
//! The pieces they share — trimming the stream (and the states of the messages trimmed
//! with it), reading the state of each entry's message — are Lua functions prepended
//! to the scripts that use them.

/// Trims the stream to about `cap` entries in batches of a tenth, records the newest id
/// trimmed (so a catch-up can say exactly which range is gone) and forgets the states of
/// the messages trimmed away. `below(id)` is the id just before `id`: a stream started anew
/// (a new room, or a Redis that lost its data) records the range before its first entry as
/// not held, so a catch-up from an older id says so (and the message store fills it).
const TRIM: &str = r#"
local function id_parts(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function below(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  if seq ~= '0' then return ms .. '-' .. string.format('%d', tonumber(seq) - 1) end
  return string.format('%d', tonumber(ms) - 1) .. '-18446744073709551615'
end
local function trim(log, trimmed, rev, cap)
  local len = redis.call('XLEN', log)
  if len <= cap + math.max(1, math.floor(cap / 10)) then return end
  local old = redis.call('XRANGE', log, '-', '+', 'COUNT', len - cap + 1)
  local cut = old[#old - 1][1]
  redis.call('SET', trimmed, cut)
  redis.call('XTRIM', log, 'MINID', old[#old][1])
  if redis.call('EXISTS', rev) == 0 then return end
  local cut_ms, cut_seq = id_parts(cut)
  for _, target in ipairs(redis.call('HKEYS', rev)) do
    local ms, seq = id_parts(target)
    if ms and (ms < cut_ms or (ms == cut_ms and seq <= cut_seq)) then redis.call('HDEL', rev, target) end
  end
end
"#;

/// The state of each entry's message (the entry's own for a message, its target's for a
/// change), `''` where there is none.
const STATES: &str = r#"
local function states(entries, rev)
  local out = {}
  if redis.call('EXISTS', rev) == 0 then return out end
  for i, entry in ipairs(entries) do
    local target = entry[1]
    local fields = entry[2]
    for j = 1, #fields, 2 do
      if fields[j] == 'target' then target = fields[j + 1] end
    end
    out[i] = redis.call('HGET', rev, target) or ''
  end
  return out
end
"#;

/// KEYS: dedupe marker, stream, trimmed marker, states. ARGV: cap, user, text, client id,
/// dedupe TTL, channel, room, display name, publish command.
const APPEND: &str = r#"
local existing = redis.call('GET', KEYS[1])
if existing then return {0, existing} end
local fresh = redis.call('EXISTS', KEYS[2]) == 0 and redis.call('EXISTS', KEYS[3]) == 0
local id = redis.call('XADD', KEYS[2], '*', 'user', ARGV[2], 'text', ARGV[3], 'cid', ARGV[4], 'name', ARGV[8])
if fresh then redis.call('SET', KEYS[3], below(id)) end
redis.call('SET', KEYS[1], id, 'EX', ARGV[5])
trim(KEYS[2], KEYS[3], KEYS[4], tonumber(ARGV[1]))
redis.call(ARGV[9], ARGV[6], cjson.encode({kind = 'message', room = ARGV[7], id = id, user = ARGV[2], name = ARGV[8], text = ARGV[3], client_id = ARGV[4]}))
return {1, id}
"#;

/// KEYS: dedupe marker, stream, trimmed marker, states. ARGV: cap, user, operation, target,
/// argument (text or emoji), client id, dedupe TTL, channel, publish command.
/// Answers `{1, id, state}` (stored), `{0, id, ''}` (duplicate), `{-1, '', ''}` (no such
/// message), `{-2, '', ''}` (not the author).
const CHANGE: &str = r#"
local existing = redis.call('GET', KEYS[1])
if existing then return {0, existing, ''} end
local target = ARGV[4]
local found = redis.call('XRANGE', KEYS[2], target, target)
if #found == 0 then return {-1, '', ''} end
local fields = {}
local pairs_ = found[1][2]
for i = 1, #pairs_, 2 do fields[pairs_[i]] = pairs_[i + 1] end
if fields['op'] or not fields['user'] then return {-1, '', ''} end
local op, user, arg = ARGV[3], ARGV[2], ARGV[5]
if (op == 'edit' or op == 'delete') and fields['user'] ~= user then return {-2, '', ''} end
local raw = redis.call('HGET', KEYS[4], target)
local rev
if raw then rev = cjson.decode(raw) else rev = {target = target, user = fields['user']} end
local id = redis.call('XADD', KEYS[2], '*', 'op', op, 'target', target, 'user', user, 'cid', ARGV[6])
redis.call('SET', KEYS[1], id, 'EX', ARGV[7])
if op == 'edit' then
  rev.text = arg
  rev.edited = tonumber(string.match(id, '^(%d+)'))
elseif op == 'delete' then
  rev = {target = target, user = fields['user'], deleted = true}
  redis.call('XDEL', KEYS[2], target)
else
  rev.reactions = rev.reactions or {}
  local users = rev.reactions[arg] or {}
  local at = nil
  for i, u in ipairs(users) do if u == user then at = i end end
  if op == 'react' and not at then table.insert(users, user) end
  if op == 'unreact' and at then table.remove(users, at) end
  if #users == 0 then rev.reactions[arg] = nil else rev.reactions[arg] = users end
  if next(rev.reactions) == nil then rev.reactions = nil end
end
local state = cjson.encode(rev)
redis.call('HSET', KEYS[4], target, state)
trim(KEYS[2], KEYS[3], KEYS[4], tonumber(ARGV[1]))
redis.call(ARGV[9], ARGV[8], '{"kind":"revised","id":"' .. id .. '","revision":' .. state .. '}')
return {1, id, state}
"#;

/// KEYS: stream, trimmed marker, states. ARGV: after, count. The trimmed marker is
/// `unknown` when neither the stream nor the marker exists: Redis holds nothing of the room
/// (its data was lost, or the room never had a message), so nothing after the id is known.
const SINCE: &str = r#"
local entries = redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[2])
local trimmed = redis.call('GET', KEYS[2])
if not trimmed then
  if redis.call('EXISTS', KEYS[1]) == 1 then trimmed = '0-0' else trimmed = 'unknown' end
end
return {entries, trimmed, states(entries, KEYS[3])}
"#;

/// KEYS: stream, states. ARGV: messages wanted, entries per read. Newest first: the newest
/// entries down to the oldest of the last `ARGV[1]` messages, read in chunks (changes in
/// between count for nothing, so a burst of reactions does not shorten a room's history; the
/// stream's cap bounds the reading).
const RECENT: &str = r#"
local wanted = tonumber(ARGV[1])
local chunk = tonumber(ARGV[2])
local kept, messages, from = {}, 0, '+'
while true do
  local entries = redis.call('XREVRANGE', KEYS[1], from, '-', 'COUNT', chunk)
  for _, entry in ipairs(entries) do
    local change = false
    local fields = entry[2]
    for j = 1, #fields, 2 do
      if fields[j] == 'op' then change = true end
    end
    if not change then
      if messages == wanted then return {kept, states(kept, KEYS[2])} end
      messages = messages + 1
    end
    kept[#kept + 1] = entry
  end
  if #entries < chunk then break end
  from = '(' .. entries[#entries][1]
end
return {kept, states(kept, KEYS[2])}
"#;

/// The script that stores a message.
pub fn append() -> redis::Script {
    redis::Script::new(&format!("{TRIM}{APPEND}"))
}

/// The script that stores a change to a message.
pub fn change() -> redis::Script {
    redis::Script::new(&format!("{TRIM}{CHANGE}"))
}

/// The script that reads the entries after an id.
pub fn since() -> redis::Script {
    redis::Script::new(&format!("{STATES}{SINCE}"))
}

/// The script that reads the newest messages and the changes among them.
pub fn recent() -> redis::Script {
    redis::Script::new(&format!("{STATES}{RECENT}"))
}
