"""Client-side caching: CLIENT TRACKING (Redis 7.0.15 tracking.c).

Default mode: the keys a tracking client reads (read-only commands, their key positions)
go into the tracking table (key -> client ids, global across databases); a modification
of such a key (db.touch -> srv.key_modified_hook) sends one invalidation per client and
forgets the key. BCAST mode: clients subscribe to prefixes; modified keys matching a
prefix are collected and broadcast once per event loop pass. FLUSHDB/FLUSHALL send a null
invalidation ("everything"). Invalidations are RESP3 push messages, or pub/sub messages
on __redis__:invalidate to a RESP2 redirect client in pub/sub mode.

Nothing here runs while no client tracks and the table is empty: the hook is installed
only then, and tracking clients take the dispatcher's slow path (Client.checks).
"""
import random

from .resp.encode import bulk

_PUSH_INVALIDATE = b">2\r\n$10\r\ninvalidate\r\n"
_PUBSUB_INVALIDATE = b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n"
_NULL = {2: b"$-1\r\n", 3: b"_\r\n"}


class ClientTracking:
    """Per-client tracking state (the CLIENT_TRACKING_* flags)."""
    __slots__ = ("redirect", "bcast", "optin", "optout", "noloop", "caching", "broken",
                 "prefixes", "cmd", "argv")

    def __init__(self):
        self.redirect = 0
        self.bcast = self.optin = self.optout = self.noloop = False
        self.caching = self.broken = False
        self.prefixes = None      # set of prefixes (BCAST)
        self.cmd = None           # the command this client runs now (scripts' caller)
        self.argv = None

    def enter_call(self, c, cmd, argv):
        """Client.call: c runs cmd now (server.current_client for tracking)."""
        c.server.tracking_current = c
        self.cmd = cmd
        self.argv = argv


class _Bcast:
    __slots__ = ("keys", "clients")

    def __init__(self):
        self.keys = {}      # key -> client that modified it last (NOLOOP)
        self.clients = {}   # client -> None


class Tracking:
    def __init__(self, srv):
        self.srv = srv
        self.table = {}          # key -> {client id: None}
        self.items = 0
        self.prefixes = {}       # prefix -> _Bcast
        self.pending = []        # invalidations for the current client, after its reply
        self.pending_client = None
        self.bcast_scheduled = False
        self.limit_misses = 0

    # -- enabling -------------------------------------------------------------------
    def enable(self, c, redirect, bcast, optin, optout, noloop, prefixes):
        srv = self.srv
        ts = c.tracking
        if ts is None:
            ts = c.tracking = ClientTracking()
            srv.tracking_clients += 1
            c.checks = True
        ts.broken = ts.bcast = ts.optin = ts.optout = ts.noloop = False
        ts.redirect = redirect
        if bcast:
            ts.bcast = True
            for p in (prefixes or [b""]):
                bs = self.prefixes.get(p)
                if bs is None:
                    bs = self.prefixes[p] = _Bcast()
                if c not in bs.clients:
                    bs.clients[c] = None
                    if ts.prefixes is None:
                        ts.prefixes = set()
                    ts.prefixes.add(p)
        ts.optin = optin
        ts.optout = optout
        ts.noloop = noloop
        c.tracking_redirect = redirect
        self._flags(c)
        self._update_hook()

    def disable(self, c):
        ts = c.tracking
        if ts is None:
            return
        if ts.bcast and ts.prefixes:
            for p in ts.prefixes:
                bs = self.prefixes.get(p)
                if bs is None:
                    continue
                bs.clients.pop(c, None)
                if not bs.clients:
                    del self.prefixes[p]
        c.tracking = None
        c.tracking_redirect = -1
        self.srv.tracking_clients -= 1
        if self.srv.tracking_current is c:
            self.srv.tracking_current = None
        c.update_checks()
        self._flags(c)
        self._update_hook()

    def _flags(self, c):
        """The t/R/B letters of CLIENT LIST flags=."""
        f = c.flags_extra.replace("t", "").replace("R", "").replace("B", "")
        ts = c.tracking
        if ts is not None:
            f += "t"
            if ts.broken:
                f += "R"
            if ts.bcast:
                f += "B"
        c.flags_extra = f

    def _update_hook(self):
        srv = self.srv
        want = bool(srv.tracking_clients or self.table)
        if want:
            srv.key_modified_hook = self.key_modified
        elif srv.key_modified_hook == self.key_modified:
            srv.key_modified_hook = None

    def collisions(self, c, prefixes):
        """checkPrefixCollisionsOrReply: the error text, or None."""
        ts = c.tracking
        existing = sorted(ts.prefixes) if ts is not None and ts.prefixes else []
        for i, p in enumerate(prefixes):
            for e in existing:
                if e.startswith(p) or p.startswith(e):
                    return ("ERR Prefix '%s' overlaps with an existing prefix '%s'. "
                            "Prefixes for a single client must not overlap."
                            % (_s(p), _s(e)))
            for q in prefixes[i + 1:]:
                if q.startswith(p) or p.startswith(q):
                    return ("ERR Prefix '%s' overlaps with another provided prefix '%s'. "
                            "Prefixes for a single client must not overlap."
                            % (_s(p), _s(q)))
        return None

    # -- remembering keys -----------------------------------------------------------
    def after_call(self, c, cmd, argv):
        """The tail of call(): remember the keys read, clear CLIENT CACHING, send the
        invalidations deferred while c ran (afterCommand)."""
        srv = self.srv
        if cmd.is_readonly and srv.tracking_clients and cmd.name not in _RO_SCRIPTS:
            caller = c
            if c.tracking is None:
                sc = srv.script_caller
                if sc is not None and sc is not c and sc.tracking is not None:
                    caller = sc
            ts = caller.tracking
            if ts is not None and not ts.bcast:
                if not ((ts.optin and not ts.caching) or (ts.optout and ts.caching)):
                    if caller is c:
                        self.remember(c, cmd, argv)
                    elif ts.cmd is not None:
                        self.remember(caller, ts.cmd, ts.argv)
        ts = c.tracking
        if ts is not None:
            if (ts.caching and c.multi is None and not c.in_exec
                    and not cmd.fullname.startswith("client|")):
                ts.caching = False
        if srv.tracking_current is c:
            srv.tracking_current = None
        if self.pending_client is c and not c.in_exec:
            self.flush_pending()

    def remember(self, c, cmd, argv):
        if cmd.pubsub:
            return
        pos = cmd.key_positions(argv)
        if not pos:
            return
        table = self.table
        cid = c.id
        for i in pos:
            key = argv[i]
            ids = table.get(key)
            if ids is None:
                ids = table[key] = {}
            if cid not in ids:
                ids[cid] = None
                self.items += 1
        self._update_hook()

    # -- invalidation ---------------------------------------------------------------
    def key_modified(self, db, key):
        """signalModifiedKey -> trackingInvalidateKey(current client, key, bcast)."""
        self.invalidate(key, True)

    def invalidate(self, key, bcast):
        srv = self.srv
        cur = srv.tracking_current
        if cur is None:
            cur = srv.script_caller
        if bcast and self.prefixes:
            hit = False
            # the client that changed the key last (NOLOOP): none for an expired key
            who = None if getattr(srv, "expiring_key", False) else cur
            for p, bs in self.prefixes.items():
                if key.startswith(p):
                    bs.keys[key] = who
                    hit = True
            if hit and not self.bcast_scheduled:
                self.bcast_scheduled = True
                loop = srv.loop
                if loop is not None:
                    loop.call_soon(self.broadcast)
        ids = self.table.pop(key, None)
        if ids is None:
            return
        self.items -= len(ids)
        clients = srv.clients
        in_call = srv.tracking_current is not None or srv.script_caller is not None
        for cid in ids:
            t = clients.get(cid)
            if t is None:
                continue
            ts = t.tracking
            if ts is None or ts.bcast:
                continue
            if ts.noloop and t is cur:
                continue
            if t is cur and in_call:
                self.defer(t, key)
            elif t.blocked is not None and t is not cur:
                # a blocked command being served (BLMOVE): after its reply, which is
                # queued once serve() returns
                self.defer(t, key)
                loop = srv.loop
                if loop is not None:
                    loop.call_soon(self.flush_pending)
            else:
                self.send(t, None, key)
        if not self.table and not srv.tracking_clients:
            self._update_hook()

    def defer(self, c, key):
        if self.pending_client is not c:
            if self.pending:
                self.flush_pending()
            self.pending_client = c
        self.pending.append(key)

    def flush_pending(self):
        c = self.pending_client
        pending = self.pending
        self.pending = []
        self.pending_client = None
        if c is None or c.closed or c.tracking is None:
            return
        for key in pending:
            if key is None:
                self.send(c, _NULL[c.resp], None)
            else:
                self.send(c, None, key)

    def send(self, c, proto, key):
        """sendTrackingMessage: proto is the ready value part, else the one key."""
        ts = c.tracking
        target = c
        redirected = False
        if ts.redirect:
            target = self.srv.clients.get(ts.redirect)
            if target is None:
                if not ts.broken:
                    ts.broken = True
                    self._flags(c)
                if c.resp > 2:
                    c.write(b">2\r\n$21\r\ntracking-redir-broken\r\n:%d\r\n" % ts.redirect)
                return
            redirected = True
        if target.resp > 2:
            head = _PUSH_INVALIDATE
        elif redirected and target.subscribed:
            head = _PUBSUB_INVALIDATE
        else:
            return
        if proto is None:
            proto = b"*1\r\n" + bulk(key)
        target.write(head + proto)

    def broadcast(self):
        """trackingBroadcastInvalidationMessages (beforeSleep)."""
        self.bcast_scheduled = False
        if not self.srv.tracking_clients:
            for bs in self.prefixes.values():
                bs.keys = {}
            return
        for p in sorted(self.prefixes):
            bs = self.prefixes[p]
            if not bs.keys:
                continue
            keys = sorted(bs.keys.items())
            bs.keys = {}
            common = None
            for c in list(bs.clients):
                ts = c.tracking
                if ts is None or c.closed:
                    continue
                if ts.noloop:
                    mine = [k for k, who in keys if who is not c]
                    if mine:
                        self.send(c, _keys_proto(mine), None)
                else:
                    if common is None:
                        common = _keys_proto([k for k, _w in keys])
                    self.send(c, common, None)

    def flushed(self, srv, dbid):
        """trackingInvalidateKeysOnFlush: a null ("everything") to every tracking client."""
        if srv.tracking_clients:
            cur = srv.tracking_current
            for c in list(srv.clients.values()):
                if c.tracking is not None:
                    if c is cur:
                        self.defer(c, None)
                    else:
                        self.send(c, _NULL[c.resp], None)
        self.table = {}
        self.items = 0
        self._update_hook()

    def limit_table(self):
        """trackingLimitUsedSlots: evict keys from the table beyond tracking-table-max-keys,
        invalidating them for their clients."""
        table = self.table
        max_keys = self.srv.config.values["tracking-table-max-keys"]
        if not max_keys or len(table) <= max_keys:
            self.limit_misses = 0
            return
        effort = 100 * (self.limit_misses + 1)
        victims = random.sample(list(table), min(effort, len(table)))
        for key in victims:
            self.invalidate(key, False)
            if len(table) <= max_keys:
                self.limit_misses = 0
                return
        self.limit_misses += 1

    # -- CLIENT TRACKINGINFO --------------------------------------------------------
    def info_reply(self, c):
        r = c.r
        ts = c.tracking
        flags = [b"on" if ts is not None else b"off"]
        redirect = -1
        prefixes = []
        if ts is not None:
            if ts.bcast:
                flags.append(b"bcast")
            if ts.optin:
                flags.append(b"optin")
                if ts.caching:
                    flags.append(b"caching-yes")
            if ts.optout:
                flags.append(b"optout")
                if ts.caching:
                    flags.append(b"caching-no")
            if ts.noloop:
                flags.append(b"noloop")
            if ts.broken:
                flags.append(b"broken_redirect")
            redirect = ts.redirect
            if ts.prefixes:
                prefixes = sorted(ts.prefixes)
        return r.map([
            (bulk(b"flags"), r.set_header(len(flags)) + b"".join(bulk(f) for f in flags)),
            (bulk(b"redirect"), b":%d\r\n" % redirect),
            (bulk(b"prefixes"), b"*%d\r\n" % len(prefixes) + b"".join(bulk(p) for p in prefixes)),
        ])



_RO_SCRIPTS = frozenset(("eval_ro", "evalsha_ro", "fcall_ro"))


def _keys_proto(keys):
    return b"*%d\r\n" % len(keys) + b"".join(bulk(k) for k in keys)


def _s(b):
    return b.split(b"\x00", 1)[0].decode("utf-8", "surrogateescape")


def _info_stats(srv, pairs):
    from .commands.info import set_fields
    t = srv.tracking
    return set_fields(pairs, {"tracking_total_keys": len(t.table),
                              "tracking_total_items": t.items,
                              "tracking_total_prefixes": len(t.prefixes)})


def _cron(srv):
    if srv.tracking_clients:
        srv.tracking.limit_table()


def _init(srv):
    t = srv.tracking = Tracking(srv)
    srv.disconnect_hooks.append(t.disable)
    srv.cron_hooks.append(_cron)


def _flush_hook(srv, dbid):
    t = getattr(srv, "tracking", None)
    if t is not None:
        t.flushed(srv, dbid)


def _reset_hook(c):
    if c.tracking is not None:
        c.server.tracking.disable(c)


def install():
    from . import hooks
    from .commands import keys, connection, info
    hooks.server_init.append(_init)
    info.providers["stats"].append(_info_stats)
    keys.flush_hooks.append(_flush_hook)
    connection.reset_hooks.append(_reset_hook)
