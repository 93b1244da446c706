import { createHash } from 'node:crypto';

/*
 * The shared login throttle's Lua scripts: each runs atomically in Redis, so replicas that count
 * the same client at once cannot overtake its limit. Every key they write gets an expiry: a
 * replica that dies leaves nothing behind for longer than one window. Times are Redis's own
 * (PTTL), so the replicas' clocks do not matter. Keys: throttle-keys.ts.
 */

export interface LuaScript {
  readonly lua: string;
  readonly sha: string;
}

const script = (lua: string): LuaScript => ({ lua, sha: createHash('sha1').update(lua).digest('hex') });

/**
 * Before a verification. KEYS: failures, block, running. ARGV: maxFailures, windowMs, attempt id.
 * Returns {blockMsLeft, full}: blocked; or as many failures and verifications running as the
 * limit allows (full = 1, nothing counted); or {0, 0} and the attempt counted as running. Running
 * attempts are a sorted set scored by the moment each stops counting (one window after it began):
 * one that never finished (a replica that died, a FINISH lost with Redis) drops out by itself.
 */
export const BEGIN = script(`
local blockLeft = redis.call('PTTL', KEYS[2])
if blockLeft > 0 then return {blockLeft, 0} end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local failures = tonumber(redis.call('GET', KEYS[1]) or '0')
local running = redis.call('ZCARD', KEYS[3])
if failures + running >= tonumber(ARGV[1]) then return {0, 1} end
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[3], ARGV[2])
return {0, 0}
`);

/**
 * After a verification. KEYS: failures, block, running, users. ARGV: result (failure, success,
 * none), user, maxFailures, windowMs, attempt id (BEGIN's), maxUsers.
 * A failure counts (the first starts the window) and blocks for one window at maxFailures; a
 * success clears the failures unless the client also failed for other accounts. Returns the ms
 * the client stays blocked (0: not blocked).
 */
export const FINISH = script(`
redis.call('ZREM', KEYS[3], ARGV[5])
local blockLeft = redis.call('PTTL', KEYS[2])
if ARGV[1] == 'failure' then
  local failures = redis.call('INCR', KEYS[1])
  if failures == 1 or redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
  if redis.call('SCARD', KEYS[4]) < tonumber(ARGV[6]) then redis.call('SADD', KEYS[4], ARGV[2]) end
  redis.call('PEXPIRE', KEYS[4], redis.call('PTTL', KEYS[1]))
  if failures >= tonumber(ARGV[3]) then
    redis.call('SET', KEYS[2], failures, 'PX', ARGV[4])
    return tonumber(ARGV[4])
  end
elseif ARGV[1] == 'success' and blockLeft <= 0 then
  redis.call('SREM', KEYS[4], ARGV[2])
  if redis.call('SCARD', KEYS[4]) == 0 then redis.call('DEL', KEYS[1], KEYS[4]) end
end
if blockLeft > 0 then return blockLeft end
return 0
`);

/**
 * An admin's release. KEYS: failures, block, users, running. Forgets them all (a running
 * attempt that finishes later finds nothing to take off); 1 when there was a failure, a block, or
 * attempts running (a client held at its limit by attempts whose replica died is released too).
 */
export const RELEASE = script(`
local had = redis.call('EXISTS', KEYS[1], KEYS[2], KEYS[4])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
if had > 0 then return 1 end
return 0
`);
