"""RedisServer: listeners, databases, clients, statistics, the cron tick, and the hooks the
dispatcher calls after commands (propagation, notifications, blocked clients).

Subsystems that arrive with later issues (pub/sub, replication, AOF, ACL) plug into the
hooks here instead of into the request path.
"""
import contextlib
import functools
import os
import signal
import socket
import sys
import threading
import time
from collections import deque

from .client import Client
from .commands.table import COMMANDS, DISPATCH, all_commands, renamed_tables
from .db import Database
from .util import repr_bytes


def _encname(name):
    return name.encode("utf-8", "surrogateescape")


LOG_LEVELS = {"debug": 0, "verbose": 1, "notice": 2, "warning": 3, "nothing": 4}
_LOG_MARKS = ".-*#"

PROTECTED_MODE_ERROR = (
    b"-DENIED Redis is running in protected mode because protected mode is enabled and no "
    b"password is set for the default user. In this mode connections are only accepted from "
    b"the loopback interface. If you want to connect from external computers to Redis you may "
    b"adopt one of the following solutions: 1) Just disable protected mode sending the command "
    b"'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from "
    b"the same host the server is running, however MAKE SURE Redis is not publicly accessible "
    b"from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) "
    b"Alternatively you can just disable the protected mode by editing the Redis configuration "
    b"file, and setting the protected mode option to 'no', and then restarting the server. "
    b"3) If you started the server manually just for testing, restart it with the "
    b"'--protected-mode no' option. 4) Setup a an authentication password for the default "
    b"user. "
    b"NOTE: You only need to do one of the above things in order for the server to start "
    b"accepting connections from the outside.\r\n")


class RedisServer:
    # keyspace notification classes (server.h NOTIFY_*)
    NOTIFY_KEYSPACE = 1 << 0
    NOTIFY_KEYEVENT = 1 << 1
    NOTIFY_GENERIC = 1 << 2
    NOTIFY_STRING = 1 << 3
    NOTIFY_LIST = 1 << 4
    NOTIFY_SET = 1 << 5
    NOTIFY_HASH = 1 << 6
    NOTIFY_ZSET = 1 << 7
    NOTIFY_EXPIRED = 1 << 8
    NOTIFY_EVICTED = 1 << 9
    NOTIFY_STREAM = 1 << 10
    NOTIFY_KEY_MISS = 1 << 11
    NOTIFY_LOADED = 1 << 12
    NOTIFY_MODULE = 1 << 13
    NOTIFY_NEW = 1 << 14

    @property
    def child_type(self):
        return self._child_type

    @child_type.setter
    def child_type(self, t):
        if (t is None) != (self._child_type is None):
            from .dictmodel import child_changed   # updateDictResizePolicy
            child_changed(self, t is not None)
        self._child_type = t

    def __init__(self, config):
        self.master_executing = False   # a replica runs its master's stream (keys never expire then)
        self.master_repl_offset = 0     # replication offset (the replication module keeps it)
        self.lru_clock = 0
        self.lru_new = 0
        self.lfu_mode = False
        self.config = config
        v = config.values
        self._child_type = None      # the child process: None, "rdb" or "aof"
        self.child_pid = -1
        self.pid = os.getpid()       # (a fork child logs with role C)
        # the command table of this server (rename-command makes its own copies)
        self.commands, self.dispatch = COMMANDS, DISPATCH
        if config.renamed_commands:
            self.commands, self.dispatch = renamed_tables(
                [(_encname(o), _encname(n)) for o, n in config.renamed_commands])
        self.dbs = [Database(self, i) for i in range(v["databases"])]
        self.client_class = Client   # what the listeners create (cluster mode: ClusterClient)
        self.clients = {}            # id -> Client
        self.next_client_id = 1
        self.loop = None
        self.listeners = []
        self.port = v["port"]
        self.start_time = time.time()
        self.start_monotonic = time.monotonic()
        self.run_id = os.urandom(20).hex()
        self.ready_keys = []         # (db, key) pairs touched while clients block on them
        self.monitors = []
        self.slowlog = deque()
        self.slowlog_next_id = 0
        self.latency_events = {}     # event -> deque of (unix time, ms)
        self.errors = {}             # error code -> count (errorstats)
        self.key_modified_hook = None
        self.tracking_clients = 0     # clients with CLIENT TRACKING on (tracking.py)
        self.tracking_current = None  # the tracking client inside call() (tracking.py)
        self.propagate_targets = []  # callables (dbid, argv) fed with every effect
        self.prop_batch = None       # effects collected while EXEC runs (propagate_end)
        self.cluster = None          # the ClusterState in cluster mode (redislet/cluster/)
        self.before_reply = None     # callable run before replies are sent (Client.flush)
                                     # while a propagate target holds unwritten data (AOF)
        self.notify_hook = None      # set by the pub/sub module
        self.acl = None              # set by the ACL module
        self.is_replica = False
        self.checks = False          # any server-wide state that needs the slow path
        self.loading = False
        self.pause_type = 0          # CLIENT PAUSE: 0 off, 1 WRITE, 2 ALL
        self.pause_end = 0           # unix ms when the pause ends
        self.pause_purposes = {}     # purpose ("client", "failover") -> [type, end ms]
        self.pause_timer = None
        self.postponed = []          # clients whose next command waits for the pause end
        self.dirty = 0
        self.lastsave = int(time.time())
        self.shutdown_asap = False
        self.cron_handle = None
        self.stopped = None
        self._log_file = None
        self.serving = False         # listeners accept once start-up loading is done
        self.flush_queue = []        # clients with output written outside their replies
        self.flush_handle = None
        self.disk_checks = []        # the disk-error state checks on (persistence.set_disk_check)
        self.disconnect_hooks = []   # callables(client) run when a client goes away
        self.cron_hooks = []         # callables(server) run on every cron tick
        self.shutdown_hooks = []     # callables(srv, save, force); not None: can't exit
        self.state_checks = []       # callables(client, cmd, argv) -> rejection text or None
        self.inline_checks = 0       # leading state_checks the dispatch runs itself (cluster)
        if v.get("cluster-enabled"):
            from .cluster.redirect import install as cluster_keyspace_install
            cluster_keyspace_install(self)   # db 0 indexed by slot, redirections
        self.reset_stats()
        self.apply_config()
        self._subscribe_config()
        from . import blocking, hooks
        from .lazyfree import LazyFree
        blocking.install(self)
        self.lazyfree = LazyFree(self)
        for init in hooks.server_init:
            init(self)

    # -- statistics -------------------------------------------------------------------
    def reset_stats(self):
        self.stat_numcommands = 0
        self.stat_numconnections = 0
        self.stat_rejected_conn = 0
        self.stat_expired_keys = 0
        self.stat_evicted_keys = 0
        self.stat_keyspace_hits = 0
        self.stat_keyspace_misses = 0
        self.stat_net_input_bytes = 0
        self.stat_net_output_bytes = 0
        self.stat_total_error_replies = 0
        self.stat_unexpected_error_replies = 0
        self.stat_client_qbuf_limit_disconnections = 0
        self.stat_client_outbuf_limit_disconnections = 0
        self.stat_total_reads_processed = 0
        self.stat_total_writes_processed = 0
        self.stat_blocked_keys_served = 0
        self.stat_lazyfreed_objects = 0
        self.errors = {}
        self.ops_samples = deque(maxlen=16)   # (time, commands, in bytes, out bytes)
        for cmd in all_commands():
            cmd.reset_stats()

    def count_error(self, reply):
        """afterErrorReply: count an error reply by its code (first word)."""
        self.stat_total_error_replies += 1
        end = reply.find(b" ")
        code = reply[1:end] if 0 < end else reply[1:-2]
        code = code.decode("utf-8", "replace")
        self.errors[code] = self.errors.get(code, 0) + 1

    # -- configuration ----------------------------------------------------------------
    def apply_config(self):
        v = self.config.values
        self.slowlog_threshold = v["slowlog-log-slower-than"]
        # latency-monitor-threshold (ms) as usec, or never when 0
        lt = v["latency-monitor-threshold"]
        self.latency_threshold_us = lt * 1000 if lt > 0 else 1 << 62
        self.latency_tracking = v["latency-tracking"]
        # the shortest command duration that needs Client._after_call (slowlog, latency)
        self.after_call_us = min(self.slowlog_threshold if self.slowlog_threshold >= 0
                                 else 1 << 62, self.latency_threshold_us)
        self.query_buffer_limit = v["client-query-buffer-limit"]
        self.lazyfree_expire = v["lazyfree-lazy-expire"]
        limits = v["client-output-buffer-limit"]
        self.obuf_limits_on = any(any(x) for x in limits.values())
        # most clients are 'normal' (limits 0 0 0 by default): their flush skips the check
        self.obuf_normal_on = any(limits["normal"])
        self.notify_flags = self.config.notify_flags

    def _subscribe_config(self):
        for name in ("slowlog-log-slower-than", "client-query-buffer-limit",
                     "lazyfree-lazy-expire", "client-output-buffer-limit",
                     "notify-keyspace-events", "latency-monitor-threshold",
                     "latency-tracking"):
            self.config.on_change(name, lambda _v: self.apply_config())
        self.config.on_change("slowlog-max-len", lambda v: self._trim_slowlog())
        self.config.on_change("port", self._port_changed)
        self.config.on_change("bind", self._bind_changed)
        self.config.on_change("proto-max-bulk-len", self._max_bulk_changed)
        self.config.on_change("watchdog-period", lambda v: self.watchdog_schedule())

    def _max_bulk_changed(self, value):
        # proto-max-bulk-len is global in Redis: existing connections see it too
        for c in self.clients.values():
            c.parser.max_bulk = value

    def auth_required(self):
        """The default user has a password (requirepass), so new clients must AUTH."""
        if self.acl is not None:
            return self.acl.default_requires_auth()
        return bool(self.config.values["requirepass"])

    def allow_protected(self, client, option):
        mode = self.config.values[option]
        if mode == "yes":
            return True
        if mode == "local":
            return client.unix or client.addr.startswith(("127.", "[::1]"))
        return False

    def acl_check(self, client, cmd, argv):
        if self.acl is None:
            return None
        return self.acl.check(client, cmd, argv)

    def state_check(self, client, cmd, argv):
        """Server-state rejections of processCommand (replica, loading, pause...)."""
        for check in self.state_checks:
            msg = check(client, cmd, argv)
            if msg is not None:
                return msg
        return None

    def update_checks(self):
        # ACL restrictions are per client (Client.update_checks, acl.restricted); the
        # first `inline_checks` state checks are done by the clients' own dispatch (the
        # cluster redirection of redislet/cluster/redirect.py)
        self.checks = len(self.state_checks) > self.inline_checks or self.pause_type != 0

    # -- client pause (pauseClients / unpauseClients) --------------------------------
    def pause_clients(self, end_ms, ptype, purpose="client"):
        """CLIENT PAUSE: pause all (2) or write (1) commands until end_ms; a pause in
        progress keeps the most restrictive type and the furthest end. Each purpose
        (CLIENT PAUSE, FAILOVER) has its own pause, as pauseClients in networking.c."""
        p = self.pause_purposes.get(purpose)
        if p is None:
            self.pause_purposes[purpose] = [ptype, end_ms]
        else:
            p[0] = max(p[0], ptype)
            p[1] = max(p[1], end_ms)
        self._update_pause(self.pause_type)

    def unpause_clients(self, purpose="client"):
        if self.pause_purposes.pop(purpose, None) is not None:
            self._update_pause(self.pause_type)

    def pause_active(self):
        """checkClientPauseTimeoutAndReturnIfPaused."""
        if self.pause_type and self.pause_end < self.time_ms():
            self._update_pause(self.pause_type)
        return self.pause_type != 0

    def _update_pause(self, old):
        """updateClientPauseTypeAndEndTime: the most restrictive type among the purposes'
        pauses (expired ones dropped), until the furthest end of that type."""
        now = self.time_ms()
        purposes = self.pause_purposes
        for k in [k for k, p in purposes.items() if p[1] < now]:
            del purposes[k]
        self.pause_type = max([p[0] for p in purposes.values()], default=0)
        self.pause_end = max([p[1] for p in purposes.values() if p[0] == self.pause_type],
                             default=0)
        if self.pause_timer is not None:
            self.pause_timer.cancel()
            self.pause_timer = None
        if self.pause_type and self.loop is not None and self.pause_end - now < 1 << 40:
            # (a pause without end, FAILOVER's, needs no timer)
            delay = (self.pause_end - self.time_ms() + 1) / 1000.0
            self.pause_timer = self.loop.call_later(max(0.0, delay), self._pause_expired)
        self.update_checks()
        if self.pause_type < old and self.postponed:
            # less restrictive now: postponed clients run again (and may pause again)
            if self.loop is not None:
                self.loop.call_soon(self._resume_postponed)
            else:
                self._resume_postponed()

    def _pause_expired(self):
        self.pause_timer = None
        self._update_pause(self.pause_type)    # ends the pause, or re-arms the timer

    def _resume_postponed(self):
        clients, self.postponed = self.postponed, []
        for c in clients:
            if c.paused and not c.closed:
                c.paused = False
                self.blocked_clients -= 1
                c.resume()

    # -- time -------------------------------------------------------------------------
    @staticmethod
    def time_ms():
        return int(time.time() * 1000)

    # -- effects ----------------------------------------------------------------------
    def propagate(self, dbid, argv):
        batch = self.prop_batch
        if batch is not None:
            batch.append((dbid, argv))
            return
        for target in self.propagate_targets:
            target(dbid, argv)

    def propagate_begin(self):
        """Start collecting effects (EXEC, scripts) to emit them as one unit; False if a
        batch is already open (the outer one owns it)."""
        if self.prop_batch is not None:
            return False
        self.prop_batch = []
        return True

    def propagate_end(self):
        """propagatePendingCommands: emit the collected effects, wrapped in MULTI/EXEC when
        there is more than one (Redis 7.0)."""
        batch, self.prop_batch = self.prop_batch, None
        if not batch:
            return
        if len(batch) > 1:
            batch.insert(0, (batch[0][0], [b"MULTI"]))
            batch.append((batch[-1][0], [b"EXEC"]))
        for dbid, argv in batch:
            only = getattr(argv, "prop_kind", None)     # redis.set_repl(): "aof" / "repl"
            for target in self.propagate_targets:
                if only is None or self.prop_target_kind(target) == only:
                    target(dbid, argv)

    def prop_target_kind(self, target):
        """'aof' for the AOF's feed, 'repl' for the others (the replication stream)."""
        kind = getattr(target, "prop_kind", None)
        if kind is None:
            aof = getattr(self, "aof", None)
            kind = "aof" if aof is not None and getattr(target, "__self__", None) is aof \
                else "repl"
        return kind

    def notify(self, type_flag, event, key, dbid):
        """notifyKeyspaceEvent: published by the pub/sub module when enabled."""
        if self.notify_flags & type_flag and self.notify_hook is not None:
            self.notify_hook(type_flag, event, key, dbid)

    def handle_ready_keys(self):
        """Serve clients blocked on keys that received data (blocking.py installs this)."""
        self.ready_keys.clear()

    # -- slowlog / monitor / latency ------------------------------------------------
    def slowlog_add(self, client, argv, usec):
        maxlen = self.config.values["slowlog-max-len"]
        if maxlen <= 0:
            return
        args = []
        for i, a in enumerate(argv):
            if i == 31 and len(argv) > 32:
                args.append(b"... (%d more arguments)" % (len(argv) - 31))
                break
            if len(a) > 128:
                a = a[:128] + b"... (%d more bytes)" % (len(a) - 128)
            args.append(a)
        self.slowlog.appendleft((self.slowlog_next_id, int(time.time()), usec, args,
                                 client.addr.encode(), (client.name or "").encode()))
        self.slowlog_next_id += 1
        self._trim_slowlog()

    def _trim_slowlog(self):
        maxlen = self.config.values["slowlog-max-len"]
        while len(self.slowlog) > maxlen:
            self.slowlog.pop()

    def feed_monitors(self, client, argv):
        t = time.time()
        if client.unix:
            origin = "unix:%s" % self.config.values["unixsocket"]
        else:
            origin = client.addr
        parts = ["%.6f [%d %s]" % (t, client.db.id, origin)]
        for a in argv:
            parts.append(repr_bytes(a).decode("ascii"))
        line = (" ".join(parts)).encode("utf-8", "surrogateescape")
        msg = b"+" + line + b"\r\n"
        for m in list(self.monitors):
            if m is not client:
                m.write(msg)

    def latency_add(self, event, ms):
        """latencyAddSampleIfNeeded: one sample per second per event (the highest), the
        last 160 kept; latency_events[event] = [deque of (unix time, ms), all-time max]."""
        threshold = self.config.values["latency-monitor-threshold"]
        if threshold and ms >= threshold:
            ts = self.latency_events.get(event)
            if ts is None:
                ts = self.latency_events[event] = [deque(maxlen=160), 0]
            if ms > ts[1]:
                ts[1] = ms
            samples = ts[0]
            now = int(time.time())
            if samples and samples[-1][0] == now:
                if ms > samples[-1][1]:
                    samples[-1] = (now, ms)
            else:
                samples.append((now, ms))

    # -- clients ----------------------------------------------------------------------
    def client_connected(self, c):
        v = self.config.values
        cl = getattr(self, "cluster", None)
        if cl is None:
            if len(self.clients) >= v["maxclients"]:
                self._reject_connection(c, b"-ERR max number of clients reached\r\n")
                return
        elif len(self.clients) + cl.connections_count() >= v["maxclients"]:
            self._reject_connection(c, b"-ERR max number of clients + cluster connections "
                                    b"reached\r\n")
            return
        if (v["protected-mode"] and not c.unix and self.acl_default_nopass()
                and not _is_loopback(c.addr)):
            self._reject_connection(c, PROTECTED_MODE_ERROR)
            return
        c.id = self.next_client_id
        self.next_client_id += 1
        self.clients[c.id] = c
        self.stat_numconnections += 1
        sock = c.transport.get_extra_info("socket")
        if sock is not None and not c.unix:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                ka = v["tcp-keepalive"]
                if ka > 0:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            except OSError:
                pass

    def _reject_connection(self, c, msg):
        """Answer a refused connection with one error, then close it. The write side is
        shut first (FIN after the error), so a request the client already sent does not
        turn the close into a reset that would discard the error on its side."""
        tr = c.transport
        c.closed = c.closing = True
        self.stat_rejected_conn += 1
        tr.write(msg)
        try:
            if not tr.can_write_eof():
                raise NotImplementedError
            tr.write_eof()
        except (NotImplementedError, AttributeError, RuntimeError):
            tr.close()
            return
        if self.loop is not None:
            self.loop.call_later(1.0, tr.close)
        else:
            tr.close()

    def acl_default_nopass(self):
        if self.acl is not None:
            return self.acl.default_nopass()
        return not self.config.values["requirepass"]

    def client_disconnected(self, c):
        if self.clients.pop(c.id, None) is None:
            return
        for hook in self.disconnect_hooks:
            hook(c)
        if c.monitor and c in self.monitors:
            self.monitors.remove(c)
        if c.paused:
            c.paused = False
            self.blocked_clients -= 1
            if c in self.postponed:
                self.postponed.remove(c)

    def schedule_flush(self, c):
        """Flush c's output at the end of this loop pass (see Client.write)."""
        self.flush_queue.append(c)
        if self.flush_handle is None:
            self.flush_handle = self.loop.call_soon(self.flush_queued)

    def flush_queued(self):
        self.flush_handle = None
        queue, self.flush_queue = self.flush_queue, []
        for c in queue:
            c.flush_scheduled = False
            c.flush()

    def check_output_limits(self, c):
        """client-output-buffer-limit: hard limit disconnects at once, soft limit after
        soft_seconds over it (checkClientOutputBufferLimits)."""
        klass = c.obuf_class or ("pubsub" if c.subscribed else "normal")
        hard, soft, secs = self.config.values["client-output-buffer-limit"][klass]
        size = c.output_size()
        if hard and size >= hard:
            self._obuf_kill(c, klass, size)
            return
        if soft and size >= soft:
            now = time.monotonic()
            since = getattr(c, "soft_limit_since", None)
            if since is None:
                c.soft_limit_since = now
            elif now - since >= secs:
                self._obuf_kill(c, klass, size)
        else:
            c.soft_limit_since = None

    def _obuf_kill(self, c, klass, size):
        self.log("warning", "Client %s scheduled to be closed ASAP for overcoming of output "
                 "buffer limits." % c.info_line())
        self.stat_client_outbuf_limit_disconnections += 1
        c.kill()

    # -- logging ----------------------------------------------------------------------
    def log(self, level, msg):
        if LOG_LEVELS[level] < LOG_LEVELS[self.config.values["loglevel"]]:
            return
        t = time.time()
        stamp = time.strftime("%d %b %Y %H:%M:%S", time.localtime(t))
        # the role letter of serverLogRaw: C in a fork child, S on a replica, M on a master
        pid = os.getpid()
        role = "C" if pid != self.pid else "S" if self.is_replica else "M"
        self.log_raw("%d:%s %s.%03d %s %s\n" % (pid, role, stamp, int(t * 1000) % 1000,
                                                _LOG_MARKS[min(LOG_LEVELS[level], 3)], msg))

    def log_from_handler(self, level, msg):
        """serverLogFromHandler: a signal handler's line (no timestamp, level or role)."""
        if LOG_LEVELS[level] < LOG_LEVELS[self.config.values["loglevel"]]:
            return
        self.log_raw("%d:signal-handler (%d) %s\n" % (os.getpid(), int(time.time()), msg))

    def log_raw(self, text):
        """serverLogRaw: text as it is, to the logfile or stdout."""
        logfile = self.config.values["logfile"]
        if logfile:
            with open(logfile, "a") as f:
                f.write(text)
        else:
            sys.stdout.write(text)
            sys.stdout.flush()

    def log_verbose(self, msg):
        if LOG_LEVELS[self.config.values["loglevel"]] <= 1:
            self.log("verbose", msg)

    # -- listeners --------------------------------------------------------------------
    async def start(self, loop):
        self.loop = loop
        v = self.config.values
        await self._listen(v["port"], v["bind"])
        from . import tls
        await tls.install(self)      # tls-port listeners (and CONFIG SET tls-* hooks)
        if v["unixsocket"]:
            path = v["unixsocket"]
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            srv = await loop.create_unix_server(lambda: self.client_class(self, unix=True),
                                                path, backlog=v["tcp-backlog"],
                                                start_serving=self.serving)
            if v["unixsocketperm"]:
                os.chmod(path, v["unixsocketperm"])
            self.listeners.append(srv)
            self.unix_listener = srv
        self.cron_handle = loop.call_later(1.0 / max(1, v["hz"]), self._cron)
        self.stopped = loop.create_future()

    async def begin_serving(self):
        """Accept clients: called after the start-up hooks (RDB/AOF loading), so nobody sees
        the keyspace before it is loaded; listeners created later serve at once."""
        self.serving = True
        for listener in self.listeners:
            await listener.start_serving()

    def _bind_sockets(self, port, binds):
        """Bind the TCP listening sockets now (errors surface at once), serve them later."""
        socks = []
        for addr in binds:
            optional = addr.startswith("-")
            host = addr[1:] if optional else addr
            host = {"*": "0.0.0.0", "::*": "::"}.get(host, host)
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            s = socket.socket(family, socket.SOCK_STREAM)
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                s.bind((host, port))
                s.listen(self.config.values["tcp-backlog"])
                s.setblocking(False)
            except OSError as e:
                s.close()
                if optional:
                    continue
                for x in socks:
                    x.close()
                raise OSError(e.errno, "Could not create server TCP listening socket %s:%d: "
                              "%s" % (host, port, e.strerror)) from None
            socks.append(s)
            if port == 0:
                port = s.getsockname()[1]
        return port, socks

    async def _serve(self, socks):
        for s in socks:
            srv = await self.loop.create_server(lambda: self.client_class(self), sock=s,
                                                start_serving=self.serving,
                                                backlog=self.config.values["tcp-backlog"])
            self.tcp_listeners.append(srv)
            self.listeners.append(srv)

    async def _listen(self, port, binds):
        self.port, socks = self._bind_sockets(port, binds)
        self.bound = (port, list(binds))
        self.tcp_listeners = []
        await self._serve(socks)

    def _port_changed(self, port):
        self._rebind(port, self.config.values["bind"])

    def _bind_changed(self, binds):
        self._rebind(self.config.values["port"], binds,
                     "Failed to bind to specified addresses.")     # applyBind

    def _rebind(self, port, binds, errmsg="Unable to listen on this port. Check server logs."):
        """changeListenPort / changeBindAddr. Setting the current port and addresses again
        keeps the listeners; addresses that overlap the old ones are bound after closing
        the old listeners, which are restored if the new ones cannot be bound."""
        from .config import ConfigError
        if self.loop is None:
            return
        if getattr(self, "bound", None) == (port, list(binds)):
            return
        old = self.tcp_listeners
        try:
            newport, socks = self._bind_sockets(port, binds)
        except OSError:
            for s in old:
                s.close()
            try:
                newport, socks = self._bind_sockets(port, binds)
            except OSError as e:
                self.log("warning", str(e))
                self.log("warning", "Failed to bind, trying to restore old listening sockets.")
                try:
                    oport, obinds = self.bound
                    _p, osocks = self._bind_sockets(oport, obinds)
                    self.listeners = [s for s in self.listeners if s not in old]
                    self.tcp_listeners = []
                    self.loop.create_task(self._serve(osocks))
                except OSError as e2:
                    self.log("warning", str(e2))
                raise ConfigError(errmsg) from None
        self.listeners = [s for s in self.listeners if s not in old]
        for s in old:
            s.close()
        self.port = newport
        self.bound = (port, list(binds))
        self.tcp_listeners = []
        self.loop.create_task(self._serve(socks))

    # -- cron -------------------------------------------------------------------------
    def _cron(self):
        v = self.config.values
        hz = max(1, min(500, v["hz"]))
        try:
            if self.load_blocking:
                self.while_blocked_cron()
            elif not self.cron_paused:
                self.cron()
                self.watchdog_schedule()
        finally:
            if self.stopped is not None and not self.stopped.done():
                self.cron_handle = self.loop.call_later(1.0 / hz, self._cron)

    def cron(self):
        v = self.config.values
        now = time.monotonic()
        hz = max(1, min(500, v["hz"]))
        # active expiry: at most 25% of a cron period (ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC)
        # (not while clients are paused, as activeExpireCycle)
        cl = self.cluster
        if self.active_expire_enabled and not self.is_replica and not (
                self.pause_type and self.pause_active()) and (
                cl is None or cl.myself.is_master()):   # iAmMaster()
            deadline = now + 0.25 / hz
            for db in self.dbs:
                if db.expires:
                    db.active_expire(deadline)
                    if time.monotonic() > deadline:
                        break
            spent_ms = int((time.monotonic() - now) * 1000)
            if spent_ms:
                self.latency_add("expire-cycle", spent_ms)
        # idle client timeout (clientsCronHandleTimeout)
        timeout = v["timeout"]
        if timeout:
            for c in list(self.clients.values()):
                if (c.blocked is None and not c.subscribed and not c.flags_extra
                        and not c.monitor and not c.paused
                        and now - c.last_interaction > timeout):
                    self.log_verbose("Closing idle client")
                    c.kill()
        # instantaneous metrics, sampled every 100ms
        if not self.ops_samples or now - self.ops_samples[-1][0] >= 0.1:
            self.ops_samples.append((now, self.stat_numcommands, self.stat_net_input_bytes,
                                     self.stat_net_output_bytes))
        for hook in self.cron_hooks:
            hook(self)
        # a signal's shutdown (shutdown_asap stays set while it waits for replicas, and
        # until it fails: a second SIGINT meanwhile exits at once)
        if self.shutdown_asap and not self.shutdown_initiated():
            self.shutdown(**self.signal_shutdown_flags())

    def while_blocked_cron(self):
        """whileBlockedCron: while a load holds the server (Redis's rdbLoad serving events
        in processEventsWhileBlocked), serverCron does not run; a signal's shutdown
        during loading happens now, without saving."""
        if self.shutdown_asap and self.loading:
            if self.shutdown(save=False) is not None:
                self.log("warning", "SIGTERM received but errors trying to shut down the "
                         "server, check the logs for more information")
                self.shutdown_asap = False
                self.last_sig_received = None

    watchdog_armed = False

    def watchdog_schedule(self):
        """serverCron's software watchdog: SIGALRM after watchdog-period ms unless the cron
        runs again before (a busy or blocked server logs its stack)."""
        period = self.config.values["watchdog-period"]
        if not period and not self.watchdog_armed:
            return
        if threading.current_thread() is not threading.main_thread():
            return
        try:
            if period:
                if not self.watchdog_armed:
                    signal.signal(signal.SIGALRM, self._watchdog_fired)
                    self.watchdog_armed = True
                signal.setitimer(signal.ITIMER_REAL, period / 1000.0)
            else:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, signal.SIG_IGN)
                self.watchdog_armed = False
        except (ValueError, OSError):
            pass

    def _watchdog_fired(self, sig, frame):
        """watchdogSignalHandler."""
        import traceback
        head = "%d:signal-handler (%d) " % (os.getpid(), int(time.time()))
        self.log_raw(head + "\n--- WATCHDOG TIMER EXPIRED ---\n")
        self.log_raw("".join(traceback.format_stack(frame)))
        self.log_raw(head + "--------\n\n")

    load_blocking = False        # a load runs in a greenlet (replica sync, start-up)
    # the progress of the current load (persistence/loading.py; INFO persistence)
    loading_start_time = loading_total_bytes = loading_loaded_bytes = 0
    loading_rdb_used_mem = 0
    active_expire_enabled = True
    cron_paused = False          # DEBUG PAUSE-CRON
    # access clock for db.lru (OBJECT IDLETIME / FREQ); refreshed by db.update_lru_clock

    def instantaneous(self, idx):
        s = self.ops_samples
        if len(s) < 2:
            return 0.0
        t0, t1 = s[0], s[-1]
        dt = t1[0] - t0[0]
        return (t1[idx] - t0[idx]) / dt if dt > 0 else 0.0

    # -- shutdown ---------------------------------------------------------------------
    # save: None (save when save points are set), True (SAVE) or False (NOSAVE)
    def shutdown(self, save=None, now=False, force=False):
        """prepareForShutdown (SHUTDOWN, a signal): wait for lagging replicas unless now,
        else finish_shutdown. Returns None (going away), False (waiting for replicas) or
        True (failed: logged, and the shutdown cancelled)."""
        if self.loading or getattr(self, "sentinel_mode", False):
            save = False    # (no half-loaded dataset is saved; a sentinel has none)
        self.log("warning", "User requested shutdown...")
        wait = getattr(self, "shutdown_wait", None)    # lagging replicas (replication)
        if wait is not None and wait(save, force, now):
            return False     # finish_shutdown once the replicas caught up (or timed out)
        return self.finish_shutdown(save, force)

    def shutdown_hooks_failed(self, save, force):
        """finishShutdown's steps (persistence, replication, cluster... hooks, which log
        what fails and return not None); True when one failed, unless force."""
        for hook in self.shutdown_hooks:
            err = hook(self, save, force)
            if err is not None and not force:
                self.log("warning", "Errors trying to shut down the server. Check the logs "
                         "for more information.")
                return True
        return False

    def finish_shutdown(self, save, force):
        """finishShutdown: the hooks, then close listeners and clients and stop the loop;
        None, or True when it failed (cancelShutdown)."""
        if self.shutdown_hooks_failed(save, force):
            self.shutdown_asap = False
            cancel = getattr(self, "cancel_shutdown", None)    # (replication)
            if cancel is not None:
                cancel()
            return True
        self.close_listeners()
        for c in list(self.clients.values()):
            c.kill()
        unixsock = self.config.values["unixsocket"]
        if unixsock:
            try:
                os.unlink(unixsock)
            except OSError:
                pass
        self.log("warning", "%s is now ready to exit, bye bye..."
                 % ("Sentinel" if getattr(self, "sentinel_mode", False) else "Redis"))
        from .gcpolicy import audit
        audit()
        if self.stopped is not None and not self.stopped.done():
            self.stopped.set_result(None)
        return None

    def close_listeners(self):
        for s in self.listeners:
            s.close()
        self.listeners = []
        if self.cron_handle is not None:
            self.cron_handle.cancel()

    sync_signals_seen = None     # signals handled by sync_signals' handler
    last_sig_received = None

    def shutdown_initiated(self):
        """isShutdownInitiated: waiting for lagging replicas (replication replaces it)."""
        return False

    def signal_shutdown_flags(self):
        """serverCron: the shutdown of the last signal, as shutdown-on-sigint or
        shutdown-on-sigterm says (default: as SHUTDOWN without arguments)."""
        name = {signal.SIGINT: "shutdown-on-sigint",
                signal.SIGTERM: "shutdown-on-sigterm"}.get(self.last_sig_received)
        flags = self.config.values[name].split() if name else ()
        return {"save": True if "save" in flags else False if "nosave" in flags else None,
                "now": "now" in flags, "force": "force" in flags}

    def shutdown_signal(self, sig):
        """sigShutdownHandler (also a fork child's, which inherits it): schedule the
        shutdown; a second SIGINT exits at once, removing this process's temporary RDB."""
        if sig == signal.SIGINT and self.shutdown_asap:
            self.log_from_handler("warning", "You insist... exiting now.")
            try:
                os.unlink("temp-%d.rdb" % os.getpid())      # rdbRemoveTempFile
            except OSError:
                pass
            try:
                sys.stdout.flush()
            finally:
                os._exit(1)
        if self.loading:
            msg = "Received shutdown signal during loading, scheduling shutdown."
        else:
            msg = "Received %s scheduling shutdown..." % (
                "SIGINT" if sig == signal.SIGINT else "SIGTERM")
        self.log_from_handler("warning", msg)
        self.shutdown_asap = True      # serverCron runs it (SHUTDOWN ABORT may cancel)
        self.last_sig_received = sig

    def install_signal_handlers(self):
        loop = self.loop
        self.sync_signals_seen = {signal.SIGINT: 0, signal.SIGTERM: 0}

        def on_signal(sig):
            seen = self.sync_signals_seen
            if seen[sig]:              # sync_signals' handler took this one already
                seen[sig] -= 1
                return
            self.shutdown_signal(sig)

        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, on_signal, sig)
            except (NotImplementedError, RuntimeError):
                pass

        def on_abort():
            # sigsegvHandler (installed while crash-log-enabled): the crash report
            from .commands.debug import crash_signal
            if not self.config.values["crash-log-enabled"]:
                signal.signal(signal.SIGABRT, signal.SIG_DFL)
                os.kill(os.getpid(), signal.SIGABRT)
            crash_signal(self, signal.SIGABRT)
        try:
            loop.add_signal_handler(signal.SIGABRT, on_abort)
        except (NotImplementedError, RuntimeError):
            pass

    @contextlib.contextmanager
    def sync_signals(self):
        """Around long synchronous work (a foreground save): SIGINT/SIGTERM are handled
        at once, as Redis's signal handler does, not when the loop runs again (each
        delivery also reaches the loop's handler, which then skips it)."""
        seen = self.sync_signals_seen
        if seen is None or threading.current_thread() is not threading.main_thread():
            yield
            return

        # a partial, not a closure: compiled, a closure would share the generator's scope
        # and make a reference cycle with it
        handler = functools.partial(self._sync_signal, seen)
        old = {}
        try:
            for sig in (signal.SIGINT, signal.SIGTERM):
                old[sig] = signal.signal(sig, handler)
            yield
        finally:
            for sig, h in old.items():
                signal.signal(sig, h)

    def _sync_signal(self, seen, sig, frame):
        seen[sig] += 1
        self.shutdown_signal(sig)


def _is_loopback(addr):
    """islocalClient: exactly 127.0.0.1 or ::1 (other 127.x addresses are not local)."""
    return addr.startswith(("127.0.0.1:", "[::1]:"))
