"""One client connection: an asyncio.Protocol that parses every complete command in a
read, runs them through the dispatcher, and queues the replies: the socket write happens
once per client at the end of the loop pass (Client.flush_later, as Redis's beforeSleep).

The dispatcher (Client.call and Client.process) applies Redis's checks in processCommand's
order; the checks most commands skip sit behind one test (`self.checks or srv.checks`).
"""
import asyncio
import time
from collections import deque

from .commands.table import LAT_SMALL
from .errors import CommandError, NOAUTH
from .resp.encode import RESP2, RESP3, QUEUED, error
from .resp.parser import RequestParser
from .clientmem import fields as mem_fields, sds_alloc

_perf_ns = time.perf_counter_ns
_monotonic = time.monotonic


# client flags shown by CLIENT LIST (flags=...)
CLOSE_ASAP = "A"


_SCRIPT_CMDS = frozenset(("eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro"))


def _may_replicate(srv, cmd, argv):
    """CMD_WRITE|CMD_MAY_REPLICATE in getCommandFlags(c)."""
    if cmd.name in _SCRIPT_CMDS:
        from .scripting.eval import script_command_write
        w = script_command_write(srv, cmd.name, argv)
        if w is not None:
            return w
    return cmd.is_write or cmd.may_replicate


class Client:
    asking = False               # cluster: CLIENT_ASKING (reset after the next command)
    readonly_mode = False        # cluster: CLIENT_READONLY (READONLY / READWRITE)
    cluster_slot = -1            # cluster: c->slot, the slot of this command's keys (scripts)
    # read with getattr(c, name, default) by other modules; a class default spares every
    # such read building an AttributeError
    must_obey = False            # the AOF loading client (mustObeyClient)
    in_script = False            # the scripting engine's own client
    lua_debug = 0                # SCRIPT DEBUG YES (1) / SYNC (2)
    # memory model (clientmem.py; the ones the request path reads are set in __init__):
    # the query buffer's big allocation, the last accounted memory and bucket
    buf_peak_reset = 0
    qb_freed_at = 0.0
    last_mem = 0
    mem_type = 0
    mem_bucket = None
    obuf_soft_since = 0          # obuf_soft_limit_reached_time
    cron_seen = -1.0             # last_interaction at the client cron's last visit
    cron_quiet = False           # ... which changed nothing
    multi_mem_cache = None

    def __init__(self, server, unix=False):
        self.woff = 0        # replication offset after this client's last write (WAIT)
        self.skip_error_stats = False     # the error reply of this call is already counted
        self.tracking = None              # CLIENT TRACKING state (tracking.py) while on
        self.qb_peak = 0
        self.server = server
        self.transport = None
        self.id = 0
        self.unix = unix
        self.addr = ""
        self.laddr = ""
        self.fd = -1
        self.name = None
        self.lib_name = None
        self.lib_ver = None
        self.db = server.dbs[0]
        self.resp = 2
        self.r = RESP2
        self.user = "default"
        self.authenticated = not server.auth_required()
        self.parser = RequestParser(server.config.values["proto-max-bulk-len"])
        self.parser.auth_required = not self.authenticated
        self.out = []
        self.pending = deque()       # parsed commands waiting (while blocked or paused)
        self.closing = False         # close after the replies queued so far
        self.obuf_class = None       # 'replica' for replica links (else normal/pubsub)
        self.flush_scheduled = False # queued in server.schedule_flush
        self.closed = False
        # the slow-path checks apply to this client (also: its ACL user is restricted)
        self.checks = not self.authenticated or (
            server.acl is not None and "default" in server.acl.restricted)
        self.multi = None            # list of queued (cmd, argv) inside MULTI
        self.multi_error = False
        self.dirty_cas = False
        self.watched_keys = {}       # (db, key) -> key was already expired when WATCHed
        self.subscribed = 0          # channels + patterns + shard channels
        self.channels = {}           # channel -> None (ordered sets, see commands/pubsub.py)
        self.patterns = {}
        self.shard_channels = {}
        self.blocked = None          # blocking state (see blocking.py) while parked
        self.paused = False
        self.reply_mode = 0          # CLIENT REPLY: 0 on, 1 off, 2 skip next, 3 skip this
                                     # (odd: replies are dropped)
        self.monitor = False
        self.no_evict = False
        self.no_touch = False
        self.ctime = _monotonic()
        self.last_interaction = self.ctime
        self.qb_freed_at = self.ctime   # no read yet: an empty query buffer (sdsempty)
        self.qb_big = 4
        self.last_cmd = None
        self.prop_override = None    # argv lists to propagate instead of the command itself
        self.in_exec = False
        self.flags_extra = ""
        self.rbs = 16384             # Redis's reply buffer size (clientmem.py)
        self.buf_peak = 16384        # ... and the peak of one write cycle in it
        self.wpaused = False         # the transport holds unsent output (pause_writing)
        self.mem_live = False        # update the memory accounting after this read

    # -- asyncio.Protocol -------------------------------------------------------------
    def connection_made(self, transport):
        srv = self.server
        self.transport = transport
        try:
            # pause_writing as soon as the socket does not take everything: unsent
            # output is client memory (clientmem.py)
            transport.set_write_buffer_limits(high=0)
        except (AttributeError, NotImplementedError, ValueError):
            pass
        sock = transport.get_extra_info("socket")
        if sock is not None:
            self.fd = sock.fileno()
        peer = transport.get_extra_info("peername")
        local = transport.get_extra_info("sockname")
        if self.unix:
            self.addr = "%s:0" % (local or srv.config.values["unixsocket"] or "")
            self.laddr = self.addr
        else:
            self.addr = _fmt_addr(peer)
            self.laddr = _fmt_addr(local)
        srv.client_connected(self)
        if srv.cmem.buckets is not None:
            self.mem_live = True        # client eviction: accounted after every read

    def pause_writing(self):
        self.wpaused = True

    def resume_writing(self):
        self.wpaused = False
        if not self.closed and self.id:
            self.server.cmem.changed(self)

    def connection_lost(self, exc):
        self.closed = True
        self.server.client_disconnected(self)

    def data_received(self, data):
        srv = self.server
        srv.stat_net_input_bytes += len(data)
        self.last_interaction = _monotonic()
        if self.closing:
            return
        parser = self.parser
        cmds = parser.feed_fast(data)
        if parser.holds_partial():
            # a partial command waits in the query buffer
            qlen = parser.pending_bytes()
            if qlen > self.qb_peak:
                self.qb_peak = qlen
            if qlen > srv.query_buffer_limit:
                srv.log_verbose("Closing client that reached max query buffer length")
                srv.stat_client_qbuf_limit_disconnections += 1
                self.close()
                return
            if parser.parts is not None:
                # a big argument: Redis makes room for all of it at once
                if parser.bulklen + 2 > self.qb_big:
                    self.qb_big = sds_alloc(parser.bulklen + 2)
            self.mem_live = True
        if self.blocked is not None or self.paused or self.pending:
            self.pending.extend(cmds)
            if parser.error is not None and self.blocked is None and not self.paused:
                self.resume()
            return
        if cmds:
            self.run(cmds)
        if parser.error is not None:
            self.protocol_error()
        if self.out or self.closing:
            self.flush_later()
        if self.mem_live and not self.closed:
            # the output limits apply as replies are added (Redis checks them in
            # _addReplyToBufferOrList): a client past them goes now and does not count
            # for client eviction (flush() checks the others when it writes)
            if self.out and srv.obuf_limits_on and srv.cmem.check_append(
                    self, sum(map(len, self.out))):
                return
            # updateClientMemUsageAndBucket; evictClients runs before the next command
            # or after this pass's writes (clientmem.schedule_evict)
            srv.cmem.changed(self)

    def protocol_error(self):
        if self.pending or self.blocked is not None or self.paused:
            return   # the error is raised once the commands before it have run
        self.server.log_verbose("Protocol error (%s) from client: %s"
                                % (self.parser.error, self.info_line()))
        reply = error("ERR " + self.parser.error)
        self.server.count_error(reply)      # protocol errors count in errorstats too
        self.out.append(reply)
        self.parser.error = None
        self.closing = True

    def eof_received(self):
        return False

    # -- running commands -------------------------------------------------------------
    def run(self, cmds):
        """Run parsed commands in order; stop when the client blocks or must close.

        The common case (a known command with the right arity, no special client or
        server state, a plain reply) is dispatched inline here; everything else takes
        process() and _after_call(). One clock reading per command: a command's time
        runs from the end of the one before it, so it includes its own lookup."""
        srv = self.server
        dispatch = srv.dispatch
        perf = _perf_ns
        out_append = self.out.append
        t0 = perf()
        for i, argv in enumerate(cmds):
            cmd = dispatch.get(argv[0])
            if cmd is None:
                cmd = dispatch.get(argv[0].lower())
            if (cmd is None or cmd.needs_check or self.checks or srv.checks
                    or self.reply_mode or srv.ready_keys):
                self.process(argv)
                t0 = perf()
            else:
                n = len(argv)
                a = cmd.arity
                if n != a and (a > 0 or n < -a):
                    self.process(argv)
                    t0 = perf()
                else:
                    self.last_cmd = cmd
                    dirty = srv.dirty
                    try:
                        reply = cmd.handler(self, argv)
                    except CommandError as e:
                        reply = e.reply
                    t1 = perf()
                    dt = (t1 - t0) // 1000
                    t0 = t1
                    cmd.calls += 1
                    cmd.usec += dt
                    srv.stat_numcommands += 1
                    if (not reply or reply[0] == 45 or dt >= srv.after_call_us   # None, b"", b"-"
                            or self.prop_override is not None or self.blocked is not None
                            or srv.monitors):
                        self._after_call(cmd, argv, reply, dt, dirty)
                    else:
                        if srv.dirty != dirty and srv.propagate_targets:
                            # _after_call's propagation of a plain write
                            if cmd.is_write:
                                srv.propagate(self.db.id, argv)
                            self.woff = srv.master_repl_offset   # WAIT waits for this
                        out_append(reply)
                        if srv.latency_tracking:
                            if dt < LAT_SMALL:
                                cmd.lat[dt] += 1
                            else:
                                cmd.add_latency(dt)
                    if srv.ready_keys:
                        srv.handle_ready_keys()
                        t0 = perf()
                    # (a command run here leaves reply_mode and paused as they were)
                    if self.blocked is None and not self.closing:
                        continue
            if self.reply_mode or self.blocked is not None or self.closing or self.paused:
                if self.reply_mode > 1:
                    self.advance_reply_skip()
                if self.blocked is not None or self.closing or self.paused:
                    if i + 1 < len(cmds) and not self.closing:
                        self.pending.extend(cmds[i + 1:])
                    break

    def resume(self):
        """Go on with commands parked while the client was blocked or paused."""
        pending = self.pending
        while pending and self.blocked is None and not self.closing and not self.paused:
            self.process(pending.popleft())
            if self.reply_mode > 1:
                self.advance_reply_skip()
        if not pending and self.parser.error is not None and self.blocked is None:
            self.protocol_error()
        if self.out or self.closing:
            self.flush_later()

    def advance_reply_skip(self):
        """resetClient: CLIENT REPLY SKIP applies to the one command after it."""
        self.reply_mode = 3 if self.reply_mode == 2 else 0

    def process(self, argv):
        """processCommand: look up, check, then execute or queue one command."""
        srv = self.server
        dispatch = srv.dispatch
        cmd = dispatch.get(argv[0])
        if cmd is None:
            cmd = dispatch.get(argv[0].lower())
        if cmd is None or cmd.needs_check or self.checks or srv.checks:
            cmd = self.check(argv, cmd)
            if cmd is None:
                return
        else:
            a = cmd.arity
            if (a > 0 and a != len(argv)) or len(argv) < -a:
                return self.reject(cmd, "ERR wrong number of arguments for '%s' command"
                                   % cmd.fullname)
        self.last_cmd = cmd
        self.call(cmd, argv)
        if srv.ready_keys:
            srv.handle_ready_keys()

    def call(self, cmd, argv):
        """call(): run the handler, time it, count it, propagate its effects."""
        srv = self.server
        dirty = srv.dirty
        if self.tracking is not None:
            self.tracking.enter_call(self, cmd, argv)
        t0 = _perf_ns()
        try:
            reply = cmd.handler(self, argv)
        except CommandError as e:
            reply = e.reply
        dt = (_perf_ns() - t0) // 1000
        cmd.calls += 1
        cmd.usec += dt
        srv.stat_numcommands += 1
        if (not reply or reply[0] == 45 or dt >= srv.after_call_us   # None, b"", b"-"
                or self.prop_override is not None or self.blocked is not None
                or srv.monitors or (self.reply_mode & 1 and "S" in self.flags_extra)
                or srv.tracking_clients or srv.tracking_current is not None):
            self._after_call(cmd, argv, reply, dt, dirty)
        else:
            # _after_call's common case: a plain reply, its write propagated
            if srv.dirty != dirty:
                if cmd.is_write:
                    srv.propagate(self.db.id, argv)
                self.woff = srv.master_repl_offset   # WAIT waits for this offset
            if not self.reply_mode & 1:
                self.out.append(reply)
            if srv.latency_tracking:
                if dt < LAT_SMALL:
                    cmd.lat[dt] += 1
                else:
                    cmd.add_latency(dt)
        return reply

    def _after_call(self, cmd, argv, reply, dt, dirty):
        """The rest of call() after the handler: the reply, error stats, propagation,
        latency histogram, slowlog, latency events, MONITOR."""
        srv = self.server
        if reply:
            if reply[0] == 45:      # b"-"
                cmd.failed_calls += 1
                if self.skip_error_stats:     # already counted (scripts)
                    self.skip_error_stats = False
                else:
                    srv.count_error(reply)
            if not self.reply_mode & 1:
                self.out.append(reply)
            elif "S" in self.flags_extra:
                self.replica_replied(cmd)
        if srv.dirty != dirty:
            ov = self.prop_override
            if ov is None:
                if cmd.is_write:
                    srv.propagate(self.db.id, argv)
            else:
                self.prop_override = None
                self.propagate_many(ov)
            self.woff = srv.master_repl_offset   # WAIT waits for this offset
        elif self.prop_override is not None:
            ov, self.prop_override = self.prop_override, None
            self.propagate_many(ov)
        if self.blocked is None:
            if srv.latency_tracking:
                cmd.add_latency(dt)
            if dt >= srv.slowlog_threshold >= 0 and not cmd.skip_slowlog:
                srv.slowlog_add(self, argv, dt)
        else:
            # stats of a blocked command are completed when it is served (blocking.py)
            self.blocked.usec = dt
            self.blocked.argv = argv
        if dt >= srv.latency_threshold_us:
            srv.latency_add("fast-command" if cmd.fast else "command", dt // 1000)
        if srv.monitors and not cmd.skip_monitor and not cmd.admin:
            srv.feed_monitors(self, argv)
        if srv.tracking_clients or srv.tracking_current is not None:
            srv.tracking.after_call(self, cmd, argv)

    def propagate_many(self, ov):
        """Propagate a command's effects; more than one go out wrapped in MULTI/EXEC
        (propagatePendingCommands), unless an outer batch (EXEC, script) collects them."""
        srv = self.server
        dbid = self.db.id
        if len(ov) == 1:
            srv.propagate(dbid, ov[0])
            return
        opened = len(ov) > 1 and srv.propagate_begin()
        for a in ov:
            srv.propagate(dbid, a)
        if opened:
            srv.propagate_end()

    def reject(self, cmd, msg):
        """rejectCommand: an error before execution (counted as rejected, flags EXECABORT)."""
        if cmd is not None:
            cmd.rejected_calls += 1
        if self.multi is not None:
            self.multi_error = True
        if cmd is not None and cmd.fullname == "exec":
            from .commands.transactions import exec_abort
            msg = exec_abort(self, msg)
        reply = error(msg)
        self.server.count_error(reply)
        if not self.reply_mode & 1:
            self.out.append(reply)
        elif "S" in self.flags_extra:
            self.replica_replied(cmd)
            srv = self.server
            srv.stat_unexpected_error_replies += 1
            text = msg[4:] if msg.startswith("ERR ") else msg    # (addReplyError's text)
            srv.log("warning", "== CRITICAL == This master is sending an error to its "
                    "replica: '%s' after processing the command '%s'"
                    % (text[:4096], cmd.fullname if cmd is not None else "<unknown>"))

    def replica_replied(self, cmd):
        """_addReplyToBufferOrList: a replica's commands never get replies (the link
        carries the stream); one that would is logged and disconnected."""
        if self.closed:
            return
        if cmd is not None:
            self.last_cmd = cmd             # (c->lastcmd is set before the checks)
        self.server.log("warning", "Replica generated a reply to command '%s', disconnecting "
                        "it: %s" % (cmd.fullname if cmd is not None else "<unknown>",
                                    self.info_line()))
        self.closing = True
        self.kill()

    def check(self, argv, cmd):
        """The slow path of processCommand; returns the command to run, or None."""
        srv = self.server
        if srv.tracking_clients:
            srv.tracking.limit_table()   # trackingLimitUsedSlots
        if cmd is not None and cmd.subcommands is not None:
            if len(argv) >= 2:
                sub = cmd.subcommands.get(argv[1].lower())
                if sub is None:
                    self.reject(None, "ERR unknown subcommand '%s'. Try %s HELP."
                                % (_cstr128(argv[1]), cmd.name.upper()))
                    return None
                cmd = sub
        if cmd is None:
            # byte-exact as Redis's "%.128s" / "%.*s" (C strings: up to a NUL)
            args = b""
            for a in argv[1:]:
                if len(args) >= 128:
                    break
                args += b"'" + a.split(b"\x00", 1)[0][:128 - len(args)] + b"' "
            self.reject(None, "ERR unknown command '%s', with args beginning with: %s"
                        % (_cstr128(argv[0]), args.decode("utf-8", "surrogateescape")))
            return None
        a = cmd.arity
        if (a > 0 and a != len(argv)) or len(argv) < -a:
            self.reject(cmd, "ERR wrong number of arguments for '%s' command" % cmd.fullname)
            return None
        if cmd.protected:
            # DEBUG, or MODULE's LOAD/LOADEX/UNLOAD: each has its own enable-*-command
            what = "MODULE" if cmd.parent is not None and cmd.parent.name == "module" \
                else "DEBUG"
            option = "enable-%s-command" % what.lower()
            if not srv.allow_protected(self, option):
                self.reject(cmd, "ERR %s command not allowed. If the %s option is set to "
                            "\"local\", you can run it from a local connection, otherwise you"
                            " need to set this option in the configuration file, and then "
                            "restart the server." % (what, option))
                return None
        if not self.authenticated and not cmd.no_auth:
            self.reject(cmd, NOAUTH)
            return None
        if self.multi is not None and cmd.no_multi:
            self.reject(cmd, "ERR Command not allowed inside a transaction")
            return None
        denied = srv.acl_check(self, cmd, argv)
        if denied is not None:
            self.reject(cmd, denied)
            return None
        if srv.state_checks:   # (srv.checks leaves out the ones a ClusterClient runs inline)
            msg = srv.state_check(self, cmd, argv)
            if msg is not None:
                self.reject(cmd, msg)
                return None
            if self.closed:     # evicted by the checks' evictClients
                return None
        if self.subscribed and self.resp == 2 and cmd.name not in _PUBSUB_OK:
            self.reject(cmd, "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE"
                        " / PING / QUIT / RESET are allowed in this context" % cmd.fullname)
            return None
        if "S" in self.flags_extra and (cmd.is_write or cmd.is_readonly or cmd.may_replicate):
            # (replicas are exempt from pauses: they must not touch the keyspace)
            self.reject(cmd, "ERR Replica can't interact with the keyspace")
            return None
        if srv.pause_type and self.pause_applies(cmd, argv) and srv.pause_active():
            self.postpone(argv)
            return None
        if self.multi is not None and cmd.name not in _MULTI_RUNS:
            if not (self.multi_error or self.dirty_cas):   # doomed: no point keeping it
                self.multi.append((cmd, argv))
            if not self.reply_mode & 1:
                self.out.append(QUEUED)
            return None
        return cmd

    def pause_applies(self, cmd, argv):
        """CLIENT PAUSE blocks every command (ALL) or the ones that may replicate (WRITE:
        the command's flags as getCommandFlags gives them, so a script's declared flags
        stand for EVAL's/FCALL's); replicas are never paused."""
        if "S" in self.flags_extra:
            return False
        srv = self.server
        if srv.pause_type == 2 or _may_replicate(srv, cmd, argv):
            return True
        if cmd.name == "exec" and self.multi:
            return any(_may_replicate(srv, c, a) for c, a in self.multi)
        return False

    def postpone(self, argv):
        """blockClient(BLOCKED_POSTPONE): the command runs again when the pause ends."""
        srv = self.server
        self.paused = True
        self.pending.appendleft(argv)
        srv.postponed.append(self)
        srv.blocked_clients += 1

    # -- state ------------------------------------------------------------------------
    def update_checks(self):
        acl = self.server.acl
        self.checks = (not self.authenticated or self.multi is not None
                       or (self.subscribed > 0 and self.resp == 2)
                       or self.tracking is not None or "S" in self.flags_extra
                       or (acl is not None and self.user in acl.restricted))

    def must_obey_client(self):
        """mustObeyClient: the master link ("M") or the AOF loading client, whose
        commands are applied without the checks and limits other clients get."""
        return self.must_obey or "M" in self.flags_extra

    def set_protocol(self, version):
        self.resp = version
        self.r = RESP3 if version == 3 else RESP2
        self.update_checks()

    def select(self, dbid):
        self.db = self.server.dbs[dbid]

    def write(self, data):
        """Send data outside the request/reply cycle (pub/sub, MONITOR, unblocking).

        The data joins the client's ordered output; the socket write happens once per
        loop pass for all such clients (as Redis writes in beforeSleep), so a PUBLISH
        burst costs one send per subscriber, not one per message."""
        if self.closed:
            return
        self.out.append(data)
        if not self.in_exec:
            # (inside EXEC the data joins the transaction's replies)
            self.flush_later()

    def flush_later(self):
        """Queue the output for the socket write at the end of this loop pass, as Redis
        writes in beforeSleep (handleClientsWithPendingWrites): one write per client per
        pass however many commands it sent, and a client whose peer sleeps in its own
        poll is woken once per pass, not once per reply."""
        if not self.flush_scheduled:
            self.flush_scheduled = True
            self.server.schedule_flush(self)

    def flush(self):
        out = self.out
        if out:
            srv = self.server
            if srv.before_reply is not None:   # e.g. the AOF reaches the disk first
                srv.before_reply()
            data = b"".join(out)     # (one bytes item: join returns it as is)
            out.clear()
            tr = self.transport
            if tr is not None and not self.closed:
                n = len(data)
                if n > self.buf_peak or self.wpaused:
                    # past Redis's reply buffer (its peak) or behind unsent output: the
                    # reply list grows, and the output limits apply before any write
                    if n > self.buf_peak:
                        self.buf_peak = n if n < self.rbs else self.rbs
                    if srv.obuf_limits_on and srv.cmem.check_append(self, n):
                        return
                tr.write(data)
                srv.stat_net_output_bytes += n
                if self.wpaused or self.mem_live:
                    # writeToClient's updateClientMemUsageAndBucket: the reply of a read
                    # under accounting was counted before this end-of-pass write
                    srv.cmem.changed(self)
                if self.obuf_class is not None:
                    srv.check_output_limits(self)
        if self.closing and not self.closed:
            self.close()

    def close(self):
        if not self.closed:
            self.closed = True
            tr = self.transport
            if tr is not None:
                tr.close()
            self.server.client_disconnected(self)

    def kill(self):
        """Disconnect from outside (CLIENT KILL, limits): drop the connection at once."""
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                self.transport.abort()
            self.server.client_disconnected(self)

    # -- introspection ----------------------------------------------------------------
    def flags(self):
        """The flags= field of CLIENT LIST, in catClientInfoString's order."""
        f = self.flags_extra
        if self.monitor:
            f += "O"
        if self.subscribed:
            f += "P"
        if self.multi is not None:
            f += "x"
        if self.blocked is not None or self.paused:
            f += "b"
        if self.dirty_cas:
            f += "d"
        if self.closing:
            f += "c"
        if self.unix:
            f += "U"
        if self.readonly_mode:
            f += "r"
        if self.no_evict:
            f += "e"
        if not f:
            return "N"
        if len(f) > 1:
            f = "".join(sorted(f, key=_FLAG_ORDER.find))
        return f

    def output_size(self):
        """The bytes waiting for this client: its transport's buffer and, for a replica,
        the stream it has yet to get (its share of the replication backlog)."""
        tr = self.transport
        try:
            n = tr.get_write_buffer_size() if tr is not None else 0
        except Exception:
            n = 0
        if self.obuf_class == "replica":
            n += self.server.repl.pending_size(self.replinfo)
        return n

    def info_line(self, argv=None):
        """catClientInfoString. argv: the command this client is running now (its query
        buffer and argv memory are reported as Redis sees them during execution)."""
        now = _monotonic()
        cmd = self.last_cmd.fullname if self.last_cmd is not None else "NULL"
        return ("id=%d addr=%s laddr=%s fd=%d name=%s age=%d idle=%d flags=%s db=%d sub=%d "
                "psub=%d ssub=%d multi=%d qbuf=%d qbuf-free=%d argv-mem=%d multi-mem=%d "
                "rbs=%d rbp=%d obl=%d oll=%d omem=%d tot-mem=%d events=r cmd=%s user=%s "
                "redir=%d resp=%d" % ((
                    self.id, self.addr, self.laddr, self.fd, self.name or "",
                    int(now - self.ctime), int(now - self.last_interaction), self.flags(),
                    self.db.id, len(self.channels), len(self.patterns),
                    len(self.shard_channels), -1 if self.multi is None else len(self.multi))
                    + mem_fields(self, argv)
                    + (cmd, self.user, getattr(self, "tracking_redirect", -1), self.resp)))


_FLAG_ORDER = "OSMPxbtRBdcuAUre"
_PUBSUB_OK = frozenset(("ping", "subscribe", "ssubscribe", "unsubscribe", "sunsubscribe",
                        "psubscribe", "punsubscribe", "quit", "reset"))
_MULTI_RUNS = frozenset(("exec", "discard", "multi", "watch", "quit", "reset"))


def _cstr128(b):
    """A C string argument as "%.128s" prints it: up to a NUL, at most 128 bytes."""
    return b.split(b"\x00", 1)[0][:128].decode("utf-8", "surrogateescape")


def _fmt_addr(a):
    if not a:
        return ""
    if isinstance(a, tuple):
        host = a[0]
        return ("[%s]:%d" % (host, a[1])) if ":" in host else ("%s:%d" % (host, a[1]))
    return str(a)
