"""A cluster node as this node knows it (clusterNode): identity, address, role, the
slots it serves, failure reports, and the bus links to it."""
import os
import time

from . import proto

MASTER = proto.NODE_MASTER
SLAVE = proto.NODE_SLAVE
PFAIL = proto.NODE_PFAIL
FAIL = proto.NODE_FAIL
MYSELF = proto.NODE_MYSELF
HANDSHAKE = proto.NODE_HANDSHAKE
NOADDR = proto.NODE_NOADDR
MEET = proto.NODE_MEET
MIGRATE_TO = proto.NODE_MIGRATE_TO
NOFAILOVER = proto.NODE_NOFAILOVER

# representClusterNodeFlags: CLUSTER NODES / nodes.conf flag names, in this order
FLAG_NAMES = ((MYSELF, "myself"), (MASTER, "master"), (SLAVE, "slave"), (PFAIL, "fail?"),
              (FAIL, "fail"), (HANDSHAKE, "handshake"), (NOADDR, "noaddr"),
              (NOFAILOVER, "nofailover"))


def mstime():
    return int(time.time() * 1000)


def random_name():
    return os.urandom(20).hex()


def valid_name(name):
    """verifyClusterNodeId: 40 characters of [a-z0-9]."""
    if len(name) != 40:
        return False
    for ch in name:
        if not ("a" <= ch <= "z" or "0" <= ch <= "9"):
            return False
    return True


def flags_repr(flags):
    names = [n for f, n in FLAG_NAMES if flags & f]
    return ",".join(names) if names else "noflags"


class ClusterNode:
    __slots__ = ("name", "flags", "ctime", "config_epoch", "slots", "numslots", "slaves",
                 "slaveof", "last_in_ping_gossip", "ping_sent", "pong_received",
                 "data_received", "fail_time", "voted_time", "repl_offset_time",
                 "orphaned_time", "repl_offset", "ip", "hostname", "port", "pport", "cport",
                 "link", "inbound_link", "fail_reports")

    def __init__(self, name=None, flags=0):
        self.name = name or random_name()
        self.flags = flags
        self.ctime = mstime()
        self.config_epoch = 0
        self.slots = bytearray(proto.SLOTS // 8)   # the slots bitmap, as sent on the bus
        self.numslots = 0
        self.slaves = []
        self.slaveof = None
        self.last_in_ping_gossip = 0
        self.ping_sent = 0
        self.pong_received = 0
        self.data_received = 0
        self.fail_time = 0
        self.voted_time = 0
        self.repl_offset_time = 0
        self.orphaned_time = 0
        self.repl_offset = 0
        self.ip = ""
        self.hostname = ""
        self.port = 0
        self.pport = 0
        self.cport = 0
        self.link = None           # outbound bus link
        self.inbound_link = None   # link accepted from this node
        self.fail_reports = {}     # reporting node -> time of its last report (ms)

    def __repr__(self):
        return "<ClusterNode %s %s:%d %s>" % (self.name, self.ip, self.port,
                                             flags_repr(self.flags))

    # -- flags ---------------------------------------------------------------------------
    def is_master(self):
        return self.flags & MASTER != 0

    def is_slave(self):
        return self.flags & SLAVE != 0

    def failed(self):
        return self.flags & FAIL != 0

    def timed_out(self):
        return self.flags & PFAIL != 0

    def in_handshake(self):
        return self.flags & HANDSHAKE != 0

    def has_addr(self):
        return not self.flags & NOADDR

    def cant_failover(self):
        return self.flags & NOFAILOVER != 0

    # -- slots bitmap ----------------------------------------------------------------------
    def has_slot(self, slot):
        return self.slots[slot >> 3] & (1 << (slot & 7)) != 0

    def set_slot_bit(self, slot):
        old = self.has_slot(slot)
        self.slots[slot >> 3] |= 1 << (slot & 7)
        return old

    def clear_slot_bit(self, slot):
        old = self.has_slot(slot)
        self.slots[slot >> 3] &= ~(1 << (slot & 7)) & 255
        if old:
            self.numslots -= 1
        return old

    def slot_ranges(self):
        """The node's slots as (start, end) ranges, ascending."""
        out = []
        start = -1
        bits = self.slots
        for j in range(proto.SLOTS + 1):
            on = j < proto.SLOTS and bits[j >> 3] & (1 << (j & 7))
            if on and start < 0:
                start = j
            elif not on and start >= 0:
                out.append((start, j - 1))
                start = -1
        return out

    # -- replicas --------------------------------------------------------------------------
    def add_slave(self, slave):
        """clusterNodeAddSlave."""
        if slave in self.slaves:
            return False
        self.slaves.append(slave)
        self.flags |= MIGRATE_TO
        return True

    def remove_slave(self, slave):
        """clusterNodeRemoveSlave."""
        if slave not in self.slaves:
            return False
        self.slaves.remove(slave)
        if not self.slaves:
            self.flags &= ~MIGRATE_TO
        return True

    def count_non_failing_slaves(self):
        return sum(1 for s in self.slaves if not s.failed())

    # -- failure reports -------------------------------------------------------------------
    def add_failure_report(self, sender):
        """clusterNodeAddFailureReport: True if the report is new."""
        new = sender not in self.fail_reports
        self.fail_reports[sender] = mstime()
        return new

    def cleanup_failure_reports(self, node_timeout):
        maxtime = node_timeout * 2     # CLUSTER_FAIL_REPORT_VALIDITY_MULT
        now = mstime()
        for sender, t in list(self.fail_reports.items()):
            if now - t > maxtime:
                del self.fail_reports[sender]

    def del_failure_report(self, sender, node_timeout):
        if self.fail_reports.pop(sender, None) is None:
            return False
        self.cleanup_failure_reports(node_timeout)
        return True

    def failure_reports_count(self, node_timeout):
        self.cleanup_failure_reports(node_timeout)
        return len(self.fail_reports)
