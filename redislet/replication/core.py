"""The replication state of a server (srv.repl): both roles, the processCommand checks
(READONLY, MASTERDOWN, NOREPLICAS), the cron, INFO replication and ROLE."""
import os
import random
import time

from .failover import FailoverRole
from .master import MasterRole, ONLINE, STATE_NAMES
from .replica import (ReplicaRole, NONE, CONNECT, CONNECTING, TRANSFER, CONNECTED,
                      RECEIVE_PING_REPLY, RECEIVE_PSYNC_REPLY)

READONLY = "READONLY You can't write against a read only replica."
MASTERDOWN = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
NOREPLICAS = "NOREPLICAS Not enough good replicas to write."
LOADING = "LOADING Redis is loading the dataset in memory"


class Replication(MasterRole, ReplicaRole, FailoverRole):
    def __init__(self, srv):
        self.srv = srv
        srv.repl = self
        srv.replid = os.urandom(20).hex()
        srv.replid2 = "0" * 40
        srv.master_repl_offset = 0
        srv.second_replid_offset = -1
        srv.stat_sync_full = 0
        srv.stat_sync_partial_ok = 0
        srv.stat_sync_partial_err = 0
        srv.stat_net_repl_input_bytes = 0
        srv.stat_net_repl_output_bytes = 0
        # master side
        self.backlog = None
        self.replicas = []
        self.seldb = -1
        self.outq = []
        self.flush_scheduled = False
        self.child = None
        self.rdb_for_sync = False    # a full sync wrote the dump (RDBGeneratedByReplication)
        self.waiting = []
        self.waiting_scheduled = False
        self.getack_scheduled = False
        self.good_replicas = 0
        self.no_replicas_since = time.time()
        # replicationCron runs on serverCron's 1000 ms boundaries counted from start-up;
        # its first run (loop 0, 1 ms after start, before any replica can attach) is
        # the first cron tick's replica part (loop0), so the PINGs of
        # repl-ping-replica-period fall on those boundaries
        self.cron_loops = 1
        self.last_cron = time.time()
        self.loop0 = True
        self.propagate_fn = self.propagate
        # replica side
        self.masterhost = None
        self.masterport = 0
        self.state = NONE
        self.link = None
        self.master = None
        self.cached_master = None
        self.master_replid = "?"
        self.master_initial_offset = -1
        self.down_since = 0
        self.buf = bytearray()
        self.transfer_size = -1
        self.transfer_read = 0
        self.transfer_lastio = 0
        self.transfer_file = None
        self.transfer_path = None
        self.usemark = False
        self.stream_pending = []
        self.rawbuf = None
        self.reader = None
        self.last_aux = {}
        self.replica_keys = {}         # slaveKeysWithExpire: key -> set of db ids
        self.diskless_loading = 0      # 1: loading, 2: async loading (repl-diskless-load)
        srv.async_loading = False
        self.check_fn = self.state_check
        self.shutdown_deadline = None   # shutdown_mstime: waiting for lagging replicas
        self.shutdown_args = None
        self.shutdown_clients = []
        srv.shutdown_wait = self.shutdown_wait
        srv.shutdown_initiated = lambda: self.shutdown_deadline is not None
        srv.cancel_shutdown = self.cancel_shutdown
        srv.abort_shutdown = self.abort_shutdown
        srv.disconnect_hooks.append(self.client_gone)
        srv.cron_hooks.append(self.cron)
        srv.shutdown_hooks.append(self.shutdown)
        cfg = srv.config
        for name in ("replica-read-only", "replica-serve-stale-data", "min-replicas-to-write",
                     "min-replicas-max-lag"):
            cfg.on_change(name, lambda _v: self.config_changed())
        cfg.on_change("repl-backlog-size", lambda v: self.backlog_resized())
        target = cfg.values.get("replicaof")
        if target:
            self.masterhost, self.masterport = target
            srv.is_replica = True
            self.state = CONNECT
        self.update_checks()

    def log(self, level, msg):
        self.srv.log(level, msg)

    # -- configuration ----------------------------------------------------------------------
    def config_changed(self):
        self.refresh_good()
        self.update_checks()

    def backlog_resized(self):
        if self.backlog is not None:
            self.backlog.resize(self.srv.config.values["repl-backlog-size"])

    def update_checks(self):
        """Install the processCommand checks only while they can reject something."""
        srv = self.srv
        v = srv.config.values
        need = (self.masterhost is not None and (
            v["replica-read-only"] or not v["replica-serve-stale-data"]
            or self.diskless_loading or self.loader is not None)) or (
            self.masterhost is None and v["min-replicas-to-write"] > 0
            and v["min-replicas-max-lag"] > 0)
        checks = srv.state_checks
        if need and self.check_fn not in checks:
            checks.append(self.check_fn)
        elif not need and self.check_fn in checks:
            checks.remove(self.check_fn)
        srv.update_checks()

    def state_check(self, c, cmd, argv):
        """processCommand: NOREPLICAS, READONLY, then MASTERDOWN."""
        if c is self.master:
            return None
        v = self.srv.config.values
        is_exec = cmd.name == "exec" and c.multi
        flags = None
        if is_exec:
            from ..commands.transactions import queued_flags
            flags = queued_flags(c)
        is_write = cmd.is_write or (flags is not None and flags["write"])
        if self.masterhost is None:
            if (is_write and v["min-replicas-to-write"] and v["min-replicas-max-lag"]
                    and self.good_replicas < v["min-replicas-to-write"]):
                return NOREPLICAS
            return None
        if is_write and v["replica-read-only"]:
            return READONLY
        if (self.state != CONNECTED and not v["replica-serve-stale-data"]
                and (not cmd.stale or (flags is not None and flags["deny_stale"]))):
            return MASTERDOWN
        if self.diskless_loading == 1 or (self.loader is not None and not self.diskless_loading):
            if not cmd.loading or (flags is not None and flags["deny_loading"]):
                return LOADING
        elif self.diskless_loading == 2 and "no_async_loading" in cmd.flags:
            return LOADING
        return None

    # -- persistence integration ----------------------------------------------------------------
    def save_info(self):
        """rdbPopulateSaveInfo: the AUX fields an RDB saved now should carry (repl-stream-db,
        repl-id, repl-offset) so that a restart can continue with PSYNC; None when this
        server is in no replication chain."""
        if self.masterhost is None and self.backlog is None:
            return None
        if self.masterhost is not None and self.master is None and self.cached_master is None:
            return None
        self.flush_out()
        return self.aux_fields()

    def restore_from_rdb(self, aux):
        """loadDataFromDisk's replication part: the AUX fields of the RDB loaded at startup
        (names and values as str or bytes) restore the replication ID and offset."""
        def get(name):
            v = aux.get(name, aux.get(name.encode()))
            return v.decode() if isinstance(v, bytes) else v
        rid, off, db = get("repl-id"), get("repl-offset"), get("repl-stream-db")
        try:
            off, db = int(off), int(db)
        except (TypeError, ValueError):
            return False
        if not rid or len(rid) != 40 or off == -1 or db == -1:
            return False
        srv = self.srv
        cl = srv.cluster
        # a replica, or a cluster node whose nodes.conf says it is one (the cluster cron
        # connects it to its master later)
        if self.masterhost is not None or (cl is not None and cl.myself.is_slave()):
            srv.replid = rid
            srv.master_repl_offset = off
            self.cached_master = None
            self.cache_master_using_myself()
            if 0 <= db < len(srv.dbs):
                self.cached_master.select(db)
        else:
            srv.replid2 = rid
            srv.second_replid_offset = off + 1
            srv.master_repl_offset += off
            self.create_backlog()
            self.no_replicas_since = time.time()
            # rdbLoad with RDBFLAGS_FEED_REPL: the keys that expired while the master was
            # down are deleted, and the DELs go to the backlog for the replicas' PSYNC
            expired = getattr(srv, "rdb_last_load_expired_keys", None) or ()
            name = b"UNLINK" if srv.config.values["lazyfree-lazy-expire"] else b"DEL"
            self.flush_scheduled = True     # (flushed below: the loop may not run yet)
            for dbid, key in expired:
                self.propagate(dbid, [name, key])
            srv.rdb_last_load_expired_keys = None
            self.flush_out()
        return True

    # -- shutdown with lagging replicas (prepareForShutdown / finishShutdown) -------------
    def ready_to_shutdown(self):
        """isReadyToShutdown: every replica acknowledged the whole stream."""
        self.flush_out()
        off = self.srv.master_repl_offset
        return all(r.replinfo.ack_off == off for r in self.replicas)

    def shutdown_wait(self, save, force, now):
        """True: the shutdown waits (writes paused) for replicas to catch up, at most
        shutdown-timeout seconds; the cron finishes it. False: it goes on now (after
        finishShutdown's log of the replicas)."""
        srv = self.srv
        if self.shutdown_deadline is not None and not now:
            return True
        timeout = srv.config.values["shutdown-timeout"]
        if now or timeout == 0 or self.ready_to_shutdown():
            self.log_replicas_at_shutdown()
            return False
        self.shutdown_deadline = time.time() + timeout
        self.shutdown_args = (save, force)
        if not (srv.pause_type and srv.pause_active()):
            self.feed_command([b"REPLCONF", b"GETACK", b"*"])    # sendGetackToReplicas
        srv.pause_clients(1 << 62, 1, purpose="shutdown")
        self.log("notice", "Waiting for replicas before shutting down.")
        return True

    def block_on_shutdown(self, c):
        from ..blocking import block
        reply = block(c, [], 0, None, None)
        if reply is not None:
            return reply
        self.shutdown_clients.append(c)
        return None

    def shutdown_check(self):
        """serverCron: finish the shutdown when the replicas caught up or time is up."""
        if time.time() < self.shutdown_deadline and not self.ready_to_shutdown():
            return
        save, force = self.shutdown_args
        self.log_replicas_at_shutdown()
        self.srv.finish_shutdown(save, force)    # (cancel_shutdown when it fails)

    def cancel_shutdown(self):
        """cancelShutdown."""
        from ..blocking import unblock
        srv = self.srv
        srv.shutdown_asap = False
        srv.last_sig_received = None
        self.shutdown_deadline = None
        self.shutdown_args = None
        clients, self.shutdown_clients = self.shutdown_clients, []
        for c in clients:
            if not c.closed and c.blocked is not None:
                unblock(c, b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n")
        self.srv.unpause_clients("shutdown")

    def abort_shutdown(self):
        """abortShutdown: SHUTDOWN ABORT while waiting for replicas, or before the cron
        took a signal's shutdown request."""
        srv = self.srv
        if self.shutdown_deadline is not None:
            self.cancel_shutdown()
        elif srv.shutdown_asap:
            srv.shutdown_asap = False
        else:
            return False
        self.log("notice", "Shutdown manually aborted.")
        return True

    def log_replicas_at_shutdown(self):
        """finishShutdown: a warning per lagging replica, then how many are in sync."""
        self.flush_out()
        off = self.srv.master_repl_offset
        lagging = 0
        now = int(time.time())
        for r in self.replicas:
            ri = r.replinfo
            if ri.ack_off != off:
                lagging += 1
                lag = now - ri.ack_time if ri.state == ONLINE else 0
                self.log("warning", "Lagging replica %s reported offset %d behind master, "
                         "lag=%d, state=%s." % (self.replica_name(r), off - ri.ack_off, lag,
                                                STATE_NAMES.get(ri.state, "")))
        if self.replicas:
            self.log("notice", "%d of %d replicas are in sync when shutting down."
                     % (len(self.replicas) - lagging, len(self.replicas)))

    def shutdown(self, srv, save, force):
        """Drop the RDB child (killed by the persistence step before) and its temp file:
        the server is going away."""
        child = self.child
        if child is not None:
            self.kill_child()      # (idempotent: commands/persistence.py killed it first)
            self.child = None
            for fd in (child.data_fd, child.status_fd):
                if fd is not None:
                    try:
                        self.srv.loop.remove_reader(fd)
                    except Exception:  # noqa: BLE001 - a closed loop or fd
                        pass
            if child.path is not None:     # a save to disk: its temp file (rdbRemoveTempFile)
                from ..commands.persistence import remove_temp
                remove_temp(child.pid)
        if self.transfer_file is not None or self.source is not None:
            self.abort_transfer()
        return None

    # -- clients ------------------------------------------------------------------------------
    def client_gone(self, c):
        flags = c.flags_extra
        if "S" in flags:
            self.replica_gone(c)
        elif "M" in flags:
            self.master_gone(c)

    # -- keys with a TTL set on a writable replica (expire.c) ----------------------------------
    def remember_replica_key(self, db, key):
        """rememberSlaveKeyWithExpire: the master will never DEL this key, so the replica
        expires it itself (expire_replica_keys)."""
        if self.masterhost is None or self.srv.config.values["replica-read-only"]:
            return
        ids = self.replica_keys.get(key)
        if ids is None:
            self.replica_keys[key] = {db.id}
        else:
            ids.add(db.id)

    def expire_replica_keys(self):
        """expireSlaveKeys: from the cron, a bounded pass over the remembered keys."""
        srv = self.srv
        keys = self.replica_keys
        now = srv.time_ms()
        start = time.monotonic()
        noexpire = cycles = 0
        order = list(keys)
        random.shuffle(order)          # dictGetRandomKey
        for key in order:
            left = set()
            for dbid in keys[key]:
                if dbid >= len(srv.dbs):
                    continue
                db = srv.dbs[dbid]
                when = db.expires.get(key)
                if when is None:
                    continue
                if when < now:
                    db.expire_key(key)
                else:
                    noexpire += 1
                    left.add(dbid)
            if left:
                keys[key] = left
            else:
                del keys[key]
            cycles += 1
            if noexpire > 3 or (cycles % 64 == 0 and time.monotonic() - start > 0.001):
                break

    # -- cron ---------------------------------------------------------------------------------
    def cron(self, srv):
        now = time.time()
        if self.replica_keys and self.masterhost is not None:
            self.expire_replica_keys()      # databasesCron, on a replica
        if self.child is not None:
            self.check_child()
        if self.child is None and self.replicas and self.should_start_child():
            self.start_child()
        if self.shutdown_deadline is not None:
            self.shutdown_check()
        if self.loop0:
            self.loop0 = False
            self.replica_cron()         # connect to the master configured at start-up
        # replicationCron runs every second, every 100 ms while a failover is on
        period = 0.1 if self.failover_state else 1.0
        elapsed = now - self.last_cron
        if elapsed < period - 0.005:
            return
        # keep to the boundaries (a late tick does not shift the next ones)
        self.last_cron = self.last_cron + period if elapsed < 2 * period else now
        self.update_failover_status()    # replicationCron checks the failover first
        self.replica_cron()
        self.master_cron()
        self.cron_loops += 1

    # -- introspection ------------------------------------------------------------------------
    def link_up(self):
        """Connected, and the link is not already failing: an error on the socket closes
        the transport at once but reports connection_lost only on a later loop pass,
        after requests read in the same pass (Redis handles the master's read first)."""
        if self.state != CONNECTED:
            return False
        link = self.link
        tr = link.transport if link is not None else None
        if tr is None:
            return True
        if tr.is_closing():
            return False
        return True

    def handshake_state(self):
        return RECEIVE_PING_REPLY <= self.state <= RECEIVE_PSYNC_REPLY

    def role_state_name(self):
        if self.handshake_state():
            return "handshake"
        return {NONE: "none", CONNECT: "connect", CONNECTING: "connecting",
                TRANSFER: "sync", CONNECTED: "connected"}.get(self.state, "unknown")

    def replica_ip(self, r):
        ri = r.replinfo
        if ri.addr:
            return ri.addr
        addr = r.addr
        ip = addr.rsplit(":", 1)[0]
        if ip.startswith("[") and ip.endswith("]"):
            ip = ip[1:-1]
        return ip

    def info_pairs(self):
        """INFO replication (genRedisInfoString)."""
        srv = self.srv
        v = srv.config.values
        out = [("role", "master" if self.masterhost is None else "slave")]
        if self.masterhost is not None:
            off = read_off = 1
            m = self.master if self.master is not None else self.cached_master
            if m is not None:
                off, read_off = m.reploff, m.read_reploff
            now = time.time()
            out += [
                ("master_host", self.masterhost),
                ("master_port", self.masterport),
                ("master_link_status", "up" if self.link_up() else "down"),
                ("master_last_io_seconds_ago",
                 int(time.monotonic() - self.master.last_interaction)
                 if self.master is not None else -1),
                ("master_sync_in_progress", int(self.state == TRANSFER)),
                ("slave_read_repl_offset", read_off),
                ("slave_repl_offset", off),
            ]
            if self.state == TRANSFER:
                size = self.transfer_size
                perc = self.transfer_read * 100.0 / size if size > 0 else 0.0
                out += [
                    ("master_sync_total_bytes", size),
                    ("master_sync_read_bytes", self.transfer_read),
                    ("master_sync_left_bytes", size - self.transfer_read),
                    ("master_sync_perc", "%.2f" % perc),
                    ("master_sync_last_io_seconds_ago", int(now - self.transfer_lastio)),
                ]
            if self.state != CONNECTED:
                out.append(("master_link_down_since_seconds",
                            int(now - self.down_since) if self.down_since else -1))
            out += [
                ("slave_priority", v["replica-priority"]),
                ("slave_read_only", int(v["replica-read-only"])),
                ("replica_announced", int(v["replica-announced"])),
            ]
        out.append(("connected_slaves", len(self.replicas)))
        if v["min-replicas-to-write"] and v["min-replicas-max-lag"]:
            out.append(("min_slaves_good_slaves", self.good_replicas))
        now = int(time.time())
        for i, r in enumerate(self.replicas):
            ri = r.replinfo
            state = STATE_NAMES.get(ri.state, "")
            lag = now - ri.ack_time if ri.state == ONLINE else 0
            out.append(("slave%d" % i, "ip=%s,port=%d,state=%s,offset=%d,lag=%d" % (
                self.replica_ip(r), ri.port, state, ri.ack_off, lag)))
        self.flush_out()
        b = self.backlog
        out += [
            ("master_failover_state", self.failover_state_name()),
            ("master_replid", srv.replid),
            ("master_replid2", srv.replid2),
            ("master_repl_offset", srv.master_repl_offset),
            ("second_repl_offset", srv.second_replid_offset),
            ("repl_backlog_active", int(b is not None)),
            ("repl_backlog_size", v["repl-backlog-size"]),
            ("repl_backlog_first_byte_offset", b.offset if b is not None else 0),
            ("repl_backlog_histlen", b.histlen if b is not None else 0),
        ]
        return out
