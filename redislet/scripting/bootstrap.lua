-- redislet's Lua sandbox, run once per interpreter (one for EVAL, one for FUNCTION).
-- Arguments: py (a table of Python callbacks), eval_mode (boolean).
-- Returns the internal API table used by engine.py.
--
-- Redis 7.0 patches its Lua with read-only tables. Standard Lua 5.1 has none, so the
-- globals and every library table are exposed as empty proxies whose metatable reads
-- through to the real table and refuses writes ("Attempt to modify a readonly table");
-- rawset/setmetatable/getmetatable/rawget/next/pairs/ipairs see through the proxies.
local py, eval_mode = ...
local G0 = getfenv(0)
local getinfo, sethook = G0.debug.getinfo, G0.debug.sethook
local type, error, tostring, tonumber, select = G0.type, G0.error, G0.tostring, G0.tonumber, G0.select
local rawget, rawset, rawequal = G0.rawget, G0.rawset, G0.rawequal
local setmetatable, getmetatable = G0.setmetatable, G0.getmetatable
local pcall, xpcall, next, pairs, ipairs = G0.pcall, G0.xpcall, G0.next, G0.pairs, G0.ipairs
local loadstring, setfenv, unpack = G0.loadstring, G0.setfenv, G0.unpack
local tconcat = G0.table.concat
local floor = G0.math.floor
local sformat, ssub, sgsub, sfind = G0.string.format, G0.string.sub, G0.string.gsub, G0.string.find
local INTERNAL = "=redislet"
-- errors raised by Python callbacks reach Lua as userdata: unwrap gives the Lua value
local pyunwrap = py.unwrap
local function unwrap(e)
    if type(e) == "userdata" then return pyunwrap(e) end
    return e
end

local RO = "Attempt to modify a readonly table"
local ro = setmetatable({}, {__mode = "k"})       -- proxy -> real table
local ro_views = setmetatable({}, {__mode = "k"}) -- real metatable -> read-only view

local function ro_newindex() error(RO, 2) end

local function readonly(t)
    local p = {}
    setmetatable(p, {__index = t, __newindex = ro_newindex})
    ro[p] = t
    return p
end

local function no_global(t, k)
    local tk = type(k)
    if tk ~= "string" and tk ~= "number" then
        error("Second argument to luaProtectedTableError must be a string or number", 2)
    end
    error("Script attempted to access nonexistent global variable '" .. k .. "'", 2)
end

local function typename(n, v)
    if n == 0 then return "no value" end
    return type(v)
end

-- base functions that see through read-only proxies. They run behind Python callables
-- (engine.py), so that a tail call from a script keeps the script's frame for error
-- positions, as a C function would: each returns true + results, or false + message +
-- whether luaL_where's position prefix applies.
local function badarg(i, fname, msg)
    return false, sformat("bad argument #%d to '%s' (%s)", i, fname, msg), true
end
local function notable(fname, n, t)
    return badarg(1, fname, "table expected, got " .. typename(n, t))
end
local base = {}
base.rawset = function(n, t, k, v)
    if type(t) ~= "table" then return notable("rawset", n, t) end
    if ro[t] then return false, RO, false end
    if n < 2 then return badarg(2, "rawset", "value expected") end
    if n < 3 then return badarg(3, "rawset", "value expected") end
    if k == nil then return false, "table index is nil", true end
    if k ~= k then return false, "table index is NaN", true end
    return true, rawset(t, k, v)
end
base.setmetatable = function(n, t, mt)
    if type(t) ~= "table" then return notable("setmetatable", n, t) end
    local tm = type(mt)
    if n < 2 or (tm ~= "nil" and tm ~= "table") then
        return badarg(2, "setmetatable", "nil or table expected")
    end
    if ro[t] then return false, RO, false end
    local cur = getmetatable(t)
    if cur ~= nil and rawget(cur, "__metatable") ~= nil then
        return false, "cannot change a protected metatable", true
    end
    return true, setmetatable(t, mt)
end
base.getmetatable = function(n, t)
    if n == 0 then return badarg(1, "getmetatable", "value expected") end
    local real = ro[t]
    if real == nil then return true, getmetatable(t) end
    local mt = getmetatable(real)
    if mt == nil then return true, nil end
    local v = ro_views[mt]
    if v == nil then
        v = readonly(mt)
        ro_views[mt] = v
    end
    return true, v
end
base.rawget = function(n, t, k)
    if type(t) ~= "table" then return notable("rawget", n, t) end
    if n < 2 then return badarg(2, "rawget", "value expected") end
    return true, rawget(ro[t] or t, k)
end
base.next = function(n, t, k)
    if type(t) ~= "table" then return notable("next", n, t) end
    local ok, a, b = pcall(next, ro[t] or t, k)
    if not ok then return false, "invalid key to 'next'", true end
    return true, a, b
end
base.pairs = function(n, t)
    if type(t) ~= "table" then return notable("pairs", n, t) end
    return true, next, ro[t] or t, nil
end
base.ipairs = function(n, t)
    if type(t) ~= "table" then return notable("ipairs", n, t) end
    local f, st, i = ipairs(ro[t] or t)
    return true, f, st, i
end

-- pcall as Redis replaces it: an error table with a string 'err' gives that string -
local function pcall_ret(ok, ...)
    if ok then return true, ... end
    local e = unwrap((...))
    if type(e) == "table" then
        local m = e.err
        local tm = type(m)
        if tm == "string" or tm == "number" then return false, m end
        return false, e, m
    end
    return false, e
end
local w_pcall = function(...) return pcall_ret(pcall(...)) end
local w_xpcall = function(f, h, ...)
    if type(h) == "function" then
        return xpcall(f, function(e) return h(unwrap(e)) end, ...)
    end
    return xpcall(f, h, ...)
end
local co_resume = G0.coroutine.resume
local function resume_ret(ok, ...)
    if ok then return true, ... end
    return false, unwrap((...))
end
local w_resume = function(...) return resume_ret(co_resume(...)) end

local function copy(t)
    local c = {}
    for k, v in pairs(t) do c[k] = v end
    return c
end

-- the redis API --------------------------------------------------------------------
-- luaPushErrorBuff: "-CODE msg" or "msg" -> "CODE msg" (msg trimmed of CR/LF)
local function trim_crlf(s)
    s = sgsub(s, "^[\r\n]+", "")
    return (sgsub(s, "[\r\n]+$", ""))
end
local function error_buff(s)
    local code, msg = "ERR", s
    if ssub(s, 1, 1) == "-" then
        local sp = sfind(s, " ", 1, true)
        if sp then
            code, msg = ssub(s, 2, sp - 1), ssub(s, sp + 1)
        else
            msg = ssub(s, 2)
        end
    end
    return code .. " " .. trim_crlf(msg)
end

local function r_error_reply(...)
    local n, s = select("#", ...), ...
    if n ~= 1 or type(s) ~= "string" then
        return {err = "ERR wrong number or type of arguments"}
    end
    if ssub(s, 1, 1) ~= "-" then s = "-" .. s end
    return {err = error_buff(s)}
end
local function r_status_reply(...)
    local n, s = select("#", ...), ...
    if n ~= 1 or type(s) ~= "string" then
        return {err = "ERR wrong number or type of arguments"}
    end
    return {ok = s}
end
local function add_log_api(R)
    R.log = py.log
    R.LOG_DEBUG, R.LOG_VERBOSE, R.LOG_NOTICE, R.LOG_WARNING = 0, 1, 2, 3
    R.REDIS_VERSION_NUM = py.version_num
    R.REDIS_VERSION = py.version
end

-- redis.call/pcall: lupa cannot pass more than about 7995 arguments to a Python callable
-- (the C stack limit of a call, LUAI_MAXCSTACK 8000), which Redis's own C function accepts;
-- so a call with many arguments hands them over as one table (few arguments: as they are).
-- Scripts are compiled without tail calls of them (untail.py): the script's frame stays.
local py_call, py_pcall, py_callt, py_pcallt = py.call, py.pcall, py.callt, py.pcallt
local MANY_ARGS = 1000
local R = {}
R.call = function(...)
    if select("#", ...) < MANY_ARGS then return py_call(...) end
    return py_callt({...}, select("#", ...))
end
R.pcall = function(...)
    if select("#", ...) < MANY_ARGS then return py_pcall(...) end
    return py_pcallt({...}, select("#", ...))
end
add_log_api(R)
R.setresp = py.setresp
R.sha1hex = py.sha1hex
R.error_reply = r_error_reply
R.status_reply = r_status_reply
R.set_repl = py.set_repl
R.REPL_NONE, R.REPL_AOF, R.REPL_SLAVE, R.REPL_REPLICA, R.REPL_ALL = 0, 1, 2, 2, 3
R.acl_check_cmd = py.acl_check_cmd
-- LDB (eval.c): a value as the debugger shows it (ldbCatStackValueRec)
local sbyte = G0.string.byte
local REPR_ESC = {["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n", ["\r"] = "\\r",
                  ["\t"] = "\\t", ["\a"] = "\\a", ["\b"] = "\\b"}
local function catrepr(s)      -- sdscatrepr
    return '"' .. sgsub(s, '[%z\1-\31"\\\127-\255]', function(ch)
        return REPR_ESC[ch] or sformat("\\x%02x", sbyte(ch))
    end) .. '"'
end
local LDB_MAX_VALUES_DEPTH = 10    -- LUA_MINSTACK / 2
local function ldb_repr(v, level)
    if level == LDB_MAX_VALUES_DEPTH then
        return "<max recursion level reached! Nested table?>"
    end
    level = level + 1
    local t = type(v)
    if t == "string" then return catrepr(v)
    elseif t == "boolean" then return v and "true" or "false"
    elseif t == "number" then return sformat("%g", v)
    elseif t == "nil" then return "nil"
    elseif t == "table" then
        local expected, is_array = 1, true
        local r1, r2, n = {}, {}, 0
        for k, val in next, ro[v] or v do
            if is_array and (type(k) ~= "number" or k ~= expected) then is_array = false end
            n = n + 1
            r1[n] = ldb_repr(val, level)
            r2[n] = "[" .. ldb_repr(k, level) .. "]=" .. ldb_repr(val, level)
            expected = expected + 1
        end
        return "{" .. tconcat(is_array and r1 or r2, "; ") .. "}"
    end
    local name = t == "function" and "function" or t == "userdata" and "userdata"
                 or t == "thread" and "thread" or "light-userdata"
    local s = tostring(v)
    local addr = G0.string.match(s, "0x%x+") or s
    return '"' .. name .. "@" .. addr .. '"'
end

if eval_mode then
    local ldb_active, ldb_breakpoint, ldb_debug = py.ldb_active, py.ldb_breakpoint, py.ldb_debug
    R.breakpoint = function() return ldb_breakpoint() end
    R.debug = function(...)
        if not ldb_active() then return end
        local n = select("#", ...)
        local parts = {}
        for i = 1, n do parts[i] = ldb_repr((select(i, ...)), 0) end
        ldb_debug(tconcat(parts, ", "))
    end
    R.replicate_commands = function() return true end
end

-- the globals ----------------------------------------------------------------------
local G = {}
for _, n in ipairs({"xpcall", "tostring", "next", "assert", "tonumber",
                    "rawequal", "collectgarbage", "type", "select", "unpack", "gcinfo",
                    "_VERSION", "error"}) do
    G[n] = G0[n]
end
for name in pairs(base) do G[name] = py.base[name] end
G.pcall = w_pcall
G.xpcall = w_xpcall

-- chunks must see the sandbox as their globals (lupa itself keeps the thread's
-- globals: it looks up debug.traceback there), and getfenv must not leak the real ones
local P
local load = G0.load
-- Redis's Lua only has the text parser: a binary chunk is a syntax error
local ESC = "\27"
G.loadstring = function(...)
    local n, code, name = select("#", ...), ...
    local f, e
    if type(code) == "string" and ssub(code, 1, 1) == ESC then
        if n < 2 or name == nil then name = code end
        f, e = loadstring(" " .. code, name)
    else
        f, e = loadstring(...)
    end
    if f then setfenv(f, P) end
    return f, e
end
G.load = function(reader, ...)
    local first = true
    local r = reader
    if type(reader) == "function" then
        r = function()
            local piece = reader()
            if first then
                first = false
                if type(piece) == "string" and ssub(piece, 1, 1) == ESC then
                    piece = " " .. piece
                end
            end
            return piece
        end
    end
    local f, e = load(r, ...)
    if f then setfenv(f, P) end
    return f, e
end
local M = copy(G0.math)
M.random, M.randomseed = py.random, py.randomseed
local CO = copy(G0.coroutine)
CO.resume = w_resume
local libs = {string = G0.string, table = G0.table, math = M, coroutine = CO}
for name, lib in pairs(py.libs) do libs[name] = lib end
for name, lib in pairs(libs) do G[name] = readonly(lib) end
-- ("abc"):upper() reads the string library through the string metatable
getmetatable("").__index = G.string
G.redis = readonly(R)

-- the error handler: where the error happened (skipping C frames and this file)
local reset_hook
local function errh(err)
    reset_hook()     -- a killed script's line hook must not fire while unwinding
    err = unwrap(err)
    local lvl = 2
    local i = getinfo(lvl, "nSl")
    while i and (i.what == "C" or i.source == INTERNAL) do
        lvl = lvl + 1
        i = getinfo(lvl, "nSl")
    end
    if type(err) ~= "table" then err = {err = "ERR " .. tostring(err)} end
    if i then
        err["source"] = i.source
        err["line"] = i.currentline
    end
    return err
end
if eval_mode then G.__redis__err__handler = errh end

setmetatable(G, {__index = no_global})
P = {}     -- what scripts see as their globals (and _G)
local PM = {__index = G, __newindex = ro_newindex}
setmetatable(P, PM)
ro[P] = G
G._G = P

-- FUNCTION LOAD runs library code against the library API only
local LIB
if not eval_mode then
    local LR = {}
    LR.register_function = py.register_function
    add_log_api(LR)
    setmetatable(LR, {__index = no_global})
    LIB = {redis = readonly(LR)}
    setmetatable(LIB, {__index = no_global})
end

-- the time limit hook ----------------------------------------------------------------
local pyhook = py.hook
local killer
local function hook()
    local msg = pyhook()
    if msg then
        sethook(killer, "l")
        error({err = msg})
    end
end
killer = hook
local HOOK_COUNT = 100000
sethook(hook, "", HOOK_COUNT)
reset_hook = function() sethook(hook, "", HOOK_COUNT) end
local arm_killer = function() sethook(killer, "l") end

-- luaL_where(L, 1) seen from a Python callback: "chunk:line: " of the calling Lua code
local function where()
    local lvl = 2
    local i = getinfo(lvl, "Sl")
    while i and (i.what == "C" or i.source == INTERNAL) do
        lvl = lvl + 1
        i = getinfo(lvl, "Sl")
    end
    if i and i.currentline > 0 then return i.short_src .. ":" .. i.currentline .. ": " end
    return ""
end

-- luaL_where(L, 1) for a Python callback standing for a C library function: the
-- position of its direct Lua caller, "" when a C function (pcall...) called it
local function where_c()
    local lvl = 3
    local i = getinfo(lvl, "Sl")
    while i and i.what ~= "C" and i.source == INTERNAL do
        lvl = lvl + 1
        i = getinfo(lvl, "Sl")
    end
    if i and i.what ~= "C" and i.currentline > 0 then
        return i.short_src .. ":" .. i.currentline .. ": "
    end
    return ""
end

-- Lua value -> RESP ---------------------------------------------------------------
local LLONG_MIN = "-9223372036854775808"
local function int_string(n)
    if n ~= n or n >= 9223372036854775808 or n < -9223372036854775808 then
        return LLONG_MIN
    end
    return sformat("%d", n)
end
local function dbl_string(d)
    if d == 1 / 0 then return "inf" end
    if d == -1 / 0 then return "-inf" end
    return sformat("%.17g", d)
end
local function map_crlf(s) return (sgsub(s, "[\r\n]", " ")) end

local out, on, errs, ne, cresp
local sresp = 2
local MAXDEPTH = 7990
local function push(s) on = on + 1; out[on] = s end

local function field_string(t, k)
    -- lua_getfield + lua_isstring (metamethods apply; errors are swallowed)
    local ok, v = pcall(function() return t[k] end)
    if not ok then return nil end
    local tv = type(v)
    if tv == "string" then return v end
    if tv == "number" then return tostring(v) end
    return nil
end

local encode
encode = function(v, depth)
    local t = type(v)
    if t == "string" then
        push("$" .. #v .. "\r\n"); push(v); push("\r\n")
    elseif t == "number" then
        push(":" .. int_string(v) .. "\r\n")
    elseif t == "boolean" then
        if sresp == 2 then
            if v then push(":1\r\n") elseif cresp == 2 then push("$-1\r\n") else push("_\r\n") end
        elseif cresp == 2 then
            push(v and ":1\r\n" or ":0\r\n")
        else
            push(v and "#t\r\n" or "#f\r\n")
        end
    elseif t == "table" then
        if depth > MAXDEPTH then
            push("-ERR reached lua stack limit\r\n")
            ne = ne + 1; errs[ne] = "-ERR reached lua stack limit"
            return
        end
        local f = rawget(v, "err")
        if type(f) == "string" then
            local msg = field_string(v, "err") or ""
            local s = map_crlf(trim_crlf("-" .. msg))
            push(s .. "\r\n")
            local ign = rawget(v, "ignore_error_stats_update")
            if ign ~= true then ne = ne + 1; errs[ne] = s end
            return
        end
        f = rawget(v, "ok")
        if type(f) == "string" then push("+" .. map_crlf(f) .. "\r\n"); return end
        f = rawget(v, "double")
        if type(f) == "number" then
            local s = dbl_string(f)
            if cresp == 2 then push("$" .. #s .. "\r\n" .. s .. "\r\n")
            else push("," .. s .. "\r\n") end
            return
        end
        f = rawget(v, "big_number")
        if type(f) == "string" then
            local s = map_crlf(f)
            if cresp == 2 then push("$" .. #s .. "\r\n" .. s .. "\r\n")
            else push("(" .. s .. "\r\n") end
            return
        end
        f = rawget(v, "verbatim_string")
        if type(f) == "table" then
            local fmt, str = rawget(f, "format"), rawget(f, "string")
            if type(fmt) == "string" and type(str) == "string" then
                if cresp == 2 then
                    push("$" .. #str .. "\r\n"); push(str); push("\r\n")
                else
                    fmt = ssub(fmt .. "   ", 1, 3)
                    local z = sfind(fmt, "\0", 1, true)
                    if z then fmt = ssub(ssub(fmt, 1, z - 1) .. "   ", 1, 3) end
                    push("=" .. (#str + 4) .. "\r\n" .. fmt .. ":"); push(str); push("\r\n")
                end
                return
            end
        end
        f = rawget(v, "map")
        if type(f) == "table" then
            local at = on + 1
            push("")
            local n = 0
            for k, val in next, f do
                encode(k, depth + 1)
                encode(val, depth + 1)
                n = n + 1
            end
            out[at] = (cresp == 2) and ("*" .. (2 * n) .. "\r\n") or ("%" .. n .. "\r\n")
            return
        end
        f = rawget(v, "set")
        if type(f) == "table" then
            local at = on + 1
            push("")
            local n = 0
            for k in next, f do
                encode(k, depth + 1)
                n = n + 1
            end
            out[at] = (cresp == 2) and ("*" .. n .. "\r\n") or ("~" .. n .. "\r\n")
            return
        end
        local at = on + 1
        push("")
        local j = 1
        while true do
            local e = rawget(v, j)
            if e == nil then break end
            encode(e, depth + 1)
            j = j + 1
        end
        out[at] = "*" .. (j - 1) .. "\r\n"
    else
        push(cresp == 2 and "$-1\r\n" or "_\r\n")
    end
end

-- luaCallFunction's error path
local function error_reply(res, name)
    if type(res) ~= "table" then
        local msg = "execution failure"
        if type(res) == "string" or type(res) == "number" then msg = tostring(res) end
        local s = map_crlf(trim_crlf("-ERR Error running script " .. name .. ", " .. ssub(msg, 1, 100)))
        return s .. "\r\n", s, false
    end
    local msg = field_string(res, "err")
    if msg == nil then msg = "ERR " .. tostring(res) end
    local source = field_string(res, "source")
    local line = field_string(res, "line")
    local s = "-" .. msg
    if line and source then
        s = s .. " script: " .. name .. ", on " .. source .. ":" .. line .. "."
    end
    s = map_crlf(trim_crlf(s))
    local ign = false
    local ok, iv = pcall(function() return res.ignore_error_stats_update end)
    if ok and type(iv) == "boolean" then ign = iv end
    return s .. "\r\n", s, ign
end

local function finish(ok, res, name)
    if not ok then
        local reply, s, ign = error_reply(res, name)
        if ign then return reply, nil end
        return reply, {s}
    end
    out, on, errs, ne = {}, 0, {}, 0
    encode(res, 0)
    local reply = tconcat(out, "", 1, on)
    out = nil
    local e = nil
    if ne > 0 then e = errs end
    errs = nil
    return reply, e
end

local api = {}
-- returns (RESP reply, list of the error replies to count in the error stats or nil)
if eval_mode then
    api.run = function(f, name, resp, keys, argv)
        cresp = resp
        sresp = 2
        rawset(G, "KEYS", keys)
        rawset(G, "ARGV", argv)
        local ok, res = xpcall(f, errh)
        return finish(ok, res, name)
    end
else
    api.run = function(f, name, resp, keys, argv)
        cresp = resp
        sresp = 2
        local ok, res = xpcall(function() return f(keys, argv) end, errh)
        return finish(ok, res, name)
    end
end
-- run with the keys and arguments passed one by one (nkeys of them are keys): building
-- the two tables here costs less than two tables built from Python
local run = api.run
api.run_args = function(f, name, resp, nkeys, ...)
    local all = {...}
    local keys, argv = {}, {}
    for i = 1, nkeys do keys[i] = all[i] end
    for i = nkeys + 1, #all do argv[i - nkeys] = all[i] end
    return run(f, name, resp, keys, argv)
end

-- compile: (function) or (nil, message)
local sdump = G0.string.dump
api.compile = function(code, chunkname)
    local f, e = loadstring(code, chunkname)
    if f then
        local patched = py.untail(sdump(f))
        if patched then f = loadstring(patched, chunkname) end
        setfenv(f, P)
    end
    return f, e
end

if not eval_mode then
    -- run the library body with the library API as globals
    api.load = function(f)
        PM.__index = LIB
        local ok, err = xpcall(f, function(e) reset_hook(); return e end)
        PM.__index = G
        if ok then return true, nil end
        err = unwrap(err)
        -- luaExtractErrorInformation on the error object
        if type(err) == "table" then
            local m = field_string(err, "err")
            return false, m
        end
        if type(err) == "string" or type(err) == "number" then
            return false, "ERR " .. tostring(err)
        end
        return false, nil
    end
    api.isfunction = function(v) return type(v) == "function" end
    api.read_named = function(t)
        -- redis.register_function{...}: returns name, desc, callback, flags(list) or error text
        if type(t) ~= "table" then
            return nil, "calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments)."
        end
        local name, desc, cb, flags
        for k, v in next, t do
            local tk = type(k)
            if tk ~= "string" and tk ~= "number" then
                return nil, "named argument key given to redis.register_function is not a string"
            end
            local key = string.lower(tostring(k))
            if key == "function_name" then
                if type(v) ~= "string" and type(v) ~= "number" then
                    return nil, "function_name argument given to redis.register_function must be a string"
                end
                name = tostring(v)
            elseif key == "description" then
                if type(v) ~= "string" and type(v) ~= "number" then
                    return nil, "description argument given to redis.register_function must be a string"
                end
                desc = tostring(v)
            elseif key == "callback" then
                if type(v) ~= "function" then
                    return nil, "callback argument given to redis.register_function must be a function"
                end
                cb = v
            elseif key == "flags" then
                if type(v) ~= "table" then
                    return nil, "flags argument to redis.register_function must be a table representing function flags"
                end
                flags = {}
                local j = 1
                while true do
                    local fv = v[j]
                    if fv == nil then break end
                    if type(fv) ~= "string" and type(fv) ~= "number" then
                        return nil, "unknown flag given"
                    end
                    flags[j] = tostring(fv)
                    j = j + 1
                end
            else
                return nil, "unknown argument given to redis.register_function"
            end
        end
        if not name then return nil, "redis.register_function must get a function name argument" end
        if not cb then return nil, "redis.register_function must get a callback argument" end
        return name, desc, cb, flags
    end
end

-- LDB: the line hook of a debugging session and the helpers of the debugger commands
if eval_mode then
    local ldb_py = py.ldb
    local ldbhook
    ldbhook = function(event)
        local i = getinfo(2, "Sl")
        if i == nil or i.source == INTERNAL then return end
        local msg = ldb_py(event == "count", i.currentline, i.short_src)
        if msg then error({err = msg}) end
    end
    api.set_ldb_hook = function() sethook(ldbhook, "l", HOOK_COUNT) end
    -- the level (seen from the caller of base()) of the function the hook stopped in
    local function base()
        local l = 3
        while true do
            local i = getinfo(l, "f")
            if i == nil then return nil end
            if i.func == ldbhook then return l - 1 end
            l = l + 1
        end
    end
    api.ldb_print = function(name)
        local l = base()
        if l then
            l = l + 1
            while getinfo(l, "f") do
                local j = 1
                while true do
                    local n, v = G0.debug.getlocal(l, j)
                    if n == nil then break end
                    if n == name then return ldb_repr(v, 0) end
                    j = j + 1
                end
                l = l + 1
            end
        end
        if name == "ARGV" or name == "KEYS" then return ldb_repr(rawget(G, name), 0) end
        return nil
    end
    api.ldb_locals = function()
        local out, k = {}, 0
        local l = base()
        if l and getinfo(l + 1, "f") then
            local j = 1
            while true do
                local n, v = G0.debug.getlocal(l + 1, j)
                if n == nil then break end
                if not sfind(n, "(*temporary)", 1, true) then
                    out[k + 1], out[k + 2] = n, ldb_repr(v, 0)
                    k = k + 2
                end
                j = j + 1
            end
        end
        return out
    end
    api.ldb_trace = function()
        local out = {0}
        local l = base()
        if not l then return out end
        local level = 0
        while true do
            local i = getinfo(l + 1 + level, "Snl")
            if i == nil then break end
            if sfind(i.short_src, "user_script", 1, true) then
                out[#out + 1] = level
                out[#out + 1] = i.name or "top level"
                out[#out + 1] = i.currentline
            end
            level = level + 1
        end
        out[1] = level
        return out
    end
    api.ldb_eval = function(code)
        local f = loadstring("return " .. code, "@ldb_eval")
        if not f then
            local e
            f, e = loadstring(code, "@ldb_eval")
            if not f then return "error", tostring(e) end
        end
        setfenv(f, P)
        local ok, res = pcall(f)
        if not ok then
            res = unwrap(res)
            if type(res) == "table" and type(res.err) == "string" then res = res.err end
            return "error", tostring(res)
        end
        return "retval", ldb_repr(res, 0)
    end
end

api.G = G
api.where = where
api.where_c = where_c
api.base = function(name, ...) return base[name](select("#", ...), ...) end
api.set_sresp = function(n) sresp = n end
api.error_buff = error_buff
api.table = function(...) return {...} end
api.status = function(s) return {ok = s} end
api.err = function(s) return {err = s, ignore_error_stats_update = true} end
api.err2 = function(s, ign)
    if ign then return {err = s, ignore_error_stats_update = true} end
    return {err = s}
end
api.map = function(t, n)
    local m = {}
    for i = 1, n, 2 do
        local k = t[i]
        if k ~= nil then m[k] = t[i + 1] end
    end
    return {map = m}
end
api.set = function(t, n)
    local m = {}
    for i = 1, n do
        local k = t[i]
        if k ~= nil then m[k] = true end
    end
    return {set = m}
end
api.double = function(d) return {double = d} end
api.big = function(s) return {big_number = s} end
api.verbatim = function(s, f) return {verbatim_string = {string = s, format = f}} end
api.reset_hook = function() reset_hook() end
api.arm_killer = function() arm_killer() end
api.gc = function(n) return collectgarbage("step", n) end
api.memory = function() return collectgarbage("count") end
return api
