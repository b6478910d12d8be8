"""Replication (Redis 7.0 replication.c): master and replica roles, interoperable with
real Redis. `srv.repl` is the Replication object of a server (core.py); master.py has the
master side (stream, backlog, SYNC/PSYNC, the RDB child, WAIT), replica.py the replica
side (the link, the handshake, the RDB transfer, the master's stream)."""
from .. import hooks
from .core import Replication
from .replica import full_sync_hooks  # noqa: F401 - AOF restarts after a full sync


_late = []


def _init(srv):
    if not _late:
        # after the persistence module's own provider (rdb_bgsave_in_progress)
        from ..commands import info
        info.providers["persistence"].append(_info_persistence)
        _late.append(True)
    Replication(srv)
    # RDB files carry the replication ID/offset so a restarted replica can PSYNC
    srv.rdb_save_info = srv.repl.save_info
    srv.rdb_restore_info = srv.repl.restore_from_rdb


def _info_replication(srv, pairs):
    return srv.repl.info_pairs()


def _info_memory(srv, pairs):
    """object.c getMemoryOverheadData: replicas and the backlog share one buffer; what is
    past repl-backlog-size counts as the replicas' memory."""
    from ..commands.info import set_fields
    repl = srv.repl
    total = repl.replication_buffer_mem()
    size = srv.config.values["repl-backlog-size"]
    if repl.replicas and total > size:
        backlog, replicas = size, total - size
    else:
        backlog, replicas = total, 0
    return set_fields(pairs, {"mem_replication_backlog": backlog,
                              "mem_total_replication_buffers": total,
                              "mem_clients_slaves": replicas})


def _info_persistence(srv, pairs):
    from ..commands.info import set_fields
    return set_fields(pairs, {"async_loading": int(bool(srv.async_loading))})


def _info_server(srv, pairs):
    deadline = srv.repl.shutdown_deadline
    if deadline is None:
        return pairs
    import time
    from ..commands.info import set_fields
    return set_fields(pairs, {"shutdown_in_milliseconds":
                              max(0, int((deadline - time.time()) * 1000))})


def _info_stats(srv, pairs):
    from ..commands.info import set_fields
    return set_fields(pairs, {"slave_expires_tracked_keys": len(srv.repl.replica_keys)})


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
    info.providers["stats"].append(_info_stats)
    info.providers["server"].append(_info_server)
    config_cmd.resetstat_hooks.append(_resetstat)


_register()
