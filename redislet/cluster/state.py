"""The cluster state of this node (clusterState): the nodes it knows, who serves each
slot, open slots (migrating/importing), epochs, and the derived cluster state (ok/fail).

ClusterState is assembled from three parts: the node table and slot map (here), the bus
(bus.py: links, messages, the cron) and elections (failover.py); nodes.conf is in
nodesconf.py. srv.cluster is the one instance; it exists only with cluster-enabled yes.
"""
import ipaddress
import time

from . import proto
from .bus import Bus
from .failover import Failover
from .node import (ClusterNode, MASTER, SLAVE, PFAIL, FAIL, MYSELF, HANDSHAKE, NOADDR,
                   MEET, MIGRATE_TO, NOFAILOVER, mstime, random_name, valid_name)
from .nodesconf import NodesConf

SLOTS = proto.SLOTS
CLUSTER_OK = 0
CLUSTER_FAIL = 1
PORT_INCR = 10000

# clusterDoBeforeSleep flags (CLUSTER_TODO_*)
TODO_HANDLE_FAILOVER = 1 << 0
TODO_UPDATE_STATE = 1 << 1
TODO_SAVE_CONFIG = 1 << 2
TODO_FSYNC_CONFIG = 1 << 3
TODO_HANDLE_MANUALFAILOVER = 1 << 4

BLACKLIST_TTL = 60          # s: a forgotten node is not re-added from gossip meanwhile
MAX_REJOIN_DELAY = 5000
MIN_REJOIN_DELAY = 500
WRITABLE_DELAY = 2000


class ClusterState(NodesConf, Bus, Failover):
    def __init__(self, srv):
        self.srv = srv
        self.config = srv.config.values
        self.myself = None
        self.current_epoch = 0
        self.last_vote_epoch = 0
        self.state = CLUSTER_FAIL
        self.size = 1
        self.nodes = {}                        # name -> ClusterNode
        self.blacklist = {}                    # name -> unix time it may be re-added
        self.slots = [None] * SLOTS            # slot -> owner
        self.slot_runs = None                  # slot_map_runs() until a slot changes owner
        self.migrating_slots_to = [None] * SLOTS
        self.importing_slots_from = [None] * SLOTS
        self.owner_not_claiming_slot = bytearray(SLOTS // 8)
        self.todo = 0
        self.todo_handle = None
        self.first_call_time = 0               # clusterUpdateState's statics
        self.among_minority_time = 0
        self.stats_sent = [0] * proto.TYPE_COUNT
        self.stats_received = [0] * proto.TYPE_COUNT
        self.stats_pfail_nodes = 0
        self.stat_links_buffer_limit_exceeded = 0
        self.drop_packet_filter = -1           # DEBUG DROP-CLUSTER-PACKET-FILTER
        Bus.__init__(self)
        Failover.__init__(self)

    def log(self, level, msg):
        self.srv.log(level, msg)

    @property
    def node_timeout(self):
        return self.config["cluster-node-timeout"]

    # -- start-up (clusterInit) -------------------------------------------------------------
    def init(self):
        """Load nodes.conf or create myself; called before the dataset is loaded."""
        self.lock_config()
        if not self.load_config():
            self.myself = ClusterNode(None, MYSELF | MASTER)
            self.log("notice", "No cluster configuration found, I'm %s" % self.myself.name)
            self.add_node(self.myself)
            self.save_config_or_die(True)
        self.update_myself_announced_ports()
        self.update_myself_flags()
        self.update_myself_ip()
        self.myself.hostname = self.config["cluster-announce-hostname"] or ""
        on_change = self.srv.config.on_change
        on_change("cluster-announce-ip", lambda _v: self.update_myself_ip())
        for name in ("cluster-announce-port", "cluster-announce-bus-port",
                     "cluster-announce-tls-port"):
            on_change(name, lambda _v: self.update_myself_announced_ports())
        on_change("cluster-replica-no-failover", lambda _v: self.update_myself_flags())
        on_change("cluster-announce-hostname",
                  lambda v: setattr(self.myself, "hostname", v or ""))

    def bus_port(self):
        v = self.config
        port = v["tls-port"] if v["tls-cluster"] else v["port"]
        return v["cluster-port"] or port + PORT_INCR

    def announced_ports(self):
        """deriveAnnouncedPorts: (port, pport, cport) this node announces."""
        v = self.config
        tls = v["tls-cluster"]
        port = (v["tls-port"] if tls else self.srv.port) or 0
        pport = self.srv.port if tls else 0
        cport = v["cluster-port"] or port + PORT_INCR
        if tls and v["cluster-announce-tls-port"]:
            port = v["cluster-announce-tls-port"]
            pport = v["cluster-announce-port"]
        elif v["cluster-announce-port"]:
            port = v["cluster-announce-port"]
        if v["cluster-announce-bus-port"]:
            cport = v["cluster-announce-bus-port"]
        return port, pport, cport

    def update_myself_announced_ports(self):
        m = self.myself
        m.port, m.pport, m.cport = self.announced_ports()

    def update_myself_flags(self):
        m = self.myself
        old = m.flags
        m.flags &= ~NOFAILOVER
        if self.config["cluster-replica-no-failover"]:
            m.flags |= NOFAILOVER
        if m.flags != old:
            self.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE)

    def update_myself_ip(self):
        ip = self.config["cluster-announce-ip"] or None
        prev = getattr(self, "_prev_announce_ip", None)
        if ip != prev:
            self._prev_announce_ip = ip
            self.myself.ip = ip[:45] if ip else ""   # "" forces auto-detection

    # -- before sleep -----------------------------------------------------------------------
    def do_before_sleep(self, flags):
        """clusterDoBeforeSleep: the work runs once, before the loop next waits."""
        self.todo |= flags
        if self.todo_handle is None and self.srv.loop is not None:
            self.todo_handle = self.srv.loop.call_soon(self.before_sleep)

    def before_sleep(self):
        self.todo_handle = None
        flags, self.todo = self.todo, 0
        if flags & TODO_HANDLE_MANUALFAILOVER:
            if self.myself.is_slave():
                self.handle_manual_failover()
                self.handle_slave_failover()
        elif flags & TODO_HANDLE_FAILOVER:
            self.handle_slave_failover()
        if flags & TODO_UPDATE_STATE:
            self.update_state()
        if flags & TODO_SAVE_CONFIG:
            self.save_config_or_die(bool(flags & TODO_FSYNC_CONFIG))

    # -- the node table ---------------------------------------------------------------------
    def add_node(self, node):
        self.nodes[node.name] = node

    def lookup(self, name):
        """clusterLookupNode (name: str or bytes)."""
        if isinstance(name, (bytes, bytearray)):
            name = bytes(name).decode("latin-1")
        if not valid_name(name):
            return None
        return self.nodes.get(name)

    def del_node(self, delnode):
        """clusterDelNode: unassign its slots, drop the failure reports it sent, free it."""
        for j in range(SLOTS):
            if self.importing_slots_from[j] is delnode:
                self.importing_slots_from[j] = None
            if self.migrating_slots_to[j] is delnode:
                self.migrating_slots_to[j] = None
            if self.slots[j] is delnode:
                self.del_slot(j)
        for node in list(self.nodes.values()):
            if node is not delnode:
                node.del_failure_report(delnode, self.node_timeout)
        self.free_node(delnode)

    def free_node(self, n):
        """freeClusterNode."""
        for s in n.slaves:
            s.slaveof = None
        if n.is_slave() and n.slaveof is not None:
            n.slaveof.remove_slave(n)
        self.nodes.pop(n.name, None)
        if n.link is not None:
            self.free_link(n.link)
        if n.inbound_link is not None:
            self.free_link(n.inbound_link)

    def rename_node(self, node, newname):
        self.log("debug", "Renaming node %s into %s" % (node.name, newname))
        del self.nodes[node.name]
        node.name = newname
        self.add_node(node)

    def nodes_serving_my_slots(self, node):
        """clusterGetNodesServingMySlots: the node's master, then that master's replicas."""
        primary = node if node.is_master() else node.slaveof
        if primary is None:
            return [node]
        return [primary] + list(primary.slaves)

    # -- blacklist (CLUSTER FORGET) ---------------------------------------------------------
    def blacklist_cleanup(self):
        now = time.time()
        for name, until in list(self.blacklist.items()):
            if until < now:
                del self.blacklist[name]

    def blacklist_add(self, node):
        self.blacklist_cleanup()
        self.blacklist[node.name] = time.time() + BLACKLIST_TTL

    def blacklisted(self, name):
        self.blacklist_cleanup()
        return name in self.blacklist

    # -- epochs -----------------------------------------------------------------------------
    def max_epoch(self):
        m = max((n.config_epoch for n in self.nodes.values()), default=0)
        return max(m, self.current_epoch)

    def bump_epoch_without_consensus(self):
        """clusterBumpConfigEpochWithoutConsensus: True if a new epoch was taken."""
        max_epoch = self.max_epoch()
        me = self.myself
        if me.config_epoch == 0 or me.config_epoch != max_epoch:
            self.current_epoch += 1
            me.config_epoch = self.current_epoch
            self.do_before_sleep(TODO_SAVE_CONFIG | TODO_FSYNC_CONFIG)
            self.log("warning", "New configEpoch set to %d" % me.config_epoch)
            return True
        return False

    def handle_epoch_collision(self, sender):
        """clusterHandleConfigEpochCollision: the smaller node ID moves to a new epoch."""
        me = self.myself
        if (sender.config_epoch != me.config_epoch or not sender.is_master()
                or not me.is_master()):
            return
        if sender.name <= me.name:
            return
        self.current_epoch += 1
        me.config_epoch = self.current_epoch
        self.save_config_or_die(True)
        self.log("verbose", "WARNING: configEpoch collision with node %s. configEpoch set "
                 "to %d" % (sender.name, me.config_epoch))

    # -- failure detection ------------------------------------------------------------------
    def mark_node_as_failing_if_needed(self, node):
        needed = self.size // 2 + 1
        if not node.timed_out() or node.failed():
            return
        failures = node.failure_reports_count(self.node_timeout)
        if self.myself.is_master():
            failures += 1
        if failures < needed:
            return
        self.log("notice", "Marking node %s as failing (quorum reached)." % node.name)
        node.flags &= ~PFAIL
        node.flags |= FAIL
        node.fail_time = mstime()
        self.send_fail(node.name)
        self.do_before_sleep(TODO_UPDATE_STATE | TODO_SAVE_CONFIG)

    def clear_node_failure_if_needed(self, node):
        now = mstime()
        if node.is_slave() or node.numslots == 0:
            self.log("notice", "Clear FAIL state for node %s: %s is reachable again." % (
                node.name, "replica" if node.is_slave() else "master without slots"))
            node.flags &= ~FAIL
            self.do_before_sleep(TODO_UPDATE_STATE | TODO_SAVE_CONFIG)
        if (node.is_master() and node.numslots > 0
                and now - node.fail_time > self.node_timeout * 2):
            self.log("notice", "Clear FAIL state for node %s: is reachable again and nobody "
                     "is serving its slots after some time." % node.name)
            node.flags &= ~FAIL
            self.do_before_sleep(TODO_UPDATE_STATE | TODO_SAVE_CONFIG)

    # -- handshakes (CLUSTER MEET) ----------------------------------------------------------
    def handshake_in_progress(self, ip, port, cport):
        for n in self.nodes.values():
            if (n.in_handshake() and n.ip.lower() == ip.lower() and n.port == port
                    and n.cport == cport):
                return True
        return False

    def start_handshake(self, ip, port, cport):
        """clusterStartHandshake: 'ok', 'again' (one in progress) or 'invalid'."""
        try:
            norm = str(ipaddress.ip_address(ip))
        except ValueError:
            return "invalid"
        if not (0 < port <= 65535 and 0 < cport <= 65535):
            return "invalid"
        if self.handshake_in_progress(norm, port, cport):
            return "again"
        n = ClusterNode(None, HANDSHAKE | MEET)
        n.ip = norm
        n.port = port
        n.cport = cport
        self.add_node(n)
        return "ok"

    # -- slots ------------------------------------------------------------------------------
    def masters_have_slaves(self):
        return any(n.slaves for n in self.nodes.values() if not n.is_slave())

    def node_set_slot_bit(self, n, slot):
        old = n.set_slot_bit(slot)
        if not old:
            n.numslots += 1
            # a master's first slot makes it a replica migration target if any master
            # has replicas (redis#3043)
            if n.numslots == 1 and self.masters_have_slaves():
                n.flags |= MIGRATE_TO
        return old

    def add_slot(self, n, slot):
        if self.slots[slot] is not None:
            return False
        self.node_set_slot_bit(n, slot)
        self.slots[slot] = n
        self.slot_runs = None
        return True

    def del_slot(self, slot):
        n = self.slots[slot]
        if n is None:
            return False
        if self.myself in self.nodes_serving_my_slots(n):
            from .keyindex import remove_channels_in_slot
            remove_channels_in_slot(self.srv, slot)
        n.clear_slot_bit(slot)
        self.slots[slot] = None
        self.slot_runs = None
        return True

    def del_node_slots(self, node):
        deleted = 0
        for j in range(SLOTS):
            if node.has_slot(j):
                self.del_slot(j)
                deleted += 1
        return deleted

    def close_all_slots(self):
        self.migrating_slots_to = [None] * SLOTS
        self.importing_slots_from = [None] * SLOTS

    def slot_unclaimed(self, slot):
        """isSlotUnclaimed: unassigned, or its owner stopped claiming it."""
        return (self.slots[slot] is None
                or self.owner_not_claiming_slot[slot >> 3] & (1 << (slot & 7)) != 0)

    def count_keys_in_slot(self, slot):
        from .keyindex import count_keys_in_slot
        return count_keys_in_slot(self.srv.dbs[0], slot)

    # -- the cluster state ------------------------------------------------------------------
    def update_state(self):
        """clusterUpdateState: ok when every slot is served (with full coverage) and a
        majority of the masters serving slots is reachable."""
        self.todo &= ~TODO_UPDATE_STATE
        now = mstime()
        if self.first_call_time == 0:
            self.first_call_time = now
        me = self.myself
        # a rebooted master waits a little before accepting writes again
        if (me.is_master() and self.state == CLUSTER_FAIL
                and now - self.first_call_time < WRITABLE_DELAY):
            return
        new_state = CLUSTER_OK
        if self.config["cluster-require-full-coverage"]:
            runs = self.slot_map_runs()
            if (sum(end - start + 1 for _n, start, end in runs) < SLOTS
                    or any(n.flags & FAIL for n, _s, _e in runs)):
                new_state = CLUSTER_FAIL
        size = 0
        reachable = 0
        for n in self.nodes.values():
            if n.is_master() and n.numslots:
                size += 1
                if not n.flags & (FAIL | PFAIL):
                    reachable += 1
        self.size = size
        if reachable < size // 2 + 1:
            new_state = CLUSTER_FAIL
            self.among_minority_time = now
        if new_state != self.state:
            rejoin_delay = min(max(self.node_timeout, MIN_REJOIN_DELAY), MAX_REJOIN_DELAY)
            if (new_state == CLUSTER_OK and me.is_master()
                    and now - self.among_minority_time < rejoin_delay):
                return
            self.log("warning", "Cluster state changed: %s"
                     % ("ok" if new_state == CLUSTER_OK else "fail"))
            self.state = new_state
            from .keyindex import redirect_blocked_clients
            redirect_blocked_clients(self.srv)

    def verify_config_with_data(self):
        """verifyClusterConfigWithData: keys of slots we do not serve are taken (unassigned)
        or marked importing. False if a db other than 0 holds keys."""
        if self.myself.is_slave():
            return True
        for db in self.srv.dbs[1:]:
            if db.data:
                return False
        update = 0
        for j in range(SLOTS):
            if not self.count_keys_in_slot(j):
                continue
            if self.slots[j] is self.myself or self.importing_slots_from[j] is not None:
                continue
            update += 1
            if self.slots[j] is None:
                self.log("warning", "I have keys for unassigned slot %d. Taking "
                         "responsibility for it." % j)
                self.add_slot(self.myself, j)
            else:
                self.log("warning", "I have keys for slot %d, but the slot is assigned to "
                         "another node. Setting it to importing state." % j)
                self.importing_slots_from[j] = self.slots[j]
        if update:
            self.save_config_or_die(True)
        return True

    # -- roles ------------------------------------------------------------------------------
    def set_node_as_master(self, n):
        """clusterSetNodeAsMaster."""
        if n.is_master():
            return
        if n.slaveof is not None:
            n.slaveof.remove_slave(n)
            if n is not self.myself:
                n.flags |= MIGRATE_TO
        n.flags &= ~SLAVE
        n.flags |= MASTER
        n.slaveof = None
        self.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE)

    def set_master(self, n):
        """clusterSetMaster: this node becomes a replica of n."""
        me = self.myself
        assert n is not me and me.numslots == 0
        if me.is_master():
            me.flags &= ~(MASTER | MIGRATE_TO)
            me.flags |= SLAVE
            self.close_all_slots()
        elif me.slaveof is not None:
            me.slaveof.remove_slave(me)
        me.slaveof = n
        n.add_slave(me)
        self.srv.repl.set_master(n.ip, n.port)
        self.reset_manual_failover()
        # A new master means a new election the next time. Redis 7.0 keeps the last
        # election's state here, so a replica that won an election moments ago and
        # was demoted could "win" again at once with its stale votes and old epoch,
        # leaving the cluster down (fixed the same way in valkey-io/valkey#1711).
        self.failover_auth_time = 0
        self.failover_auth_count = 0
        self.failover_auth_sent = False

    def replica_offset(self):
        """replicationGetSlaveOffset."""
        repl = self.srv.repl
        off = 0
        if repl.masterhost is not None:
            m = repl.master if repl.master is not None else repl.cached_master
            if m is not None:
                off = m.reploff
        return max(off, 0)

    def my_offset(self):
        return self.replica_offset() if self.myself.is_slave() else self.srv.master_repl_offset

    def reset(self, hard):
        """clusterReset (CLUSTER RESET SOFT|HARD)."""
        me = self.myself
        if me.is_slave():
            self.set_node_as_master(me)
            self.srv.repl.unset_master()
            empty_data(self.srv)
        self.close_all_slots()
        self.reset_manual_failover()
        for j in range(SLOTS):
            self.del_slot(j)
        for node in list(self.nodes.values()):
            if node is not me:
                self.del_node(node)
        if hard:
            self.current_epoch = 0
            self.last_vote_epoch = 0
            me.config_epoch = 0
            self.log("warning", "configEpoch set to 0 via CLUSTER RESET HARD")
            del self.nodes[me.name]
            me.name = random_name()
            self.add_node(me)
            self.log("notice", "Node hard reset, now I'm %s" % me.name)
        self.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE | TODO_FSYNC_CONFIG)


def empty_data(srv):
    """emptyData(-1): every database flushed (a replica turning master by reset)."""
    for db in srv.dbs:
        db.clear()
    srv.dirty += 1
