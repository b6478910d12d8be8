"""Scripting commands: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT, FCALL, FCALL_RO and
FUNCTION (eval.c, functions.c). The machinery is in redislet/scripting/."""
from .table import command
from .help import help_reply
from .. import hooks
from ..errors import CommandError
from ..resp.encode import OK, bulk, integer
from ..scripting import engine as E
from ..scripting.eval import EvalState, eval_generic
from ..scripting.functions import (FunctionsState, fcall_generic, list_libraries,
                                   install_rdb_hooks)


def _install(srv):
    srv.scripting = EvalState(srv)
    srv.functions = FunctionsState(srv)
    srv.script_caller = None
    srv.scripting.update_info()
    srv.functions.update_info()


hooks.server_init.append(_install)
install_rdb_hooks()


def _debug_disable_deny_scripts(c, argv):
    """DEBUG SET-DISABLE-DENY-SCRIPTS <0|1>: let scripts call noscript commands."""
    if len(argv) != 3:
        return NotImplemented
    try:
        c.server.script_disable_deny_script = bool(int(argv[2]))
    except ValueError:
        c.server.script_disable_deny_script = False
    return OK


def _register_debug():
    try:
        from . import debug
    except ImportError:        # pragma: no cover
        return
    debug.subcommands[b"set-disable-deny-scripts"] = _debug_disable_deny_scripts


_register_debug()


def _subcommand_syntax_error(argv):
    return CommandError("ERR unknown subcommand or wrong number of arguments for '%.128s'. "
                        "Try %s HELP." % (argv[1].decode("utf-8", "replace"),
                                          argv[0].decode("utf-8", "replace").upper()))


def _running(srv):
    """The script being run (either interpreter), or None."""
    st = srv.scripting
    e = st._engine
    if e is not None and e.ctx is not None:
        return e.ctx
    e = srv.functions._engine
    if e is not None and e.ctx is not None:
        return e.ctx
    return None


# -- EVAL -------------------------------------------------------------------------------
@command("eval")
def eval_(c, argv):
    return eval_generic(c, argv, False, False)


@command("evalsha")
def evalsha(c, argv):
    return eval_generic(c, argv, True, False)


@command("eval_ro")
def eval_ro(c, argv):
    return eval_generic(c, argv, False, True)


@command("evalsha_ro")
def evalsha_ro(c, argv):
    return eval_generic(c, argv, True, True)


# -- SCRIPT -----------------------------------------------------------------------------
@command("script|help")
def script_help(c, argv):
    return help_reply(argv, [
        "DEBUG (YES|SYNC|NO)",
        "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by "
        "the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
    ])


@command("script|flush")
def script_flush(c, argv):
    if len(argv) == 3 and argv[2].lower() in (b"sync", b"async"):
        pass
    elif len(argv) != 2:
        raise CommandError("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
    c.server.scripting.reset()
    return OK


@command("script|exists")
def script_exists(c, argv):
    scripts = c.server.scripting.scripts
    return b"*%d\r\n" % (len(argv) - 2) + b"".join(
        b":1\r\n" if a.lower() in scripts else b":0\r\n" for a in argv[2:])


@command("script|load")
def script_load(c, argv):
    if E.LUA_IMPORT_ERROR is not None:
        raise CommandError(E.LUA_IMPORT_ERROR)
    script, err = c.server.scripting.create(argv[2])
    if script is None:
        raise CommandError(err)
    return bulk(script.sha)


@command("script|debug")
def script_debug(c, argv):
    """SCRIPT DEBUG YES|SYNC|NO: the debugging mode of this client's next EVAL (the Lua
    debugger is redislet/scripting/ldb.py)."""
    tr = c.transport
    if c.out or (tr is not None and tr.get_write_buffer_size()):
        # clientHasPendingReplies
        raise CommandError("ERR SCRIPT DEBUG must be called outside a pipeline")
    from ..scripting import ldb
    mode = argv[2].lower()
    if mode == b"no":
        ldb.Ldb.disable(c)
    elif mode == b"yes":
        ldb.get(c.server).enable(c, False)
    elif mode == b"sync":
        ldb.get(c.server).enable(c, True)
    else:
        raise CommandError("ERR Use SCRIPT DEBUG YES/SYNC/NO")
    return OK


@command("script|kill")
def script_kill(c, argv):
    ctx = _running(c.server)
    if ctx is None:
        return b"-NOTBUSY No scripts in execution right now.\r\n"
    return ctx.engine.kill(c, True)


# -- FCALL ------------------------------------------------------------------------------
@command("fcall")
def fcall(c, argv):
    return fcall_generic(c, argv, False)


@command("fcall_ro")
def fcall_ro(c, argv):
    return fcall_generic(c, argv, True)


# -- FUNCTION ---------------------------------------------------------------------------
@command("function|help")
def function_help(c, argv):
    return help_reply(argv, [
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME "
        "argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by "
        "the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored "
        "using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a "
        "restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, "
        "abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On "
        "collision, replace the old",
        "      libraries with the new libraries (notice that even on this option there is a "
        "chance of failure",
        "      in case of functions name collision with another library).",
    ])


@command("function|load")
def function_load(c, argv):
    replace = False
    i = 2
    while i < len(argv) - 1:
        a = argv[i]
        i += 1
        if a.lower() == b"replace":
            replace = True
            continue
        raise CommandError("ERR Unknown option given: %s" % a.decode("utf-8", "surrogateescape"))
    if i >= len(argv):
        raise CommandError("ERR Function code is missing")
    srv = c.server
    timeout = 0 if c.must_obey_client() else None
    if timeout is None:
        name = srv.functions.create(argv[i], replace)
    else:
        name = srv.functions.create(argv[i], replace, None, 0)
    srv.dirty += 1
    return bulk(name)


@command("function|delete")
def function_delete(c, argv):
    st = c.server.functions
    lib = st.libs.libraries.get(argv[2])
    if lib is None:
        raise CommandError("ERR Library not found")
    st.libs.unlink(lib)
    st.update_info()
    c.server.dirty += 1
    return OK


@command("function|flush")
def function_flush(c, argv):
    if len(argv) > 3:
        raise _subcommand_syntax_error(argv)
    if len(argv) == 3 and argv[2].lower() not in (b"sync", b"async"):
        raise CommandError("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
    c.server.functions.flush()
    c.server.dirty += 1
    return OK


@command("function|list")
def function_list(c, argv):
    return list_libraries(c, argv)


@command("function|stats")
def function_stats(c, argv):
    srv = c.server
    ctx = _running(srv)
    if ctx is not None and ctx.eval_mode:
        return b"-" + E.BUSY_EVAL.encode() + b"\r\n"
    r = c.r
    if ctx is None:
        running = r.null
    else:
        import time
        cargv = ctx.argv or []
        running = r.map([
            (bulk(b"name"), bulk(ctx.name)),
            (bulk(b"command"), b"*%d\r\n" % len(cargv) + b"".join(bulk(a) for a in cargv)),
            (bulk(b"duration_ms"), integer(int((time.monotonic() - ctx.start) * 1000)))])
    libs = srv.functions.libs
    return r.map([
        (bulk(b"running_script"), running),
        (bulk(b"engines"), r.map([(bulk(b"LUA"), r.map([
            (bulk(b"libraries_count"), integer(len(libs.libraries))),
            (bulk(b"functions_count"), integer(len(libs.functions)))]))])),
    ])


@command("function|kill")
def function_kill(c, argv):
    ctx = _running(c.server)
    if ctx is None:
        return b"-NOTBUSY No scripts in execution right now.\r\n"
    return ctx.engine.kill(c, False)


@command("function|dump")
def function_dump(c, argv):
    return bulk(c.server.functions.dump())


@command("function|restore")
def function_restore(c, argv):
    if len(argv) > 4:
        raise _subcommand_syntax_error(argv)
    policy = b"append"
    if len(argv) == 4:
        policy = argv[3].lower()
        if policy not in (b"append", b"replace", b"flush"):
            raise CommandError("ERR Wrong restore policy given, value should be either FLUSH, "
                               "APPEND or REPLACE.")
    c.server.functions.restore(argv[2], policy)
    c.server.dirty += 1
    return OK
