"""The master side of replication (replication.c): the replication stream and backlog,
replicas attached with SYNC / PSYNC, full synchronization from a forked child, partial
resynchronization from the backlog, REPLCONF ACK bookkeeping and WAIT.

A replica is a Client of this server: its `replinfo` (ReplicaInfo) holds the state
Redis keeps in the client struct (replstate, capabilities, ack offset...). The stream is
written straight to the replica's transport; while a replica waits for its RDB, the
stream from its `pending_from` offset on is kept in the backlog, which grows past
repl-backlog-size for it (Redis's shared replication buffer).
"""
import os
import time

from ..errors import CommandError, NOT_INTEGER
from .. import children
from ..persistence import rdb
from ..resp.encode import array, integer
from .backlog import Backlog

# replica states (server.h SLAVE_STATE_*)
WAIT_BGSAVE_START = 6
WAIT_BGSAVE_END = 7
SEND_BULK = 8
ONLINE = 9
RDB_TRANSMITTED = 10
STATE_NAMES = {WAIT_BGSAVE_START: "wait_bgsave", WAIT_BGSAVE_END: "wait_bgsave",
               SEND_BULK: "send_bulk", ONLINE: "online", RDB_TRANSMITTED: "rdb_transmitted"}

RDB_CHUNK = 1 << 17
TRANSPORT_HIGH = 8 << 20     # pause feeding an RDB to a replica above this buffered size

_SELECT = [b"*2\r\n$6\r\nSELECT\r\n$%d\r\n%d\r\n" % (len(str(i)), i) for i in range(16)]


def encode_command(argv):
    """The multibulk form of argv (compiled: resp.encode.array)."""
    try:
        return array(argv)
    except TypeError:   # an argument that is not bytes
        return array([a if isinstance(a, (bytes, bytearray)) else str(a).encode()
                      for a in argv])


def select_command(dbid):
    if 0 <= dbid < 16:
        return _SELECT[dbid]
    s = str(dbid).encode()
    return b"*2\r\n$6\r\nSELECT\r\n$%d\r\n%s\r\n" % (len(s), s)


class ReplicaInfo:
    """Replication state of a client (a replica, or a client preparing to become one)."""
    __slots__ = ("state", "capa_eof", "capa_psync2", "port", "addr", "ack_off", "ack_time",
                 "initial_offset", "pre_psync", "rdb_only", "stream_on_ack", "pending_from",
                 "file", "since", "streaming", "filter_functions", "stall_since")

    def __init__(self):
        self.state = 0
        self.capa_eof = False
        self.capa_psync2 = False
        self.port = 0
        self.addr = None
        self.ack_off = 0
        self.ack_time = 0
        self.initial_offset = 0
        self.pre_psync = False
        self.rdb_only = False
        self.stream_on_ack = False
        # the first stream byte (offset) this replica still needs while it waits for its
        # RDB: the stream from there on stays in the backlog (Redis's shared replication
        # buffer) until the replica is online
        self.pending_from = None
        self.file = None
        self.since = time.time()     # last interaction while waiting for the RDB
        self.streaming = False       # online and receiving the stream directly
        self.filter_functions = None
        self.stall_since = None      # diskless RDB: since when its socket takes nothing


def replinfo(c):
    ri = getattr(c, "replinfo", None)
    if ri is None:
        ri = c.replinfo = ReplicaInfo()
    return ri


class RdbChild:
    """A forked child producing an RDB for replicas: into a pipe (socket target, the
    diskless transfer) or, as a BGSAVE, into the dump file (disk target)."""

    def __init__(self, pid, socket, status_fd, data_fd=None, path=None, targets=()):
        self.pid = pid
        self.socket = socket
        self.status_fd = status_fd
        self.data_fd = data_fd
        self.path = path
        self.targets = list(targets)
        self.mark = None
        self.reading = False
        self.start = time.time()
        self.info_fd = None          # child info pipe (drained by check_child)
        self.killed = False          # SIGUSR1 sent
        self.exiting = False         # failed, not reaped yet (check_child reaps it)

    def drain_info(self, srv, close=False):
        fd = self.info_fd
        if fd is None:
            return
        from ..persistence.rdb import read_child_info
        read_child_info(srv, fd)
        if close:
            self.info_fd = None
            try:
                os.close(fd)
            except OSError:
                pass


class MasterRole:
    # -- replication ids ----------------------------------------------------------------
    def change_replid(self):
        self.srv.replid = os.urandom(20).hex()

    def clear_replid2(self):
        self.srv.replid2 = "0" * 40
        self.srv.second_replid_offset = -1

    def shift_replid(self):
        srv = self.srv
        srv.replid2 = srv.replid
        srv.second_replid_offset = srv.master_repl_offset + 1
        self.change_replid()
        self.log("warning", "Setting secondary replication ID to %s, valid up to offset: %d. "
                 "New replication ID is %s" % (srv.replid2, srv.second_replid_offset,
                                              srv.replid))

    # -- backlog ------------------------------------------------------------------------
    def create_backlog(self):
        srv = self.srv
        self.backlog = Backlog(srv.config.values["repl-backlog-size"],
                               srv.master_repl_offset + 1)
        self.update_target()

    def free_backlog(self):
        self.flush_out()
        self.backlog = None
        self.update_target()

    def update_target(self):
        """Feed the stream from propagation only as a top-level master with a backlog."""
        targets = self.srv.propagate_targets
        fn = self.propagate_fn
        want = self.masterhost is None and self.backlog is not None
        if want and fn not in targets:
            targets.append(fn)
        elif not want and fn in targets:
            targets.remove(fn)

    # -- the stream ---------------------------------------------------------------------
    def propagate(self, dbid, argv):
        """replicationFeedSlaves: one effect (dbid, argv) into the stream."""
        srv = self.srv
        if srv.loading:
            return
        if dbid != self.seldb and dbid >= 0:
            self.seldb = dbid
            data = select_command(dbid) + encode_command(argv)
        else:
            data = encode_command(argv)
        srv.master_repl_offset += len(data)       # feed(), inlined: the write path
        self.outq.append(data)
        if not self.flush_scheduled:
            self.flush_scheduled = True
            srv.loop.call_soon(self.flush_out)

    def feed_command(self, argv):
        """PING / REPLCONF GETACK: into the stream without a SELECT (only a top-level
        master writes its own stream; a replica proxies its master's)."""
        if self.backlog is None or self.masterhost is not None:
            return
        self.feed(encode_command(argv))

    def feed(self, data):
        """Append bytes to the stream. The offset moves at once; the backlog and the
        replicas get the bytes of a loop iteration in one piece (flush_out, as Redis
        writes to replicas in beforeSleep). Readers of the backlog flush first."""
        self.srv.master_repl_offset += len(data)
        self.outq.append(data)
        if not self.flush_scheduled:
            self.flush_scheduled = True
            self.srv.loop.call_soon(self.flush_out)

    def flush_out(self):
        self.flush_scheduled = False
        q = self.outq
        if not q:
            return
        data = q[0] if len(q) == 1 else b"".join(q)
        q.clear()
        if self.backlog is not None:
            self.backlog.append(data, self.backlog_floor())
        for r in list(self.replicas):
            ri = r.replinfo
            if ri.streaming:
                self.write_replica(r, data)
            elif ri.pending_from is not None:
                self.check_limits(r)

    def backlog_floor(self):
        """The first stream byte a replica waiting for its RDB still needs: the backlog
        keeps it even past repl-backlog-size (the shared buffer's block references)."""
        floor = None
        for r in self.replicas:
            f = r.replinfo.pending_from
            if f is not None and (floor is None or f < floor):
                floor = f
        return floor

    def trim_backlog(self):
        if self.backlog is not None:
            self.backlog.append(b"", self.backlog_floor())

    def pending_size(self, ri):
        f = ri.pending_from
        return self.srv.master_repl_offset - f + 1 if f is not None else 0

    def replication_buffer_mem(self):
        """server.repl_buffer_mem: the backlog plus what replicas have not consumed (they
        share one buffer, so the longest unconsumed tail counts)."""
        self.flush_out()
        b = self.backlog
        total = b.histlen if b is not None else 0
        for r in self.replicas:
            ri = r.replinfo
            if ri.streaming:
                total = max(total, _transport_size(r))
            elif ri.pending_from is not None:
                total = max(total, self.pending_size(ri))
        return total

    def write_replica(self, r, data):
        if r.closed or r.transport is None:
            return
        r.transport.write(data)
        self.srv.stat_net_repl_output_bytes += len(data)
        self.check_limits(r)

    def check_limits(self, r):
        """checkClientOutputBufferLimits for a replica: a hard limit below
        repl-backlog-size counts as repl-backlog-size (the replica shares the backlog)."""
        srv = self.srv
        v = srv.config.values
        hard, soft, secs = v["client-output-buffer-limit"]["replica"]
        if not (hard or soft) or r.closed:
            return
        size = r.output_size()
        if hard and size >= max(hard, v["repl-backlog-size"]):
            srv._obuf_kill(r, "replica", size)
            return
        if soft and size >= soft:
            now = time.monotonic()
            since = getattr(r, "soft_limit_since", None)
            if since is None:
                r.soft_limit_since = now
            elif now - since >= secs:
                srv._obuf_kill(r, "replica", size)
        else:
            r.soft_limit_since = None

    def start_streaming(self, r):
        """The replica got its RDB: send what was held for it, then stream directly."""
        self.flush_out()
        ri = r.replinfo
        ri.stream_on_ack = False
        start, ri.pending_from = ri.pending_from, None
        ri.streaming = True
        b = self.backlog
        if start is not None and b is not None and start <= self.srv.master_repl_offset:
            self.write_replica(r, b.read_from(max(start, b.offset)))
        self.trim_backlog()

    # -- SYNC / PSYNC ---------------------------------------------------------------------
    def sync_command(self, c, argv):
        """syncCommand (SYNC and PSYNC)."""
        srv = self.srv
        if "S" in c.flags_extra:
            return None
        is_psync = argv[0].lower() == b"psync"
        if is_psync and len(argv) > 3 and argv[3].lower() == b"failover":
            self.log("warning", "Failover request received for replid %s."
                     % argv[1].decode("latin-1"))
            if self.masterhost is None:
                raise CommandError("ERR PSYNC FAILOVER can't be sent to a master.")
            if argv[1].decode("latin-1").lower() == srv.replid:
                self.unset_master()
                self.log("notice", "MASTER MODE enabled (failover request from '%s')"
                         % c.info_line())
            else:
                raise CommandError("ERR PSYNC FAILOVER replid must match my replid.")
        if self.failover_state:      # no replica syncs with us while we fail over
            raise CommandError("NOMASTERLINK Can't SYNC while failing over")
        if self.masterhost is not None and self.state != self.CONNECTED:
            raise CommandError("NOMASTERLINK Can't SYNC while not connected with my master")
        if c.out:
            raise CommandError("ERR SYNC and PSYNC are invalid with pending output")
        ri = replinfo(c)
        if ri.filter_functions is not None and not ri.capa_eof:
            raise CommandError("ERR Filtered replica requires EOF capability")
        self.log("notice", "Replica %s asks for synchronization" % self.replica_name(c))
        if is_psync:
            from ..util import parse_ll
            offset = parse_ll(argv[2])
            if offset is None:
                self.log("warning", "Replica %s asks for synchronization but with a wrong "
                         "offset" % self.replica_name(c))
                raise CommandError(NOT_INTEGER)
            if self.try_partial(c, argv[1].decode("latin-1"), offset):
                srv.stat_sync_partial_ok += 1
                return None
            if argv[1][:1] != b"?":
                srv.stat_sync_partial_err += 1
        else:
            ri.pre_psync = True
        srv.stat_sync_full += 1
        ri.state = WAIT_BGSAVE_START
        ri.since = time.time()
        self.make_replica(c)
        if len(self.replicas) == 1 and self.backlog is None:
            self.change_replid()
            self.clear_replid2()
            self.create_backlog()
            self.log("notice", "Replication backlog created, my new replication IDs are "
                     "'%s' and '%s'" % (srv.replid, srv.replid2))
        child = self.child
        if child is not None and not child.socket:
            other = None
            for r in self.replicas:
                rr = r.replinfo
                if r is not c and rr.state == WAIT_BGSAVE_END and (
                        not rr.rdb_only or ri.rdb_only):
                    other = r
                    break
            if other is not None and (ri.capa_eof or not other.replinfo.capa_eof) and \
                    ri.filter_functions == other.replinfo.filter_functions:
                self.flush_out()
                ri.pending_from = None
                self.setup_full_resync(c, other.replinfo.initial_offset)
                self.log("notice", "Waiting for end of BGSAVE for SYNC")
            else:
                self.log("notice", "Can't attach the replica to the current BGSAVE. Waiting "
                         "for next BGSAVE for SYNC")
        elif child is not None:
            self.log("notice", "Current BGSAVE has socket target. Waiting for next BGSAVE "
                     "for SYNC")
        else:
            v = srv.config.values
            if v["repl-diskless-sync"] and ri.capa_eof and v["repl-diskless-sync-delay"]:
                self.log("notice", "Delay next BGSAVE for diskless SYNC")
            else:
                self.start_child()
        return None

    def make_replica(self, c):
        if "S" not in c.flags_extra:
            c.flags_extra += "S"
        c.reply_mode = 1               # a replica gets the stream, never replies
        c.update_checks()              # (its commands must not touch the keyspace)
        c.obuf_class = "replica"
        ri = c.replinfo
        ri.ack_time = int(time.time())
        self.flush_out()
        self.replicas.append(c)

    def replica_name(self, c):
        """replicationGetSlaveName: ip:port as announced, or the client's address."""
        ri = getattr(c, "replinfo", None)
        ip = ri.addr if ri is not None and ri.addr else c.addr.rsplit(":", 1)[0]
        if ri is not None and ri.port:
            return "%s:%d" % (ip, ri.port)
        return "client id #%d" % c.id

    def try_partial(self, c, replid, offset):
        """masterTryPartialResynchronization."""
        srv = self.srv
        self.flush_out()
        rid = replid.lower()
        if rid != srv.replid and (rid != srv.replid2 or offset > srv.second_replid_offset):
            if replid[:1] != "?":
                if rid != srv.replid and rid != srv.replid2:
                    self.log("notice", "Partial resynchronization not accepted: Replication "
                             "ID mismatch (Replica asked for '%s', my replication IDs are "
                             "'%s' and '%s')" % (replid, srv.replid, srv.replid2))
                else:
                    self.log("notice", "Partial resynchronization not accepted: Requested "
                             "offset for second ID was %d, but I can reply up to %d"
                             % (offset, srv.second_replid_offset))
            else:
                self.log("notice", "Full resync requested by replica %s"
                         % self.replica_name(c))
            return False
        if self.backlog is None or not self.backlog.covers(offset):
            self.log("notice", "Unable to partial resync with replica %s for lack of backlog "
                     "(Replica request was: %d)." % (self.replica_name(c), offset))
            if offset > srv.master_repl_offset:
                self.log("warning", "Warning: replica %s tried to PSYNC with an offset that "
                         "is greater than the master replication offset."
                         % self.replica_name(c))
            return False
        ri = c.replinfo
        ri.state = ONLINE
        ri.streaming = True
        self.make_replica(c)
        if ri.capa_psync2:
            head = b"+CONTINUE %s\r\n" % srv.replid.encode()
        else:
            head = b"+CONTINUE\r\n"
        data = self.backlog.read_from(offset)
        self.write_replica(c, head + data)
        self.log("notice", "Partial resynchronization request from %s accepted. Sending %d "
                 "bytes of backlog starting from offset %d." % (self.replica_name(c),
                                                                len(data), offset))
        self.refresh_good()
        return True

    def setup_full_resync(self, c, offset):
        """replicationSetupSlaveForFullResync: +FULLRESYNC, then the stream is held."""
        ri = c.replinfo
        ri.initial_offset = offset
        ri.state = WAIT_BGSAVE_END
        if ri.pending_from is None and not ri.rdb_only:
            ri.pending_from = offset + 1
        self.seldb = -1
        if not ri.pre_psync:
            self.write_replica(c, b"+FULLRESYNC %s %d\r\n" % (self.srv.replid.encode(), offset))

    # -- the RDB child --------------------------------------------------------------------
    def aux_fields(self):
        """rdbPopulateSaveInfo's fields for an RDB made for replicas."""
        srv = self.srv
        if self.masterhost is None:
            db = 0 if self.seldb == -1 else self.seldb
        elif self.master is not None:
            db = self.master.db.id
        elif self.cached_master is not None:
            db = self.cached_master.db.id
        else:
            db = 0
        return {"repl-stream-db": db, "repl-id": srv.replid,
                "repl-offset": srv.master_repl_offset}

    def should_start_child(self):
        """shouldStartChildReplication: replicas wait for a BGSAVE and the diskless delay
        (repl-diskless-sync-delay, or enough replicas) has passed."""
        if self.child is not None or self.srv.child_type is not None:
            return False     # (hasActiveChildProcess: one BGSAVE / rewrite / sync child)
        v = self.srv.config.values
        waiting = [r for r in self.replicas if r.replinfo.state == WAIT_BGSAVE_START]
        if not waiting:
            return False
        if not v["repl-diskless-sync"]:
            return True
        maxr = v["repl-diskless-sync-max-replicas"]
        if maxr > 0 and len(waiting) >= maxr:
            return True
        now = time.time()
        idle = max(now - r.replinfo.since for r in waiting)
        return idle >= v["repl-diskless-sync-delay"]

    def start_child(self):
        """startBgsaveForReplication: fork a child writing the RDB for the replicas
        waiting for one (to their sockets through a pipe, or to a file)."""
        srv = self.srv
        waiting = [r for r in self.replicas if r.replinfo.state == WAIT_BGSAVE_START]
        if not waiting:
            return
        first = waiting[0].replinfo.filter_functions
        waiting = [r for r in waiting if r.replinfo.filter_functions == first]
        all_eof = all(r.replinfo.capa_eof for r in waiting)
        socket = (srv.config.values["repl-diskless-sync"] or first is not None) and all_eof
        self.log("notice", "Starting BGSAVE for SYNC with target: %s"
                 % ("replicas sockets" if socket else "disk"))
        self.flush_out()
        aux = self.aux_fields()
        if not socket:
            persistence().before_bgsave(srv)    # rdbSaveBackground(server.rdb_filename)
        try:
            child = self._fork(rdb.write_rdb, aux, socket, first)
        except OSError as e:
            self.log("warning", "Can't save in background: fork: %s" % e)
            child = None
        if child is None:
            self.log("warning", "BGSAVE for replication failed")
            for r in waiting:
                r.replinfo.state = 0
                self.replicas.remove(r)
                r.flags_extra = r.flags_extra.replace("S", "")
                r.reply_mode = 0
                r.out.append(b"-ERR BGSAVE failed, replication can't continue\r\n")
                r.closing = True
                r.flush()
            return
        self.child = child
        if not socket and srv.config.values["rdb-del-sync-files"]:
            self.rdb_for_sync = True    # (RDBGeneratedByReplication)
        srv.child_type = "rdb"          # (CHILD_TYPE_RDB, as for a BGSAVE)
        srv.child_pid = child.pid
        srv.rdb_save_time_start = int(time.time())
        srv.stat_total_forks = getattr(srv, "stat_total_forks", 0) + 1
        offset = srv.master_repl_offset
        for r in waiting:
            r.replinfo.pending_from = None
            self.setup_full_resync(r, offset)
        if socket:
            child.targets = waiting
            child.mark = os.urandom(20).hex().encode()
            for r in waiting:
                self.write_replica(r, b"$EOF:%s\r\n" % child.mark)
            self.start_pipe_reader()
        else:
            srv.loop.add_reader(child.status_fd, self.on_child_status)

    def _fork(self, write_rdb, aux, socket, filter_functions):
        srv = self.srv
        status_r, status_w = os.pipe()
        data_r = data_w = None
        path = None
        if socket:
            data_r, data_w = os.pipe()
        else:
            path = persistence().rdb_path(srv)
        info_r, info_w = os.pipe()
        rdb.child_started(srv)
        t0 = time.perf_counter()
        pid = children.fork(srv)
        if pid == 0:   # the child
            code = 1
            try:
                os.close(status_r)
                os.close(info_r)
                # child info: its reports also find out when the parent is gone
                rdb.child_reporter = rdb.ChildReporter(srv, info_w)
                if data_r is not None:
                    os.close(data_r)
                if socket:
                    with os.fdopen(data_w, "wb", buffering=1 << 16) as f:
                        _write(write_rdb, srv, f, aux, filter_functions)
                        f.flush()
                    ok = True
                else:       # rdbSave: temp-<pid>.rdb, fsync, renamed over the dump file
                    ok = rdb.save(srv, path, aux)
                if ok:
                    os.write(status_w, b"1")
                    code = 0
            except BaseException:  # noqa: BLE001 - the child reports by exit status
                code = 1
            finally:
                os._exit(code)
        srv.stat_fork_time = int((time.perf_counter() - t0) * 1000000)
        os.close(status_w)
        os.close(info_w)
        os.set_blocking(info_r, False)
        if data_w is not None:
            os.close(data_w)
            os.set_blocking(data_r, False)
        self.log("notice", "Background RDB transfer started by pid %d" % pid
                 if socket else "Background saving started by pid %d" % pid)
        child = RdbChild(pid, socket, status_r, data_r, path)
        child.info_fd = info_r
        return child

    def start_pipe_reader(self):
        child = self.child
        if child is not None and not child.reading and child.data_fd is not None:
            child.reading = True
            self.srv.loop.add_reader(child.data_fd, self.on_pipe_data)

    def pipe_targets_alive(self, child):
        """The replicas the diskless child still feeds; when the last one is gone the
        child is killed (rdbPipeReadHandler): it holds copies of their sockets, so the
        replicas would never see their links close."""
        live = [r for r in child.targets if not r.closed and r in self.replicas]
        child.targets = live
        if not live and not child.killed:
            self.log("warning", "Diskless rdb transfer, last replica dropped, killing fork "
                     "child.")
            self.kill_child()
        return live

    def on_pipe_data(self):
        """rdbPipeReadHandler: forward the child's RDB to the target replicas."""
        child = self.child
        if child is None or child.data_fd is None:
            return
        try:
            data = os.read(child.data_fd, 1 << 18)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        live = self.pipe_targets_alive(child)
        if data:
            for r in live:
                self.write_replica(r, data)
            if any(_transport_size(r) > TRANSPORT_HIGH for r in live):
                self.srv.loop.remove_reader(child.data_fd)
                child.reading = False
                self.srv.loop.call_later(0.005, self._pipe_backoff)
            return
        # EOF: the child wrote everything
        if live:
            self.log("notice", "Diskless rdb transfer, done reading from pipe, %d replicas "
                     "still up." % len(live))
        self.srv.loop.remove_reader(child.data_fd)
        os.close(child.data_fd)
        child.data_fd = None
        child.reading = False
        self.child_exiting(child)

    def _pipe_backoff(self):
        child = self.child
        if child is None or child.data_fd is None:
            return
        live = [r for r in child.targets if not r.closed and r in self.replicas]
        stalled = False
        now = time.time()
        for r in live:
            ri = r.replinfo
            if _transport_size(r) > TRANSPORT_HIGH // 2:
                stalled = True
                if ri.stall_since is None:
                    ri.stall_since = now     # repl_last_partial_write
            else:
                ri.stall_since = None
        if stalled:
            self.srv.loop.call_later(0.005, self._pipe_backoff)
            return
        self.start_pipe_reader()

    def on_child_status(self):
        self.srv.loop.remove_reader(self.child.status_fd)
        self.child_exiting(self.child)

    def child_exiting(self, child):
        """The child wrote its RDB (its status says it succeeded) or its pipes closed: it
        is exiting. A failed one is done when reaped, now or by check_child (no waiting)."""
        status = (0, 0) if _read_status(child.status_fd) else children.poll(child.pid)
        if status is None:
            child.exiting = True
        else:
            self.child_done(*status)

    def check_child(self):
        """checkChildrenDone (serverCron): a failed child child_exiting could not reap
        yet; a diskless child that failed or was killed even while its pipe is not read
        (a replica's socket is full; one that exited fine leaves the rest of its pipe to
        be read)."""
        child = self.child
        if child is None:
            return
        child.drain_info(self.srv)
        if child.exiting:
            status = children.poll(child.pid)
            if status is not None:
                self.child_done(*status)
            return
        if not child.socket or child.data_fd is None:
            return
        status = children.poll(child.pid)
        if status is None or status == (0, 0):
            return
        loop = self.srv.loop
        if child.reading:
            loop.remove_reader(child.data_fd)
            child.reading = False
        os.close(child.data_fd)
        child.data_fd = None
        self.child_done(*status)

    def kill_child(self):
        """killRDBChild: SIGUSR1 to the replication child; checkChildrenDone (check_child,
        or the end of its pipe) then fails the replicas it was for."""
        child = self.child
        if child is None or child.killed:
            return
        child.killed = True
        children.kill(child.pid)

    def child_done(self, exitcode, bysignal):
        """backgroundSaveDoneHandler + updateSlavesWaitingBgsave."""
        srv = self.srv
        child, self.child = self.child, None
        try:
            os.close(child.status_fd)
        except OSError:
            pass
        child.drain_info(srv, close=True)
        _reap(srv.loop, child.pid)
        ok = children.log_done(srv, "socket" if child.socket else "disk", exitcode, bysignal)
        if not child.socket:        # a BGSAVE's: the dump file is fresh
            persistence().bgsave_finished(srv, ok, bysignal, child.pid)
        rdb.child_finished(srv)         # (resetChildState)
        srv.child_type = None
        srv.child_pid = -1
        srv.rdb_save_time_last = int(time.time()) - srv.rdb_save_time_start
        srv.rdb_save_time_start = -1
        opened = []
        for r in list(self.replicas):
            ri = r.replinfo
            if ri.state != WAIT_BGSAVE_END:
                continue
            if child.socket and r not in child.targets:
                continue
            if not ok:
                self.log("warning", "SYNC failed. BGSAVE child returned an error")
                r.kill()
                continue
            if child.socket:
                self.write_replica(r, child.mark)
                self.log("notice", "Streamed RDB transfer with replica %s succeeded (socket). "
                         "Waiting for REPLCONF ACK from slave to enable streaming"
                         % self.replica_name(r))
                if self.put_online(r):
                    ri.stream_on_ack = True
                else:
                    self.close_after_rdb(r)
            else:
                try:
                    f = open(child.path, "rb")
                    size = os.fstat(f.fileno()).st_size
                except OSError as e:
                    self.log("warning", "SYNC failed. Can't open/stat DB after BGSAVE: %s" % e)
                    r.kill()
                    continue
                opened.append(f)
                ri.file = [f, size]
                ri.state = SEND_BULK
                self.write_replica(r, b"$%d\r\n" % size)
                self.send_bulk(r)
        if self.should_start_child():
            self.start_child()

    def send_bulk(self, r):
        """sendBulkToSlave: the RDB file in chunks, as the replica's socket drains."""
        ri = getattr(r, "replinfo", None)
        if ri is None or ri.file is None:
            return
        if r.closed or r not in self.replicas:
            ri.file[0].close()
            ri.file = None
            return
        f = ri.file[0]
        while _transport_size(r) < TRANSPORT_HIGH:
            chunk = f.read(RDB_CHUNK)
            if not chunk:
                if _transport_size(r):
                    # the end of the file is still in the transport: Redis puts the
                    # replica online (or drops an rdb-only one, at once) when every byte
                    # reached the socket
                    break
                f.close()
                ri.file = None
                if not self.put_online(r):
                    self.close_after_rdb(r)
                    return
                self.start_streaming(r)
                return
            self.write_replica(r, chunk)
        self.srv.loop.call_later(0.002, self.send_bulk, r)

    def put_online(self, r):
        """replicaPutOnline; False for an rdb-only replica (closed after its RDB)."""
        ri = r.replinfo
        if ri.rdb_only:
            ri.state = RDB_TRANSMITTED
            self.log("notice", "RDB transfer completed, rdb only replica (%s) should be "
                     "disconnected asap" % self.replica_name(r))
            return False
        ri.state = ONLINE
        ri.ack_time = int(time.time())
        self.refresh_good()
        self.log("notice", "Synchronization with replica %s succeeded" % self.replica_name(r))
        return True

    def close_after_rdb(self, r):
        if r.transport is not None and not r.closed:
            r.closing = True
            r.flush()

    def replica_gone(self, c):
        """A replica disconnected (freeClient's replica part)."""
        if c not in self.replicas:
            return
        self.replicas.remove(c)
        if c.closed:
            _shutdown_now(c)
        ri = c.replinfo
        if ri.file is not None:
            ri.file[0].close()
            ri.file = None
        if ri.state == ONLINE:
            self.log("notice", "Connection with replica %s lost." % self.replica_name(c))
        if not self.replicas:
            self.no_replicas_since = time.time()
        child = self.child
        if child is not None and child.socket and child.data_fd is not None \
                and c in child.targets:
            self.pipe_targets_alive(child)
        elif (child is not None and not child.socket and ri.state == WAIT_BGSAVE_END
              and not self.srv.config.values["save"]
              and not any(r.replinfo.state == WAIT_BGSAVE_END for r in self.replicas)):
            # no other replica waits for this RDB and no save point wants it: the child
            # need not go on (freeClient)
            self.kill_child()
        self.trim_backlog()
        self.refresh_good()

    def disconnect_replicas(self):
        for r in list(self.replicas):
            r.kill()

    # -- REPLCONF ACK, WAIT, min-replicas ---------------------------------------------------
    def ack(self, c, offset):
        ri = c.replinfo
        if offset > ri.ack_off:
            ri.ack_off = offset
        ri.ack_time = int(time.time())
        if ri.stream_on_ack and ri.state == ONLINE:
            self.start_streaming(c)
        if self.waiting:
            self.schedule_waiting()
        if self.failover_state:
            self.schedule_failover_check()   # the target may have caught up (failover.py)

    def count_acks(self, offset):
        n = 0
        for r in self.replicas:
            ri = r.replinfo
            if ri.state == ONLINE and ri.ack_off >= offset:
                n += 1
        return n

    def wait_command(self, c, argv):
        from ..blocking import block, parse_timeout
        from ..util import parse_ll
        if self.masterhost is not None:
            raise CommandError(
                "ERR WAIT cannot be used with replica instances. Please also note that since "
                "Redis 4.0 if a replica is configured to be writable (which is not the "
                "default) writes to replicas are just local and are not propagated.")
        num = parse_ll(argv[1])
        if num is None:
            raise CommandError(NOT_INTEGER)
        timeout = parse_timeout(argv[2], seconds=False)
        offset = c.woff
        acks = self.count_acks(offset)
        if acks >= num or c.multi is not None or c.in_exec:
            return integer(acks)
        reply = block(c, [], timeout, None, integer(acks))
        if reply is not None:
            return reply
        c.wait_state = (c.blocked, offset, num)
        self.waiting.insert(0, c)
        self.request_ack()
        return None

    def request_ack(self):
        if not self.getack_scheduled:
            self.getack_scheduled = True
            self.srv.loop.call_soon(self.send_getack)

    def send_getack(self):
        self.getack_scheduled = False
        srv = self.srv
        if srv.pause_type and srv.pause_active():
            # no GETACK while clients are paused: retried when the pause ends
            srv.loop.call_later(0.05, self.request_ack)
            return
        if self.masterhost is None and self.backlog is not None:
            self.feed_command([b"REPLCONF", b"GETACK", b"*"])

    def schedule_waiting(self):
        if not self.waiting_scheduled:
            self.waiting_scheduled = True
            self.srv.loop.call_soon(self.process_waiting)

    def process_waiting(self):
        """processClientsWaitingReplicas."""
        from ..blocking import unblock, update_stats_on_unblock
        self.waiting_scheduled = False
        last_off = 0
        last_num = 0
        keep = []
        for c in self.waiting:
            st = getattr(c, "wait_state", None)
            if st is None or c.closed or c.blocked is not st[0]:
                continue
            b, offset, num = st
            if last_off and last_off >= offset and last_num >= num:
                n = last_num
            else:
                n = self.count_acks(offset)
                if n >= num:
                    last_off, last_num = offset, n
            if n >= num:
                c.wait_state = None
                update_stats_on_unblock(c, b, 0, False)
                unblock(c, integer(n))
            else:
                b.timeout_reply = integer(n)
                keep.append(c)
        self.waiting = keep

    def refresh_good(self):
        """refreshGoodSlavesCount."""
        v = self.srv.config.values
        mn, lag = v["min-replicas-to-write"], v["min-replicas-max-lag"]
        if not mn or not lag:
            return
        now = int(time.time())
        self.good_replicas = sum(1 for r in self.replicas
                                 if r.replinfo.state == ONLINE
                                 and now - r.replinfo.ack_time <= lag)

    # -- cron (master part) -----------------------------------------------------------------
    def master_cron(self):
        srv = self.srv
        v = srv.config.values
        if self.cron_loops % v["repl-ping-replica-period"] == 0 and self.replicas:
            # no PING while a FAILOVER with a TIMEOUT pauses writes (the offsets must
            # stay put)
            if not (self.failover_end_time and srv.pause_type and srv.pause_active()):
                self.feed_command([b"PING"])
        for r in list(self.replicas):
            ri = r.replinfo
            presync = ri.state == WAIT_BGSAVE_START or (
                ri.state == WAIT_BGSAVE_END and not (self.child and self.child.socket))
            if presync and r.transport is not None and not r.closed:
                r.transport.write(b"\n")
        now = int(time.time())
        timeout = v["repl-timeout"]
        socket_child = self.child is not None and self.child.socket
        for r in list(self.replicas):
            ri = r.replinfo
            if ri.state == ONLINE and not ri.pre_psync and now - ri.ack_time > timeout:
                self.log("warning", "Disconnecting timedout replica (streaming sync): %s"
                         % self.replica_name(r))
                r.kill()
            elif (ri.state == WAIT_BGSAVE_END and socket_child and ri.stall_since is not None
                    and now - int(ri.stall_since) > timeout):
                # only diskless replicas: they hold the child back
                self.log("warning", "Disconnecting timedout replica (full sync): %s"
                         % self.replica_name(r))
                r.kill()
        ttl = v["repl-backlog-ttl"]
        if (not self.replicas and ttl and self.backlog is not None and self.masterhost is None
                and time.time() - self.no_replicas_since > ttl):
            self.change_replid()
            self.clear_replid2()
            self.free_backlog()
            self.log("notice", "Replication backlog freed after %d seconds without connected "
                     "replicas." % ttl)
        self.refresh_good()
        self.remove_sync_rdb()

    def remove_sync_rdb(self):
        """removeRDBUsedToSyncReplicas: with rdb-del-sync-files and no persistence, the
        dump file a full sync wrote goes once no replica waits for it or reads it."""
        v = self.srv.config.values
        if not v["rdb-del-sync-files"]:
            self.rdb_for_sync = False
            return
        if not self.rdb_for_sync or v["save"] or v["appendonly"]:
            return
        if any(r.replinfo.state in (WAIT_BGSAVE_START, WAIT_BGSAVE_END, SEND_BULK)
               for r in self.replicas):
            return
        path = persistence().rdb_path(self.srv)
        if os.path.lexists(path):
            self.rdb_for_sync = False
            self.log("notice", "Removing the RDB file used to feed replicas in a "
                     "persistence-less instance")
            try:
                os.unlink(path)
            except OSError:
                pass


def persistence():
    """commands.persistence (imported late: it imports this package)."""
    from ..commands import persistence as mod
    return mod


def _transport_size(c):
    tr = c.transport
    if tr is None:
        return 0
    try:
        return tr.get_write_buffer_size()
    except Exception:  # noqa: BLE001 - a closing transport
        return 0


def _shutdown_now(c):
    """A replica dropped by this server (CLIENT KILL, limits, timeouts): end the TCP
    connection at once, as Redis's close() does. The event loop closes an aborted
    transport's socket only at the end of the loop pass, after the replies of that pass
    went out (a client could learn of the kill before the replica does)."""
    tr = c.transport
    if tr is None:
        return
    try:
        sock = tr.get_extra_info("socket")
        fd = sock.fileno() if sock is not None else -1
    except Exception:  # noqa: BLE001 - a transport without socket
        return
    if fd < 0:
        return
    try:
        import socket as _socket
        s = _socket.socket(fileno=os.dup(fd))
        try:
            # the very connection (a closed descriptor may have been reused already)
            peer = s.getpeername()
            host, _, port = c.addr.rpartition(":")
            if (host.strip("[]"), port) == (str(peer[0]), str(peer[1])):
                s.shutdown(_socket.SHUT_RDWR)
        finally:
            s.close()
    except OSError:
        pass


def _read_status(fd):
    try:
        os.set_blocking(fd, True)
        return os.read(fd, 1) == b"1"
    except OSError:
        return False


def _reap(loop, pid):
    try:
        done, _status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return
    if done == 0:
        loop.call_later(0.05, _reap, loop, pid)


def _write(write_rdb, srv, f, aux, filter_functions):
    """rdb.write_rdb with the replication AUX fields (the signature takes a dict of
    name -> value; bytes keys and values work too); a functions-only replica (rdb-filter-only
    functions) gets no data (rdbSaveRio's SLAVE_REQ_RDB_EXCLUDE_DATA)."""
    write_rdb(srv, f, aux_extra=aux, exclude_data=bool(filter_functions))
