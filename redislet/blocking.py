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
from collections import deque

from .errors import CommandError
from .util import parse_ll


class Blocked:
    __slots__ = ("db", "keys", "serve", "timeout_reply", "timer", "cmd")

    def __init__(self, db, keys, serve, timeout_reply, cmd):
        self.db = db
        self.keys = keys
        self.serve = serve
        self.timeout_reply = timeout_reply
        self.timer = None
        self.cmd = cmd


def parse_timeout(arg, seconds=True):
    """getTimeoutFromObjectOrReply: a timeout in ms (0 = forever), Redis's errors."""
    if seconds:
        try:
            if not arg or arg[:1].isspace() or arg[-1:].isspace():
                raise ValueError
            v = float(arg)
            if math.isnan(v):
                raise ValueError
        except ValueError:
            raise CommandError("ERR timeout is not a float or out of range") from None
        if math.isinf(v):
            raise CommandError("ERR timeout is not a float or out of range")
        ms = math.ceil(v * 1000.0)
    else:
        ms = parse_ll(arg)
        if ms is None:
            raise CommandError("ERR timeout is not an integer or out of range")
    if ms < 0:
        raise CommandError("ERR timeout is negative")
    return ms


def block(c, keys, timeout_ms, serve, timeout_reply, db=None):
    """Park client c on keys (in its db) until serve() answers or timeout_ms passes
    (0 = forever). Returns None, which the dispatcher takes as 'no reply yet'."""
    db = db or c.db
    b = Blocked(db, list(keys), serve, timeout_reply, c.last_cmd)
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


def unblock(c, reply):
    """Wake c with `reply` (CLIENT UNBLOCK, RESET, timeouts of other kinds)."""
    if _detach(c) is None:
        return False
    if not c.closed:
        c.out.append(reply)
        c.resume()
    return True


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
                reply = b.serve(c, key)
                if reply is None:
                    continue
                _detach(c)
                srv.stat_blocked_keys_served += 1
                c.out.append(reply)
                c.resume()


def install(srv):
    srv.blocked_clients = 0
    srv.handle_ready_keys = lambda: handle_ready_keys(srv)
    srv.disconnect_hooks.append(drop)
