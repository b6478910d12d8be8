"""One client connection: an asyncio.Protocol that parses every complete command in a
read, runs them through the dispatcher, and writes all replies with one transport write.

The dispatcher (Client.call and Client.process) applies Redis's checks in processCommand's
order; the checks most commands skip sit behind one test (`self.checks or srv.checks`).
"""
import asyncio
import time
from collections import deque

from .commands.table import COMMANDS
from .errors import CommandError, NOAUTH
from .resp.encode import RESP2, RESP3, QUEUED, error
from .resp.parser import RequestParser

_perf_ns = time.perf_counter_ns
_monotonic = time.monotonic

# client flags shown by CLIENT LIST (flags=...)
CLOSE_ASAP = "A"


class Client(asyncio.Protocol):
    def __init__(self, server, unix=False):
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
        self.closed = False
        self.checks = not self.authenticated   # the slow-path checks apply to this client
        self.multi = None            # list of queued (cmd, argv) inside MULTI
        self.multi_error = False
        self.dirty_cas = False
        self.watched_keys = []       # (db, key)
        self.subscribed = 0          # channels + patterns + shard channels
        self.channels = set()
        self.patterns = set()
        self.shard_channels = set()
        self.blocked = None          # blocking state (see blocking.py) while parked
        self.paused = False
        self.reply_mode = 0          # 0 on, 1 off, 2 skip next
        self.monitor = False
        self.no_evict = False
        self.no_touch = False
        self.ctime = _monotonic()
        self.last_interaction = self.ctime
        self.last_cmd = None
        self.prop_override = None    # argv lists to propagate instead of the command itself
        self.in_exec = False
        self.flags_extra = ""

    # -- asyncio.Protocol -------------------------------------------------------------
    def connection_made(self, transport):
        srv = self.server
        self.transport = transport
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
        cmds = parser.feed(data)
        if parser.pending_bytes() > srv.query_buffer_limit:
            srv.log_verbose("Closing client that reached max query buffer length")
            srv.stat_client_qbuf_limit_disconnections += 1
            self.close()
            return
        if self.blocked is not None or self.paused or self.pending:
            self.pending.extend(cmds)
            if parser.error is not None and self.blocked is None and not self.paused:
                self.resume()
            return
        if cmds:
            self.run(cmds)
        if parser.error is not None:
            self.protocol_error()
        self.flush()

    def protocol_error(self):
        if self.pending or self.blocked is not None or self.paused:
            return   # the error is raised once the commands before it have run
        self.server.log_verbose("Protocol error (%s) from client: %s"
                                % (self.parser.error, self.info_line()))
        self.out.append(error("ERR " + self.parser.error))
        self.parser.error = None
        self.closing = True

    def eof_received(self):
        return False

    # -- running commands -------------------------------------------------------------
    def run(self, cmds):
        """Run parsed commands in order; stop when the client blocks or must close."""
        process = self.process
        n = len(cmds)
        i = 0
        while i < n:
            process(cmds[i])
            i += 1
            if self.blocked is not None or self.closing or self.paused:
                if i < n and not self.closing:
                    self.pending.extend(cmds[i:])
                break

    def resume(self):
        """Go on with commands parked while the client was blocked or paused."""
        pending = self.pending
        while pending and self.blocked is None and not self.closing and not self.paused:
            self.process(pending.popleft())
        if not pending and self.parser.error is not None and self.blocked is None:
            self.protocol_error()
        self.flush()

    def process(self, argv):
        """processCommand: look up, check, then execute or queue one command."""
        srv = self.server
        cmd = COMMANDS.get(argv[0].lower())
        if cmd is None or cmd.subcommands is not None or self.checks or srv.checks:
            cmd = self.check(argv, cmd)
            if cmd is None:
                return
        else:
            a = cmd.arity
            if (a > 0 and a != len(argv)) or len(argv) < -a:
                return self.reject(cmd, "ERR wrong number of arguments for '%s' command"
                                   % cmd.fullname)
        self.call(cmd, argv)
        if srv.ready_keys:
            srv.handle_ready_keys()

    def call(self, cmd, argv):
        """call(): run the handler, time it, count it, propagate its effects."""
        srv = self.server
        dirty = srv.dirty
        t0 = _perf_ns()
        try:
            reply = cmd.handler(self, argv)
        except CommandError as e:
            reply = e.reply
        dt = (_perf_ns() - t0) // 1000
        cmd.calls += 1
        cmd.usec += dt
        srv.stat_numcommands += 1
        self.last_cmd = cmd
        if reply is not None:
            if reply[:1] == b"-":
                cmd.failed_calls += 1
                srv.count_error(reply)
            if self.reply_mode == 0:
                self.out.append(reply)
            elif self.reply_mode == 2:
                self.reply_mode = 0
        if srv.dirty != dirty:
            ov = self.prop_override
            if ov is None:
                if cmd.is_write:
                    srv.propagate(self.db.id, argv)
            else:
                self.prop_override = None
                for a in ov:
                    srv.propagate(self.db.id, a)
        elif self.prop_override is not None:
            ov, self.prop_override = self.prop_override, None
            for a in ov:
                srv.propagate(self.db.id, a)
        if dt >= srv.slowlog_threshold >= 0 and not cmd.skip_slowlog:
            srv.slowlog_add(self, argv, dt)
        if srv.monitors and not cmd.skip_monitor and not cmd.admin:
            srv.feed_monitors(self, argv)
        return reply

    def reject(self, cmd, msg):
        """rejectCommand: an error before execution (counted as rejected, flags EXECABORT)."""
        if cmd is not None:
            cmd.rejected_calls += 1
        if self.multi is not None:
            self.multi_error = True
        reply = error(msg)
        self.server.count_error(reply)
        self.out.append(reply)

    def check(self, argv, cmd):
        """The slow path of processCommand; returns the command to run, or None."""
        srv = self.server
        if cmd is not None and cmd.subcommands is not None:
            if len(argv) >= 2:
                sub = cmd.subcommands.get(argv[1].lower())
                if sub is None:
                    self.reject(None, "ERR unknown subcommand '%.128s'. Try %s HELP."
                                % (argv[1].decode("utf-8", "replace"), cmd.name.upper()))
                    return None
                cmd = sub
        if cmd is None:
            args = ""
            for a in argv[1:]:
                if len(args) >= 128:
                    break
                args += "'%.*s' " % (128 - len(args), a.decode("utf-8", "replace"))
            self.reject(None, "ERR unknown command '%.128s', with args beginning with: %s"
                        % (argv[0].decode("utf-8", "replace"), args))
            return None
        a = cmd.arity
        if (a > 0 and a != len(argv)) or len(argv) < -a:
            self.reject(cmd, "ERR wrong number of arguments for '%s' command" % cmd.fullname)
            return None
        if cmd.protected and not srv.allow_protected(self, "enable-debug-command"):
            self.reject(cmd, "ERR DEBUG command not allowed. If the enable-debug-command option"
                        " is set to \"local\", you can run it from a local connection, otherwise"
                        " you need to set this option in the configuration file, and then "
                        "restart the server.")
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
        if srv.checks:
            msg = srv.state_check(self, cmd, argv)
            if msg is not None:
                self.reject(cmd, msg)
                return None
        if self.subscribed and self.resp == 2 and cmd.name not in _PUBSUB_OK:
            self.reject(cmd, "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE"
                        " / PING / QUIT / RESET are allowed in this context" % cmd.fullname)
            return None
        if self.multi is not None and cmd.name not in _MULTI_RUNS:
            self.multi.append((cmd, argv))
            self.out.append(QUEUED)
            return None
        return cmd

    # -- state ------------------------------------------------------------------------
    def update_checks(self):
        self.checks = (not self.authenticated or self.multi is not None
                       or (self.subscribed > 0 and self.resp == 2))

    def set_protocol(self, version):
        self.resp = version
        self.r = RESP3 if version == 3 else RESP2
        self.update_checks()

    def select(self, dbid):
        self.db = self.server.dbs[dbid]

    def write(self, data):
        """Send data outside the request/reply cycle (pub/sub, MONITOR, unblocking)."""
        if self.closed:
            return
        self.out.append(data)
        self.flush()

    def flush(self):
        out = self.out
        if out:
            data = out[0] if len(out) == 1 else b"".join(out)
            out.clear()
            tr = self.transport
            if tr is not None and not self.closed:
                tr.write(data)
                self.server.stat_net_output_bytes += len(data)
                if self.server.obuf_limits_on:
                    self.server.check_output_limits(self)
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
        f = ""
        if self.blocked is not None:
            f += "b"
        if self.subscribed:
            f += "P"
        if self.multi is not None:
            f += "x"
        if self.dirty_cas:
            f += "d"
        if self.closing:
            f += "c"
        if self.unix:
            f += "U"
        if self.monitor:
            f += "O"
        if self.no_evict:
            f += "e"
        if self.no_touch:
            f += "T"
        f += self.flags_extra
        return f or "N"

    def output_size(self):
        tr = self.transport
        try:
            return tr.get_write_buffer_size() if tr is not None else 0
        except Exception:
            return 0

    def info_line(self):
        now = _monotonic()
        cmd = self.last_cmd.fullname if self.last_cmd is not None else "NULL"
        qbuf = self.parser.pending_bytes()
        omem = self.output_size()
        return ("id=%d addr=%s laddr=%s fd=%d name=%s age=%d idle=%d flags=%s db=%d sub=%d "
                "psub=%d ssub=%d multi=%d qbuf=%d qbuf-free=%d argv-mem=%d multi-mem=0 "
                "rbs=%d rbp=%d obl=0 oll=0 omem=%d tot-mem=%d events=r cmd=%s user=%s "
                "redir=-1 resp=%d" % (
                    self.id, self.addr, self.laddr, self.fd, self.name or "",
                    int(now - self.ctime), int(now - self.last_interaction), self.flags(),
                    self.db.id, len(self.channels), len(self.patterns),
                    len(self.shard_channels), -1 if self.multi is None else len(self.multi),
                    qbuf, 0 if qbuf == 0 else 16384, 0, 16384, 0, omem,
                    qbuf + omem + 1024, cmd, self.user, self.resp))


_PUBSUB_OK = frozenset(("ping", "subscribe", "ssubscribe", "unsubscribe", "sunsubscribe",
                        "psubscribe", "punsubscribe", "quit", "reset"))
_MULTI_RUNS = frozenset(("exec", "discard", "multi", "watch", "quit", "reset"))


def _fmt_addr(a):
    if not a:
        return ""
    if isinstance(a, tuple):
        host = a[0]
        return ("[%s]:%d" % (host, a[1])) if ":" in host else ("%s:%d" % (host, a[1]))
    return str(a)
