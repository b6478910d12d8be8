"""BGREWRITEAOF, DEBUG LOADAOF / AOF-FLUSH-SLEEP, the AOF fields of INFO persistence, and
the start-up hook that loads the AOF (the machinery lives in redislet/persistence/aof.py)."""
from .table import command
from . import debug, info
from .. import cli
from ..errors import CommandError
from ..persistence import aof as _aof, loading
from ..resp.encode import OK


@command("bgrewriteaof")
def bgrewriteaof(c, argv):
    srv = c.server
    a = _aof.get(srv)
    if a.child_is_aof():
        raise CommandError("ERR Background append only file rewriting already in progress")
    if a.child_active() or c.in_exec:
        a.rewrite_scheduled = True
        a.consecutive_failures = 0
        return b"+Background append only file rewriting scheduled\r\n"
    if a.rewrite_background():
        return b"+Background append only file rewriting started\r\n"
    raise CommandError("ERR Can't execute an AOF background rewriting. Please check the server "
                       "logs for more information.")


def _debug_loadaof(c, argv):
    if len(argv) != 2:
        return NotImplemented
    a = _aof.get(c.server)

    def load():
        a.debug_loadaof()
        return OK
    return loading.run_for_client(c, load)     # other clients are served meanwhile


def _debug_flush_sleep(c, argv):
    if len(argv) != 3:
        return NotImplemented
    _aof.get(c.server).flush_sleep = debug._atoi(argv[2])
    return OK


debug.subcommands[b"loadaof"] = _debug_loadaof
debug.subcommands[b"aof-flush-sleep"] = _debug_flush_sleep


def _info_persistence(srv, pairs):
    a = getattr(srv, "aof", None)
    if a is None:
        return None
    fields, extra = a.info_fields()
    info.set_fields(pairs, fields)
    if extra:
        # after module_fork_last_cow_size, before the loading block (genRedisInfoString)
        idx = len(pairs)
        for i, (k, _v) in enumerate(pairs):
            if k == "module_fork_last_cow_size":
                idx = i + 1
                break
        pairs[idx:idx] = extra
    return pairs


def _info_memory(srv, pairs):
    a = getattr(srv, "aof", None)
    if a is not None and a.buf:
        info.set_fields(pairs, {"mem_aof_buffer": len(a.buf)})
    return pairs


def _resetstat(srv):
    a = getattr(srv, "aof", None)
    if a is not None:
        a.stat_rewrites = 0
        a.consecutive_failures = 0
        a.delayed_fsync = 0


info.providers["persistence"].append(_info_persistence)
info.providers["memory"].append(_info_memory)
try:
    from . import config_cmd
    config_cmd.resetstat_hooks.append(_resetstat)
except (ImportError, AttributeError):
    pass
cli.startup_hooks.append(_aof.startup)
