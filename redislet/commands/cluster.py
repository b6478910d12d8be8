"""CLUSTER and the client-mode commands READONLY, READWRITE, ASKING (clusterCommand).

With cluster-enabled no (srv.cluster is None) every one of them answers as a standalone
Redis 7.0 does: cluster support disabled. With cluster-enabled yes, the cluster state
lives in redislet/cluster/ and these handlers read and change it.
"""
import errno
import time

from .. import cli, hooks
from ..errors import CommandError, SYNTAX
from ..resp.encode import OK, bulk, integer, array
from ..util import parse_ll, ll_arg
from .help import help_reply
from .table import command, SPEC

DISABLED = "ERR This instance has cluster support disabled"


def _cluster(c):
    cl = c.server.cluster
    if cl is None:
        raise CommandError(DISABLED)
    return cl


def _sub_syntax(argv):
    return CommandError("ERR unknown subcommand or wrong number of arguments for '%.128s'. "
                        "Try %s HELP." % (argv[1].decode("utf-8", "surrogateescape"),
                                          argv[0].decode("utf-8", "replace").upper()))


def _s(b):
    return b.decode("utf-8", "surrogateescape")


def _slot_arg(b):
    """getSlotOrReply."""
    v = parse_ll(b)
    if v is None or not 0 <= v < 16384:
        raise CommandError("ERR Invalid or out of range slot")
    return v


def _node_arg(cl, b):
    n = cl.lookup(b)
    if n is None:
        raise CommandError("ERR Unknown node %s" % _s(b))
    return n


def _use_pport(c):
    return c.server.config.values["tls-cluster"] and not getattr(c, "tls", False)


def _todo(cl, flags):
    cl.do_before_sleep(flags)


# -- client-mode commands ----------------------------------------------------------------
@command("asking")
def asking(c, argv):
    _cluster(c)
    c.asking = True
    return OK


@command("readonly")
def readonly(c, argv):
    _cluster(c)
    c.readonly_mode = True
    return OK


@command("readwrite")
def readwrite(c, argv):
    _cluster(c)
    c.readonly_mode = False
    return OK


# -- CLUSTER ------------------------------------------------------------------------------
_HELP = [
    "ADDSLOTS <slot> [<slot> ...]",
    "    Assign slots to current node.",
    "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
    "    Assign slots which are between <start-slot> and <end-slot> to current node.",
    "BUMPEPOCH",
    "    Advance the cluster config epoch.",
    "COUNT-FAILURE-REPORTS <node-id>",
    "    Return number of failure reports for <node-id>.",
    "COUNTKEYSINSLOT <slot>",
    "    Return the number of keys in <slot>.",
    "DELSLOTS <slot> [<slot> ...]",
    "    Delete slots information from current node.",
    "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
    "    Delete slots information which are between <start-slot> and <end-slot> from "
    "current node.",
    "FAILOVER [FORCE|TAKEOVER]",
    "    Promote current replica node to being a master.",
    "FORGET <node-id>",
    "    Remove a node from the cluster.",
    "GETKEYSINSLOT <slot> <count>",
    "    Return key names stored by current node in a slot.",
    "FLUSHSLOTS",
    "    Delete current node own slots information.",
    "INFO",
    "    Return information about the cluster.",
    "KEYSLOT <key>",
    "    Return the hash slot for <key>.",
    "MEET <ip> <port> [<bus-port>]",
    "    Connect nodes into a working cluster.",
    "MYID",
    "    Return the node id.",
    "NODES",
    "    Return cluster configuration seen by node. Output format:",
    "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
    "REPLICATE <node-id>",
    "    Configure current node as replica to <node-id>.",
    "RESET [HARD|SOFT]",
    "    Reset current node (default: soft).",
    "SET-CONFIG-EPOCH <epoch>",
    "    Set config epoch of current node.",
    "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
    "    Set slot state.",
    "REPLICAS <node-id>",
    "    Return <node-id> replicas.",
    "SAVECONFIG",
    "    Force saving cluster configuration on disk.",
    "SLOTS",
    "    Return information about slots range mappings. Each range is made of:",
    "    start, end, master and replicas IP addresses, ports and ids",
    "SHARDS",
    "    Return information about slot range mappings and the nodes associated with them.",
    "LINKS",
    "    Return information about all network links between this node and its peers.",
    "    Output format is an array where each array element is a map containing attributes "
    "of a link",
]


@command("cluster|help")
def cluster_help(c, argv):
    _cluster(c)
    return help_reply(argv, _HELP)


@command("cluster|meet")
def cluster_meet(c, argv):
    cl = _cluster(c)
    if len(argv) not in (4, 5):
        raise _sub_syntax(argv)
    port = parse_ll(argv[3])
    if port is None:
        raise CommandError("ERR Invalid TCP base port specified: %s" % _s(argv[3]))
    if len(argv) == 5:
        cport = parse_ll(argv[4])
        if cport is None:
            raise CommandError("ERR Invalid TCP bus port specified: %s" % _s(argv[4]))
    else:
        cport = port + 10000
    if cl.start_handshake(_s(argv[2]), port, cport) == "invalid":
        raise CommandError("ERR Invalid node address specified: %s:%s"
                           % (_s(argv[2]), _s(argv[3])))
    return OK


@command("cluster|nodes")
def cluster_nodes(c, argv):
    cl = _cluster(c)
    return c.r.verbatim(cl.nodes_description(0, _use_pport(c)).encode("utf-8",
                                                                     "surrogateescape"))


@command("cluster|myid")
def cluster_myid(c, argv):
    return bulk(_cluster(c).myself.name.encode())


def _endpoint(cl, node):
    """getPreferredEndpoint."""
    kind = cl.config["cluster-preferred-endpoint-type"]
    if kind == "ip":
        return node.ip
    if kind == "hostname":
        return node.hostname or "?"
    return ""


def _node_reply(c, cl, node):
    """addNodeToNodeReply: endpoint, port, id, then a map of the other endpoints."""
    kind = cl.config["cluster-preferred-endpoint-type"]
    if kind == "ip":
        first = bulk(node.ip.encode())
    elif kind == "hostname":
        first = bulk((node.hostname or "?").encode())
    else:
        first = c.r.null
    port = node.pport if _use_pport(c) and node.pport else node.port
    extra = []
    if kind != "ip":
        extra.append((bulk(b"ip"), bulk(node.ip.encode())))
    if kind != "hostname" and node.hostname:
        extra.append((bulk(b"hostname"), bulk(node.hostname.encode())))
    return (b"*4\r\n" + first + integer(port) + bulk(node.name.encode())
            + c.r.map(extra))


def _replica_available(cl, node):
    """isReplicaAvailable: listed in CLUSTER SLOTS once it has some data."""
    if node.failed():
        return False
    off = cl.replica_offset() if node is cl.myself else node.repl_offset
    return off != 0


@command("cluster|slots")
def cluster_slots(c, argv):
    cl = _cluster(c)
    out = []
    for n, start, end in cl.slot_map_runs():
        reps = [s for s in n.slaves if _replica_available(cl, s)]
        out.append(b"*%d\r\n" % (3 + len(reps)) + integer(start) + integer(end)
                   + _node_reply(c, cl, n) + b"".join(_node_reply(c, cl, s) for s in reps))
    return b"*%d\r\n" % len(out) + b"".join(out)


def _shard_node(c, cl, node):
    """addNodeDetailsToShardReply."""
    tls = cl.config["tls-cluster"]
    pairs = [(b"id", bulk(node.name.encode()))]
    plain = node.pport if tls else node.port
    tls_port = node.port if tls else 0
    if plain:
        pairs.append((b"port", integer(plain)))
    if tls_port:
        pairs.append((b"tls-port", integer(tls_port)))
    pairs.append((b"ip", bulk(node.ip.encode())))
    pairs.append((b"endpoint", bulk(_endpoint(cl, node).encode())))
    if node.hostname:
        pairs.append((b"hostname", bulk(node.hostname.encode())))
    if node is cl.myself:
        off = cl.replica_offset() if node.is_slave() else c.server.master_repl_offset
    else:
        off = node.repl_offset
    pairs.append((b"role", bulk(b"replica" if node.is_slave() else b"master")))
    pairs.append((b"replication-offset", integer(off)))
    if node.failed():
        health = b"fail"
    elif node.is_slave() and off == 0:
        health = b"loading"
    else:
        health = b"online"
    pairs.append((b"health", bulk(health)))
    return c.r.map([(bulk(k), v) for k, v in pairs])


@command("cluster|shards")
def cluster_shards(c, argv):
    cl = _cluster(c)
    ranges = cl.slot_ranges_by_owner()
    shards = []
    for n in list(cl.nodes.values()):
        if not n.is_master():
            continue
        r = ranges.get(n, ())
        slots = b"*%d\r\n" % (2 * len(r)) + b"".join(integer(a) + integer(b) for a, b in r)
        members = cl.nodes_serving_my_slots(n)
        nodes = b"*%d\r\n" % len(members) + b"".join(_shard_node(c, cl, m) for m in members)
        shards.append(c.r.map([(bulk(b"slots"), slots), (bulk(b"nodes"), nodes)]))
    return b"*%d\r\n" % len(shards) + b"".join(shards)


@command("cluster|flushslots")
def cluster_flushslots(c, argv):
    cl = _cluster(c)
    if c.server.dbs[0].data:
        raise CommandError("ERR DB must be empty to perform CLUSTER FLUSHSLOTS.")
    cl.del_node_slots(cl.myself)
    _todo(cl, _UPDATE_SAVE)
    return OK


def _check_assignments(cl, marks, delete, start, end):
    """checkSlotAssignmentsOrReply."""
    for slot in range(start, end + 1):
        if delete and cl.slots[slot] is None:
            raise CommandError("ERR Slot %d is already unassigned" % slot)
        if not delete and cl.slots[slot] is not None:
            raise CommandError("ERR Slot %d is already busy" % slot)
        if slot in marks:
            raise CommandError("ERR Slot %d specified multiple times" % slot)
        marks.add(slot)


def _update_slots(cl, marks, delete):
    """clusterUpdateSlots."""
    for j in sorted(marks):
        cl.importing_slots_from[j] = None
        if delete:
            cl.del_slot(j)
        else:
            cl.add_slot(cl.myself, j)


def _addslots(c, argv, delete):
    cl = _cluster(c)
    slots = [_slot_arg(a) for a in argv[2:]]
    marks = set()
    for s in slots:
        _check_assignments(cl, marks, delete, s, s)
    _update_slots(cl, marks, delete)
    _todo(cl, _UPDATE_SAVE)
    return OK


def _addslotsrange(c, argv, delete):
    cl = _cluster(c)
    if len(argv) % 2 == 1:
        raise CommandError("ERR wrong number of arguments for '%s' command"
                           % ("cluster|delslotsrange" if delete else "cluster|addslotsrange"))
    marks = set()
    for j in range(2, len(argv), 2):
        start = _slot_arg(argv[j])
        end = _slot_arg(argv[j + 1])
        if start > end:
            raise CommandError("ERR start slot number %d is greater than end slot number %d"
                               % (start, end))
        _check_assignments(cl, marks, delete, start, end)
    _update_slots(cl, marks, delete)
    _todo(cl, _UPDATE_SAVE)
    return OK


command("cluster|addslots")(lambda c, argv: _addslots(c, argv, False))
command("cluster|delslots")(lambda c, argv: _addslots(c, argv, True))
command("cluster|addslotsrange")(lambda c, argv: _addslotsrange(c, argv, False))
command("cluster|delslotsrange")(lambda c, argv: _addslotsrange(c, argv, True))


@command("cluster|setslot")
def cluster_setslot(c, argv):
    from ..cluster.keyindex import count_keys_in_slot
    cl = _cluster(c)
    me = cl.myself
    if me.is_slave():
        raise CommandError("ERR Please use SETSLOT only with masters.")
    slot = _slot_arg(argv[2])
    action = argv[3].lower()
    db0 = c.server.dbs[0]
    if action == b"migrating" and len(argv) == 5:
        if cl.slots[slot] is not me:
            raise CommandError("ERR I'm not the owner of hash slot %d" % slot)
        n = cl.lookup(argv[4])
        if n is None:
            raise CommandError("ERR I don't know about node %s" % _s(argv[4]))
        if n.is_slave():
            raise CommandError("ERR Target node is not a master")
        cl.migrating_slots_to[slot] = n
    elif action == b"importing" and len(argv) == 5:
        if cl.slots[slot] is me:
            raise CommandError("ERR I'm already the owner of hash slot %d" % slot)
        n = cl.lookup(argv[4])
        if n is None:
            raise CommandError("ERR I don't know about node %s" % _s(argv[4]))
        if n.is_slave():
            raise CommandError("ERR Target node is not a master")
        cl.importing_slots_from[slot] = n
    elif action == b"stable" and len(argv) == 4:
        cl.importing_slots_from[slot] = None
        cl.migrating_slots_to[slot] = None
    elif action == b"node" and len(argv) == 5:
        n = _node_arg(cl, argv[4])
        if n.is_slave():
            raise CommandError("ERR Target node is not a master")
        if cl.slots[slot] is me and n is not me and count_keys_in_slot(db0, slot):
            raise CommandError("ERR Can't assign hashslot %d to a different node while I "
                               "still hold keys for this hash slot." % slot)
        if count_keys_in_slot(db0, slot) == 0 and cl.migrating_slots_to[slot] is not None:
            cl.migrating_slots_to[slot] = None
        was_mine = cl.slots[slot] is me
        cl.del_slot(slot)
        cl.add_slot(n, slot)
        if (was_mine and n is not me and me.numslots == 0
                and cl.config["cluster-allow-replica-migration"]):
            cl.log("warning", "Configuration change detected. Reconfiguring myself as a "
                   "replica of %s" % n.name)
            cl.set_master(n)
            _todo(cl, _UPDATE_SAVE | _FSYNC)
        if n is me and cl.importing_slots_from[slot] is not None:
            # a manual migration ends: a new epoch (without consensus) makes the new
            # owner win over the old one everywhere
            if cl.bump_epoch_without_consensus():
                cl.log("warning", "configEpoch updated after importing slot %d" % slot)
            cl.importing_slots_from[slot] = None
            from ..cluster.bus import BROADCAST_ALL
            cl.broadcast_pong(BROADCAST_ALL)
    else:
        raise CommandError("ERR Invalid CLUSTER SETSLOT action or number of arguments. Try "
                           "CLUSTER HELP")
    _todo(cl, _UPDATE_SAVE)
    return OK


@command("cluster|bumpepoch")
def cluster_bumpepoch(c, argv):
    cl = _cluster(c)
    bumped = cl.bump_epoch_without_consensus()
    return b"+%s %d\r\n" % (b"BUMPED" if bumped else b"STILL", cl.myself.config_epoch)


def info_text(cl):
    """CLUSTER INFO's text."""
    assigned = ok = pfail = fail = 0
    for n in cl.slots:
        if n is None:
            continue
        assigned += 1
        if n.failed():
            fail += 1
        elif n.timed_out():
            pfail += 1
        else:
            ok += 1
    me = cl.myself
    myepoch = (me.slaveof.config_epoch if me.is_slave() and me.slaveof is not None
               else me.config_epoch)
    from ..cluster import proto
    lines = ["cluster_state:%s" % ("ok" if cl.state == 0 else "fail"),
             "cluster_slots_assigned:%d" % assigned,
             "cluster_slots_ok:%d" % ok,
             "cluster_slots_pfail:%d" % pfail,
             "cluster_slots_fail:%d" % fail,
             "cluster_known_nodes:%d" % len(cl.nodes),
             "cluster_size:%d" % cl.size,
             "cluster_current_epoch:%d" % cl.current_epoch,
             "cluster_my_epoch:%d" % myepoch]
    for stats, what in ((cl.stats_sent, "sent"), (cl.stats_received, "received")):
        for i, n in enumerate(stats):
            if n:
                lines.append("cluster_stats_messages_%s_%s:%d" % (proto.TYPE_NAMES[i], what, n))
        lines.append("cluster_stats_messages_%s:%d" % (what, sum(stats)))
    lines.append("total_cluster_links_buffer_limit_exceeded:%d"
                 % cl.stat_links_buffer_limit_exceeded)
    return "".join(ln + "\r\n" for ln in lines)


@command("cluster|info")
def cluster_info(c, argv):
    return c.r.verbatim(info_text(_cluster(c)).encode())


@command("cluster|saveconfig")
def cluster_saveconfig(c, argv):
    cl = _cluster(c)
    try:
        cl.save_config(True)
    except OSError as e:
        raise CommandError("ERR error saving the cluster node config: %s"
                           % (e.strerror or errno.errorcode.get(e.errno, str(e))))
    return OK


@command("cluster|keyslot")
def cluster_keyslot(c, argv):
    from ..cluster.slots import key_hash_slot
    _cluster(c)
    return integer(key_hash_slot(argv[2]))


@command("cluster|countkeysinslot")
def cluster_countkeysinslot(c, argv):
    from ..cluster.keyindex import count_keys_in_slot
    _cluster(c)
    slot = ll_arg(argv[2])
    if not 0 <= slot < 16384:
        raise CommandError("ERR Invalid slot")
    return integer(count_keys_in_slot(c.server.dbs[0], slot))


@command("cluster|getkeysinslot")
def cluster_getkeysinslot(c, argv):
    from ..cluster.keyindex import keys_in_slot
    _cluster(c)
    slot = ll_arg(argv[2])
    maxkeys = ll_arg(argv[3])
    if not 0 <= slot < 16384 or maxkeys < 0:
        raise CommandError("ERR Invalid slot or number of keys")
    return array(keys_in_slot(c.server.dbs[0], slot, maxkeys))


@command("cluster|forget")
def cluster_forget(c, argv):
    cl = _cluster(c)
    n = _node_arg(cl, argv[2])
    if n is cl.myself:
        raise CommandError("ERR I tried hard but I can't forget myself...")
    if cl.myself.is_slave() and cl.myself.slaveof is n:
        raise CommandError("ERR Can't forget my master!")
    cl.blacklist_add(n)
    cl.del_node(n)
    _todo(cl, _UPDATE_SAVE)
    return OK


@command("cluster|replicate")
def cluster_replicate(c, argv):
    cl = _cluster(c)
    n = _node_arg(cl, argv[2])
    me = cl.myself
    if n is me:
        raise CommandError("ERR Can't replicate myself")
    if n.is_slave():
        raise CommandError("ERR I can only replicate a master, not a replica.")
    if me.is_master() and (me.numslots or c.server.dbs[0].data):
        raise CommandError("ERR To set a master the node must be empty and without assigned "
                           "slots.")
    cl.set_master(n)
    _todo(cl, _UPDATE_SAVE)
    return OK


def _replicas(c, argv):
    cl = _cluster(c)
    n = _node_arg(cl, argv[2])
    if n.is_slave():
        raise CommandError("ERR The specified node is not a master")
    use_pport = _use_pport(c)
    return array([cl.node_description(s, use_pport).encode("utf-8", "surrogateescape")
                  for s in n.slaves])


command("cluster|replicas")(_replicas)
command("cluster|slaves")(_replicas)


@command("cluster|count-failure-reports")
def cluster_count_failure_reports(c, argv):
    cl = _cluster(c)
    n = _node_arg(cl, argv[2])
    return integer(n.failure_reports_count(cl.node_timeout))


@command("cluster|failover")
def cluster_failover(c, argv):
    cl = _cluster(c)
    force = takeover = False
    if len(argv) == 3:
        opt = argv[2].lower()
        if opt == b"force":
            force = True
        elif opt == b"takeover":
            force = takeover = True
        else:
            raise CommandError(SYNTAX)
    elif len(argv) > 3:
        raise _sub_syntax(argv)
    me = cl.myself
    if me.is_master():
        raise CommandError("ERR You should send CLUSTER FAILOVER to a replica")
    if me.slaveof is None:
        raise CommandError("ERR I'm a replica but my master is unknown to me")
    if not force and (me.slaveof.failed() or me.slaveof.link is None):
        raise CommandError("ERR Master is down or failed, please use CLUSTER FAILOVER FORCE")
    cl.start_manual_failover(force, takeover)
    return OK


@command("cluster|set-config-epoch")
def cluster_set_config_epoch(c, argv):
    cl = _cluster(c)
    epoch = ll_arg(argv[2])
    if epoch < 0:
        raise CommandError("ERR Invalid config epoch specified: %d" % epoch)
    if len(cl.nodes) > 1:
        raise CommandError("ERR The user can assign a config epoch only when the node does "
                           "not know any other node.")
    if cl.myself.config_epoch != 0:
        raise CommandError("ERR Node config epoch is already non-zero")
    cl.myself.config_epoch = epoch
    cl.log("warning", "configEpoch set to %d via CLUSTER SET-CONFIG-EPOCH" % epoch)
    if cl.current_epoch < epoch:
        cl.current_epoch = epoch
    _todo(cl, _UPDATE_SAVE)
    return OK


@command("cluster|reset")
def cluster_reset(c, argv):
    cl = _cluster(c)
    hard = False
    if len(argv) == 3:
        opt = argv[2].lower()
        if opt == b"hard":
            hard = True
        elif opt != b"soft":
            raise CommandError(SYNTAX)
    elif len(argv) > 3:
        raise _sub_syntax(argv)
    if cl.myself.is_master() and c.db.data:
        raise CommandError("ERR CLUSTER RESET can't be called with master nodes containing "
                           "keys")
    cl.reset(hard)
    return OK


@command("cluster|links")
def cluster_links(c, argv):
    cl = _cluster(c)
    out = []
    for node in list(cl.nodes.values()):
        for link in (node.link, node.inbound_link):
            if link is None:
                continue
            events = "r" if link.transport is not None else ""
            used = link.send_buffer_size()
            if used:
                events += "w"
            out.append(c.r.map([
                (bulk(b"direction"), bulk(b"from" if link.inbound else b"to")),
                (bulk(b"node"), bulk(node.name.encode())),
                (bulk(b"create-time"), integer(link.ctime)),
                (bulk(b"events"), bulk(events.encode())),
                (bulk(b"send-buffer-allocated"), integer(used)),
                (bulk(b"send-buffer-used"), integer(used)),
            ]))
    return b"*%d\r\n" % len(out) + b"".join(out)


_UPDATE_SAVE = 2 | 4      # TODO_UPDATE_STATE | TODO_SAVE_CONFIG
_FSYNC = 8


# -- set-up -------------------------------------------------------------------------------
def _server_init(srv):
    srv.cluster = None
    if not srv.config.values["cluster-enabled"]:
        return
    from ..cluster.state import ClusterState
    cl = ClusterState(srv)
    srv.cluster = cl
    cl.init()


def _startup(srv):
    """After the dataset is loaded: check it against the slot map, then open the bus."""
    cl = srv.cluster
    if cl is None:
        return
    if not cl.verify_config_with_data():
        srv.log("warning", "You can't have keys in a DB different than DB 0 when in Cluster "
                "mode. Exiting.")
        raise SystemExit(1)
    srv.loop.run_until_complete(cl.start_bus(srv.loop))
    srv.shutdown_hooks.append(_on_shutdown)
    cl.update_state()


def _on_shutdown(srv, save, force):
    if srv.cluster is not None:
        srv.cluster.stop_bus()
    return None


hooks.server_init.append(_server_init)
cli.startup_hooks.append(_startup)
