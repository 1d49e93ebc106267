//! The decision store's Lua scripts (each runs atomically in Redis; redis-rs loads them by
//! SHA and reloads after NOSCRIPT).
//!
//! PARK — KEYS: task pointer, decision hash, `pending`, `pending:wf:<workflow>`; ARGV: id, doc
//! JSON, retention s, deadline ms, deadline text, payload hash, workflow, created ms. Answers
//! {1, id} parked, {0, existing id} the task has a decision, {2, ''} the id is taken.
//!
//! TRANSITION — KEYS: decision hash, `pending`, `outbox`, `history`, `pending:wf:<workflow>`,
//! `stats:<workflow>`, `ttd:<workflow>`; ARGV: id, to, by, feedback, seen hash, edited JSON,
//! at, now ms, required approvals, from. Answers {code, detail, fields}: ok / partial (with the
//! decision's fields as changed), not_found, already, expired, not_due (an expiry asked before
//! the deadline by Redis' clock, which judges every deadline), stale, approver, busy (an
//! escalated decision whose escalation effects are still in the outbox). An escalated
//! decision may still be approved or rejected (past its deadline); its `fx:` marks are cleared
//! for the new effects.

pub(super) const PARK: &str = r"
local existing = redis.call('GET', KEYS[1])
if existing then return {0, existing} end
if redis.call('EXISTS', KEYS[2]) == 1 then return {2, ''} end
redis.call('HSET', KEYS[2], 'doc', ARGV[2], 'status', 'pending', 'expires_at_ms', ARGV[4],
  'expires_at', ARGV[5], 'payload_hash', ARGV[6], 'workflow', ARGV[7], 'created_ms', ARGV[8])
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1])
return {1, ARGV[1]}
";

pub(super) const TRANSITION: &str = r"
local f = redis.call('HMGET', KEYS[1], 'status', 'expires_at_ms', 'payload_hash', 'expires_at', 'approvals')
if not f[1] then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[5], ARGV[1])
  return {'not_found', '', {}}
end
local escalated = (f[1] == 'escalated' and (ARGV[2] == 'approved' or ARGV[2] == 'rejected'))
if f[1] ~= 'pending' and not escalated then return {'already', f[1], {}} end
if escalated and redis.call('ZSCORE', KEYS[3], ARGV[1]) then return {'busy', '', {}} end
local expiring = (ARGV[2] == 'expired' or ARGV[2] == 'escalated')
-- Deadlines are judged by Redis' clock, the one every replica shares, never a replica's own.
local clock = redis.call('TIME')
local server_ms = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
if (not expiring) and (not escalated) and server_ms >= tonumber(f[2]) then return {'expired', f[4], {}} end
if expiring and server_ms < tonumber(f[2]) then return {'not_due', f[4], {}} end
if ARGV[5] ~= '' and ARGV[5] ~= f[3] then return {'stale', '', {}} end
if ARGV[2] == 'approved' and tonumber(ARGV[9]) > 1 then
  local list = f[5] or ''
  if string.find(',' .. list .. ',', ',' .. ARGV[3] .. ',', 1, true) then return {'approver', ARGV[3], {}} end
  if list == '' then list = ARGV[3] else list = list .. ',' .. ARGV[3] end
  redis.call('HSET', KEYS[1], 'approvals', list)
  local n = 1
  for _ in string.gmatch(list, ',') do n = n + 1 end
  if n < tonumber(ARGV[9]) then return {'partial', list, redis.call('HGETALL', KEYS[1])} end
end
if escalated then
  for _, k in ipairs(redis.call('HKEYS', KEYS[1])) do
    if string.sub(k, 1, 3) == 'fx:' then redis.call('HDEL', KEYS[1], k) end
  end
end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'decided_at', ARGV[7], 'decided_by', ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'feedback', ARGV[4]) end
if ARGV[10] ~= '' then redis.call('HSET', KEYS[1], 'decided_from', ARGV[10]) end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'edited', ARGV[6]) end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[8], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[8], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('HINCRBY', KEYS[6], ARGV[2], 1)
if ARGV[2] == 'approved' or ARGV[2] == 'rejected' then
  local created = redis.call('HGET', KEYS[1], 'created_ms')
  if created then
    redis.call('LPUSH', KEYS[7], tonumber(ARGV[8]) - tonumber(created))
    redis.call('LTRIM', KEYS[7], 0, 999)
  end
end
return {'ok', '', redis.call('HGETALL', KEYS[1])}
";

/// Renews an outbox lease held by ARGV[1] for ARGV[2] ms. KEYS[1] = `outbox:lease:<id>`.
/// Answers 1 when renewed, 0 when the lease is someone else's or gone.
pub(super) const LEASE_RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
";

/// Gives back an outbox lease, only when ARGV[1] holds it. KEYS[1] = `outbox:lease:<id>`.
pub(super) const LEASE_RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// Marks an effect durable (HSET KEYS[2] `fx:<ARGV[2]>` ARGV[3]) only while ARGV[1] holds the
/// lease KEYS[1]: a runner that lost its lease cannot claim work done. Answers 1 or 0.
pub(super) const MARK_EFFECT: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], 'fx:' .. ARGV[2], ARGV[3])
return 1
";

/// All effects are durable: the decision leaves the outbox KEYS[2] (member ARGV[2]) and the
/// lease KEYS[1] is dropped when ARGV[1] holds it.
pub(super) const OUTBOX_DONE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('ZREM', KEYS[2], ARGV[2])
return 1
";
