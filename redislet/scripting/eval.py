"""EVAL / EVALSHA / EVAL_RO / EVALSHA_RO and the script cache (eval.c).

Scripts are cached by the SHA1 of their body; the compiled chunk lives in EVAL's own Lua
interpreter. SCRIPT FLUSH drops the cache and starts a fresh interpreter, as Redis does.
Effects are replicated: the commands a script runs are propagated (wrapped in MULTI/EXEC
when there is more than one), never the script itself.
"""
from ..errors import CommandError, NOT_INTEGER
from ..util import parse_ll, split_args
from . import engine as E

NOSCRIPT = b"-NOSCRIPT No matching script. Please use EVAL.\r\n"


class Script:
    __slots__ = ("sha", "body", "flags", "func")

    def __init__(self, sha, body, flags, func):
        self.sha = sha
        self.body = body
        self.flags = flags
        self.func = func


class EvalState:
    """Per server: the EVAL interpreter (created on first use) and the script cache."""

    def __init__(self, srv):
        self.srv = srv
        self._engine = None
        self.scripts = {}      # sha (lower-case hex bytes) -> Script
        self.mem = 0

    @property
    def engine(self):
        e = self._engine
        if e is None:
            from .libs import make_libs
            e = self._engine = E.LuaEngine(self.srv, True, make_libs)
        return e

    def reset(self):
        """scriptingReset: forget every script and start a new interpreter."""
        self.scripts = {}
        self.mem = 0
        self._engine = None
        self.update_info()

    def update_info(self):
        srv = self.srv
        srv.number_of_cached_scripts = len(self.scripts)
        srv.used_memory_scripts_eval = self.mem

    def create(self, body):
        """luaCreateFunction: (Script, None) or (None, error text)."""
        sha = E.sha1hex(body)
        s = self.scripts.get(sha)
        if s is not None:
            return s, None
        flags, shebang_len, err = extract_shebang_flags(body)
        if err is not None:
            return None, "ERR " + err
        eng = self.engine
        f, msg = eng.compile(body[shebang_len:], b"@user_script")
        if f is None:
            return None, ("ERR Error compiling script (new function): %s"
                          % msg.decode("utf-8", "surrogateescape"))
        s = self.scripts[sha] = Script(sha, body, flags, f)
        self.mem += 40 + 16 + len(body) + 64
        self.update_info()
        return s, None


def extract_shebang_flags(body):
    """evalExtractShebangFlags: (flags, shebang length, error or None)."""
    if not body.startswith(b"#!"):
        return E.FLAG_EVAL_COMPAT, 0, None
    end = body.find(b"\n")
    if end < 0:
        return 0, 0, "Invalid script shebang"
    parts = split_args(body[:end])
    if not parts:
        return 0, 0, "Invalid engine in script shebang"
    if parts[0] != b"#!lua":
        return 0, 0, ("Unexpected engine in script shebang: %s"
                      % parts[0].decode("utf-8", "surrogateescape"))
    flags = 0
    for p in parts[1:]:
        if p.startswith(b"flags="):
            spec = p[6:]
            if not spec:
                continue
            for name in spec.split(b","):
                f = _FLAG_BY_NAME.get(name)
                if f is None:
                    return 0, 0, ("Unexpected flag in script shebang: %s"
                                  % name.decode("utf-8", "surrogateescape"))
                flags |= f
        else:
            return 0, 0, ("Unknown lua shebang option: %s"
                          % p.decode("utf-8", "surrogateescape"))
    return flags, end, None


_FLAG_BY_NAME = {name.encode(): f for f, name in E.FLAG_NAMES}


def command_flags_check(c, flags):
    """processCommand's checks for a script that declares flags (getCommandFlags turns
    them into command flags): OOM, MISCONF, NOREPLICAS, READONLY, MASTERDOWN."""
    if flags & E.FLAG_EVAL_COMPAT or c.in_exec:
        return None
    srv = c.server
    obey = c.must_obey_client()
    write = not flags & E.FLAG_NO_WRITES
    denyoom = not flags & (E.FLAG_ALLOW_OOM | E.FLAG_NO_WRITES)
    if denyoom and not obey and E.oom_state(srv):
        return "OOM command not allowed when used memory > 'maxmemory'."
    if write and not obey:
        msg = E.disk_error(srv, c)
        if msg is not None:
            return msg
        if E.not_enough_replicas(srv):
            return "NOREPLICAS Not enough good replicas to write."
        if E.readonly_replica(srv):
            return "READONLY You can't write against a read only replica."
    if not flags & E.FLAG_ALLOW_STALE and E.running_stale(srv):
        return E.MASTERDOWN[1:]
    return None


def script_command_flags(srv, name, argv):
    """The declared flags of the script an EVAL*/FCALL* runs, for getCommandFlags
    (evalGetCommandFlags, fcallGetCommandFlags: scriptFlagsToCmdFlags makes the command
    CMD_WRITE unless no-writes, CMD_DENYOOM unless allow-oom/no-writes, CMD_STALE with
    allow-stale, and never CMD_MAY_REPLICATE). None when the command's own flags apply
    (unknown script or function, no shebang)."""
    if len(argv) < 2:
        return None
    body = argv[1]
    if name.startswith("fcall"):
        f = srv.functions.libs.functions.get(body.lower())
        return None if f is None else f.flags
    evalsha = name.startswith("evalsha")
    if evalsha and len(body) != 40:
        return None
    script = srv.scripting.scripts.get(body.lower() if evalsha else E.sha1hex(body))
    if script is not None:
        flags = script.flags
    elif evalsha:
        return None
    else:
        flags, _len, err = extract_shebang_flags(body)
        if err is not None:
            return None
    if flags & E.FLAG_EVAL_COMPAT:
        return None
    return flags


def script_command_write(srv, name, argv):
    """CMD_WRITE of getCommandFlags for EVAL*/FCALL* by the script's declared flags, or
    None when the command's own flags apply."""
    flags = script_command_flags(srv, name, argv)
    return None if flags is None else not flags & E.FLAG_NO_WRITES


def prepare_check(c, flags, ro):
    """scriptPrepareForRun's refusals: an error text or None."""
    srv = c.server
    stale = E.running_stale(srv)
    obey = c.must_obey_client()
    if not flags & E.FLAG_EVAL_COMPAT:
        if flags & E.FLAG_NO_CLUSTER and srv.config.values["cluster-enabled"]:
            return "ERR Can not run script on cluster, 'no-cluster' flag is set."
        if stale and not flags & E.FLAG_ALLOW_STALE:
            return ("MASTERDOWN Link with MASTER is down, replica-serve-stale-data is set to "
                    "'no' and 'allow-stale' flag is not set on the script.")
        if not flags & E.FLAG_NO_WRITES:
            if E.readonly_replica(srv) and not obey:
                return "READONLY Can not run script with write flag on readonly replica"
            msg = E.disk_error(srv, c)
            if msg is not None and not obey:
                if "AOF" in msg:
                    err = msg.split("AOF error: ", 1)
                    return ("MISCONF Redis is configured to persist data to AOF, but it's "
                            "currently unable to persist to disk. Writable scripts are "
                            "blocked. Use 'no-writes' flag for read only scripts. AOF error: "
                            + (err[1] if len(err) > 1 else ""))
                return ("MISCONF Redis is configured to save RDB snapshots, but it's "
                        "currently unable to persist to disk. Writable scripts are blocked. "
                        "Use 'no-writes' flag for read only scripts.")
            if ro:
                return "ERR Can not execute a script with write flag using *_ro command."
            if E.not_enough_replicas(srv):
                return "NOREPLICAS Not enough good replicas to write."
        if (not flags & (E.FLAG_ALLOW_OOM | E.FLAG_NO_WRITES) and not obey
                and E.oom_state(srv)):
            return ("OOM allow-oom flag is not set on the script, can not run it when used "
                    "memory > 'maxmemory'")
    elif stale:
        return E.MASTERDOWN[1:]
    return None


def new_ctx(eng, c, name, flags, ro, eval_mode):
    ctx = E.RunCtx(eng, c, name, eval_mode)
    compat = flags & E.FLAG_EVAL_COMPAT
    if ro or (not compat and flags & E.FLAG_NO_WRITES):
        ctx.ro = True
    if not compat and flags & E.FLAG_ALLOW_OOM:
        ctx.allow_oom = True
    ctx.cross_slot = bool(compat or flags & E.FLAG_ALLOW_CROSS_SLOT)
    return ctx


def parse_numkeys(c, argv, not_int_msg=NOT_INTEGER):
    n = parse_ll(argv[2])
    if n is None:
        raise CommandError(not_int_msg)
    if n > len(argv) - 3:
        raise CommandError("ERR Number of keys can't be greater than number of args")
    if n < 0:
        raise CommandError("ERR Number of keys can't be negative")
    return n


def eval_generic(c, argv, evalsha, ro):
    srv = c.server
    if E.LUA_IMPORT_ERROR is not None:
        raise CommandError(E.LUA_IMPORT_ERROR)
    st = srv.scripting
    body = argv[1]
    # evalGetCommandFlags: a script's shebang flags act as the command's flags
    if evalsha:
        script = st.scripts.get(body.lower()) if len(body) == 40 else None
        flags = script.flags if script is not None else E.FLAG_EVAL_COMPAT
    else:
        script = st.scripts.get(E.sha1hex(body))
        if script is not None:
            flags = script.flags
        else:
            flags, _len, err = extract_shebang_flags(body)
            if err is not None:
                flags = E.FLAG_EVAL_COMPAT
    if not flags & E.FLAG_EVAL_COMPAT:
        msg = command_flags_check(c, flags)
        if msg is not None:
            raise CommandError(msg)
    if srv.monitors:
        srv.feed_monitors(c, argv)
    if evalsha and len(body) != 40:
        return NOSCRIPT
    if getattr(c, "lua_debug", 0):          # CLIENT_LUA_DEBUG (SCRIPT DEBUG YES|SYNC)
        if evalsha:
            raise CommandError("ERR Please use EVAL instead of EVALSHA for debugging")
        from .ldb import eval_with_debugging
        return eval_with_debugging(c, body, lambda: _eval_run(c, argv, evalsha, ro, script))
    return _eval_run(c, argv, evalsha, ro, script)


def _eval_run(c, argv, evalsha, ro, script):
    """evalGenericCommand from the number of keys on."""
    srv = c.server
    st = srv.scripting
    body = argv[1]
    numkeys = parse_numkeys(c, argv)
    if script is None:
        if evalsha:
            return NOSCRIPT
        script, err = st.create(body)
        if script is None:
            raise CommandError(err)
    if not script.flags & E.FLAG_EVAL_COMPAT or srv.is_replica:
        msg = prepare_check(c, script.flags, ro)
        if msg is not None:
            raise CommandError(msg)
    eng = st.engine
    ctx = new_ctx(eng, c, script.sha, script.flags, ro, True)
    ctx.argv = argv
    return eng.execute(c, ctx, script.func, argv[3:3 + numkeys], argv[3 + numkeys:])
