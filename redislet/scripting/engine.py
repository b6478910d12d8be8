"""The Lua runtime of EVAL and FUNCTION: lupa's Lua 5.1 (the version Redis embeds), the
sandbox (bootstrap.lua), the redis.* API, and the conversions between RESP and Lua values.

Execution model
---------------
Scripts are atomic: a script runs on the event loop thread and nothing else runs while it
does. Every script runs inside a worker greenlet. A Lua count hook (every 100000
instructions, as Redis) checks the elapsed time; past busy-reply-threshold the script is
"timed out" and, when its caller is an ordinary top-level client, the hook switches back to
the event loop (the EVAL command returns no reply yet; its client is parked like a blocked
client). The loop then serves other clients, which get -BUSY for everything but the
allow-busy commands (SCRIPT KILL, FUNCTION KILL, FUNCTION STATS, SHUTDOWN NOSAVE, ...), and
resumes the script with call_soon after each round of events - Redis's
processEventsWhileBlocked, without re-entering the loop. The cron's periodic work, the
serving of keys made ready by the script and key expiry (the script's time snapshot) wait
until the script ends. A script run from EXEC, from the master link or from the AOF
cannot yield (its caller needs the reply synchronously): it just runs to completion.
"""
from __future__ import annotations   # (the compiled build types the annotated names)

import hashlib
import math
import os
import time

try:
    from lupa import lua51 as _lua        # Redis embeds Lua 5.1
    LUA_IMPORT_ERROR = None
except ImportError as _e:                  # pragma: no cover - depends on the install
    _lua = None
    LUA_IMPORT_ERROR = ("ERR Lua scripting is not available: the 'lupa' package is not "
                        "installed (pip install lupa)")

try:
    import greenlet as _greenlet
except ImportError:                        # pragma: no cover
    _greenlet = None

from .. import REDIS_VERSION
from ..commands.table import COMMANDS
from .untail import patch as untail_patch

_BOOTSTRAP_PATH = os.path.join(os.path.dirname(__file__), "bootstrap.lua")
with open(_BOOTSTRAP_PATH, "rb") as _f:
    BOOTSTRAP = _f.read()

REDIS_VERSION_NUM = 0x0007000f

# script flags (script.h)
FLAG_NO_WRITES = 1 << 0
FLAG_ALLOW_OOM = 1 << 1
FLAG_ALLOW_STALE = 1 << 2
FLAG_NO_CLUSTER = 1 << 3
FLAG_EVAL_COMPAT = 1 << 4
FLAG_ALLOW_CROSS_SLOT = 1 << 5
FLAG_NAMES = [(FLAG_NO_WRITES, "no-writes"), (FLAG_ALLOW_OOM, "allow-oom"),
              (FLAG_ALLOW_STALE, "allow-stale"), (FLAG_NO_CLUSTER, "no-cluster"),
              (FLAG_ALLOW_CROSS_SLOT, "allow-cross-slot-keys")]

REPL_AOF = 1
REPL_REPLICA = 2
REPL_ALL = 3
RUN_ARGS_MAX = 64          # keys + args passed to Lua one by one (api.run_args) up to this

BUSY_EVAL = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
BUSY_FUNCTION = ("BUSY Redis is busy running a script. You can only call FUNCTION KILL or "
                 "SHUTDOWN NOSAVE.")
KILLED = b"ERR Script killed by user with SCRIPT KILL..."
ROSLAVE = "-READONLY You can't write against a read only replica."
OOMERR = "-OOM command not allowed when used memory > 'maxmemory'."
NOREPLICAS = "-NOREPLICAS Not enough good replicas to write."
MASTERDOWN = ("-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to "
              "'no'.")

_YIELD = object()


class LuaRaise(Exception):
    """Raised by a Python callback: the Lua error value is .args[0] (a Lua table for
    Redis error tables, bytes for luaL_error-style messages)."""


def _unwrap(e):
    """The Lua value of an error raised by a Python callback."""
    if type(e) is LuaRaise:
        return e.args[0]
    return ("%s: %s" % (type(e).__name__, e)).encode()


def _c_int(n):
    """(int)(long long) of a Lua number: truncation, 32-bit wrap (x86: LLONG_MIN when the
    double does not fit)."""
    if n != n or n >= 9.223372036854775807e18 or n < -9.223372036854775807e18:
        return 0
    i = int(n) & 0xffffffff
    return i - 0x100000000 if i >= 0x80000000 else i


# -- Redis's PRNG (rand.c: lrand48 with its own state) -----------------------------------
_rand_state = [0x1234ABCD330E]
_MASK48 = (1 << 48) - 1


def lrand48():
    x = (0x5DEECE66D * _rand_state[0] + 0xB) & _MASK48
    _rand_state[0] = x
    return x >> 17


def srand48(seed):
    _rand_state[0] = ((seed & 0xffffffff) << 16) | 0x330E


def sha1hex(data):
    return hashlib.sha1(data).hexdigest().encode()


def error_buff(s):
    """luaPushErrorBuff: '-CODE msg' or 'msg' -> b'CODE msg' (the err field of a table)."""
    if isinstance(s, str):
        s = s.encode()
    if s[:1] == b"-":
        sp = s.find(b" ")
        if sp < 0:
            code, msg = b"ERR", s[1:]
        else:
            code, msg = s[1:sp], s[sp + 1:]
    else:
        code, msg = b"ERR", s
    return code + b" " + msg.strip(b"\r\n")


def count_error(srv, s):
    """afterErrorReply's error statistics for an error text (b'-CODE msg' or b'msg')."""
    if s[:1] != b"-":
        s = b"-ERR " + s
    else:
        sp = s.find(b" ", 0, 32)
        if sp < 0:
            s = b"-ERR " + s[1:]
    srv.count_error(s + b"\r\n")


class _KindArgv(list):
    """The argv of an effect that goes to one kind of propagation target only."""
    __slots__ = ("prop_kind",)


class RunCtx:
    """scriptRunCtx: the state of the script being run."""
    __slots__ = ("caller", "name", "eval_mode", "ro", "allow_oom", "write_dirty", "killed",
                 "timedout", "start", "snapshot", "repl", "oom", "yieldable", "argv",
                 "saved_ready", "engine", "obey", "own_batch", "cross_slot")

    def __init__(self, engine, caller, name, eval_mode):
        self.engine = engine
        self.caller = caller
        self.name = name
        self.eval_mode = eval_mode
        self.ro = False
        self.allow_oom = False
        self.write_dirty = False
        self.killed = False
        self.timedout = False
        self.start = 0.0
        self.snapshot = 0
        self.repl = REPL_ALL
        self.oom = False
        self.yieldable = False
        self.argv = None
        self.saved_ready = []
        self.obey = False
        self.own_batch = False
        self.cross_slot = True    # SCRIPT_ALLOW_CROSS_SLOT (cluster: keys of any slot)


def replica_state(srv):
    """(masterhost set, link up) from the replication module."""
    if not srv.is_replica:          # (set exactly while masterhost is)
        return False, True
    repl = srv.repl
    try:
        from ..replication.replica import CONNECTED
    except Exception:          # pragma: no cover
        CONNECTED = None
    return True, repl.state == CONNECTED


def running_stale(srv):
    is_replica, up = replica_state(srv)
    return is_replica and not up and not srv.config.values["replica-serve-stale-data"]


def readonly_replica(srv):
    is_replica, _ = replica_state(srv)
    return is_replica and srv.config.values["replica-read-only"]


def not_enough_replicas(srv):
    repl = getattr(srv, "repl", None)
    if repl is None or getattr(repl, "masterhost", None) is not None:
        return False
    v = srv.config.values
    return bool(v["min-replicas-to-write"] and v["min-replicas-max-lag"]
                and getattr(repl, "good_replicas", 0) < v["min-replicas-to-write"])


def disk_error(srv, caller):
    """writeCommandsDeniedByDiskError: the MISCONF text of the persistence modules, or
    None (asked through their processCommand checks with a write command)."""
    setcmd = COMMANDS.get(b"set")
    for check in srv.disk_checks:
        msg = check(caller, setcmd, [b"set", b"k", b"v"])
        if msg:
            return msg
    return None


def oom_state(srv):
    """pre_command_oom_state: used memory above maxmemory."""
    maxmemory = srv.config.values["maxmemory"]
    if not maxmemory:
        return False
    fn = getattr(srv, "out_of_memory", None)
    if fn is not None:
        return fn()
    try:
        from ..commands.info import used_memory
        return used_memory(srv) > maxmemory
    except Exception:           # pragma: no cover
        return False


def make_script_client(srv):
    """The fake client that runs the commands of scripts (CLIENT_SCRIPT,
    CLIENT_DENY_BLOCKING)."""
    from ..client import Client
    c = Client(srv)
    c.authenticated = True
    c.parser.auth_required = False
    c.checks = False
    c.addr = c.laddr = "lua"
    c.reply_mode = 1          # replies are taken from Client.call's return value
    c.deny_blocking = True
    c.in_script = True
    return c


class LuaEngine:
    """One Lua interpreter: EVAL's (eval_mode) or the FUNCTION engine's."""

    def __init__(self, srv, eval_mode, libs_factory=None):
        self.srv = srv
        self.eval_mode = eval_mode
        self.ctx = None
        self.load_deadline = None     # FUNCTION LOAD timeout (monotonic)
        self.load_lib = None          # the library being loaded (register_function)
        self.hook_switched = False
        self.worker = None
        self.busy = False
        self.dbg = None               # the LDB state while a debugging session runs (ldb.py)
        self._saved_time_ms = None    # EXEC's fixed time while a script in it runs
        self._last_yield = 0.0        # when a timed-out script last let the loop run
        self.fc = make_script_client(srv)
        # cluster mode: scriptVerifyClusterState (redislet/cluster/redirect.py)
        self.cluster_check = getattr(srv, "script_cluster_check", None)
        L = self.L = _lua.LuaRuntime(unpack_returned_tuples=True, register_eval=False,
                                     register_builtins=False, encoding=None)
        libs = libs_factory(L, self) if libs_factory is not None else {}
        py = L.table_from({
            b"call": self._lcall,
            b"pcall": self._lpcall,
            b"callt": self._lcallt,
            b"pcallt": self._lpcallt,
            b"untail": untail_patch,
            b"unwrap": _unwrap,
            b"random": self._random,
            b"randomseed": self._randomseed,
            b"sha1hex": self._sha1hex,
            b"log": self._log,
            b"setresp": self._setresp,
            b"set_repl": self._set_repl,
            b"acl_check_cmd": self._acl_check_cmd,
            b"hook": self._hook,
            b"register_function": self._register_function,
            b"ldb": self._ldb_hook,
            b"ldb_active": self._ldb_active,
            b"ldb_breakpoint": self._ldb_breakpoint,
            b"ldb_debug": self._ldb_debug,
            b"version": REDIS_VERSION.encode(),
            b"version_num": REDIS_VERSION_NUM,
            b"libs": L.table_from(libs),
            b"base": L.table_from({name: self._base_fn(name) for name in (
                b"rawset", b"setmetatable", b"getmetatable", b"rawget", b"next", b"pairs",
                b"ipairs")}),
        })
        self._ltype = L.eval("type")
        self._ltonumber = L.eval("tonumber")
        loader = L.eval("loadstring")
        chunk = loader(BOOTSTRAP, b"=redislet")
        api = self.api = chunk(py, eval_mode)
        self.G = api.G
        self._run = api.run
        self._run_args = api.run_args
        self._table = L.table
        self._mk_status = api.status
        self._mk_err = api.err
        self._mk_err2 = api.err2
        self._where = api.where
        self._set_sresp = api.set_sresp
        self._mk_map = api.map
        self._mk_set = api.set
        self._mk_double = api.double
        self._mk_big = api.big
        self._mk_verbatim = api.verbatim
        self.compile = api.compile

    def _base_fn(self, name):
        def fn(*args):
            res = self.api.base(name, *args)
            if res[0] is True:
                return res[1:]
            if res[2]:
                raise LuaRaise(self._where() + res[1])
            raise LuaRaise(res[1])
        return fn

    # -- Python callbacks of the sandbox ---------------------------------------------------
    def _raise(self, msg, ignore=False):
        """Raise a Redis error table ({err=...}) in Lua (luaPushError + luaError)."""
        raise LuaRaise(self._mk_err2(msg, ignore))

    def _raise_where(self, msg):
        """luaL_error: a string error prefixed with the calling chunk's position."""
        raise LuaRaise(self._where() + msg)

    def _typename(self, args, i):
        if i >= len(args):
            return b"no value"
        return self._ltype(args[i])

    def _checkint(self, fname, args, i):
        """luaL_checkint: (int)(lua_Integer) of a number or numeric string."""
        v = args[i] if i < len(args) else None
        n = None
        if type(v) is int or type(v) is float:
            n = v
        elif type(v) is bytes:
            n = self._ltonumber(v)
        if n is None:
            self._raise_where(b"bad argument #%d to '%s' (number expected, got %s)"
                              % (i + 1, fname, self._typename(args, i)))
        return _c_int(n)

    def _random(self, *args):
        if self.ctx is None:
            self._raise_where(b"math.random can only be called inside a script invocation")
        r = (lrand48() % 0x7fffffff) / 0x7fffffff
        n = len(args)
        if n == 0:
            return r
        if n == 1:
            u = self._checkint(b"random", args, 0)
            if u < 1:
                self._raise_where(b"bad argument #1 to 'random' (interval is empty)")
            return float(math.floor(r * u) + 1)
        if n == 2:
            lo = self._checkint(b"random", args, 0)
            u = self._checkint(b"random", args, 1)
            if lo > u:
                self._raise_where(b"bad argument #2 to 'random' (interval is empty)")
            return float(math.floor(r * (u - lo + 1)) + lo)
        self._raise_where(b"wrong number of arguments")

    def _randomseed(self, *args):
        if self.ctx is None:
            self._raise_where(b"math.randomseed can only be called inside a script invocation")
        srand48(self._checkint(b"randomseed", args, 0))

    def _sha1hex(self, *args):
        if len(args) != 1:
            self._raise(b"ERR wrong number of arguments")
        v = args[0]
        if type(v) is int or type(v) is float:
            v = b"%.14g" % v
        elif type(v) is not bytes:
            v = b""
        return sha1hex(v)

    def _lnumber(self, v):
        if type(v) is int or type(v) is float:
            return v
        if type(v) is bytes:
            return self._ltonumber(v)
        return None

    def _log(self, *args):
        n = len(args)
        if n < 2:
            self._raise(b"ERR redis.log() requires two arguments or more.")
        level = self._lnumber(args[0])
        if level is None:
            self._raise(b"ERR First argument must be a number (log level).")
        level = _c_int(level)
        if level < 0 or level > 3:
            self._raise(b"ERR Invalid debug level.")
        parts = []
        for v in args[1:]:
            if type(v) is bytes:
                parts.append(v)
            elif type(v) is int or type(v) is float:
                parts.append(b"%.14g" % v)
        srv = self.srv
        name = ("debug", "verbose", "notice", "warning")[level]
        srv.log(name, b" ".join(parts).decode("utf-8", "surrogateescape"))

    def _setresp(self, *args):
        if self.ctx is None:
            self._raise(b"ERR redis.setresp can only be called inside a script invocation")
        if len(args) != 1:
            self._raise(b"ERR redis.setresp() requires one argument.")
        v = self._lnumber(args[0])
        resp = _c_int(v) if v is not None else 0
        if resp != 2 and resp != 3:
            self._raise(b"ERR RESP version must be 2 or 3.")
        self.fc.set_protocol(resp)
        self._set_sresp(resp)

    def _set_repl(self, *args):
        ctx = self.ctx
        if ctx is None:
            self._raise(b"ERR redis.set_repl can only be called inside a script invocation")
        if len(args) != 1:
            self._raise(b"ERR redis.set_repl() requires two arguments.")
        v = self._lnumber(args[0])
        flags = _c_int(v) if v is not None else 0
        if flags & ~3:
            self._raise(b"ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL "
                        b"or REPL_NONE.")
        ctx.repl = flags

    def _argv(self, args):
        argv = []
        for a in args:
            ta = type(a)
            if ta is bytes:
                argv.append(a)
            elif ta is int or ta is float:
                argv.append(b"%.17g" % a)
            else:
                return None
        return argv

    def _acl_check_cmd(self, *args):
        ctx = self.ctx
        if ctx is None:
            self._raise(b"ERR redis.acl_check_cmd can only be called inside a script "
                        b"invocation")
        if not args:
            self._raise(b"ERR Please specify at least one argument for this redis lib call")
        argv = self._argv(args)
        if argv is None:
            self._raise(b"ERR Lua redis lib command arguments must be strings or integers")
        cmd = self.srv.commands.get(argv[0].lower())
        if cmd is not None and cmd.subcommands is not None and len(argv) >= 2:
            cmd = cmd.subcommands.get(argv[1].lower())
        if cmd is None:
            self._raise(b"ERR Invalid command passed to redis.acl_check_cmd()")
        acl = self.srv.acl
        if acl is None:
            return True
        from ..acl import OK_
        u = acl.users.get(ctx.caller.user) if hasattr(acl, "users") else None
        if u is None or ctx.caller.user not in getattr(acl, "restricted", ()):
            return True
        reason, _pos = u.check(cmd, argv)
        return reason == OK_

    def _hook(self):
        """The count hook (luaMaskCountHook / scriptInterrupt)."""
        ctx = self.ctx
        if ctx is None:
            dl = self.load_deadline
            if dl is not None and time.monotonic() > dl:
                self.hook_switched = True
                return b"ERR FUNCTION LOAD timeout"
            return None
        if ctx.killed:
            self.hook_switched = True
            return KILLED
        if not ctx.timedout:
            threshold = self.srv.config.values["busy-reply-threshold"]
            if threshold <= 0:
                return None
            elapsed = int((time.monotonic() - ctx.start) * 1000)
            if elapsed < threshold:
                return None
            self.srv.log("warning",
                         "Slow script detected: still in execution after %d milliseconds. "
                         "You can try killing the script using the %s command. Script name "
                         "is: %s." % (elapsed, "SCRIPT KILL" if ctx.eval_mode
                                      else "FUNCTION KILL",
                                      ctx.name.decode("utf-8", "replace")))
            ctx.timedout = True
            if ctx.yieldable:
                self._enter_busy(ctx)
        if ctx.yieldable:
            try:
                self.worker.parent.switch(_YIELD)
            except _greenlet.GreenletExit:
                ctx.killed = True
                ctx.yieldable = False
            self._last_yield = time.monotonic()
        elif ctx.timedout:
            # scriptInterrupt's processEventsWhileBlocked for a script of an AOF being
            # loaded in the background (DEBUG LOADAOF): other clients get -LOADING
            events = getattr(self.srv, "loading_yield", None)
            if events is not None:
                events()
        if ctx.killed:
            self.hook_switched = True
            return KILLED
        return None

    def _call_yield(self, ctx):
        """A timed-out script also lets the loop run from redis.call, at most every 10 ms:
        commands cost far more here than in Redis, so a script busy calling them reaches
        the next count-hook event (where Redis processes events) only after seconds."""
        try:
            self.worker.parent.switch(_YIELD)
        except _greenlet.GreenletExit:
            ctx.killed = True
            ctx.yieldable = False
        self._last_yield = time.monotonic()
        if ctx.killed:
            # the kill error is raised at the next line, as the count hook does
            self.hook_switched = True
            self.api.arm_killer()
            return True
        return False

    # -- LDB (the debugger of EVAL, ldb.py) ------------------------------------------------
    def _ldb_hook(self, is_count, line, short_src):
        d = self.dbg
        if d is None:
            return None
        return d.hook(self, is_count, line, short_src)

    def _ldb_active(self):
        d = self.dbg
        return d is not None and d.active

    def _ldb_breakpoint(self):
        """redis.breakpoint()."""
        d = self.dbg
        if d is not None and d.active:
            d.luabp = 1
            return True
        return False

    def _ldb_debug(self, text):
        """redis.debug(): a '<debug>' line in the debugger console."""
        d = self.dbg
        if d is not None and d.active:
            d.log(b"<debug> line %d: %s" % (d.currentline, text))

    # -- redis.call -----------------------------------------------------------------------
    def _reject(self, cmd, err):
        """A command refused by the script rules (scriptCall's error path)."""
        if isinstance(err, str):
            err = err.encode()
        if self.dbg is not None:
            self.dbg.rejected = err
        count_error(self.srv, err)
        if cmd is not None:
            cmd.rejected_calls += 1
        return 3, error_buff(err)

    def _lcall(self, *args):
        """redis.call: raises the error table on an error reply."""
        t, v = self._call(args) if self.dbg is None else self.dbg.logged_call(self, args)
        if t == 0:
            return v
        if t == 1:
            return self._mk_status(v)
        raise LuaRaise(self._mk_err2(v, t == 3))

    def _lpcall(self, *args):
        """redis.pcall: returns the error table."""
        t, v = self._call(args) if self.dbg is None else self.dbg.logged_call(self, args)
        if t == 0:
            return v
        if t == 1:
            return self._mk_status(v)
        if t == 4:
            raise LuaRaise(self._mk_err2(v, False))
        return self._mk_err2(v, t == 3)

    def _lcallt(self, t, n):
        """redis.call with many arguments: they come as a table (bootstrap.lua)."""
        return self._lcall(*[t[i] for i in range(1, n + 1)])

    def _lpcallt(self, t, n):
        return self._lpcall(*[t[i] for i in range(1, n + 1)])

    def _call(self, args):
        cmd: Command
        ctx = self.ctx
        if ctx is None:
            return 4, b"ERR redis.call/pcall can only be called inside a script invocation"
        if ctx.timedout and ctx.yieldable and time.monotonic() - self._last_yield > 0.01:
            if self._call_yield(ctx):
                return 2, KILLED
        if not args:
            return 2, b"ERR Please specify at least one argument for this redis lib call"
        argv = []
        for a in args:
            ta = type(a)
            if ta is bytes:
                argv.append(a)
            elif ta is int or ta is float:
                argv.append(b"%.17g" % a)
            else:
                return 2, b"ERR Lua redis lib command arguments must be strings or integers"
        cmd = self.srv.commands.get(argv[0].lower())
        if cmd is not None and cmd.subcommands is not None and len(argv) >= 2:
            cmd = cmd.subcommands.get(argv[1].lower())
        if cmd is None:
            return self._reject(None, "Unknown Redis command called from script")
        a = cmd.arity
        if (a > 0 and a != len(argv)) or len(argv) < -a:
            return self._reject(cmd, "Wrong number of args calling Redis command from script")
        srv = self.srv
        if cmd.noscript and not getattr(srv, "script_disable_deny_script", False):
            return self._reject(cmd, "This Redis command is not allowed from script")
        if srv.checks or ctx.caller.checks:      # (caller.checks: e.g. a restricted user)
            err = self._server_state(ctx, cmd, argv)
            if err is not None:
                return self._reject(cmd, err)
        elif ctx.ro and (cmd.is_write or cmd.may_replicate):
            return self._reject(cmd, "Write commands are not allowed from read-only scripts.")
        if cmd.is_write:
            if ctx.oom and not ctx.allow_oom and not ctx.write_dirty and cmd.denyoom \
                    and not ctx.obey:
                return self._reject(cmd, OOMERR)
            ctx.write_dirty = True
        if self.cluster_check is not None:
            err = self.cluster_check(ctx, self.fc, cmd, argv)
            if err is not None:
                return self._reject(cmd, err)
        fc = self.fc
        if ctx.repl == REPL_ALL:
            reply = fc.call(cmd, argv)
        else:
            reply = self._call_repl(fc, cmd, argv, ctx.repl)
        if self.dbg is not None:
            self.dbg.raw_reply = reply
        if not reply:
            return 0, None
        b = reply[0]
        if b == 58:       # ':'
            return 0, int(reply[1:-2])
        if b == 36:       # '$'
            if reply[1] == 45:
                return 0, False
            return 0, reply[reply.index(b"\r\n") + 2:-2]
        if b == 43:       # '+'
            return 1, reply[1:-2]
        if b == 45:       # '-'
            return 3, error_buff(reply[:-2])
        return 0, self._parse(reply, 0)[0]

    def _server_state(self, ctx, cmd, argv):
        """scriptVerifyAllowStale, scriptVerifyACL, scriptVerifyWriteCommandAllow."""
        srv = self.srv
        if not cmd.stale and running_stale(srv):
            return "Can not execute the command on a stale replica"
        acl = srv.acl
        if acl is not None:
            fc = self.fc
            from ..acl import OK_, DENIED_CMD, DENIED_KEY, DENIED_CHANNEL
            reason, _pos = acl.check_code(fc, cmd, argv, "lua")
            if reason != OK_:
                if reason == DENIED_CMD:
                    why = "can't run this command or subcommand"
                elif reason == DENIED_KEY:
                    why = ("can't access at least one of the keys mentioned in the command "
                           "arguments")
                elif reason == DENIED_CHANNEL:
                    why = "can't publish to the channel mentioned in the command"
                else:
                    why = "lacking the permissions for the command"
                return "The user executing the script " + why
        if ctx.ro and (cmd.is_write or cmd.may_replicate):
            return "Write commands are not allowed from read-only scripts."
        if not cmd.is_write or ctx.write_dirty:
            return None
        if readonly_replica(srv) and not ctx.obey:
            return ROSLAVE
        msg = disk_error(srv, ctx.caller)
        if msg is not None:
            return "-" + msg
        if not_enough_replicas(srv):
            return NOREPLICAS
        return None

    def _call_repl(self, fc, cmd, argv, flags):
        """redis.set_repl(): effects of this command go to AOF and/or replicas only."""
        srv = self.srv
        if flags == 0:
            saved = srv.prop_batch
            srv.prop_batch = []
            try:
                return fc.call(cmd, argv)
            finally:
                srv.prop_batch = saved
        # one target kind only: targets say what they are with a `prop_kind` attribute
        # ("aof" or "repl"); targets without it receive everything
        want = "aof" if flags == REPL_AOF else "repl"
        saved = srv.prop_batch
        srv.prop_batch = []
        try:
            reply = fc.call(cmd, argv)
            batch = srv.prop_batch
        finally:
            srv.prop_batch = saved
        if batch:
            if saved is not None:
                # the script's (or EXEC's) batch: propagate_end sends these to their
                # kind of target only (MULTI/EXEC go to all, as propagatePendingCommands)
                for dbid, a in batch:
                    a = _KindArgv(a)
                    a.prop_kind = want
                    saved.append((dbid, a))
            else:
                for dbid, a in batch:
                    for t in srv.propagate_targets:
                        if srv.prop_target_kind(t) == want:
                            t(dbid, a)
        return reply

    # -- RESP -> Lua ------------------------------------------------------------------------
    def _parse(self, buf, pos):
        t = buf[pos]
        nl = buf.index(b"\r\n", pos)
        line = buf[pos + 1:nl]
        after = nl + 2
        if t == 36:    # $
            n = int(line)
            if n < 0:
                return False, after
            return buf[after:after + n], after + n + 2
        if t == 58:    # :
            return int(line), after
        if t == 42:    # *
            n = int(line)
            if n < 0:
                return False, after
            items = []
            p = after
            for _ in range(n):
                v, p = self._parse(buf, p)
                items.append(v)
            return self._table(*items), p
        if t == 43:    # +
            return self._mk_status(line), after
        if t == 45:    # -
            return self._mk_err(error_buff(b"-" + line)), after
        if t == 37:    # %
            n = int(line)
            items = []
            p = after
            for _ in range(2 * n):
                v, p = self._parse(buf, p)
                items.append(v)
            return self._mk_map(self._table(*items), 2 * n), p
        if t == 126:   # ~
            n = int(line)
            items = []
            p = after
            for _ in range(n):
                v, p = self._parse(buf, p)
                items.append(v)
            return self._mk_set(self._table(*items), n), p
        if t == 95:    # _
            return None, after
        if t == 35:    # #
            return line == b"t", after
        if t == 44:    # ,
            s = line.lower()
            if s in (b"inf", b"+inf"):
                d = float("inf")
            elif s == b"-inf":
                d = float("-inf")
            else:
                d = float(line)
            return self._mk_double(d), after
        if t == 40:    # (
            return self._mk_big(line), after
        if t == 61:    # =
            n = int(line)
            body = buf[after:after + n]
            return self._mk_verbatim(body[4:], body[:3]), after + n + 2
        if t == 124:   # | attribute: skipped
            n = int(line)
            p = after
            for _ in range(2 * n):
                _v, p = self._parse(buf, p)
            return self._parse(buf, p)
        if t == 62:    # > push
            n = int(line)
            items = []
            p = after
            for _ in range(n):
                v, p = self._parse(buf, p)
                items.append(v)
            return self._table(*items), p
        raise ValueError("bad reply")

    # -- running --------------------------------------------------------------------------
    def _body(self, f, name, resp, keys, args):
        T = self._table
        if len(keys) + len(args) <= RUN_ARGS_MAX:
            return self._run_args(f, name, resp, len(keys), *keys, *args)
        return self._run(f, name, resp, T(*keys), T(*args))

    def _worker_loop(self, fn, args):
        parent = _greenlet.getcurrent().parent
        while True:
            try:
                res = (True, fn(*args))
            except BaseException as e:      # noqa: B902 - handed back to the caller
                res = (False, e)
            fn, args = parent.switch(res)

    def execute(self, c, ctx, f, keys, args):
        """Run a compiled script for client c. Returns the reply bytes, or None when the
        script timed out and went on in the background (the reply comes later)."""
        srv = self.srv
        fc = self.fc
        fc.db = c.db
        fc.user = c.user
        if fc.resp != 2:
            fc.set_protocol(2)
        ctx.obey = c.must_obey_client()
        if srv.config.values["maxmemory"]:
            ctx.oom = oom_state(srv)
        ctx.start = time.monotonic()
        # the script's time snapshot (mstime(): the real clock, also inside EXEC, whose
        # own fixed time comes back afterwards)
        self._saved_time_ms = vars(srv).get("time_ms")
        ctx.snapshot = type(srv).time_ms()
        snapshot = ctx.snapshot
        srv.time_ms = lambda: snapshot
        srv.script_caller = c
        self.ctx = ctx
        ctx.own_batch = srv.propagate_begin()
        name = ctx.name
        yieldable = (_greenlet is not None and not c.in_exec and not ctx.obey
                     and c.transport is not None and not getattr(c, "in_script", False)
                     and self.dbg is None)
        if self.dbg is not None:
            # luaCallFunction with debug_enabled: the LDB line hook (it also does the
            # time-limit part of the count hook, see ldb.Ldb.hook)
            self.api.set_ldb_hook()
            self.hook_switched = True
        try:
            if yieldable:
                w = self.worker
                cur = _greenlet.getcurrent()
                if w is None or w.dead or w.parent is not cur:
                    w = self.worker = _greenlet.greenlet(self._worker_loop, cur)
                ctx.yieldable = True
                res = w.switch(self._body, (f, name, c.resp, keys, args))
                if res is _YIELD:
                    self._park(c, ctx)
                    return None
            else:
                try:
                    res = (True, self._body(f, name, c.resp, keys, args))
                except BaseException as e:      # noqa: B902
                    res = (False, e)
        except BaseException:
            self._reset(ctx)
            raise
        return self._complete(c, ctx, res)

    def _reset(self, ctx):
        """scriptResetRun."""
        srv = self.srv
        self.ctx = None
        srv.script_caller = None
        saved = self._saved_time_ms
        if saved is not None:
            self._saved_time_ms = None
            srv.time_ms = saved
        else:
            try:
                del srv.time_ms
            except AttributeError:
                pass
        if self.hook_switched:
            self.hook_switched = False
            self.api.reset_hook()
        if ctx.timedout and self.busy:
            self._exit_busy(ctx)
        if ctx.own_batch:
            ctx.own_batch = False
            srv.propagate_end()
        if ctx.saved_ready:
            srv.ready_keys.extend(ctx.saved_ready)
            ctx.saved_ready = []

    def _complete(self, c, ctx, res):
        self._reset(ctx)
        ok, value = res
        if not ok:
            raise value
        reply, errs = value
        srv = self.srv
        if errs is not None:
            for e in errs.values():
                count_error(srv, e)
        if reply[:1] == b"-":
            c.skip_error_stats = True
        return reply

    # -- timed out scripts ----------------------------------------------------------------
    def _enter_busy(self, ctx):
        srv = self.srv
        self.busy = True
        check = self._busy_state_check
        srv.state_checks.append(check)
        srv.update_checks()
        self._saved_cron_paused = vars(srv).get("cron_paused")
        srv.cron_paused = True

    def _exit_busy(self, ctx):
        srv = self.srv
        self.busy = False
        try:
            srv.state_checks.remove(self._busy_state_check)
        except ValueError:
            pass
        srv.update_checks()
        if self._saved_cron_paused is None:
            vars(srv).pop("cron_paused", None)
        else:
            srv.cron_paused = self._saved_cron_paused
        # the cron ticks skipped while the script was busy: Redis's serverCron, overdue,
        # runs as soon as the event loop gets back (e.g. reaping a finished child)
        loop = srv.loop
        if loop is not None and not srv.cron_paused:
            loop.call_soon(self._overdue_cron)
        repl = getattr(srv, "repl", None)
        m = getattr(repl, "master", None) if repl is not None else None
        if m is not None and not m.closed and m.pending:
            srv.loop.call_soon(m.resume)

    def _overdue_cron(self):
        srv = self.srv
        if not srv.cron_paused and self.ctx is None:
            srv.cron()

    def _busy_state_check(self, c, cmd, argv):
        ctx = self.ctx
        if ctx is None or not ctx.timedout:
            return None
        if cmd.allow_busy:
            if cmd.name != "shutdown" or any(a.lower() == b"nosave" for a in argv[1:]):
                return None
        return BUSY_EVAL if ctx.eval_mode else BUSY_FUNCTION
    _busy_state_check._busy_check = True

    def _stash_ready(self, ctx):
        srv = self.srv
        if srv.ready_keys:
            ctx.saved_ready.extend(srv.ready_keys)
            srv.ready_keys.clear()

    def _park(self, c, ctx):
        """The script timed out: its client waits (like a blocked client) while the loop
        serves others; _resume continues the script after each round of events."""
        from ..blocking import Blocked
        srv = self.srv
        self._stash_ready(ctx)
        b = Blocked(c.db, [], None, None, c.last_cmd)
        c.blocked = b
        srv.blocked_clients += 1
        ctx.argv = ctx.argv or []
        srv.loop.call_soon(self._resume, c, ctx, b)

    def _resume(self, c, ctx, b):
        try:
            res = self.worker.switch()
        except BaseException as e:     # noqa: B902
            res = (False, e)
        if res is _YIELD:
            self._stash_ready(ctx)
            self.srv.loop.call_soon(self._resume, c, ctx, b)
            return
        try:
            reply = self._complete(c, ctx, res)
        except Exception as e:         # pragma: no cover - an engine bug
            self.srv.log("warning", "script failed: %r" % (e,))
            reply = b"-ERR script failed\r\n"
        self._deliver(c, b, reply)

    def _deliver(self, c, b, reply):
        from ..blocking import update_stats_on_unblock, queue_resume
        srv = self.srv
        skip = getattr(c, "skip_error_stats", False)
        c.skip_error_stats = False
        if c.blocked is b:
            c.blocked = None
            srv.blocked_clients -= 1
        else:
            b = None
        if b is not None:
            update_stats_on_unblock(c, b, 0, reply[:1] == b"-")
        if reply[:1] == b"-" and not skip:
            srv.count_error(reply)
        if not c.closed:
            if not c.reply_mode & 1:
                c.out.append(reply)
            queue_resume(srv, c)
        if srv.ready_keys:
            srv.handle_ready_keys()

    def kill(self, c, is_eval):
        """scriptKill: the reply bytes for SCRIPT KILL / FUNCTION KILL."""
        ctx = self.ctx
        if ctx is None:
            return b"-NOTBUSY No scripts in execution right now.\r\n"
        if ctx.obey:
            return (b"-UNKILLABLE The busy script was sent by a master instance in the "
                    b"context of replication and cannot be killed.\r\n")
        if ctx.write_dirty:
            return (b"-UNKILLABLE Sorry the script already executed write commands against "
                    b"the dataset. You can either wait the script termination or kill the "
                    b"server in a hard way using the SHUTDOWN NOSAVE command.\r\n")
        if is_eval and not ctx.eval_mode:
            return b"-" + BUSY_FUNCTION.encode() + b"\r\n"
        if not is_eval and ctx.eval_mode:
            return b"-" + BUSY_EVAL.encode() + b"\r\n"
        ctx.killed = True
        return b"+OK\r\n"

    # -- FUNCTION LOAD ----------------------------------------------------------------------
    def _register_function(self, *args):
        """redis.register_function (luaRegisterFunction): returns None, or the error text
        that the Lua side raises."""
        lib = self.load_lib
        if lib is None:
            self._raise(b"ERR redis.register_function can only be called on FUNCTION LOAD "
                        b"command")
        n = len(args)
        flags = 0
        desc = None
        if n < 1 or n > 2:
            self._raise(b"ERR wrong number of arguments to redis.register_function")
        if n == 1:
            res = self.api.read_named(args[0])
            if res[0] is None:
                self._raise(error_buff(res[1]))
            name, desc, cb, fl = (tuple(res) + (None, None, None, None))[:4]
            if fl is not None:
                from .functions import parse_flag
                for v in fl.values():
                    f = parse_flag(v)
                    if f is None:
                        self._raise(b"ERR unknown flag given")
                    flags |= f
        else:
            name, cb = args
            if type(name) is int or type(name) is float:
                name = (b"%.14g" % name)
            if type(name) is not bytes:
                self._raise(b"ERR first argument to redis.register_function must be a string")
            if not self.api.isfunction(cb):
                self._raise(b"ERR second argument to redis.register_function must be a "
                            b"function")
        err = lib.add_function(name, cb, desc, flags)
        if err is not None:
            self._raise(error_buff(err))
        return None
