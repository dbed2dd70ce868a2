# -*- test-case-name: kvtwist.test.test_scripting -*-
"""
The Lua side of scripting: L{PRELUDE}, run once in each Lua runtime.

It is a chunk that takes the Python callbacks and returns the functions
Python calls (L{kvtwist.scripting.engine}).  It builds what scripts see,
as Redis 7 does:

    - the globals: Lua 5.1's base functions less those Redis leaves out
      (C{print}, C{dofile}, C{getfenv}...), C{string}, C{table},
      C{math}, C{coroutine}, C{redis}, C{KEYS} and C{ARGV}, all read-only:
      assigning a global or a library's field raises "Attempt to modify a
      readonly table", reading a global that doesn't exist raises "Script
      attempted to access nonexistent global variable".  A script can't
      leave anything behind for the next one (what C{rawset} puts in a
      read-only table is swept after each script).  Binary chunks are
      refused (C{loadstring} of bytecode).
    - the C{redis} table: C{call}, C{pcall}, C{sha1hex}, C{log},
      C{setresp}, C{acl_check_cmd} (Python's, see below),
      C{error_reply}, C{status_reply}, the C{LOG_*} and C{REPL_*}
      constants, no-op replication and debugging functions.
    - the error handler: any error becomes a table C{{err=...}} naming
      where in the script it happened (C{@user_script} and the line), from
      which Python writes Redis's "... script: <sha>, on
      @user_script:<line>." error.
    - the time limit: a count hook asks Python every L{COUNT} instructions
      whether the script ran too long; once it has, the hook raises an
      error on every line, so that a script can't catch it for ever with
      C{pcall}.

It is given a table of Python callables: C{call}, C{pcall}, C{sha1hex},
C{log}, C{setresp}, C{acl_check_cmd} (the C{redis} functions that may
raise an error: to Lua they are C functions, so that a script's C{return
redis.call(...)} keeps the script's frame and its error can name the
line, as Redis's do), C{pending} (the error table standing for the
exception a Python function raised), and C{expired} (whether the time is
up).
"""

#: Instructions between two checks of the time limit.
COUNT = 100000

PRELUDE = r"""
local py, COUNT, VERSION, VERSION_NUM = ...
local pyexpired = py.expired

local debug = debug
local sethook, getinfo = debug.sethook, debug.getinfo
local error, type, tostring, next, pairs = error, type, tostring, next, pairs
local rawset, setmetatable, setfenv = rawset, setmetatable, setfenv
local pcall, xpcall = pcall, xpcall
local loadstring_, byte, find, sub, gsub = loadstring, string.byte, string.find, string.sub, string.gsub
local concat = table.concat

local function readonlyError()
  error("Attempt to modify a readonly table", 2)
end

-- Every read-only table scripts see (the globals, the libraries): swept of
-- what rawset left in them after each script.
local proxies = {}

local function readonly(t)
  local proxy = {}
  setmetatable(proxy, {__index = t, __newindex = readonlyError,
                       __metatable = false})
  proxies[#proxies + 1] = proxy
  return proxy
end

-- The globals scripts see: G holds them, ENV is the read-only face.
local G = {}
local ENV = {}
setmetatable(ENV, {
  __index = function(_, name)
    local value = G[name]
    if value == nil then
      error("Script attempted to access nonexistent global variable '"
            .. tostring(name) .. "'", 2)
    end
    return value
  end,
  __newindex = readonlyError,
  __metatable = false,
})
proxies[#proxies + 1] = ENV

local function compile(body, name)
  if byte(body, 1) == 27 then
    return nil, "bad binary format (precompiled Lua is refused)"
  end
  local f, err = loadstring_(body, name)
  if f then setfenv(f, ENV) end
  return f, err
end

for _, name in ipairs({"assert", "collectgarbage", "error", "gcinfo",
                       "getmetatable", "ipairs", "next", "pairs",
                       "rawequal", "rawget", "rawset", "select",
                       "setmetatable", "tonumber", "tostring", "type",
                       "unpack", "_VERSION"}) do
  G[name] = _G[name]
end
G.loadstring = function(body, name)
  if type(body) ~= "string" then return loadstring_(body, name) end
  return compile(body, name or "=(loadstring)")
end
G.load = function(reader, name)
  local parts = {}
  while true do
    local part = reader()
    if part == nil or part == "" then break end
    parts[#parts + 1] = part
  end
  return G.loadstring(concat(parts), name or "=(load)")
end
G._G = ENV
G.string = readonly(string)
G.table = readonly(table)
G.math = readonly(math)
-- ("x"):upper() goes through the string metatable: make it reach the
-- read-only face, and hide the metatable itself.
local stringMeta = getmetatable("")
stringMeta.__index = G.string
stringMeta.__metatable = {}

-- The redis table.  The functions that may raise an error are Python's
-- (to Lua, C functions): as in Redis, a script's "return redis.call(...)"
-- keeps the script's own frame, so an error can say on which line of the
-- script it happened.  They raise Python exceptions, which reach Lua as
-- userdata; pypending() gives the error table that stands for it.
local redis = {}
redis.call = py.call
redis.pcall = py.pcall
redis.sha1hex = py.sha1hex
redis.log = py.log
redis.setresp = py.setresp
redis.acl_check_cmd = py.acl_check_cmd
local pypending = py.pending

local function errorTable(err)
  if type(err) == "userdata" then return pypending() end
  return err
end

-- pcall, xpcall and coroutine.resume hand the script the error table, not
-- the userdata.
local function caught(ok, ...)
  if not ok then return false, errorTable((...)) end
  return ok, ...
end
G.pcall = function(f, ...) return caught(pcall(f, ...)) end
G.xpcall = function(f, h)
  return xpcall(f, function(err) return h(errorTable(err)) end)
end
-- A coroutine runs under the time limit's hook too (debug.sethook's hook
-- is per coroutine).
local hookNow
local coroutineFunctions = {}
for name, f in pairs(coroutine) do coroutineFunctions[name] = f end
local create, resume = coroutine.create, coroutine.resume
local function hooked(f)
  local co = create(f)
  hookNow(co)
  return co
end
local function raised(ok, ...)
  if not ok then error(errorTable((...)), 0) end
  return ...
end
coroutineFunctions.create = hooked
coroutineFunctions.resume = function(co, ...) return caught(resume(co, ...)) end
coroutineFunctions.wrap = function(f)
  local co = hooked(f)
  return function(...) return raised(resume(co, ...)) end
end
G.coroutine = readonly(coroutineFunctions)

redis.error_reply = function(message)
  if type(message) ~= "string" then
    return {err = "ERR wrong number or type of arguments"}
  end
  if sub(message, 1, 1) ~= "-" then message = "-" .. message end
  local space = find(message, " ", 1, true)
  local code, text
  if space then
    code, text = sub(message, 2, space - 1), sub(message, space + 1)
  else
    code, text = "ERR", sub(message, 2)
  end
  text = gsub(gsub(text, "^[\r\n]+", ""), "[\r\n]+$", "")
  return {err = code .. " " .. text}
end

redis.status_reply = function(message)
  if type(message) ~= "string" then
    return {err = "ERR wrong number or type of arguments"}
  end
  return {ok = message}
end

redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.set_repl = function() end
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end
redis.REDIS_VERSION = VERSION
redis.REDIS_VERSION_NUM = VERSION_NUM
G.redis = readonly(redis)

-- Errors become {err=..., source=..., line=...}: where in the script.
local function handler(err)
  local source, line
  for level = 2, 64 do
    local info = getinfo(level, "Sl")
    if not info then break end
    if info.source == "@user_script" then
      source, line = info.source, info.currentline
      break
    end
  end
  local message
  err = errorTable(err)
  if type(err) == "table" and type(err.err) == "string" then
    message = err.err
  elseif type(err) == "table" then
    message = "ERR unknown error"
  else
    message = "ERR " .. tostring(err)
  end
  return {err = message, source = source, line = line}
end

-- The time limit: a count hook until the time is up, then a hook on
-- every line too (a loop around pcall can't go on catching the error).
local hook
local hookMask, hookCount = "", COUNT
hook = function()
  if pyexpired() then
    hookMask, hookCount = "l", 1000
    sethook(hook, hookMask, hookCount)
    error({err = "ERR Script killed: it ran out of time"}, 0)
  end
end
hookNow = function(co)
  sethook(co, hook, hookMask, hookCount)
end

local api = {}

-- Compile a script's body: the function, or nil and the error.
api.compile = function(body)
  return compile(body, "@user_script")
end

-- Run a compiled script: ok, its result (or error table), the RESP
-- version it ended with.  Python clears the hook and calls reset after.
api.run = function(f, keys, argv)
  G.KEYS, G.ARGV = keys, argv
  hookMask, hookCount = "", COUNT
  sethook(hook, hookMask, hookCount)
  local ok, result = xpcall(f, handler)
  sethook()
  return ok, result
end

-- After each script: no KEYS/ARGV left, nothing rawset in read-only
-- tables.
api.reset = function()
  G.KEYS, G.ARGV = nil, nil
  for i = 1, #proxies do
    local proxy = proxies[i]
    local key = next(proxy)
    while key ~= nil do
      rawset(proxy, key, nil)
      key = next(proxy)
    end
  end
end

api.sethook = sethook

-- What scripts must not reach, gone from the runtime's own globals too.
for _, name in ipairs({"debug", "io", "os", "package", "require", "dofile",
                       "loadfile", "module", "print", "python", "newproxy",
                       "getfenv", "setfenv"}) do
  _G[name] = nil
end

return api
"""
