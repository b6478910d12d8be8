"""LDB, the Lua debugger of EVAL (eval.c): SCRIPT DEBUG YES|SYNC|NO and the debugging
session of the next EVAL of that client.

SCRIPT DEBUG YES forks: the child runs the script against its copy of the dataset and talks
to the client, the parent closes its side of the connection (changes are not kept). SCRIPT
DEBUG SYNC runs the session in the server itself, which blocks while the user steps
through the script (changes are kept). Either way the client's socket is switched to
blocking mode and the debugger reads its commands and writes its logs directly on it, as
Redis does; after the EVAL reply the connection is closed.

The protocol is Redis's: each stop or debugger command answers with an array of status
replies (the log lines); the session ends with an '<endsession>' line, then the reply of
EVAL. The debugger commands (step, continue, list, whole, print, break, trace, eval, redis,
maxlen, abort, help) and their texts follow ldbRepl. The Lua side (the line hook, value
dumps, locals, backtraces, `eval`) lives in bootstrap.lua; this module is the state and
the REPL.
"""
import os
import select
import signal
import socket
import struct
import time

from .. import children
from ..util import parse_ll

LDB_BREAKPOINTS_MAX = 64
LDB_MAX_LEN_DEFAULT = 256
MAX_CBUF = 1 << 20

_CLOSED = object()        # ldbRepl's C_ERR: the client went away

HELP = [
    b"Redis Lua debugger help:",
    b"[h]elp               Show this help.",
    b"[s]tep               Run current line and stop again.",
    b"[n]ext               Alias for step.",
    b"[c]ontinue           Run till next breakpoint.",
    b"[l]ist               List source code around current line.",
    b"[l]ist [line]        List source code around [line].",
    b"                     line = 0 means: current position.",
    b"[l]ist [line] [ctx]  In this form [ctx] specifies how many lines",
    b"                     to show before/after [line].",
    b"[w]hole              List all source code. Alias for 'list 1 1000000'.",
    b"[p]rint              Show all the local variables.",
    b"[p]rint <var>        Show the value of the specified variable.",
    b"                     Can also show global vars KEYS and ARGV.",
    b"[b]reak              Show all breakpoints.",
    b"[b]reak <line>       Add a breakpoint to the specified line.",
    b"[b]reak -<line>      Remove breakpoint from the specified line.",
    b"[b]reak 0            Remove all breakpoints.",
    b"[t]race              Show a backtrace.",
    b"[e]val <code>        Execute some Lua code (in a different callframe).",
    b"[r]edis <cmd>        Execute a Redis command.",
    b"[m]axlen [len]       Trim logged Redis replies and Lua var dumps to len.",
    b"                     Specifying zero as <len> means unlimited.",
    b"[a]bort              Stop the execution of the script. In sync",
    b"                     mode dataset changes will be retained.",
    b"",
    b"Debugger functions you can call from Lua scripts:",
    b"redis.debug()        Produce logs in the debugger console.",
    b"redis.breakpoint()   Stop execution like if there was a breakpoint in the",
    b"                     next line of code.",
]


def cstr(b):
    """The C string view of an argument (strcasecmp/strcmp/atoi stop at a NUL)."""
    i = b.find(b"\0")
    return b if i < 0 else b[:i]


def atoi(b):
    """C atoi: leading blanks, a sign, digits; 0 when there are none (int wrap)."""
    b = cstr(b).lstrip(b" \t\n\v\f\r")
    neg = False
    if b[:1] in (b"+", b"-"):
        neg = b[:1] == b"-"
        b = b[1:]
    n = 0
    for ch in b:
        if not 48 <= ch <= 57:
            break
        n = n * 10 + ch - 48
    if neg:
        n = -n
    n &= 0xffffffff
    return n - (1 << 32) if n >= 1 << 31 else n


_REPR = {0x5c: b"\\\\", 0x22: b'\\"', 0x0a: b"\\n", 0x0d: b"\\r", 0x09: b"\\t",
         0x07: b"\\a", 0x08: b"\\b"}


def catrepr(s):
    """sdscatrepr: a quoted, escaped representation of bytes."""
    out = [b'"']
    for ch in s:
        e = _REPR.get(ch)
        if e is not None:
            out.append(e)
        elif 0x20 <= ch <= 0x7e:
            out.append(bytes((ch,)))
        else:
            out.append(b"\\x%02x" % ch)
    out.append(b'"')
    return b"".join(out)


def proto_to_human(buf, pos, out, errors):
    """ldbRedisProtocolToHuman: the reply at buf[pos:] appended to out (a list of bytes);
    error replies met on the way go to errors (redisProtocolToLuaType_Error's log).
    Returns the position after the reply."""
    t = buf[pos:pos + 1]
    nl = buf.find(b"\r\n", pos)
    if nl < 0:
        return len(buf)
    line = buf[pos + 1:nl]
    after = nl + 2
    if t == b":":
        out.append(line)
    elif t == b"$":
        n = int(line)
        if n == -1:
            out.append(b"NULL")
        else:
            out.append(catrepr(buf[after:after + n]))
            return after + n + 2
    elif t == b"+" or t == b"-":
        if t == b"-":
            errors.append(buf[pos:nl])
        out.append(catrepr(buf[pos:nl]))
    elif t == b"*" or t == b"~" or t == b">":
        n = int(line)
        if n == -1:
            out.append(b"NULL")
            return after
        out.append(b"~(" if t == b"~" else b"[")
        p = after
        for j in range(n):
            p = proto_to_human(buf, p, out, errors)
            if j != n - 1:
                out.append(b",")
        out.append(b")" if t == b"~" else b"]")
        return p
    elif t == b"%":
        n = int(line)
        out.append(b"{")
        p = after
        for j in range(n):
            p = proto_to_human(buf, p, out, errors)
            out.append(b" => ")
            p = proto_to_human(buf, p, out, errors)
            if j != n - 1:
                out.append(b",")
        out.append(b"}")
        return p
    elif t == b"_":
        out.append(b"(null)")
    elif t == b"#":
        out.append(b"#true" if line[:1] == b"t" else b"#false")
    elif t == b",":
        out.append(b"(double) " + line)
    elif t == b"=":          # not rendered by Redis: skipped
        return after + int(line) + 2
    return after


class Ldb:
    """struct ldbState: one per server (Redis's is a global)."""

    def __init__(self, srv):
        self.srv = srv
        self.client = None
        self.sock = None
        self.active = False
        self.forked = False
        self.logs = []
        self.children = []
        self.bp = bytearray(4 * LDB_BREAKPOINTS_MAX)   # int bp[64], see del_breakpoint
        self.bpcount = 0
        self.step = 0
        self.luabp = 0
        self.src = []
        self.currentline = 0
        self.cbuf = b""
        self.maxlen = LDB_MAX_LEN_DEFAULT
        self.maxlen_hint_sent = 0
        self.engine = None
        self.rejected = None       # the error of a call refused by the script rules
        self.raw_reply = None      # the RESP reply of the last call
        self._saved_handlers = None
        self.interrupted = False   # SIGTERM/SIGINT during a synchronous session

    # -- SCRIPT DEBUG ----------------------------------------------------------------------
    def enable(self, c, sync):
        """ldbEnable (+ CLIENT_LUA_DEBUG_SYNC)."""
        c.lua_debug = 2 if sync else 1
        self.logs = []
        self.client = c
        self.step = 1
        self.bpcount = 0
        self.luabp = 0
        self.cbuf = b""
        self.maxlen = LDB_MAX_LEN_DEFAULT
        self.maxlen_hint_sent = 0

    @staticmethod
    def disable(c):
        c.lua_debug = 0

    # -- logs ------------------------------------------------------------------------------
    def log(self, entry):
        self.logs.append(entry)

    def log_maxlen(self, entry):
        """ldbLogWithMaxLen."""
        trimmed = False
        if self.maxlen and len(entry) > self.maxlen:
            entry = entry[:self.maxlen] + b" ..."
            trimmed = True
        self.logs.append(entry)
        if trimmed and not self.maxlen_hint_sent:
            self.maxlen_hint_sent = 1
            self.logs.append(b"<hint> The above reply was trimmed. Use 'maxlen 0' to "
                             b"disable trimming.")

    def send_logs(self):
        """ldbSendLogs: the pending log lines as an array of status replies."""
        parts = [b"*%d\r\n" % len(self.logs)]
        for e in self.logs:
            parts.append(b"+" + e.replace(b"\r", b" ").replace(b"\n", b" ") + b"\r\n")
        self.logs = []
        self._write(b"".join(parts))

    def _write(self, data):
        s = self.sock
        if s is None:
            return
        try:
            s.sendall(data)
        except OSError:
            pass       # the next read sees the error and ends the session

    # -- the session -----------------------------------------------------------------------
    def start_session(self, c, body):
        """ldbStartSession: True if the caller runs EVAL; otherwise (the parent of a
        forked session, or fork failed) the reply bytes for the caller, or None."""
        srv = self.srv
        self.forked = c.lua_debug != 2
        if self.forked:
            try:
                pid = children.fork(srv)
            except OSError as e:
                return (b"-ERR Fork() failed: can't run EVAL in debugging mode: %s\r\n"
                        % os.strerror(e.errno).encode())
            if pid == 0:
                # nothing the script does leaves this process but the client's replies
                srv.propagate_targets = []
                self.children = []
                srv.log("warning", "Redis forked for debugging eval")
            else:
                self.children.append(pid)
                if not getattr(srv, "_ldb_reaper", False):
                    srv._ldb_reaper = True
                    srv.cron_hooks.append(self._reap)
                c.closing = True          # freeClientAsync: the child serves the client
                return None
        else:
            srv.log("warning", "Redis synchronous debugging eval session started")
        # connBlock + connSendTimeout(5000): direct, blocking I/O on the client's socket
        self.client = c
        self.sock = None
        if c.fd >= 0:
            try:
                s = socket.socket(fileno=os.dup(c.fd))
                s.setblocking(True)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 5, 0))
                self.sock = s
            except OSError:
                self.sock = None
        self.active = True
        src = body
        n = len(src)
        while n and src[n - 1] in (10, 13):
            n -= 1
        src = src[:n]
        self.src = src.split(b"\n") if src else []
        if not self.forked:
            self._trap_signals()
        return True

    def end_session(self, c, reply):
        """ldbEndSession (the caller queues reply; the connection closes after it)."""
        srv = self.srv
        self.log(b"<endsession>")
        self.send_logs()
        if self.forked:
            out = b"".join(c.out) + (reply or b"")
            c.out.clear()
            self._write(out)
            srv.log("warning", "Lua debugging session child exiting")
            try:
                import sys
                sys.stdout.flush()
                sys.stderr.flush()
            except Exception:
                pass
            os._exit(0)
        srv.log("warning", "Redis synchronous debugging eval session ended")
        self._restore_signals()
        s = self.sock
        self.sock = None
        if s is not None:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", 0, 0))
                s.setblocking(False)
            except OSError:
                pass
            s.close()            # the duplicate only; the connection stays open
        c.closing = True         # CLIENT_CLOSE_AFTER_REPLY
        self.src = []
        self.active = False

    def _reap(self, srv):
        """checkChildrenDone's part for debugging children."""
        for pid in list(self.children):
            try:
                done, _status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                self.children.remove(pid)

    def kill_forked_sessions(self):
        """ldbKillForkedSessions (at shutdown)."""
        for pid in self.children:
            self.srv.log("warning", "Killing debugging session %d" % pid)
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.children = []

    # A signal interrupts Redis's blocking read() of the debugging client (EINTR ends the
    # read with an error: the script goes on without the user, then the server handles
    # the signal). The loop's own handlers run only between events, so while a
    # synchronous session blocks, SIGTERM/SIGINT set a flag that the read checks; the
    # loop still gets the signal through its wakeup fd afterwards.
    def _trap_signals(self):
        saved = {}
        self.interrupted = False

        def on_signal(signum, frame):
            self.interrupted = True
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                saved[sig] = signal.signal(sig, on_signal)
            except (ValueError, OSError, TypeError):
                pass
        self._saved_handlers = saved

    def _restore_signals(self):
        saved = self._saved_handlers or {}
        self._saved_handlers = None
        for sig, h in saved.items():
            try:
                signal.signal(sig, h if h is not None else signal.SIG_DFL)
            except (ValueError, OSError, TypeError):
                pass

    def _read(self):
        s = self.sock
        if s is None:
            return b""
        try:
            while not self.interrupted:
                r, _w, _x = select.select([s], [], [], 0.1)
                if r:
                    return s.recv(1024)
            return b""
        except OSError:
            return b""

    # -- the line hook ---------------------------------------------------------------------
    def hook(self, eng, is_count, line, short_src):
        """luaLdbLineHook: None to go on, or the error text to raise in the script."""
        self.currentline = line
        bp = self.is_breakpoint(line) or self.luabp
        timeout = False
        if b"user_script" not in short_src:
            return None
        ctx = eng.ctx
        if is_count and not self.step and not bp:
            threshold = self.srv.config.values["busy-reply-threshold"] or 5000
            start = ctx.start if ctx is not None else time.monotonic()
            if (time.monotonic() - start) * 1000 >= threshold:
                timeout = True
                self.step = 1
            else:
                return None
        if self.step or bp:
            if bp:
                reason = (b"redis.breakpoint() called" if self.luabp else b"break point")
            elif timeout:
                reason = b"timeout reached, infinite loop?"
            else:
                reason = b"step over"
            self.step = 0
            self.luabp = 0
            self.log(b"* Stopped at %d, stop reason = %s" % (line, reason))
            self.log_source_line(line)
            self.send_logs()
            res = self.repl(eng)
            if res is _CLOSED:
                if timeout:
                    return b"ERR timeout during Lua debugging with client closing connection"
            elif res is not None:
                return res
            if ctx is not None:
                ctx.start = time.monotonic()
                srv = self.srv
                snapshot = type(srv).time_ms()      # rctx->snapshot_time = mstime()
                srv.time_ms = lambda: snapshot
        return None

    # -- source and breakpoints ------------------------------------------------------------
    def source_line(self, line):
        idx = line - 1
        if idx < 0 or idx >= len(self.src):
            return b"<out of range source code line>"
        return self.src[idx]

    def _bp(self, j):
        v = int.from_bytes(self.bp[4 * j:4 * j + 4], "little", signed=True)
        return v

    def is_breakpoint(self, line):
        for j in range(self.bpcount):
            if self._bp(j) == line:
                return True
        return False

    def add_breakpoint(self, line):
        if line <= 0 or line > len(self.src):
            return False
        if not self.is_breakpoint(line) and self.bpcount != LDB_BREAKPOINTS_MAX:
            j = self.bpcount
            self.bp[4 * j:4 * j + 4] = (line & 0xffffffff).to_bytes(4, "little")
            self.bpcount += 1
            return True
        return False

    def del_breakpoint(self, line):
        """ldbDelBreakpoint, memmove of (bpcount - j) bytes included: Redis moves bytes,
        not ints, so removing a breakpoint that is not the last one leaves the others as
        that memmove leaves them."""
        for j in range(self.bpcount):
            if self._bp(j) == line:
                self.bpcount -= 1
                n = self.bpcount - j
                if n > 0:
                    src = bytes(self.bp[4 * (j + 1):4 * (j + 1) + n])
                    self.bp[4 * j:4 * j + n] = src
                return True
        return False

    def log_source_line(self, lnum):
        """ldbLogSourceLine."""
        line = self.source_line(lnum)
        bp = self.is_breakpoint(lnum)
        current = self.currentline == lnum
        if current and bp:
            prefix = b"->#"
        elif current:
            prefix = b"-> "
        elif bp:
            prefix = b"  #"
        else:
            prefix = b"   "
        self.log(b"%s%-3d %s" % (prefix, lnum, line))

    def list(self, around, context):
        for j in range(1, len(self.src) + 1):
            if around != 0 and abs(around - j) > context:
                continue
            self.log_source_line(j)

    # -- the REPL --------------------------------------------------------------------------
    def parse_command(self):
        """ldbReplParseCommand: (argv or None, protocol error?)."""
        buf = self.cbuf
        if not buf:
            return None, False
        z = buf.find(b"\0")
        cview = buf if z < 0 else buf[:z]     # strchr/strstr stop at a NUL
        p = cview.find(b"*")
        if p < 0:
            return None, True
        e = cview.find(b"\r\n", p)
        if e < 0:
            return None, False
        argc = atoi(buf[p + 1:e])
        if argc <= 0 or argc > 1024:
            return None, True
        p = e + 2
        argv = []
        n = len(buf)
        while len(argv) < argc:
            if p >= n or buf[p] == 0:
                return None, False
            if buf[p] != 36:     # '$'
                return None, True
            z = buf.find(b"\0", p)
            e = buf.find(b"\r\n", p, z if z >= 0 else n)
            if e < 0:
                return None, False
            slen = atoi(buf[p + 1:e])
            if slen <= 0 or slen > 1024:
                return None, True
            p = e + 2
            if p + slen + 2 > n:
                return None, False
            argv.append(buf[p:p + slen])
            p += slen
            if buf[p:p + 2] != b"\r\n":
                return None, True
            p += 2
        return argv, False

    def repl(self, eng):
        """ldbRepl: None to resume the script, _CLOSED when the client went away, or the
        error text to raise in the script."""
        while True:
            while True:
                argv, err = self.parse_command()
                if argv is not None:
                    break
                if err:
                    return b"ERR protocol error"
                data = self._read()
                if not data:
                    self.step = 0
                    self.bpcount = 0
                    return _CLOSED
                self.cbuf += data
                if len(self.cbuf) > MAX_CBUF:
                    self.cbuf = b""
                    return b"ERR max client buffer reached"
            self.cbuf = b""
            name = cstr(argv[0]).lower()
            argc = len(argv)
            if name in (b"h", b"help"):
                self.logs.extend(HELP)
                self.send_logs()
            elif name in (b"s", b"step", b"n", b"next"):
                self.step = 1
                return None
            elif name in (b"c", b"continue"):
                return None
            elif name in (b"t", b"trace"):
                self.trace(eng)
                self.send_logs()
            elif name in (b"m", b"maxlen"):
                self.cmd_maxlen(argv)
                self.send_logs()
            elif name in (b"b", b"break"):
                self.cmd_break(argv)
                self.send_logs()
            elif name in (b"e", b"eval"):
                self.cmd_eval(eng, argv)
                self.send_logs()
            elif name in (b"a", b"abort"):
                return b"ERR script aborted for user request"
            elif argc > 1 and name in (b"r", b"redis"):
                self.cmd_redis(eng, argv)
                self.send_logs()
            elif name in (b"p", b"print"):
                if argc == 2:
                    self.cmd_print(eng, cstr(argv[1]))
                else:
                    self.cmd_print_all(eng)
                self.send_logs()
            elif name in (b"l", b"list"):
                around, ctx = self.currentline, 5
                if argc > 1:
                    num = atoi(argv[1])
                    if num > 0:
                        around = num
                if argc > 2:
                    ctx = atoi(argv[2])
                self.list(around, ctx)
                self.send_logs()
            elif name in (b"w", b"whole"):
                self.list(1, 1000000)
                self.send_logs()
            else:
                self.log(b"<error> Unknown Redis Lua debugger command or wrong number of "
                         b"arguments.")
                self.send_logs()

    # -- debugger commands -----------------------------------------------------------------
    def cmd_break(self, argv):
        """ldbBreak."""
        if len(argv) == 1:
            if self.bpcount == 0:
                self.log(b"No breakpoints set. Use 'b <line>' to add one.")
                return
            self.log(b"%d breakpoints set:" % self.bpcount)
            for j in range(self.bpcount):
                self.log_source_line(self._bp(j))
            return
        for arg in argv[1:]:
            line = parse_ll(arg)
            if line is None:
                self.log(b"Invalid argument:'%s'" % cstr(arg))
            elif line == 0:
                self.bpcount = 0
                self.log(b"All breakpoints removed.")
            elif line > 0:
                if self.bpcount == LDB_BREAKPOINTS_MAX:
                    self.log(b"Too many breakpoints set.")
                elif self.add_breakpoint(line):
                    self.list(line, 1)
                else:
                    self.log(b"Wrong line number.")
            else:
                if self.del_breakpoint(-line):
                    self.log(b"Breakpoint removed.")
                else:
                    self.log(b"No breakpoint in the specified line.")

    def cmd_maxlen(self, argv):
        """ldbMaxlen."""
        if len(argv) == 2:
            newval = atoi(argv[1])
            self.maxlen_hint_sent = 1
            if newval != 0 and newval <= 60:
                newval = 60
            self.maxlen = newval
        if self.maxlen:
            self.log(b"<value> replies are truncated at %d bytes." % self.maxlen)
        else:
            self.log(b"<value> replies are unlimited.")

    def cmd_eval(self, eng, argv):
        """ldbEval: compile as an expression ('return ' prepended), else as a statement."""
        code = b" ".join(argv[1:])
        kind, text = eng.api.ldb_eval(code)
        if kind == b"retval":
            self.log_maxlen(b"<retval> " + text)
        else:
            self.log(b"<error> " + text)

    def cmd_redis(self, eng, argv):
        """ldbRedis: redis.call() with step set, so that the command and its reply are
        logged; its error (if any) is discarded."""
        from .engine import LuaRaise
        self.step = 1
        try:
            eng._lcall(*argv[1:])
        except LuaRaise:
            pass
        finally:
            self.step = 0

    def cmd_print(self, eng, name):
        """ldbPrint."""
        res = eng.api.ldb_print(name)
        if res is None:
            self.log(b"No such variable.")
        else:
            self.log_maxlen(b"<value> " + res)

    def cmd_print_all(self, eng):
        """ldbPrintAll."""
        t = eng.api.ldb_locals()
        n = len(t)
        for i in range(1, n + 1, 2):
            self.log_maxlen(b"<value> " + t[i] + b" = " + t[i + 1])
        if n == 0:
            self.log(b"No local variables in the current context.")

    def trace(self, eng):
        """ldbTrace."""
        t = eng.api.ldb_trace()       # {levels, (level, name, line)...}
        levels = t[1]
        for i in range(2, len(t) + 1, 3):
            lvl, name, line = t[i], t[i + 1], t[i + 2]
            self.log(b"%s %s:" % (b"In" if lvl == 0 else b"From", name))
            self.log_source_line(int(line))
        if levels == 0:
            self.log(b"<error> Can't retrieve Lua stack.")

    # -- redis.call logging (luaRedisGenericCommand with ldbIsEnabled) ---------------------
    def logged_call(self, eng, args):
        if not (self.active and self.step):
            return eng._call(args)
        argv = eng._argv(args) if args else None
        if argv is None:
            t, v = eng._call(args)
            if t != 0 and t != 1:
                msg = v[4:] if v.startswith(b"ERR ") else v
                self.log(b"<error> " + msg)
            return t, v
        parts = [b"<redis>"]
        for j, a in enumerate(argv):
            if j == 10:
                parts.append(b" ... (%d more)" % (len(argv) - j - 1))
                break
            parts.append(b" " + a)
        self.log(b"".join(parts))
        self.rejected = None
        self.raw_reply = None
        t, v = eng._call(args)
        rejected, raw = self.rejected, self.raw_reply
        self.rejected = self.raw_reply = None
        if rejected is not None:
            self.log(b"<error> " + rejected)
        elif raw:
            out, errors = [], []
            proto_to_human(raw, 0, out, errors)
            for e in errors:
                self.log(b"<error> " + e)
            self.log_maxlen(b"<reply> " + b"".join(out))
        return t, v


def get(srv):
    d = getattr(srv, "ldb", None)
    if d is None:
        d = srv.ldb = Ldb(srv)
        srv.shutdown_hooks.insert(0, _shutdown_hook)   # finishShutdown kills these first
    return d


def _shutdown_hook(srv, save, force):
    d = getattr(srv, "ldb", None)
    if d is not None and d.children:
        d.kill_forked_sessions()
    return None


def eval_with_debugging(c, body, run):
    """evalGenericCommandWithDebugging: run() runs the EVAL and returns its reply."""
    from ..errors import CommandError
    srv = c.server
    d = get(srv)
    started = d.start_session(c, body)
    if started is not True:
        Ldb.disable(c)
        return started
    eng = srv.scripting.engine
    eng.dbg = d
    d.engine = eng
    try:
        try:
            reply = run()
        except CommandError as e:
            reply = e.reply
    finally:
        eng.dbg = None
        d.engine = None
    d.end_session(c, reply)
    return reply
