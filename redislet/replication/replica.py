"""The replica side of replication (replication.c): the link to the master, the
handshake (PING, AUTH, REPLCONF listening-port / ip-address / capa, PSYNC), the RDB
transfer (`$<len>` or diskless `$EOF:<mark>`), and the stream of the master executed by
the master client with must-obey semantics (no replies except REPLCONF ACK).

The processed offset (reploff) advances by each command's size on the wire once it is
executed (commands inside MULTI count at EXEC); the applied part of the stream is
proxied verbatim to this replica's own replicas and to its backlog.
"""
from __future__ import annotations   # (the compiled build types the annotated names)

import asyncio
import os
import socket
import time

try:
    from hiredis import Reader as _Reader
except ImportError:  # pragma: no cover - the Python parser reads the stream then
    _Reader = None

from ..anet import best_effort_bind_connect
from ..client import Client
from ..oom import set_oom_score_adj
from ..resp.parser import _SCAN, RequestParser, canonical_size
from . import rdbaux
from .failover import FAILOVER_IN_PROGRESS

# replica link states (server.h REPL_STATE_*)
NONE = 0
CONNECT = 1
CONNECTING = 2
RECEIVE_PING_REPLY = 3
SEND_HANDSHAKE = 4
RECEIVE_AUTH_REPLY = 5
RECEIVE_PORT_REPLY = 6
RECEIVE_IP_REPLY = 7
RECEIVE_CAPA_REPLY = 8
SEND_PSYNC = 9
RECEIVE_PSYNC_REPLY = 10
TRANSFER = 11
CONNECTED = 12

_HUGE = 1 << 62

full_sync_hooks = []   # callables(srv) after a full sync loaded the master's dataset (AOF)


def _encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode("utf-8", "surrogateescape")
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class LinkProtocol(asyncio.Protocol):
    """The connection to the master; events go to the replication state machine."""

    def __init__(self, repl):
        self.repl = repl
        self.transport = None
        self.lost = False

    def connection_made(self, transport):
        self.transport = transport
        self.repl.link_connected(self)

    def data_received(self, data):
        self.repl.link_data(self, data)

    def connection_lost(self, exc):
        if not self.lost:
            self.lost = True
            self.repl.link_lost(self, exc)

    def eof_received(self):
        # the master closed the link: handled now, as Redis does on its read event
        # (connection_lost would only come on a later loop iteration)
        self.lost = True
        self.repl.link_lost(self, None)
        return False


class MasterClient(Client):
    """The client of the master's stream: errors it would be answered are logged
    (afterErrorReply for a CLIENT_TYPE_MASTER client)."""

    def call(self, cmd, argv):
        reply = Client.call(self, cmd, argv)
        if reply and reply[0] == 45:        # b"-"
            self.server.repl.master_error(reply, cmd)
        return reply

    def reject(self, cmd, msg):
        Client.reject(self, cmd, msg)
        self.server.repl.master_error(msg.encode("utf-8", "surrogateescape"), cmd)

    def resume(self):
        """CLIENT PAUSE ended: go on with the master's stream."""
        self.server.repl.master_resume(self)


class CachedMaster:
    """The master's replication state kept while disconnected (a client that is not
    linked): only what PSYNC needs, plus the selected db."""


class DisklessSource:
    """The bytes of a diskless transfer on their way from the link to the loader greenlet
    (rdb.load_stream's source). Reading from the link pauses while more than
    PAUSE_ABOVE bytes wait here (the kernel's socket buffer then fills and the master's
    writes slow down, as with Redis's blocking reads)."""
    PAUSE_ABOVE = 1 << 18
    PATIENCE = 0.05      # a partial entry waits this long for the bytes it asked for

    def __init__(self, repl):
        self.repl = repl
        self.chunks = []
        self.size = 0
        self.eof = False          # all of the transfer arrived
        self.closed = False       # the link is gone
        self.need = 0             # bytes the waiting loader asked for
        self.paused = False
        self.offset = 0           # bytes handed to the parser

    def feed(self, data, eof):
        if data:
            self.chunks.append(data)
            self.size += len(data)
        if eof:
            self.eof = True
        if not self.paused and self.size >= max(self.PAUSE_ABOVE, self.need):
            link = self.repl.link
            if link is not None and link.transport is not None:
                link.transport.pause_reading()
                self.paused = True
        if self.size >= self.need or self.eof:
            self.repl.wake_loader()

    def close(self):
        self.closed = True
        self.repl.wake_loader()

    def resume(self):
        if self.paused:
            self.paused = False
            link = self.repl.link
            if link is not None and link.transport is not None and not link.lost:
                link.transport.resume_reading()

    def drain(self):
        data = b"".join(self.chunks)
        self.chunks = []
        self.size = 0
        return data

    def more(self, tail):
        """tail plus the bytes that arrived since; waits (in the loader greenlet) for at
        least as many again as tail holds (an entry parsed again from its start costs its
        size), or a while, or the end. None: nothing more will come."""
        n = len(tail)
        self.need = n or 1
        waited = False
        while not (self.size >= self.need or self.eof or self.closed
                   or (waited and self.size)):
            self.wait()
            waited = True
        self.need = 0
        if not self.size:
            return None
        data = tail + self.drain() if n else self.drain()
        self.offset += len(data) - n
        self.resume()
        return data

    def wait(self):
        """Give the loop back until feed/close (or PATIENCE with a partial entry); after
        repl-timeout without data the read fails (connRecvTimeout)."""
        repl = self.repl
        loop = repl.srv.loop
        timers = [loop.call_later(repl.srv.config.values["repl-timeout"], self._timeout)]
        if self.size:
            timers.append(loop.call_later(self.PATIENCE, repl.wake_loader))
        self.resume()
        from greenlet import getcurrent
        try:
            getcurrent().parent.switch(True)
        finally:
            for t in timers:
                t.cancel()

    def _timeout(self):
        self.closed = True
        self.repl.wake_loader()


class ReplicaRole:
    CONNECTED = CONNECTED
    loader = None       # the greenlet loading a synced RDB (start_loader)
    source = None       # the DisklessSource of a diskless load in progress
    loader_waiting = False
    lost_in_load = False

    # -- REPLICAOF ------------------------------------------------------------------------
    def set_master(self, host, port):
        """replicationSetMaster."""
        srv = self.srv
        was_master = self.masterhost is None
        self.masterhost = None
        if self.master is not None:
            self.drop_master(cache=True)
        self.disconnect_blocked()
        self.masterhost = host
        self.masterport = port
        srv.config.values["replicaof"] = (host, port)
        srv.is_replica = True
        set_oom_score_adj(srv)
        self.update_target()
        self.cancel_handshake(reconnect=False)
        if was_master:
            self.cached_master = None
            self.cache_master_using_myself()
        self.state = CONNECT
        self.update_checks()
        self.log("notice", "Connecting to MASTER %s:%d" % (host, port))
        self.connect_with_master()

    def unset_master(self):
        """replicationUnsetMaster (REPLICAOF NO ONE)."""
        srv = self.srv
        if self.masterhost is None:
            return
        self.masterhost = None
        srv.config.values["replicaof"] = None
        if self.master is not None:
            self.drop_master(cache=False)
        self.cached_master = None
        self.cancel_handshake(reconnect=False)
        self.shift_replid()
        self.disconnect_replicas()
        self.state = NONE
        self.seldb = -1
        self.no_replicas_since = time.time()
        self.down_since = 0
        srv.is_replica = False
        set_oom_score_adj(srv)
        self.update_target()
        self.update_checks()

    def disconnect_blocked(self):
        """disconnectAllBlockedClients: clients blocked on this master's data."""
        from ..blocking import unblock
        for c in list(self.srv.clients.values()):
            if c.blocked is not None:
                unblock(c, b"-UNBLOCKED force unblock from blocking operation, instance "
                           b"state changed (master -> replica?)\r\n")
                c.closing = True

    def cache_master_using_myself(self):
        """replicationCacheMasterUsingMyself: a cached master from our own history, to
        PSYNC with a promoted replica of ours."""
        srv = self.srv
        self.log("notice", "Before turning into a replica, using my own master parameters "
                 "to synthesize a cached master: I may be able to synchronize with the new "
                 "master with just a partial transfer.")
        c = self.new_master_client(None)
        c.reploff = c.read_reploff = srv.master_repl_offset
        c.replid = srv.replid
        self.cached_master = c

    # -- the master client ----------------------------------------------------------------
    def new_master_client(self, link):
        srv = self.srv
        c = MasterClient(srv)
        c.flags_extra = "M"
        c.reply_mode = 1
        c.user = "(superuser)"
        c.authenticated = True
        c.parser.auth_required = False
        c.parser.max_bulk = _HUGE
        c.update_checks()
        c.reploff = 0
        c.read_reploff = 0
        c.replid = "?"
        c.pre_psync = False
        c.closed = True
        if link is not None:
            self.attach_master(c, link)
        return c

    def attach_master(self, c, link):
        srv = self.srv
        tr = link.transport
        c.transport = tr
        c.closed = False
        c.closing = False
        sock = tr.get_extra_info("socket")
        c.fd = sock.fileno() if sock is not None else -1
        from ..client import _fmt_addr
        c.addr = _fmt_addr(tr.get_extra_info("peername"))
        c.laddr = _fmt_addr(tr.get_extra_info("sockname"))
        c.last_interaction = time.monotonic()
        if not c.id:
            c.id = srv.next_client_id
            srv.next_client_id += 1
        srv.clients[c.id] = c
        self.master = c
        self.stream_pending = []
        self.rawbuf = None
        # compiled, the parser's own byte loop reads the canonical stream faster than hiredis
        self.reader = _Reader() if _Reader is not None and not _SCAN else None
        c.stream_pos = c.reploff

    def drop_master(self, cache=True):
        """The master link is gone: cache the master for PSYNC (replicationCacheMaster),
        or forget it."""
        srv = self.srv
        c = self.master
        self.master = None
        link, self.link = self.link, None
        if link is not None and link.transport is not None and not link.lost:
            link.transport.abort()
        if c.id in srv.clients:
            c.closed = True
            srv.client_disconnected(c)
        c.closed = True
        from ..commands.transactions import discard_transaction
        if c.multi is not None:
            discard_transaction(c)
        c.pending.clear()
        c.out.clear()
        c.parser = RequestParser(_HUGE)
        c.parser.auth_required = False
        c.read_reploff = c.reploff
        c.blocked = None
        self.stream_pending = []
        self.rawbuf = None
        if cache and not c.pre_psync:
            self.log("notice", "Caching the disconnected master state.")
            self.cached_master = c
        else:
            self.cached_master = None
        if self.state == CONNECTED:
            self.down_since = time.time()
        self.state = CONNECT
        if self.masterhost is not None:
            self.log("notice", "Reconnecting to MASTER %s:%d" % (self.masterhost,
                                                                 self.masterport))
            self.connect_with_master()

    def master_gone(self, c):
        """Disconnect hook: the master client was killed (CLIENT KILL TYPE master)."""
        if c is self.master and self.link is not None and not self.link.lost:
            link = self.link
            link.transport.abort()
            # freeClient(master) caches the master at once: the link is down from now
            # (repl_down_since), even if a DEBUG SLEEP in the same EXEC delays the loop
            self.link_lost(link, None)

    # -- connecting -----------------------------------------------------------------------
    def connect_with_master(self):
        srv = self.srv
        if srv.loop is None or self.masterhost is None:
            self.state = CONNECT
            return
        link = self.link = LinkProtocol(self)
        self.buf = bytearray()
        self.state = CONNECTING
        self.transfer_lastio = time.time()
        host, port = self.masterhost, self.masterport
        self.log("notice", "MASTER <-> REPLICA sync started")

        async def go():
            try:
                await best_effort_bind_connect(srv.loop, lambda: link, host, port,
                                               srv.config.values["bind-source-addr"])
            except (OSError, ValueError) as e:
                if self.link is link:
                    self.log("warning", "Error condition on socket for SYNC: %s"
                             % (e.strerror or e))
                    self.link = None
                    self.state = CONNECT
        self.connect_task = srv.loop.create_task(go())

    def cancel_handshake(self, reconnect=True):
        """cancelReplicationHandshake: abort a connection attempt or a transfer."""
        if self.state == TRANSFER:
            self.abort_transfer()
        elif self.state == CONNECTING or RECEIVE_PING_REPLY <= self.state <= RECEIVE_PSYNC_REPLY:
            self.undo_connect()
        else:
            return False
        self.state = CONNECT
        if reconnect and self.masterhost is not None:
            self.log("notice", "Reconnecting to MASTER %s:%d after failure"
                     % (self.masterhost, self.masterport))
            self.connect_with_master()
        return True

    def undo_connect(self):
        link, self.link = self.link, None
        if link is not None:
            if link.transport is not None and not link.lost:
                link.transport.abort()
        task = getattr(self, "connect_task", None)
        if task is not None and not task.done():
            task.cancel()

    def abort_transfer(self):
        self.undo_connect()
        if self.source is not None:
            self.source = None
            self.kill_loader()
        if self.diskless_loading:
            self.stop_diskless_load(False)
        f = self.transfer_file
        if f is not None:
            self.transfer_file = None
            try:
                f.close()
                os.unlink(self.transfer_path)
            except OSError:
                pass

    def handshake_error(self):
        """The error path of syncWithMaster: close, and try again from the cron."""
        self.undo_connect()
        if self.transfer_file is not None:
            self.abort_transfer()
        self.state = CONNECT

    # -- link events ------------------------------------------------------------------------
    def link_connected(self, link):
        if link is not self.link or self.state == NONE:
            link.transport.abort()
            return
        sock = link.transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        self.log("notice", "Non blocking connect for SYNC fired the event.")
        self.state = RECEIVE_PING_REPLY
        self.transfer_lastio = time.time()
        link.transport.write(_encode("PING"))

    def link_lost(self, link, exc):
        if link is not self.link:
            return
        if self.state == CONNECTED and self.master is not None:
            self.log("notice", "Connection with master lost.")
            self.drop_master(cache=True)
            return
        if self.state == TRANSFER and self.loader is not None:
            # Redis reads the socket only from the load: a diskless load parses what
            # arrived, then fails on the short read (readSyncBulkPayload cancels the
            # handshake and reconnects); after a disk load, the new master client finds
            # its link closed
            self.lost_in_load = True
            if self.source is not None:
                self.source.close()
            return
        if self.state == TRANSFER:
            self.log("warning", "I/O error trying to sync with MASTER: connection lost")
        elif self.state == RECEIVE_PSYNC_REPLY and self.failover_state:
            # no reply to PSYNC FAILOVER (PSYNC_TRY_LATER): the failover is aborted
            self.log("warning", "Master did not reply to PSYNC, will try later")
            self.link = None
            self.failover_psync_result(False)
            return
        elif self.state != CONNECT:
            self.log("warning", "Master closed the connection during the handshake")
        self.link = None
        if self.transfer_file is not None:
            self.abort_transfer()
        self.state = CONNECT

    def link_data(self, link, data):
        if link is not self.link:
            return
        if self.state == CONNECTED:
            self.stream_data(data)
            return
        self.buf += data
        self.transfer_lastio = time.time()
        self.srv.stat_net_repl_input_bytes += len(data)
        if self.source is not None:
            self.feed_source()
            return
        self.advance()

    def readline(self):
        buf = self.buf
        nl = buf.find(b"\n")
        if nl < 0:
            return None
        line = bytes(buf[:nl])
        del buf[:nl + 1]
        if line.endswith(b"\r"):
            line = line[:-1]
        return line

    def advance(self):
        """syncWithMaster / readSyncBulkPayload, driven by the bytes received."""
        if self.loader is not None:
            return                         # the stream waits for the RDB load to finish
        while self.link is not None:
            st = self.state
            if st == TRANSFER:
                self.transfer()
                return
            if st == CONNECTED:
                if self.buf:
                    data, self.buf = bytes(self.buf), bytearray()
                    self.srv.stat_net_repl_input_bytes -= len(data)
                    self.stream_data(data)
                return
            line = self.readline()
            if line is None:
                return
            if not self.handshake_step(st, line):
                return

    def handshake_step(self, st, line):
        """One handshake reply; False stops (error, or waiting for more)."""
        v = self.srv.config.values
        link = self.link
        text = line.decode("utf-8", "replace")
        if st == RECEIVE_PING_REPLY:
            if (line[:1] != b"+" and not line.startswith(b"-NOAUTH")
                    and not line.startswith(b"-NOPERM")
                    and not line.startswith(b"-ERR operation not permitted")):
                self.log("warning", "Error reply to PING from master: '%s'" % text)
                self.handshake_error()
                return False
            self.log("notice", "Master replied to PING, replication can continue...")
            out = []
            if v["masterauth"]:
                if v["masteruser"]:
                    out.append(_encode("AUTH", v["masteruser"], v["masterauth"]))
                else:
                    out.append(_encode("AUTH", v["masterauth"]))
            port = v["replica-announce-port"] or (
                v.get("tls-port") if v.get("tls-replication") and v.get("tls-port")
                else self.srv.port)
            out.append(_encode("REPLCONF", "listening-port", str(port)))
            if v["replica-announce-ip"]:
                out.append(_encode("REPLCONF", "ip-address", v["replica-announce-ip"]))
            out.append(_encode("REPLCONF", "capa", "eof", "capa", "psync2"))
            link.transport.write(b"".join(out))
            self.state = RECEIVE_AUTH_REPLY if v["masterauth"] else RECEIVE_PORT_REPLY
            return True
        if st == RECEIVE_AUTH_REPLY:
            if line[:1] == b"-":
                self.log("warning", "Unable to AUTH to MASTER: %s" % text)
                self.handshake_error()
                return False
            self.state = RECEIVE_PORT_REPLY
            return True
        if st == RECEIVE_PORT_REPLY:
            if line[:1] == b"-":
                self.log("notice", "(Non critical) Master does not understand REPLCONF "
                         "listening-port: %s" % text)
            self.state = RECEIVE_IP_REPLY if v["replica-announce-ip"] else RECEIVE_CAPA_REPLY
            return True
        if st == RECEIVE_IP_REPLY:
            if line[:1] == b"-":
                self.log("notice", "(Non critical) Master does not understand REPLCONF "
                         "ip-address: %s" % text)
            self.state = RECEIVE_CAPA_REPLY
            return True
        if st == RECEIVE_CAPA_REPLY:
            if line[:1] == b"-":
                self.log("notice", "(Non critical) Master does not understand REPLCONF "
                         "capa: %s" % text)
            self.send_psync()
            return True
        if st == RECEIVE_PSYNC_REPLY:
            return self.psync_reply(line)
        self.log("warning", "syncWithMaster(): state machine error, state should be "
                 "RECEIVE_PSYNC but is %d" % st)
        self.handshake_error()
        return False

    def send_psync(self):
        self.master_initial_offset = -1
        cm = self.cached_master
        if cm is not None:
            replid, offset = cm.replid, str(cm.reploff + 1)
            self.log("notice", "Trying a partial resynchronization (request %s:%s)."
                     % (replid, offset))
        else:
            self.log("notice", "Partial resynchronization not possible (no cached master)")
            replid, offset = "?", "-1"
        if self.failover_state == FAILOVER_IN_PROGRESS:    # the target takes over
            self.link.transport.write(_encode("PSYNC", replid, offset, "FAILOVER"))
        else:
            self.link.transport.write(_encode("PSYNC", replid, offset))
        self.state = RECEIVE_PSYNC_REPLY

    def psync_reply(self, line):
        """slaveTryPartialResynchronization's reading half."""
        srv = self.srv
        if not line:
            return True      # a newline keeping the link alive before the reply
        text = line.decode("utf-8", "replace")
        if line.startswith(b"+FULLRESYNC"):
            parts = text.split(" ")
            if len(parts) >= 3 and len(parts[1]) == 40:
                self.master_replid = parts[1]
                try:
                    self.master_initial_offset = int(parts[2])
                except ValueError:
                    self.master_initial_offset = -1
                self.log("notice", "Full resync from master: %s:%d"
                         % (self.master_replid, self.master_initial_offset))
            else:
                self.log("warning", "Master replied with wrong +FULLRESYNC syntax.")
                self.master_replid = ""
            self.cached_master = None if self.cached_master is None else self.cached_master
            self.failover_psync_result(True)
            self.begin_transfer()
            return True
        if line.startswith(b"+CONTINUE"):
            self.log("notice", "Successful partial resynchronization with master.")
            new = text[10:].strip() if len(text) > 9 else ""
            cm = self.cached_master
            if len(new) == 40 and new != cm.replid:
                self.log("warning", "Master replication ID changed to %s" % new)
                srv.replid2 = cm.replid
                srv.second_replid_offset = srv.master_repl_offset + 1
                srv.replid = new
                cm.replid = new
                self.disconnect_replicas()
            self.cached_master = None
            self.attach_master(cm, self.link)
            self.state = CONNECTED
            self.down_since = 0
            if self.backlog is None:
                self.create_backlog()
            self.failover_psync_result(True)
            self.log("notice", "MASTER <-> REPLICA sync: Master accepted a Partial "
                     "Resynchronization.")
            return True
        if line.startswith(b"-NOMASTERLINK") or line.startswith(b"-LOADING"):
            self.log("notice", "Master is currently unable to PSYNC but should be in the "
                     "future: %s" % text)
            if self.failover_psync_result(False):
                self.handshake_error()
            return False
        if line.startswith(b"-ERR"):
            self.log("notice", "Master does not support PSYNC or is in error state (reply: "
                     "%s)" % text)
        else:
            self.log("warning", "Unexpected reply to PSYNC from master: %s" % text)
        if not self.failover_psync_result(False):
            return False
        self.log("notice", "Retrying with SYNC...")
        self.link.transport.write(b"SYNC\r\n")
        self.master_initial_offset = -1
        self.begin_transfer()
        return True

    # -- the RDB transfer -------------------------------------------------------------------
    def begin_transfer(self):
        self.state = TRANSFER
        self.transfer_size = -1
        self.transfer_read = 0
        self.transfer_lastio = time.time()
        self.usemark = False
        self.eofmark = b""
        self.lastbytes = b""
        self.transfer_file = None

    def transfer(self):
        """readSyncBulkPayload."""
        while self.transfer_size == -1:
            line = self.readline()
            if line is None:
                return
            if line[:1] == b"-":
                self.log("warning", "MASTER aborted replication with an error: %s"
                         % line[1:].decode("utf-8", "replace"))
                self.cancel_handshake()
                return
            if not line:
                continue       # a newline: the master is alive, preparing the RDB
            if line[:1] != b"$":
                self.log("warning", "Bad protocol from MASTER, the first byte is not '$' (we "
                         "received '%s'), are you sure the host and port are right?"
                         % line.decode("utf-8", "replace"))
                self.cancel_handshake()
                return
            diskless = self.use_diskless_load()
            where = "to parser" if diskless else "to disk"
            if line[1:5] == b"EOF:" and len(line) >= 45:
                self.usemark = True
                self.eofmark = line[5:45]
                self.transfer_size = 0
                self.log("notice", "MASTER <-> REPLICA sync: receiving streamed RDB from "
                         "master with EOF %s" % where)
            else:
                try:
                    self.transfer_size = int(line[1:])
                except ValueError:
                    self.transfer_size = 0
                self.log("notice", "MASTER <-> REPLICA sync: receiving %d bytes from master "
                         "%s" % (self.transfer_size, where))
            if diskless:
                self.start_diskless_load()
                return
            self.open_transfer_file()
            if self.transfer_file is None:
                return
        buf = self.buf
        if not buf and not (not self.usemark and self.transfer_read == self.transfer_size):
            return
        if self.usemark:
            data = bytes(buf)
            buf.clear()
            tail = (self.lastbytes + data)[-40:]
            self.lastbytes = tail
            self.transfer_file.write(data)
            self.transfer_read += len(data)
            if tail != self.eofmark:
                return
            self.transfer_file.truncate(self.transfer_read - 40)
        else:
            left = self.transfer_size - self.transfer_read
            data = bytes(buf[:left])
            del buf[:left]
            self.transfer_file.write(data)
            self.transfer_read += len(data)
            if self.transfer_read < self.transfer_size:
                return
        self.finish_transfer()

    # -- diskless load (repl-diskless-load) ---------------------------------------------------
    # As Redis does, the RDB is parsed straight from the socket while it arrives (a greenlet
    # fed by link_data through a DisklessSource; reading pauses while it is behind, so a slow
    # loader slows the master's transfer), serving events every
    # loading-process-events-interval-bytes: the server is "loading" (commands without the
    # loading flag get -LOADING) or, with swapdb and the same replication ID, "async
    # loading" (the old dataset keeps being served). The new dataset replaces the old one
    # only once complete; a failed load leaves the old one (swapdb) or an empty one.
    def use_diskless_load(self):
        """useDisklessLoad."""
        mode = self.srv.config.values["repl-diskless-load"]
        return mode == "swapdb" or (mode == "on-empty-db"
                                    and not any(db.data for db in self.srv.dbs))

    def start_diskless_load(self):
        srv = self.srv
        swapdb = srv.config.values["repl-diskless-load"] == "swapdb"
        if not swapdb:
            self.attach_to_new_master()
            self.log("notice", "MASTER <-> REPLICA sync: Flushing old data")
            self.empty_data()
        self.log("notice", "MASTER <-> REPLICA sync: Loading DB in memory")
        self.diskless_loading = 2 if swapdb and srv.replid == self.master_replid else 1
        from ..persistence import loading
        # (the size of a transfer ended by an EOF mark is unknown: 0)
        loading.start(srv, self.transfer_size, async_=self.diskless_loading == 2)
        src = self.source = DisklessSource(self)
        self.start_loader(lambda: self.diskless_run(src), self.diskless_done)
        self.feed_source()

    def feed_source(self):
        """Hand what arrived of the RDB to the loader (a sized transfer's stream bytes
        after it stay in self.buf)."""
        buf = self.buf
        if not buf:
            return
        if self.usemark:
            data = bytes(buf)
            buf.clear()
            self.lastbytes = (self.lastbytes + data)[-40:]
            eof = self.lastbytes == self.eofmark
        else:
            left = self.transfer_size - self.transfer_read
            data = bytes(buf[:left])
            del buf[:left]
            eof = self.transfer_read + len(data) >= self.transfer_size
        self.transfer_read += len(data)
        self.source.feed(data, eof)

    def diskless_run(self, src):
        """The loader greenlet: rdbLoadRio from the socket, then the EOF mark."""
        from ..persistence import rdb
        try:
            res = rdb.load_stream(self.srv, src)
        except rdb.RDBError as e:
            return ("error", e, src.offset)
        rest = res.rest
        if self.usemark:
            while len(rest) < 40:
                more = src.more(rest)
                if more is None:
                    return ("mark", None, 0)
                rest = more
            if rest[:40] != self.eofmark:
                return ("mark", None, 0)
            rest = rest[40:]
        return ("ok", res, rest + src.drain())

    def diskless_done(self, result):
        """readSyncBulkPayload after rdbLoadRio: swap in the loaded dataset, or give up
        and reconnect."""
        srv = self.srv
        src, self.source = self.source, None
        if src is not None:
            src.resume()
        kind = result[0]
        if kind != "ok":
            if kind == "mark":
                self.log("warning", "Replication stream EOF marker is broken")
            else:
                e = result[1]
                if e is None:                # (the loader failed: logged by step())
                    err = "Invalid argument"
                elif e.msg.startswith("Unexpected EOF"):
                    self.diskless_short_read(result[2])
                    err = "Connection reset by peer"
                else:
                    self.log("warning", "Internal error in RDB reading offset %d, function "
                             "at rdb.c:0 -> %s" % (e.offset or 0, e.msg))
                    err = "Invalid argument"
                self.log("warning", "Failed trying to load the MASTER synchronization DB "
                         "from socket: %s" % err)
            self.stop_diskless_load(False)
            self.cancel_handshake()          # cancelReplicationHandshake(1): reconnect
            return
        res, rest = result[1], result[2]
        if res.aux:
            self.last_aux = {(k.decode("latin-1") if isinstance(k, bytes) else k):
                             (v if isinstance(v, bytes) else str(v).encode())
                             for k, v in res.aux.items()}
        if rest:
            self.buf[0:0] = rest             # the master's stream after the RDB
        if srv.config.values["repl-diskless-load"] == "swapdb":
            self.attach_to_new_master()
            self.log("notice", "MASTER <-> REPLICA sync: Swapping active DB with loaded DB")
            self.log("notice", "MASTER <-> REPLICA sync: Discarding old DB in background")
        srv.dirty += 1
        self.stop_diskless_load(True)
        link = self.link
        self.sync_loaded(True, None)
        if src is not None and src.closed and self.link is link and self.state == CONNECTED:
            self.link_lost(link, None)      # the master client finds its link closed

    def stop_diskless_load(self, ok):
        """stopLoading; a failed load leaves the old dataset (swapdb) or an empty one."""
        srv = self.srv
        mode, self.diskless_loading = self.diskless_loading, 0
        if not mode:
            return
        from ..persistence import loading
        loading.stop(srv)
        self.update_checks()
        if ok:
            return
        if srv.config.values["repl-diskless-load"] == "swapdb":
            self.log("notice", "MASTER <-> REPLICA sync: Discarding temporary DB in background")
        else:
            self.empty_data()

    def diskless_short_read(self, offset):
        """The link broke while the RDB was being parsed (rdbLoadRio's short read)."""
        self.log("warning", "Short read or OOM loading DB. Unrecoverable error, aborting now.")
        self.log("warning", "Internal error in RDB reading offset %d, function at rdb.c:3240 "
                 "-> Unexpected EOF reading RDB file. Failure loading rdb format from socket, "
                 "assuming connection error, resuming operation." % offset)

    # -- the loader greenlet (processEventsWhileBlocked) ----------------------------------------
    def start_loader(self, fn, done):
        """Run fn() in a greenlet that gives the event loop back every
        loading-process-events-interval-bytes (srv.loading_yield, called by the RDB parser)
        and while it waits for bytes of a diskless transfer; done(result) once it returns."""
        from greenlet import greenlet, getcurrent
        srv = self.srv
        g = greenlet(fn)
        self.loader = g                    # commands get LOADING meanwhile (state_check)
        self.loader_waiting = False
        self.lost_in_load = False
        srv.load_blocking = True           # whileBlockedCron instead of serverCron
        self.update_checks()

        def pause():
            if getcurrent() is g:
                g.parent.switch(False)
        srv.loading_yield = pause

        def step():
            if self.loader is not g:       # killed meanwhile
                return
            try:
                res = g.switch()
            except Exception as e:  # noqa: BLE001 - a bug in the loader: a failed load
                self.log("warning", "RDB loading failed: %r" % (e,))
                res = ("error", None, 0) if self.source is not None else False
            if not g.dead:
                if res is True:            # waiting for data: wake_loader() goes on
                    self.loader_waiting = True
                else:
                    srv.loop.call_soon(self.loader_step)
                return
            self.loader = None
            self.loader_step = None        # (no cycle left: gcpolicy.py)
            srv.loading_yield = None
            srv.load_blocking = False
            self.update_checks()
            done(res)

        self.loader_step = step
        step()

    def wake_loader(self):
        if self.loader is not None and self.loader_waiting:
            self.loader_waiting = False
            self.srv.loop.call_soon(self.loader_step)

    def kill_loader(self):
        """Abort the load (the greenlet unwinds; nothing of it was installed)."""
        from greenlet import getcurrent
        g, self.loader = self.loader, None
        self.loader_step = None
        self.srv.loading_yield = None
        self.srv.load_blocking = False
        if g is not None and not g.dead:
            g.parent = getcurrent()        # (it comes back here once unwound)
            g.throw()                      # GreenletExit inside it
        self.update_checks()

    def open_transfer_file(self):
        path = "temp-%d.%d.rdb" % (int(time.time()), os.getpid())
        try:
            self.transfer_file = open(path, "wb")
            self.transfer_path = path
        except OSError as e:
            self.log("warning", "Opening the temp file needed for MASTER <-> REPLICA "
                     "synchronization: %s" % e)
            self.handshake_error()

    def finish_transfer(self):
        """The RDB is here: load it in place of the dataset, then go on with the stream."""
        srv = self.srv
        f, self.transfer_file = self.transfer_file, None
        tmp = self.transfer_path
        try:
            f.flush()
            os.fsync(f.fileno())
            f.close()
            target = srv.config.values.get("dbfilename") or "dump.rdb"
            os.replace(tmp, target)
        except OSError as e:
            self.log("warning", "Failed trying to rename the temp DB into %s in MASTER <-> "
                     "REPLICA synchronization: %s" % ("dump.rdb", e))
            self.cancel_handshake()
            return
        self.attach_to_new_master()
        self.log("notice", "MASTER <-> REPLICA sync: Flushing old data")
        self.empty_data()
        self.log("notice", "MASTER <-> REPLICA sync: Loading DB in memory")
        self.load_in_background(target, lambda ok: self.sync_loaded(ok, target))

    def load_in_background(self, path, done):
        """Load the synced RDB in the loader greenlet (start_loader), as Redis processes
        events while loading: clients get LOADING, INFO says loading:1, the cluster bus
        keeps talking. The master's stream arriving meanwhile waits in self.buf."""
        link = self.link

        def finished(ok):
            lost = self.lost_in_load
            if self.link is not link:      # the handshake was cancelled meanwhile
                ok = False
            done(bool(ok))
            if lost and self.link is link and self.state == CONNECTED:
                self.link_lost(link, None)
        self.start_loader(lambda: self.load_rdb_file(path), finished)

    def sync_loaded(self, ok, target):
        """The rest of readSyncBulkPayload once the RDB is loaded (or failed to)."""
        srv = self.srv
        if target is not None and srv.config.values.get("rdb-del-sync-files") \
                and _persistence_off(srv):
            self.log("notice", "Removing the RDB file obtained from the master. This replica "
                     "has persistence disabled")
            try:
                os.unlink(target)
            except OSError:
                pass
        if not ok:
            self.cancel_handshake()
            return
        aux = self.last_aux
        try:
            dbid = int(aux.get("repl-stream-db", b"-1"))
        except ValueError:
            dbid = -1
        self.replica_keys.clear()      # emptyData: flushSlaveKeysWithExpireList
        c = self.new_master_client(self.link)
        c.reploff = c.read_reploff = self.master_initial_offset
        c.replid = self.master_replid
        c.pre_psync = self.master_initial_offset == -1
        if 0 <= dbid < len(srv.dbs):
            c.select(dbid)
        self.state = CONNECTED
        self.down_since = 0
        srv.replid = c.replid if len(c.replid) == 40 else srv.replid
        srv.master_repl_offset = c.reploff
        self.clear_replid2()
        if self.backlog is None:
            self.create_backlog()
        self.log("notice", "MASTER <-> REPLICA sync: Finished with success")
        if self.usemark:
            self.send_ack()
        for hook in full_sync_hooks:
            hook(srv)
        if self.buf:
            data, self.buf = bytes(self.buf), bytearray()
            self.srv.stat_net_repl_input_bytes -= len(data)
            self.stream_data(data)

    def load_rdb_file(self, path, keep=False):
        srv = self.srv
        self.last_aux = rdbaux.read_aux(path)
        try:
            from ..persistence import rdb
        except ImportError as e:
            self.log("warning", "Failed trying to load the MASTER synchronization DB from "
                     "disk: %s" % e)
            return False
        try:
            res = rdb.load(srv, path)
            aux = getattr(res, "aux", None)
            if aux:
                self.last_aux = {(k.decode("latin-1") if isinstance(k, bytes) else k):
                                 (v if isinstance(v, bytes) else str(v).encode())
                                 for k, v in aux.items()}
            return True
        except Exception as e:  # noqa: BLE001 - RDBError and I/O errors alike
            self.log("warning", "Failed trying to load the MASTER synchronization DB from "
                     "disk: %s" % e)
            if not keep:
                self.empty_data()
            return False

    def empty_data(self):
        """emptyData with the replica's flags: every database (its watched keys touched,
        by db.clear), in the background under replica-lazy-flush."""
        srv = self.srv
        lazy = srv.config.values["replica-lazy-flush"]
        for db in srv.dbs:
            db.clear(lazy)

    def attach_to_new_master(self):
        """replicationAttachToNewMaster: our replicas and backlog belong to the old
        history."""
        self.cached_master = None
        self.disconnect_replicas()
        self.free_backlog()

    # -- the stream -------------------------------------------------------------------------
    def stream_data(self, data):
        """Run the master's commands; advance reploff; proxy what was applied."""
        srv = self.srv
        c = self.master
        n = len(data)
        srv.stat_net_repl_input_bytes += n
        c.read_reploff += n
        c.last_interaction = time.monotonic()
        parser = c.parser
        # the commands of a read that starts and ends on command boundaries are exactly
        # its bytes: their size needs no counting (our parser only: hiredis's is hidden)
        whole = self.reader is None and not parser.holds_partial()
        cmds = self.parse_stream(c, data)
        if cmds is None:
            return
        size = n if whole and not parser.holds_partial() else -1
        prev = c.reploff
        if self.stream_pending:
            self.stream_pending.extend(cmds)
            if not c.paused:
                cmds, self.stream_pending = self.stream_pending, []
                self.run_stream(c, cmds)
        elif cmds:
            self.run_stream(c, cmds, size)
        if self.master is not c:
            return
        applied = c.reploff - prev
        raw = self.rawbuf
        if raw is None:
            if applied == n:
                self.feed(data)
                return
            if applied:
                self.feed(data[:applied])
            self.rawbuf = bytearray(data[applied:])
        else:
            raw += data
            if applied:
                self.feed(bytes(raw[:applied]))
                del raw[:applied]
            if not raw:
                self.rawbuf = None

    def parse_stream(self, c, data):
        """The complete commands in data (the master's stream is trusted: hiredis keeps
        partial commands across reads); None after a protocol error (link dropped)."""
        reader = self.reader
        if reader is not None:
            reader.feed(data)
            try:
                out = list(iter(reader.gets, False))
                # every one a non-empty list (checked at C speed: this is per command)
                if not all(out) or {*map(type, out)} - {list}:
                    raise ValueError("expected '*'")
                return out
            except Exception as e:  # noqa: BLE001 - hiredis.ProtocolError and odd replies
                err = "Protocol error: %s" % e
        else:
            parser = c.parser
            out = parser.feed_fast(data)
            if parser.error is None:
                return out
            err = parser.error
        self.log("warning", "Protocol error (%s) from client: %s" % (err, c.info_line()))
        self.drop_master(cache=False)
        return None

    def run_stream(self, c: Client, cmds, size=-1):
        """Execute commands of the stream; reploff moves past each executed command
        (past a whole MULTI ... EXEC once EXEC ran). size: the stream bytes of cmds when
        known (else counted)."""
        srv: RedisServer = self.srv
        cmd: Command
        base = c.stream_pos if c.multi is not None else c.reploff
        process = c.process
        dispatch = srv.dispatch     # lookupCommand: rename-command applies
        multi_start = -1
        done = len(cmds)
        sized, sized_off = 0, base      # cmds[:sized] end at stream offset sized_off
        srv.master_executing = True
        try:
            for i, argv in enumerate(cmds):
                name = argv[0]
                if len(name) == 8 and name.lower() == b"replconf" and c.multi is None:
                    # commandProcessed moves reploff after each command: REPLCONF GETACK
                    # acknowledges the stream processed before it
                    sized_off += canonical_size(cmds[sized:i])
                    sized = i
                    c.reploff = sized_off
                cmd = dispatch.get(name)
                if cmd is None:
                    cmd = dispatch.get(name.lower())
                # the master's commands skip processCommand's checks (they must be
                # obeyed); MULTI queueing, pauses, a disk error (a panic or a log line)
                # and odd commands take process()
                if (cmd is None or cmd.subcommands is not None or c.multi is not None
                        or srv.pause_type or srv.disk_checks
                        or (cmd.arity > 0 and cmd.arity != len(argv))
                        or len(argv) < -cmd.arity):
                    process(argv)
                else:
                    c.last_cmd = cmd
                    reply = Client.call(c, cmd, argv)   # (MasterClient.call's check: below)
                    if reply and reply[0] == 45:        # b"-"
                        self.master_error(reply, cmd)
                    if srv.ready_keys:
                        srv.handle_ready_keys()
                if c.paused:            # CLIENT PAUSE: this command waits, and the rest
                    c.pending.clear()
                    self.stream_pending = cmds[i:]
                    done = i
                    break
                if c.multi is not None:
                    if multi_start < 0:
                        multi_start = i
                else:
                    multi_start = -1
                if self.master is not c:
                    return
        finally:
            srv.master_executing = False
        if done == len(cmds) and size >= 0:
            end = base + size
        else:
            end = base + canonical_size(cmds[:done] if done < len(cmds) else cmds)
        c.stream_pos = end
        if c.multi is None:
            c.reploff = end
        elif multi_start >= 0:
            c.reploff = base + canonical_size(cmds[:multi_start])

    def master_resume(self, c):
        """CLIENT PAUSE ended for the master client: go on with its stream."""
        if c is not self.master or not self.stream_pending:
            return
        prev = c.reploff
        cmds, self.stream_pending = self.stream_pending, []
        self.run_stream(c, cmds)
        if self.master is not c:
            return
        applied = c.reploff - prev
        raw = self.rawbuf
        if applied and raw is not None:
            self.feed(bytes(raw[:applied]))
            del raw[:applied]
            if not raw:
                self.rawbuf = None

    def master_error(self, err, cmd):
        """afterErrorReply: this replica would answer its master with an error."""
        srv = self.srv
        if err.endswith(b"\r\n"):
            err = err[:-2]
        # addReplyError's texts are logged without "-ERR ", shared error objects with "-"
        if err.startswith(b"-ERR ") or err.startswith(b"ERR "):
            err = err.split(b" ", 1)[1]
        elif err[:1] != b"-":
            err = b"-" + err
        err = err[:4096].decode("utf-8", "replace")
        name = cmd.fullname if cmd is not None else "<unknown>"
        self.log("warning", "== CRITICAL == This replica is sending an error to its master: "
                 "'%s' after processing the command '%s'" % (err, name))
        self.flush_out()
        b = self.backlog
        if b is not None and b.histlen > 0:
            from ..util import repr_bytes
            self.log("warning", "Latest backlog is: '%s'"
                     % repr_bytes(bytes(b.buf[-256:])).decode("ascii"))
        srv.stat_unexpected_error_replies += 1
        v = srv.config.values
        if v["replica-read-only"] and v["propagation-error-behavior"] in (
                "panic", "panic-on-replicas"):
            from ..commands.debug import _panic     # serverPanic
            _panic(self.master, "This replica panicked sending an error to its master after "
                   "processing the command '%s'" % name, "networking.c:555")

    def send_ack(self):
        """replicationSendAck."""
        c = self.master
        if c is None or c.closed or c.transport is None:
            return
        off = str(c.reploff).encode()
        c.transport.write(b"*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$%d\r\n%s\r\n" % (len(off), off))

    # -- cron (replica part) ------------------------------------------------------------------
    def replica_cron(self):
        if self.masterhost is None:
            return
        now = time.time()
        timeout = self.srv.config.values["repl-timeout"]
        if ((self.state == CONNECTING or RECEIVE_PING_REPLY <= self.state <= RECEIVE_PSYNC_REPLY)
                and now - self.transfer_lastio > timeout):
            self.log("warning", "Timeout connecting to the MASTER...")
            self.cancel_handshake()
        if self.state == TRANSFER and now - self.transfer_lastio > timeout:
            self.log("warning", "Timeout receiving bulk data from MASTER... If the problem "
                     "persists try to set the 'repl-timeout' parameter in redis.conf to a "
                     "larger value.")
            self.cancel_handshake()
        if (self.state == CONNECTED and self.master is not None
                and time.monotonic() - self.master.last_interaction > timeout):
            self.log("warning", "MASTER timeout: no data nor PING received...")
            self.drop_master(cache=True)
        if self.state == CONNECT:
            self.log("notice", "Connecting to MASTER %s:%d" % (self.masterhost, self.masterport))
            self.connect_with_master()
        if self.master is not None and not self.master.pre_psync:
            self.send_ack()


def _persistence_off(srv):
    v = srv.config.values
    return not v.get("save") and not v.get("appendonly")
