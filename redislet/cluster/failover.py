"""Elections: a replica of a failed master asks the masters for votes and takes over its
slots (automatic failover), CLUSTER FAILOVER's manual variants, voting on the masters'
side, and replica migration to orphaned masters."""
import random
import time

from . import proto
from .node import MYSELF, mstime

# why a replica cannot fail over (CLUSTER_CANT_FAILOVER_*)
CANT_NONE = 0
CANT_DATA_AGE = 1
CANT_WAITING_DELAY = 2
CANT_EXPIRED = 3
CANT_WAITING_VOTES = 4
CANT_RELOG_PERIOD = 60 * 5
SLAVE_MIGRATION_DELAY = 5000

_CANT_MSG = {
    CANT_DATA_AGE: "Disconnected from master for longer than allowed. Please check the "
                   "'cluster-replica-validity-factor' configuration option.",
    CANT_WAITING_DELAY: "Waiting the delay before I can start a new failover.",
    CANT_EXPIRED: "Failover attempt expired.",
    CANT_WAITING_VOTES: "Waiting for votes, but majority still not reached.",
}


class Failover:
    def __init__(self):
        self.failover_auth_time = 0
        self.failover_auth_count = 0
        self.failover_auth_sent = False
        self.failover_auth_rank = 0
        self.failover_auth_epoch = 0
        self.cant_failover_reason = CANT_NONE
        self.cant_failover_lastlog = 0
        self.mf_end = 0
        self.mf_slave = None
        self.mf_master_offset = -1
        self.mf_can_start = False

    # -- manual failover --------------------------------------------------------------------
    def reset_manual_failover(self):
        if self.mf_slave is not None:
            # a master that paused its clients for the replica's failover resumes them
            self.srv.unpause_clients("cluster-failover")
        self.mf_end = 0
        self.mf_can_start = False
        self.mf_slave = None
        self.mf_master_offset = -1

    def manual_failover_check_timeout(self):
        if self.mf_end and self.mf_end < mstime():
            self.log("warning", "Manual failover timed out.")
            self.reset_manual_failover()

    def handle_manual_failover(self):
        from .state import TODO_HANDLE_FAILOVER, TODO_HANDLE_MANUALFAILOVER
        if self.mf_end == 0 or self.mf_can_start or self.mf_master_offset == -1:
            return
        if self.mf_master_offset == self.replica_offset():
            self.mf_can_start = True
            self.log("warning", "All master replication stream processed, manual failover "
                     "can start.")
            self.do_before_sleep(TODO_HANDLE_FAILOVER)
            return
        self.do_before_sleep(TODO_HANDLE_MANUALFAILOVER)

    def start_manual_failover(self, force, takeover):
        """CLUSTER FAILOVER (checks done by the command)."""
        self.reset_manual_failover()
        self.mf_end = mstime() + 5000
        if takeover:
            # no agreement at all: a new epoch of our own, the slots, and tell everybody
            self.log("warning", "Taking over the master (user request).")
            self.bump_epoch_without_consensus()
            self.failover_replace_your_master()
        elif force:
            self.log("warning", "Forced failover user request accepted.")
            self.mf_can_start = True
        else:
            self.log("warning", "Manual failover user request accepted.")
            self.send_simple(self.myself.slaveof.link, proto.MFSTART)

    # -- the replica's side -----------------------------------------------------------------
    def slave_rank(self):
        """clusterGetSlaveRank: replicas of my master with a better offset than mine."""
        me = self.myself
        master = me.slaveof
        if master is None:
            return 0
        myoffset = self.replica_offset()
        return sum(1 for s in master.slaves if s is not me and not s.cant_failover()
                   and s.repl_offset > myoffset)

    def log_cant_failover(self, reason):
        now = time.time()
        if (reason == self.cant_failover_reason
                and now - self.cant_failover_lastlog < CANT_RELOG_PERIOD):
            return
        self.cant_failover_reason = reason
        master = self.myself.slaveof
        if (master is not None and master.failed()
                and mstime() - master.fail_time < self.node_timeout + 5000):
            return
        self.cant_failover_lastlog = now
        self.log("warning", "Currently unable to failover: %s"
                 % _CANT_MSG.get(reason, "Unknown reason code."))

    def failover_replace_your_master(self):
        """clusterFailoverReplaceYourMaster: become master, take the old master's slots,
        tell everybody."""
        from .bus import BROADCAST_ALL
        me = self.myself
        old = me.slaveof
        if me.is_master() or old is None:
            return
        self.set_node_as_master(me)
        self.srv.repl.unset_master()
        for j in range(proto.SLOTS):
            if old.has_slot(j):
                self.del_slot(j)
                self.add_slot(me, j)
        self.update_state()
        self.save_config_or_die(True)
        self.broadcast_pong(BROADCAST_ALL)
        self.reset_manual_failover()

    def data_age(self):
        repl = self.srv.repl
        if repl.state == repl.CONNECTED and repl.master is not None:
            return int((time.monotonic() - repl.master.last_interaction) * 1000)
        since = repl.down_since or time.time()
        return int((time.time() - since) * 1000)

    def handle_slave_failover(self):
        """clusterHandleSlaveFailover."""
        from .bus import BROADCAST_LOCAL_SLAVES
        from .state import (TODO_HANDLE_FAILOVER, TODO_SAVE_CONFIG, TODO_UPDATE_STATE,
                            TODO_FSYNC_CONFIG)
        me = self.myself
        v = self.config
        nt = self.node_timeout
        now = mstime()
        auth_age = now - self.failover_auth_time
        needed_quorum = self.size // 2 + 1
        manual = self.mf_end != 0 and self.mf_can_start
        self.todo &= ~TODO_HANDLE_FAILOVER
        auth_timeout = max(nt * 2, 2000)
        auth_retry_time = auth_timeout * 2
        if (me.is_master() or me.slaveof is None
                or (not me.slaveof.failed() and not manual)
                or (v["cluster-replica-no-failover"] and not manual)
                or me.slaveof.numslots == 0):
            self.cant_failover_reason = CANT_NONE
            return
        data_age = self.data_age()
        if data_age > nt:
            data_age -= nt
        factor = v["cluster-replica-validity-factor"]
        if factor and data_age > v["repl-ping-replica-period"] * 1000 + nt * factor:
            if not manual:
                self.log_cant_failover(CANT_DATA_AGE)
                return
        if auth_age > auth_retry_time:
            self.failover_auth_time = now + 500 + random.randrange(500)
            self.failover_auth_count = 0
            self.failover_auth_sent = False
            self.failover_auth_rank = self.slave_rank()
            self.failover_auth_time += self.failover_auth_rank * 1000
            if self.mf_end:
                self.failover_auth_time = mstime()
                self.failover_auth_rank = 0
                self.do_before_sleep(TODO_HANDLE_FAILOVER)
            self.log("warning", "Start of election delayed for %d milliseconds (rank #%d, "
                     "offset %d)." % (self.failover_auth_time - mstime(),
                                      self.failover_auth_rank, self.replica_offset()))
            self.broadcast_pong(BROADCAST_LOCAL_SLAVES)
            return
        if not self.failover_auth_sent and self.mf_end == 0:
            newrank = self.slave_rank()
            if newrank > self.failover_auth_rank:
                added = (newrank - self.failover_auth_rank) * 1000
                self.failover_auth_time += added
                self.failover_auth_rank = newrank
                self.log("warning", "Replica rank updated to #%d, added %d milliseconds of "
                         "delay." % (newrank, added))
        if mstime() < self.failover_auth_time:
            self.log_cant_failover(CANT_WAITING_DELAY)
            return
        if auth_age > auth_timeout:
            self.log_cant_failover(CANT_EXPIRED)
            return
        if not self.failover_auth_sent:
            self.current_epoch += 1
            self.failover_auth_epoch = self.current_epoch
            self.log("warning", "Starting a failover election for epoch %d."
                     % self.current_epoch)
            self.request_failover_auth()
            self.failover_auth_sent = True
            self.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE | TODO_FSYNC_CONFIG)
            return
        if self.failover_auth_count >= needed_quorum:
            self.log("warning", "Failover election won: I'm the new master.")
            if me.config_epoch < self.failover_auth_epoch:
                me.config_epoch = self.failover_auth_epoch
                self.log("warning", "configEpoch set to %d after successful failover"
                         % me.config_epoch)
            self.failover_replace_your_master()
        else:
            self.log_cant_failover(CANT_WAITING_VOTES)

    def request_failover_auth(self):
        h = self.header(proto.FAILOVER_AUTH_REQUEST)
        if self.mf_end:
            h.mflags |= proto.MFLAG0_FORCEACK
        self.broadcast(proto.build_simple(h))

    # -- the master's side: voting ----------------------------------------------------------
    def send_failover_auth_if_needed(self, node, h):
        """clusterSendFailoverAuthIfNeeded."""
        from .state import TODO_SAVE_CONFIG, TODO_FSYNC_CONFIG
        me = self.myself
        master = node.slaveof
        force_ack = h.mflags & proto.MFLAG0_FORCEACK
        if me.is_slave() or me.numslots == 0:
            return
        if h.current_epoch < self.current_epoch:
            self.log("warning", "Failover auth denied to %s: reqEpoch (%d) < curEpoch(%d)"
                     % (node.name, h.current_epoch, self.current_epoch))
            return
        if self.last_vote_epoch == self.current_epoch:
            self.log("warning", "Failover auth denied to %s: already voted for epoch %d"
                     % (node.name, self.current_epoch))
            return
        if node.is_master() or master is None or (not master.failed() and not force_ack):
            if node.is_master():
                why = "it is a master node"
            elif master is None:
                why = "I don't know its master"
            else:
                why = "its master is up"
            self.log("warning", "Failover auth denied to %s: %s" % (node.name, why))
            return
        nt = self.node_timeout
        since = mstime() - master.voted_time
        if since < nt * 2:
            self.log("warning", "Failover auth denied to %s: can't vote about this master "
                     "before %d milliseconds" % (node.name, nt * 2 - since))
            return
        claimed = h.myslots
        for j in range(proto.SLOTS):
            if not claimed[j >> 3] & (1 << (j & 7)):
                continue
            if self.slot_unclaimed(j) or self.slots[j].config_epoch <= h.config_epoch:
                continue
            self.log("warning", "Failover auth denied to %s: slot %d epoch (%d) > reqEpoch "
                     "(%d)" % (node.name, j, self.slots[j].config_epoch, h.config_epoch))
            return
        self.last_vote_epoch = self.current_epoch
        master.voted_time = mstime()
        self.do_before_sleep(TODO_SAVE_CONFIG | TODO_FSYNC_CONFIG)
        self.send_simple(node.link, proto.FAILOVER_AUTH_ACK)
        self.log("warning", "Failover auth granted to %s for epoch %d"
                 % (node.name, self.current_epoch))

    # -- replica migration ------------------------------------------------------------------
    def handle_slave_migration(self, max_slaves):
        """clusterHandleSlaveMigration: the replica with the smallest ID among the masters
        with the most working replicas moves to an orphaned master."""
        from .state import CLUSTER_OK
        from .node import PFAIL, MIGRATE_TO
        if self.state != CLUSTER_OK:
            return
        me = self.myself
        mymaster = me.slaveof
        if mymaster is None:
            return
        okslaves = sum(1 for s in mymaster.slaves if not s.failed() and not s.timed_out())
        if okslaves <= self.config["cluster-migration-barrier"]:
            return
        candidate = me
        target = None
        for node in list(self.nodes.values()):
            ok = 0
            orphaned = not (node.is_slave() or node.failed()) and bool(node.flags & MIGRATE_TO)
            if node.is_master():
                ok = node.count_non_failing_slaves()
            if ok > 0:
                orphaned = False
            if orphaned:
                if target is None and node.numslots > 0:
                    target = node
                if not node.orphaned_time:
                    node.orphaned_time = mstime()
            else:
                node.orphaned_time = 0
            if ok == max_slaves:
                for s in node.slaves:
                    if s.name < candidate.name:
                        candidate = s
        if (target is not None and candidate is me
                and mstime() - target.orphaned_time > SLAVE_MIGRATION_DELAY):
            self.log("warning", "Migrating to orphaned master %s" % target.name)
            self.set_master(target)
