"""The cluster bus: links to the other nodes (port+10000 or cluster-port), Redis 7.0's
binary messages (proto.py), what each message does to the cluster state
(clusterProcessPacket), what this node sends, and the 10 Hz cluster cron."""
import asyncio
import random
import socket
import time

from ..anet import best_effort_bind_connect
from . import proto
from .node import (ClusterNode, MASTER, SLAVE, PFAIL, FAIL, MYSELF, HANDSHAKE, NOADDR,
                   MEET, MIGRATE_TO, NOFAILOVER, mstime, valid_name)

NULL_NAME = b"\x00" * 40
CRON_PERIOD = 0.1            # clusterCron runs 10 times a second
BROADCAST_ALL = 0
BROADCAST_LOCAL_SLAVES = 1
MF_TIMEOUT = 5000            # CLUSTER_MF_TIMEOUT
MF_PAUSE_MULT = 2


class ClusterLink(asyncio.Protocol):
    """clusterLink: one TCP connection to (outbound) or from (inbound) another node."""

    def __init__(self, cluster, node, inbound):
        self.cluster = cluster
        self.ctime = mstime()
        self.node = node
        self.inbound = inbound
        self.transport = None
        self.rcvbuf = bytearray()
        self.pending = []          # messages queued before the connection is up
        self.freed = False
        self.task = None
        if not inbound:
            node.link = self

    # -- asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            except OSError:
                pass
        if self.freed:
            transport.abort()
            return
        if self.pending:
            transport.write(b"".join(self.pending))
            self.pending = []

    def data_received(self, data):
        if self.freed:
            return
        try:
            self.cluster.read_handler(self, data)
        except Exception as e:        # a malformed message must never take the node down
            self.cluster.log("warning", "Error processing a cluster bus message: %r" % e)
            self.cluster.free_link(self)

    def connection_lost(self, exc):
        if not self.freed:
            self.cluster.log("debug", "I/O error reading from node link: %s"
                             % ("connection closed" if exc is None else exc))
            self.cluster.free_link(self)

    def eof_received(self):
        return False

    # -- sending ----------------------------------------------------------------------------
    def send(self, data):
        if self.freed:
            return
        if self.transport is None:
            self.pending.append(data)
        else:
            self.transport.write(data)

    def send_buffer_size(self):
        if self.transport is None:
            return sum(map(len, self.pending))
        try:
            return self.transport.get_write_buffer_size()
        except Exception:
            return 0

    def peer_ip(self):
        if self.transport is None:
            return None
        peer = self.transport.get_extra_info("peername")
        return peer[0] if peer else None

    def local_ip(self):
        if self.transport is None:
            return None
        local = self.transport.get_extra_info("sockname")
        return local[0] if local else None


class Bus:
    def __init__(self):
        self.bus_listeners = []
        self.cron_handle = None
        self.cron_iteration = 0
        self.pings_sent = 0
        self.links_memory = 0

    # -- listening and connecting -----------------------------------------------------------
    async def start_bus(self, loop):
        """Listen on the bus port (every bind address), then run the cron."""
        srv = self.srv
        cport = self.bus_port()
        for addr in self.config["bind"]:
            optional = addr.startswith("-")
            host = addr[1:] if optional else addr
            host = {"*": "0.0.0.0", "::*": "::"}.get(host, host)
            try:
                server = await loop.create_server(lambda: ClusterLink(self, None, True),
                                                  host, cport, reuse_address=True,
                                                  backlog=srv.config.values["tcp-backlog"])
            except OSError as e:
                if optional:
                    continue
                for s in self.bus_listeners:
                    s.close()
                self.log("warning", "Could not create server TCP listening socket %s:%d: %s"
                         % (host, cport, e.strerror))
                self.log("warning", "Failed listening on port %d (cluster), aborting." % cport)
                raise SystemExit(1)
            self.bus_listeners.append(server)
        self.cron_handle = loop.call_later(CRON_PERIOD, self._cron_tick)

    def stop_bus(self):
        for s in self.bus_listeners:
            s.close()
        self.bus_listeners = []
        if self.cron_handle is not None:
            self.cron_handle.cancel()
            self.cron_handle = None
        for node in list(self.nodes.values()):
            for link in (node.link, node.inbound_link):
                if link is not None:
                    self.free_link(link)

    def connect_link(self, node):
        """Open an outbound link to node (clusterNodeCronHandleReconnect's connect)."""
        link = ClusterLink(self, node, False)
        loop = self.srv.loop

        async def go():
            try:
                await best_effort_bind_connect(loop, lambda: link, node.ip, node.cport,
                                               self.srv.config.values["bind-source-addr"])
            except (OSError, ValueError) as e:
                if not link.freed:
                    self.log("verbose", "Connection with Node %s at %s:%d failed: %s"
                             % (node.name, node.ip, node.cport, e))
                    self.free_link(link)
                return
            if link.freed:
                return
            # clusterLinkConnectHandler: PING (or MEET) at once, keeping an older
            # ping time so failure detection is not reset by reconnecting
            old_ping_sent = node.ping_sent
            self.send_ping(link, proto.MEET if node.flags & MEET else proto.PING)
            if old_ping_sent:
                node.ping_sent = old_ping_sent
            node.flags &= ~MEET

        link.task = loop.create_task(go())
        return link

    def free_link(self, link):
        """freeClusterLink: close it and detach it from its node."""
        if link.freed:
            return
        link.freed = True
        if link.transport is not None:
            link.transport.abort()
        node = link.node
        if node is not None:
            if node.link is link:
                node.link = None
            elif node.inbound_link is link:
                node.inbound_link = None

    def set_inbound_link(self, node, link):
        if node.inbound_link is not None and node.inbound_link is not link:
            self.log("debug", "Replacing inbound link from node %s" % node.name)
            self.free_link(node.inbound_link)
        node.inbound_link = link
        link.node = node

    def connections_count(self):
        return (len(self.nodes) - 1) * 2

    # -- reading ----------------------------------------------------------------------------
    def read_handler(self, link, data):
        """clusterReadHandler: frame messages by their 8-byte prefix, process each."""
        buf = link.rcvbuf
        buf += data
        while not link.freed:
            if len(buf) < 8:
                return
            totlen = proto.frame_length(bytes(buf[:8]))
            if totlen is None:
                self.log("warning", proto.BAD_FRAME_LOG)
                self.free_link(link)
                return
            if len(buf) < totlen:
                return
            msg = bytes(buf[:totlen])
            del buf[:totlen]
            if not self.process_packet(link, msg):
                return

    # -- messages -------------------------------------------------------------------------
    def header(self, mtype):
        """clusterBuildMessageHdr."""
        me = self.myself
        master = me.slaveof if (me.is_slave() and me.slaveof is not None) else me
        h = proto.Header()
        h.type = mtype
        h.sender = me.name.encode()
        ip = self.config["cluster-announce-ip"]
        h.myip = ip[:45] if ip else ""
        h.port, h.pport, h.cport = self.announced_ports()
        h.myslots = bytes(master.slots)
        h.slaveof = me.slaveof.name.encode() if me.slaveof is not None else NULL_NAME
        h.flags = me.flags & 0xFFFF
        h.state = self.state
        h.current_epoch = self.current_epoch
        h.config_epoch = master.config_epoch
        h.offset = self.my_offset()
        h.mflags = proto.MFLAG0_PAUSED if (me.is_master() and self.mf_end) else 0
        return h

    def send_message(self, link, data):
        """clusterSendMessage (stats counted per type)."""
        if link is None:
            return
        link.send(data)
        mtype = (data[12] << 8) | data[13]
        if mtype < proto.TYPE_COUNT:
            self.stats_sent[mtype] += 1

    def broadcast(self, data):
        for node in list(self.nodes.values()):
            if node.flags & (MYSELF | HANDSHAKE):
                continue
            self.send_message(node.link, data)

    def gossip_entry(self, n):
        return proto.Gossip(n.name.encode(), n.ping_sent // 1000, n.pong_received // 1000,
                            n.ip, n.port, n.cport, n.flags & 0xFFFF, n.pport)

    def send_ping(self, link, mtype):
        """clusterSendPing: PING/PONG/MEET with gossip about ~1/10 of the nodes (at least
        3) plus every node in PFAIL, and the hostname extension."""
        self.pings_sent += 1
        nodes = list(self.nodes.values())
        freshnodes = len(nodes) - 2
        wanted = max(3, len(nodes) // 10)
        if wanted > freshnodes:
            wanted = freshnodes
        pfail_wanted = self.stats_pfail_nodes
        if not link.inbound and mtype == proto.PING:
            link.node.ping_sent = mstime()
        h = self.header(mtype)
        gossip = []
        maxiter = wanted * 3
        stamp = self.pings_sent
        while freshnodes > 0 and len(gossip) < wanted and maxiter > 0:
            maxiter -= 1
            this = random.choice(nodes)
            if this is self.myself or this.flags & PFAIL:
                continue
            if this.flags & (HANDSHAKE | NOADDR) or (this.link is None
                                                      and this.numslots == 0):
                freshnodes -= 1
                continue
            if this.last_in_ping_gossip == stamp:
                continue
            gossip.append(self.gossip_entry(this))
            this.last_in_ping_gossip = stamp
            freshnodes -= 1
        if pfail_wanted:
            for node in nodes:
                if pfail_wanted <= 0:
                    break
                if node.flags & (HANDSHAKE | NOADDR) or not node.flags & PFAIL:
                    continue
                gossip.append(self.gossip_entry(node))
                pfail_wanted -= 1
        self.send_message(link, proto.build_ping(h, gossip, self.myself.hostname or None))

    def broadcast_pong(self, target):
        me = self.myself
        for node in list(self.nodes.values()):
            if node.link is None or node is me or node.in_handshake():
                continue
            if target == BROADCAST_LOCAL_SLAVES:
                if not (node.is_slave() and node.slaveof is not None
                        and (node.slaveof is me or node.slaveof is me.slaveof)):
                    continue
            self.send_ping(node.link, proto.PONG)

    def send_fail(self, nodename):
        self.broadcast(proto.build_fail(self.header(proto.FAIL), nodename.encode()))

    def send_update(self, link, node):
        """clusterSendUpdate: node's slots (minus those it stopped claiming)."""
        if link is None:
            return
        slots = bytes(a & ~b & 255 for a, b in zip(node.slots, self.owner_not_claiming_slot))
        self.send_message(link, proto.build_update(self.header(proto.UPDATE),
                                                   node.config_epoch, node.name.encode(),
                                                   slots))

    def propagate_publish(self, channel, message, sharded):
        """clusterPropagatePublish: PUBLISH goes to every node, SPUBLISH to the shard."""
        if not sharded:
            h = self.header(proto.PUBLISH)
            self.broadcast(proto.build_publish(h, channel, message))
            return
        h = self.header(proto.PUBLISHSHARD)
        data = proto.build_publish(h, channel, message)
        for node in self.nodes_serving_my_slots(self.myself):
            if node.flags & (MYSELF | HANDSHAKE):
                continue
            self.send_message(node.link, data)

    def send_simple(self, link, mtype, mflags=0):
        if link is None:
            return
        h = self.header(mtype)
        h.mflags |= mflags
        self.send_message(link, proto.build_simple(h))

    # -- processing -------------------------------------------------------------------------
    def sender_of(self, link, h):
        """getNodeFromLinkAndMsg."""
        if link.node is not None and not link.node.in_handshake():
            return link.node
        sender = self.lookup(h.sender)
        if sender is not None and link.node is None:
            self.set_inbound_link(sender, link)
        return sender

    def update_address_if_needed(self, node, link, h):
        """nodeUpdateAddressIfNeeded: True if the node's address changed."""
        if link is node.link:
            return False
        ip = h.myip or link.peer_ip()
        if ip is None:
            return False
        ip = ip[:45]
        if (node.port == h.port and node.cport == h.cport and node.pport == h.pport
                and node.ip == ip):
            return False
        node.ip = ip
        node.port = h.port
        node.pport = h.pport
        node.cport = h.cport
        if node.link is not None:
            self.free_link(node.link)
        node.flags &= ~NOADDR
        self.log("warning", "Address updated for node %s, now %s:%d"
                 % (node.name, node.ip, node.port))
        me = self.myself
        if me.is_slave() and me.slaveof is node:
            self.srv.repl.set_master(node.ip, node.port)
        return True

    def process_packet(self, link, data):
        """clusterProcessPacket. Returns False when the link was freed."""
        from .state import (TODO_SAVE_CONFIG, TODO_FSYNC_CONFIG, TODO_UPDATE_STATE,
                            TODO_HANDLE_FAILOVER, TODO_HANDLE_MANUALFAILOVER)
        mtype = (data[12] << 8) | data[13] if len(data) >= 14 else -1
        if 0 <= mtype < proto.TYPE_COUNT:
            self.stats_received[mtype] += 1
        msg, why = proto.parse_ex(data)
        if msg is None:
            if why:
                self.log("warning", why)
            return True
        h = msg.header
        if mtype == self.drop_packet_filter:
            self.log("warning", "Dropping packet that matches debug drop filter")
            return True
        now = mstime()
        me = self.myself
        sender = self.sender_of(link, h)
        if sender is not None:
            sender.data_received = now
        sender_config_epoch = 0
        sender_current_epoch = 0
        if sender is not None and not sender.in_handshake():
            sender_current_epoch = h.current_epoch
            sender_config_epoch = h.config_epoch
            if sender_current_epoch > self.current_epoch:
                self.current_epoch = sender_current_epoch
            if sender_config_epoch > sender.config_epoch:
                sender.config_epoch = sender_config_epoch
                self.do_before_sleep(TODO_SAVE_CONFIG | TODO_FSYNC_CONFIG)
            sender.repl_offset = h.offset
            sender.repl_offset_time = now
            if (self.mf_end and me.is_slave() and me.slaveof is sender
                    and h.mflags & proto.MFLAG0_PAUSED and self.mf_master_offset == -1):
                self.mf_master_offset = sender.repl_offset
                self.do_before_sleep(TODO_HANDLE_MANUALFAILOVER)
                self.log("warning", "Received replication offset for paused master manual "
                         "failover: %d" % self.mf_master_offset)

        if mtype in (proto.PING, proto.MEET):
            # a MEET tells us our own address as the others see it
            if ((mtype == proto.MEET or not me.ip)
                    and not self.config["cluster-announce-ip"]):
                ip = link.local_ip()
                if ip is not None and ip != me.ip:
                    me.ip = ip
                    self.log("warning", "IP address for this node updated to %s" % me.ip)
                    self.do_before_sleep(TODO_SAVE_CONFIG)
            if sender is None and mtype == proto.MEET:
                node = ClusterNode(None, HANDSHAKE)
                node.ip = (h.myip or link.peer_ip() or "")[:45]
                node.port = h.port
                node.pport = h.pport
                node.cport = h.cport
                self.add_node(node)
                self.do_before_sleep(TODO_SAVE_CONFIG)
                self.process_gossip(msg, link)
            self.send_ping(link, proto.PONG)

        if mtype in (proto.PING, proto.PONG, proto.MEET):
            self.log("debug", "%s packet received: %s" % (
                proto.TYPE_NAMES[mtype], link.node.name if link.node else "NULL"))
            if not link.inbound:
                if link.node.in_handshake():
                    if sender is not None:
                        self.log("verbose", "Handshake: we already know node %s, updating "
                                 "the address if needed." % sender.name)
                        if self.update_address_if_needed(sender, link, h):
                            self.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE)
                        self.del_node(link.node)
                        return False
                    self.rename_node(link.node, h.sender.decode("latin-1"))
                    self.log("debug", "Handshake with node %s completed." % link.node.name)
                    link.node.flags &= ~HANDSHAKE
                    link.node.flags |= h.flags & (MASTER | SLAVE)
                    self.do_before_sleep(TODO_SAVE_CONFIG)
                elif link.node.name.encode() != h.sender:
                    n = link.node
                    self.log("debug", "PONG contains mismatching sender ID. About node %s "
                             "added %d ms ago, having flags %d"
                             % (n.name, now - n.ctime, n.flags))
                    n.flags |= NOADDR
                    n.ip = ""
                    n.port = n.pport = n.cport = 0
                    self.free_link(link)
                    self.do_before_sleep(TODO_SAVE_CONFIG)
                    return False
            if sender is not None:
                sender.flags = (sender.flags & ~NOFAILOVER) | (h.flags & NOFAILOVER)
            if (sender is not None and mtype == proto.PING and not sender.in_handshake()
                    and self.update_address_if_needed(sender, link, h)):
                self.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE)
            if not link.inbound and mtype == proto.PONG:
                n = link.node
                n.pong_received = now
                n.ping_sent = 0
                if n.timed_out():
                    n.flags &= ~PFAIL
                    self.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE)
                elif n.failed():
                    self.clear_node_failure_if_needed(n)
            # role switch: replica -> master or master -> replica
            if sender is not None:
                if h.slaveof == NULL_NAME:
                    self.set_node_as_master(sender)
                else:
                    master = self.lookup(h.slaveof)
                    if sender.is_master():
                        self.del_node_slots(sender)
                        sender.flags &= ~(MASTER | MIGRATE_TO)
                        sender.flags |= SLAVE
                        self.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE)
                    if master is not None and sender.slaveof is not master:
                        if sender.slaveof is not None:
                            sender.slaveof.remove_slave(sender)
                        master.add_slave(sender)
                        sender.slaveof = master
                        self.do_before_sleep(TODO_SAVE_CONFIG)
            # slots: only when what the sender claims differs from our view
            sender_master = None
            dirty_slots = False
            if sender is not None:
                sender_master = sender if sender.is_master() else sender.slaveof
                if sender_master is not None:
                    dirty_slots = bytes(sender_master.slots) != h.myslots
            if sender is not None and sender.is_master() and dirty_slots:
                self.update_slots_config_with(sender, sender_config_epoch, h.myslots)
            if sender is not None and dirty_slots:
                # the sender claims slots we know a newer owner of: tell it
                myslots = h.myslots
                for j in range(proto.SLOTS):
                    if not myslots[j >> 3] & (1 << (j & 7)):
                        continue
                    owner = self.slots[j]
                    if owner is sender or self.slot_unclaimed(j):
                        continue
                    if owner.config_epoch > sender_config_epoch:
                        self.log("verbose", "Node %s has old slots configuration, sending an "
                                 "UPDATE message about %s" % (sender.name, owner.name))
                        self.send_update(sender.link, owner)
                        break
            if (sender is not None and me.is_master() and sender.is_master()
                    and sender_config_epoch == me.config_epoch):
                self.handle_epoch_collision(sender)
            if sender is not None:
                self.process_gossip(msg, link)
                self.process_ping_ext(msg, link)

        elif mtype == proto.FAIL:
            name = msg.fail_nodename.decode("latin-1")
            if sender is not None:
                failing = self.lookup(name)
                if failing is not None and not failing.flags & (FAIL | MYSELF):
                    self.log("notice", "FAIL message received from %s about %s"
                             % (h.sender.decode("latin-1"), name))
                    failing.flags |= FAIL
                    failing.fail_time = now
                    failing.flags &= ~PFAIL
                    self.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE)
            else:
                self.log("notice", "Ignoring FAIL message from unknown node %s about %s"
                         % (h.sender.decode("latin-1"), name))

        elif mtype in (proto.PUBLISH, proto.PUBLISHSHARD):
            if sender is None:
                return True
            from ..commands.pubsub import publish
            publish(self.srv, msg.channel, msg.message, mtype == proto.PUBLISHSHARD)

        elif mtype == proto.FAILOVER_AUTH_REQUEST:
            if sender is None:
                return True
            self.send_failover_auth_if_needed(sender, h)

        elif mtype == proto.FAILOVER_AUTH_ACK:
            if sender is None:
                return True
            if (sender.is_master() and sender.numslots > 0
                    and sender_current_epoch >= self.failover_auth_epoch):
                self.failover_auth_count += 1
                self.do_before_sleep(TODO_HANDLE_FAILOVER)

        elif mtype == proto.MFSTART:
            if sender is None or sender.slaveof is not me:
                return True
            self.reset_manual_failover()
            self.mf_end = now + MF_TIMEOUT
            self.mf_slave = sender
            self.srv.pause_clients(now + MF_TIMEOUT * MF_PAUSE_MULT, 1, "cluster-failover")
            self.log("warning", "Manual failover requested by replica %s." % sender.name)
            self.send_ping(link, proto.PING)

        elif mtype == proto.UPDATE:
            if sender is None:
                return True
            n = self.lookup(msg.update_nodename)
            if n is None or n.config_epoch >= msg.update_config_epoch:
                return True
            if n.is_slave():
                self.set_node_as_master(n)
            n.config_epoch = msg.update_config_epoch
            self.do_before_sleep(TODO_SAVE_CONFIG | TODO_FSYNC_CONFIG)
            self.update_slots_config_with(n, msg.update_config_epoch, msg.update_slots)

        elif mtype == proto.MODULE:
            return True    # no modules: nobody is subscribed to module messages
        else:
            self.log("warning", "Received unknown packet type: %d" % mtype)
        return True

    def process_ping_ext(self, msg, link):
        sender = link.node if link.node is not None else self.lookup(msg.header.sender)
        if sender is None:
            return
        for etype, _payload in msg.exts or ():
            if etype != proto.EXT_HOSTNAME:
                self.log("warning", "Received unknown extension type %d" % etype)
        sender.hostname = msg.hostname or ""

    def process_gossip(self, msg, link):
        """clusterProcessGossipSection."""
        h = msg.header
        sender = link.node if link.node is not None else self.lookup(h.sender)
        me = self.myself
        nt = self.node_timeout
        for g in msg.gossip:
            flags = g.flags
            node = self.lookup(g.nodename)
            if node is not None:
                if sender is not None and sender.is_master() and node is not me:
                    if flags & (FAIL | PFAIL):
                        if node.add_failure_report(sender):
                            self.log("verbose", "Node %s reported node %s as not reachable."
                                     % (sender.name, node.name))
                        self.mark_node_as_failing_if_needed(node)
                    elif node.del_failure_report(sender, nt):
                        self.log("verbose", "Node %s reported node %s is back online."
                                 % (sender.name, node.name))
                if (not flags & (FAIL | PFAIL) and node.ping_sent == 0
                        and node.failure_reports_count(nt) == 0):
                    pongtime = g.pong_received * 1000
                    if pongtime <= mstime() + 500 and pongtime > node.pong_received:
                        node.pong_received = pongtime
                if (node.flags & (FAIL | PFAIL) and not flags & NOADDR
                        and not flags & (FAIL | PFAIL)
                        and (node.ip.lower() != g.ip.lower() or node.port != g.port
                             or node.cport != g.cport)):
                    if node.link is not None:
                        self.free_link(node.link)
                    node.ip = g.ip
                    node.port = g.port
                    node.pport = g.pport
                    node.cport = g.cport
                    node.flags &= ~NOADDR
            else:
                name = g.nodename.decode("latin-1")
                if (sender is not None and not flags & NOADDR and valid_name(name)
                        and not self.blacklisted(name)):
                    node = ClusterNode(name, flags)
                    node.ip = g.ip
                    node.port = g.port
                    node.pport = g.pport
                    node.cport = g.cport
                    self.add_node(node)

    def update_slots_config_with(self, sender, sender_epoch, slots):
        """clusterUpdateSlotsConfigWith: rebind the slots sender claims with a newer epoch;
        turn into its replica when it took all of ours."""
        from .state import TODO_SAVE_CONFIG, TODO_UPDATE_STATE, TODO_FSYNC_CONFIG
        me = self.myself
        curmaster = me if me.is_master() else me.slaveof
        if sender is me:
            self.log("warning", "Discarding UPDATE message about myself.")
            return
        newmaster = None
        dirty = []
        sender_slots = 0
        migrated_our_slots = 0
        not_claiming = self.owner_not_claiming_slot
        owners = self.slots
        for j in range(proto.SLOTS):
            bit = 1 << (j & 7)
            if slots[j >> 3] & bit:
                sender_slots += 1
                if owners[j] is sender:
                    not_claiming[j >> 3] &= ~bit & 255
                    continue
                if self.importing_slots_from[j] is not None:
                    continue
                if self.slot_unclaimed(j) or owners[j].config_epoch < sender_epoch:
                    if owners[j] is me and sender is not me and self.count_keys_in_slot(j):
                        dirty.append(j)
                    if owners[j] is curmaster and curmaster is not None:
                        newmaster = sender
                        migrated_our_slots += 1
                    self.del_slot(j)
                    self.add_slot(sender, j)
                    not_claiming[j >> 3] &= ~bit & 255
                    self.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE
                                         | TODO_FSYNC_CONFIG)
            elif owners[j] is sender:
                # still bound to the sender, which no longer claims it: keep the binding
                # (redirects instead of errors) but do not spread it in UPDATEs
                not_claiming[j >> 3] |= bit
        if (newmaster is not None and curmaster.numslots == 0
                and (self.config["cluster-allow-replica-migration"]
                     or sender_slots == migrated_our_slots)):
            self.log("warning", "Configuration change detected. Reconfiguring myself as a "
                     "replica of %s" % sender.name)
            self.set_master(sender)
            self.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE | TODO_FSYNC_CONFIG)
        elif (me.slaveof is not None and me.slaveof.slaveof is not None
              and me.slaveof.slaveof is not me):
            self.log("warning", "I'm a sub-replica! Reconfiguring myself as a replica of "
                     "grandmaster %s" % me.slaveof.slaveof.name)
            self.set_master(me.slaveof.slaveof)
            self.do_before_sleep(TODO_SAVE_CONFIG | TODO_UPDATE_STATE | TODO_FSYNC_CONFIG)
        elif dirty:
            from .keyindex import del_keys_in_slot
            for j in dirty:
                del_keys_in_slot(self.srv, j)

    # -- the cron ---------------------------------------------------------------------------
    def _cron_tick(self):
        try:
            if not self.srv.cron_paused:
                self.cron()
        except Exception as e:
            self.log("warning", "Cluster cron error: %r" % e)
        finally:
            if self.bus_listeners:
                self.cron_handle = self.srv.loop.call_later(CRON_PERIOD, self._cron_tick)

    def cron(self):
        """clusterCron."""
        from .state import CLUSTER_FAIL
        self.cron_iteration += 1
        me = self.myself
        me.hostname = self.config["cluster-announce-hostname"] or ""
        nt = self.node_timeout
        handshake_timeout = max(nt, 1000)
        now = mstime()
        self.stats_pfail_nodes = 0
        self.links_memory = 0
        limit = self.config["cluster-link-sendbuf-limit"]
        for node in list(self.nodes.values()):
            for link in (node.link, node.inbound_link):
                if link is None:
                    continue
                used = link.send_buffer_size()
                if limit and used > limit:
                    self.log("warning", "Freeing cluster link(%s node %s, used memory: %d) "
                             "due to exceeding send buffer memory limit."
                             % ("from" if link.inbound else "to", node.name, used))
                    self.free_link(link)
                    self.stat_links_buffer_limit_exceeded += 1
                else:
                    self.links_memory += used
            if node.flags & (MYSELF | NOADDR):
                continue
            if node.flags & PFAIL:
                self.stats_pfail_nodes += 1
            if node.in_handshake() and now - node.ctime > handshake_timeout:
                self.del_node(node)
                continue
            if node.link is None:
                self.connect_link(node)

        if self.cron_iteration % 10 == 0:
            # ping the node with the oldest pong among a few random ones
            nodes = list(self.nodes.values())
            best = None
            for _ in range(5):
                this = random.choice(nodes)
                if this.link is None or this.ping_sent != 0:
                    continue
                if this.flags & (MYSELF | HANDSHAKE):
                    continue
                if best is None or best.pong_received > this.pong_received:
                    best = this
            if best is not None:
                self.log("debug", "Pinging node %s" % best.name)
                self.send_ping(best.link, proto.PING)

        orphaned_masters = 0
        max_slaves = 0
        this_slaves = 0
        update_state = False
        for node in list(self.nodes.values()):
            now = mstime()
            if node.flags & (MYSELF | NOADDR | HANDSHAKE):
                continue
            if me.is_slave() and node.is_master() and not node.failed():
                okslaves = node.count_non_failing_slaves()
                if okslaves == 0 and node.numslots > 0 and node.flags & MIGRATE_TO:
                    orphaned_masters += 1
                max_slaves = max(max_slaves, okslaves)
                if me.slaveof is node:
                    this_slaves = okslaves
            ping_delay = now - node.ping_sent
            data_delay = now - node.data_received
            if (node.link is not None and now - node.link.ctime > nt and node.ping_sent
                    and ping_delay > nt // 2 and data_delay > nt // 2):
                self.free_link(node.link)     # no traffic at all: reconnect
            if (node.link is not None and node.ping_sent == 0
                    and now - node.pong_received > nt // 2):
                self.send_ping(node.link, proto.PING)
                continue
            if (self.mf_end and me.is_master() and self.mf_slave is node
                    and node.link is not None):
                self.send_ping(node.link, proto.PING)
                continue
            if node.ping_sent == 0:
                continue
            node_delay = min(ping_delay, data_delay)
            if node_delay > nt and not node.flags & (PFAIL | FAIL):
                self.log("debug", "*** NODE %s possibly failing" % node.name)
                node.flags |= PFAIL
                update_state = True

        repl = self.srv.repl
        if (me.is_slave() and repl.masterhost is None and me.slaveof is not None
                and me.slaveof.has_addr()):
            repl.set_master(me.slaveof.ip, me.slaveof.port)

        self.manual_failover_check_timeout()
        if me.is_slave():
            self.handle_manual_failover()
            self.handle_slave_failover()
            if (orphaned_masters and max_slaves >= 2 and this_slaves == max_slaves
                    and self.config["cluster-allow-replica-migration"]):
                self.handle_slave_migration(max_slaves)
        if update_state or self.state == CLUSTER_FAIL:
            self.update_state()
