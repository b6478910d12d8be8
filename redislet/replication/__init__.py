"""Replication (Redis 7.0 replication.c): master and replica roles, interoperable with
real Redis. `srv.repl` is the Replication object of a server (core.py); master.py has the
master side (stream, backlog, SYNC/PSYNC, the RDB child, WAIT), replica.py the replica
side (the link, the handshake, the RDB transfer, the master's stream)."""
from .. import hooks
from .core import Replication
from .replica import full_sync_hooks  # noqa: F401 - AOF restarts after a full sync


def _init(srv):
    Replication(srv)
    # RDB files carry the replication ID/offset so a restarted replica can PSYNC
    srv.rdb_save_info = srv.repl.save_info
    srv.rdb_restore_info = srv.repl.restore_from_rdb


def _info_replication(srv, pairs):
    return srv.repl.info_pairs()


def _info_memory(srv, pairs):
    from ..commands.info import set_fields
    b = srv.repl.backlog
    return set_fields(pairs, {"mem_replication_backlog": b.histlen if b is not None else 0})


def _resetstat(srv):
    srv.stat_sync_full = 0
    srv.stat_sync_partial_ok = 0
    srv.stat_sync_partial_err = 0
    srv.stat_net_repl_input_bytes = 0
    srv.stat_net_repl_output_bytes = 0


hooks.server_init.append(_init)


def _register():
    from ..commands import info, config_cmd
    info.providers["replication"].append(_info_replication)
    info.providers["memory"].append(_info_memory)
    config_cmd.resetstat_hooks.append(_resetstat)


_register()
