"""Clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN, XREAD BLOCK, ...).

A blocked client is parked: it sits in db.blocking[key] queues (first come, first served),
its further input is kept unprocessed, and it is woken when a key it waits on becomes
ready (a write calls db.signal_ready / db.add), when its timeout fires, or by CLIENT
UNBLOCK. Nothing here ever blocks the event loop.

The command module supplies `serve(c, key)`: called when `key` may be servable, it performs
the pop/read, counts dirty, propagates its effect (as the non-blocking form) and returns
the reply bytes, or None when the client still cannot be served.
"""
import math
import time
from collections import deque
from decimal import Decimal, InvalidOperation

from .errors import CommandError
from .util import parse_ll


class Blocked:
    __slots__ = ("db", "keys", "serve", "timeout_reply", "timer", "cmd", "usec", "argv")

    def __init__(self, db, keys, serve, timeout_reply, cmd):
        self.db = db
        self.keys = keys
        self.serve = serve
        self.timeout_reply = timeout_reply
        self.timer = None
        self.cmd = cmd
        self.usec = 0           # duration of the call that blocked (set by Client.call)
        self.argv = None


def parse_timeout(arg, seconds=True):
    """getTimeoutFromObjectOrReply: a timeout in ms (0 = forever), Redis's errors."""
    if seconds:
        if arg.isdigit() and len(arg) < 16:
            ms = int(arg) * 1000
        else:
            ms = _seconds_to_ms(arg)
            if ms is None:
                raise CommandError("ERR timeout is not a float or out of range")
    else:
        ms = parse_ll(arg)
        if ms is None:
            raise CommandError("ERR timeout is not an integer or out of range")
    if ms < 0:
        raise CommandError("ERR timeout is negative")
    return ms


_LLONG_MIN = -(1 << 63)
_LDBL_MAX = Decimal("1.18973149535723176502e+4932")
_LDBL_TRUE_MIN = Decimal("3.6e-4951")


def _seconds_to_ms(arg):
    """(long long) ceill(strtold(arg) * 1000) as Redis computes it (string2ld's rules: no
    spaces, no NaN, hex floats allowed, overflow to +-HUGE_VAL or underflow to 0 rejected);
    None when string2ld fails. Out-of-range conversions give LLONG_MIN, as on x86."""
    if not arg or len(arg) >= 5120 or arg[:1].isspace() or arg[-1:].isspace():
        return None
    try:
        s = arg.decode("ascii")
    except UnicodeDecodeError:
        return None
    if "_" in s:
        return None
    low = s.lower()
    if "x" in low:   # a hex float, as strtold reads it
        body = low[1:] if low[:1] in "+-" else low
        if not body.startswith("0x"):
            return None
        try:
            v = float.fromhex(s)
        except (ValueError, OverflowError):
            return None
        if math.isinf(v):
            return _LLONG_MIN
        ms = math.ceil(v * 1000.0)
    else:
        try:
            d = Decimal(s)
        except InvalidOperation:
            return None
        if d.is_nan():
            return None
        if d.is_infinite():
            return _LLONG_MIN
        a = abs(d)
        if a > _LDBL_MAX or (a and a < _LDBL_TRUE_MIN):
            return None   # ERANGE
        if a > 10 ** 20:
            return _LLONG_MIN
        ms = math.ceil(d * 1000)
    if not _LLONG_MIN <= ms < (1 << 63):
        return _LLONG_MIN
    return ms


def block(c, keys, timeout_ms, serve, timeout_reply, db=None):
    """Park client c on keys (in its db) until serve() answers or timeout_ms passes
    (0 = forever). Returns None, which the dispatcher takes as 'no reply yet'.
    Inside EXEC (or a script) a client never blocks: the timeout reply comes at once."""
    if c.in_exec or getattr(c, "deny_blocking", False):
        return timeout_reply
    db = db or c.db
    b = Blocked(db, list(dict.fromkeys(keys)), serve, timeout_reply, c.last_cmd)
    c.blocked = b
    for key in b.keys:
        q = db.blocking.get(key)
        if q is None:
            q = db.blocking[key] = deque()
        q.append(c)
    if timeout_ms > 0:
        loop = c.server.loop
        b.timer = loop.call_later(timeout_ms / 1000.0, _timed_out, c, b)
    c.server.blocked_clients += 1
    return None


def _detach(c):
    b = c.blocked
    if b is None:
        return None
    c.blocked = None
    c.server.blocked_clients -= 1
    if b.timer is not None:
        b.timer.cancel()
    blocking = b.db.blocking
    for key in b.keys:
        q = blocking.get(key)
        if q is not None:
            try:
                q.remove(c)
            except ValueError:
                pass
            if not q:
                del blocking[key]
    return b


def _timed_out(c, b):
    if c.blocked is b:
        _detach(c)
        if not c.closed:
            c.out.append(b.timeout_reply)
            c.resume()


def unblock(c, reply, stats=False):
    """Wake c with `reply` (CLIENT UNBLOCK, RESET, timeouts of other kinds). With stats
    (CLIENT UNBLOCK), the command's stats are completed as an errored call."""
    b = _detach(c)
    if b is None:
        return False
    if stats:
        update_stats_on_unblock(c, b, 0, True)
    if not c.closed:
        c.out.append(reply)
        queue_resume(c.server, c)
    return True


def update_stats_on_unblock(c, b, reply_us, had_errors):
    """updateStatsOnUnblock: a served blocked command adds its time to the command stats,
    the latency histogram and the slowlog."""
    cmd = b.cmd
    if cmd is None:
        return
    srv = c.server
    total = b.usec + reply_us
    cmd.usec += total
    if had_errors:
        cmd.failed_calls += 1
    if srv.latency_tracking:
        cmd.add_latency(total)
    if b.argv is not None and total >= srv.slowlog_threshold >= 0 and not cmd.skip_slowlog:
        srv.slowlog_add(c, b.argv, total)
    if reply_us >= srv.latency_threshold_us:
        srv.latency_add("command-unblocking", reply_us // 1000)


def drop(c):
    """The client went away: forget its blocking state."""
    _detach(c)


def handle_ready_keys(srv):
    """handleClientsBlockedOnKeys: serve clients blocked on keys that became ready, oldest
    first, until the key cannot serve more. Serving may make other keys ready (BLMOVE)."""
    ready = srv.ready_keys
    while ready:
        batch = ready[:]
        ready.clear()
        seen = set()
        for db, key in batch:
            ident = (db.id, key)
            if ident in seen:
                continue
            seen.add(ident)
            q = db.blocking.get(key)
            if not q:
                continue
            for c in list(q):
                b = c.blocked
                if b is None or b.db is not db or c.closed:
                    continue
                t0 = time.perf_counter_ns()
                reply = b.serve(c, key)
                if reply is None:
                    continue
                _detach(c)
                srv.stat_blocked_keys_served += 1
                update_stats_on_unblock(c, b, (time.perf_counter_ns() - t0) // 1000,
                                        reply[:1] == b"-")
                if reply[:1] == b"-":
                    srv.count_error(reply)   # afterErrorReply (errorstats)
                c.out.append(reply)
                queue_resume(srv, c)


def queue_resume(srv, c):
    """queueClientForReprocessing: a served client runs its pending commands once the
    current command (and the serving of every ready key) is over, as Redis does in
    beforeSleep (processUnblockedClients)."""
    q = srv.unblocked_clients
    if not q:
        srv.loop.call_soon(_process_unblocked, srv)
    q.append(c)


def _process_unblocked(srv):
    q = srv.unblocked_clients
    srv.unblocked_clients = []
    for c in q:
        if not c.closed:
            c.resume()


def install(srv):
    srv.blocked_clients = 0
    srv.unblocked_clients = []
    srv.handle_ready_keys = lambda: handle_ready_keys(srv)
    srv.disconnect_hooks.append(drop)
