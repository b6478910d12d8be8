"""Coordinated failover (replication.c failoverCommand / updateFailoverStatus).

FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms] on a master with replicas:

1. writes are paused (a pause of its own purpose: CLIENT UNPAUSE does not end it) and
   the state becomes waiting-for-sync;
2. the master watches its replicas' REPLCONF ACK offsets (after each ACK, and from the
   replication cron, run every 100 ms while a failover is on): once the target (or, with
   no TO, any replica) has acknowledged the whole stream, or the TIMEOUT passed with
   FORCE, the state becomes failover-in-progress and the master turns into a replica of
   the target (set_master);
3. the handshake sends PSYNC <replid> <offset> FAILOVER: the target, whose replid is
   ours, turns itself into a master and accepts the PSYNC (syncCommand); +CONTINUE or
   +FULLRESYNC ends the failover (writes resume, and now get READONLY), any other reply
   aborts it ("Failover target rejected psync request") and the server is a master again.

FAILOVER ABORT, or TIMEOUT without FORCE, ends a waiting failover; aborting one in
progress also undoes set_master (replicationUnsetMaster).

The state lives on srv.repl (FailoverRole is one of the Replication bases).
"""
import time

from ..errors import CommandError, SYNTAX, NOT_INTEGER
from ..util import parse_ll

NO_FAILOVER = 0
FAILOVER_WAIT_FOR_SYNC = 1
FAILOVER_IN_PROGRESS = 2
STATE_NAMES = {NO_FAILOVER: "no-failover", FAILOVER_WAIT_FOR_SYNC: "waiting-for-sync",
               FAILOVER_IN_PROGRESS: "failover-in-progress"}

LLONG_MAX = (1 << 63) - 1


def _mstime():
    return int(time.time() * 1000)


def _c_int(v):
    """A C long stored into an int (two's complement truncation)."""
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


class FailoverRole:
    failover_state = NO_FAILOVER
    failover_end_time = 0        # unix ms, 0: no timeout
    force_failover = False
    target_host = None           # the target replica, once known
    target_port = 0
    failover_check_scheduled = False

    def failover_state_name(self):
        """getFailoverStateString (INFO replication master_failover_state)."""
        return STATE_NAMES.get(self.failover_state, "unknown")

    # -- FAILOVER ---------------------------------------------------------------------------
    def failover_command(self, c, argv):
        """failoverCommand."""
        srv = self.srv
        if srv.config.values.get("cluster-enabled"):
            raise CommandError("ERR FAILOVER not allowed in cluster mode. Use CLUSTER "
                               "FAILOVER command instead.")
        if len(argv) == 2 and argv[1].lower() == b"abort":
            if self.failover_state == NO_FAILOVER:
                raise CommandError("ERR No failover in progress.")
            self.abort_failover("Failover manually aborted")
            return b"+OK\r\n"
        timeout = 0
        force = False
        port = 0
        host = None
        j = 1
        n = len(argv)
        while j < n:
            a = argv[j].lower()
            if a == b"timeout" and j + 1 < n and timeout == 0:
                timeout = parse_ll(argv[j + 1])
                if timeout is None:
                    raise CommandError(NOT_INTEGER)
                if timeout <= 0:
                    raise CommandError("ERR FAILOVER timeout must be greater than 0")
                j += 1
            elif a == b"to" and j + 2 < n and host is None:
                port = parse_ll(argv[j + 2])
                if port is None:
                    raise CommandError(NOT_INTEGER)
                host = argv[j + 1]
                j += 2
            elif a == b"force" and not force:
                force = True
            else:
                raise CommandError(SYNTAX)
            j += 1
        if self.failover_state != NO_FAILOVER:
            raise CommandError("ERR FAILOVER already in progress.")
        if self.masterhost is not None:
            raise CommandError("ERR FAILOVER is not valid when server is a replica.")
        if not self.replicas:
            raise CommandError("ERR FAILOVER requires connected replicas.")
        if force and (not timeout or host is None):
            raise CommandError("ERR FAILOVER with force option requires both a timeout and "
                               "target HOST and IP.")
        if host is not None:
            # a C string: up to the first NUL; findReplica takes the port as an int
            host_s = host.split(b"\x00", 1)[0].decode("utf-8", "surrogateescape")
            replica = self.find_replica(host_s, _c_int(port))
            if replica is None:
                raise CommandError("ERR FAILOVER target HOST and PORT is not a replica.")
            from .master import ONLINE
            if replica.replinfo.state != ONLINE:
                raise CommandError("ERR FAILOVER target replica is not online.")
            self.target_host = host_s
            self.target_port = _c_int(port)
            self.log("notice", "FAILOVER requested to %s:%d." % (host_s, port))
        else:
            self.log("notice", "FAILOVER requested to any replica.")
        if timeout:
            end = _mstime() + timeout
            if end > LLONG_MAX:          # mstime()+timeout wraps in C: already past
                end -= 1 << 64
            self.failover_end_time = end
        self.force_failover = force
        self.failover_state = FAILOVER_WAIT_FOR_SYNC
        srv.pause_clients(LLONG_MAX, 1, "failover")      # CLIENT_PAUSE_WRITE, no end
        self.schedule_failover_check()   # beforeSleep: a replica may be caught up already
        return b"+OK\r\n"

    def find_replica(self, host, port):
        """findReplica: by the announced (or peer) IP, case-insensitively, and the
        listening port."""
        for r in self.replicas:
            ri = r.replinfo
            if self.replica_ip(r).lower() == host.lower() and ri.port == port:
                return r
        return None

    # -- the state machine ------------------------------------------------------------------
    def schedule_failover_check(self):
        """updateFailoverStatus runs in beforeSleep: after the current event (an ACK is
        handled first; the failover may disconnect clients)."""
        if self.failover_state == FAILOVER_WAIT_FOR_SYNC and not self.failover_check_scheduled:
            self.failover_check_scheduled = True
            self.srv.loop.call_soon(self._scheduled_failover_check)

    def _scheduled_failover_check(self):
        self.failover_check_scheduled = False
        self.update_failover_status()

    def update_failover_status(self):
        """updateFailoverStatus: time out (abort, or fail over anyway with FORCE), or
        start the failover once the target replica acknowledged the whole stream."""
        if self.failover_state != FAILOVER_WAIT_FOR_SYNC:
            return
        srv = self.srv
        now = _mstime()
        if self.failover_end_time and self.failover_end_time <= now:
            if self.force_failover:
                self.log("notice", "FAILOVER to %s:%d time out exceeded, failing over."
                         % (self.target_host, self.target_port))
                self.failover_state = FAILOVER_IN_PROGRESS
                self.set_master(self.target_host, self.target_port)
            else:
                self.abort_failover("Replica never caught up before timeout")
            return
        offset = srv.master_repl_offset
        replica = None
        if self.target_host is not None:
            replica = self.find_replica(self.target_host, self.target_port)
        else:
            for r in self.replicas:
                if r.replinfo.ack_off == offset:
                    # failing over to this one (its announced address, or its peer's)
                    self.target_host = self.replica_ip(r)
                    self.target_port = r.replinfo.port
                    replica = r
                    break
        if replica is not None and replica.replinfo.ack_off == offset:
            self.failover_state = FAILOVER_IN_PROGRESS
            self.log("notice", "Failover target %s:%d is synced, failing over."
                     % (self.target_host, self.target_port))
            self.set_master(self.target_host, self.target_port)

    def clear_failover_state(self):
        """clearFailoverState: also ends the failover's pause of writes."""
        self.failover_end_time = 0
        self.force_failover = False
        self.target_host = None
        self.target_port = 0
        self.failover_state = NO_FAILOVER
        self.srv.unpause_clients("failover")

    def abort_failover(self, err):
        """abortFailover."""
        if self.failover_state == NO_FAILOVER:
            return
        if self.target_host is not None:
            self.log("notice", "FAILOVER to %s:%d aborted: %s"
                     % (self.target_host, self.target_port, err))
        else:
            self.log("notice", "FAILOVER to any replica aborted: %s" % err)
        if self.failover_state == FAILOVER_IN_PROGRESS:
            self.unset_master()
        self.clear_failover_state()

    def failover_psync_result(self, accepted):
        """syncWithMaster after the PSYNC reply while failing over: True when the
        handshake goes on (+CONTINUE / +FULLRESYNC end the failover), False when the
        target rejected it (the failover is aborted: we are a master again)."""
        if self.failover_state != FAILOVER_IN_PROGRESS:
            return True
        if accepted:
            self.clear_failover_state()
            return True
        self.abort_failover("Failover target rejected psync request")
        return False
