"""Cluster redirection (cluster.c getNodeByQuery / clusterRedirectClient /
clusterRedirectBlockedClientIfNeeded) and the cluster-mode client.

processCommand (server.c) checks, right after the ACL check, that every key of a command
(for EXEC: of every queued command) hashes to one slot, and that this node serves it:
otherwise the client gets -CROSSSLOT, -MOVED, -ASK, -TRYAGAIN or -CLUSTERDOWN. Commands
from our master or the AOF are never redirected, nor commands without keys.

Keys are found as getKeysFromCommand finds them: a command's getkeys proc (EVAL numkeys,
ZUNIONSTORE, XREAD STREAMS, SORT STORE, MIGRATE KEYS, GEORADIUS STORE...), else its legacy
first/last/step range, which also covers the NOT_KEY channel of SSUBSCRIBE, SUNSUBSCRIBE
and SPUBLISH (sharded pub/sub goes by the channel's slot).

Where it runs: `cluster_check` is the first of srv.state_checks (Client.check runs it in
processCommand's order, for the slow path). The common case (a command whose keys are all
in one slot that this node owns, with no migration or import of it, cluster ok) is decided
inline by ClusterClient.run, so srv.checks leaves that first check out
(srv.inline_checks = 1) and a cluster node keeps the dispatcher's fast path.
"""
from binascii import crc_hqx

from ..client import Client, _perf_ns
from ..commands.table import LAT_SMALL, all_commands
from ..errors import CommandError
from ..resp.encode import error
from .slots import key_hash_slot

# getNodeByQuery's error codes (CLUSTER_REDIR_*)
REDIR_NONE = 0
REDIR_CROSS_SLOT = 1
REDIR_UNSTABLE = 2
REDIR_ASK = 3
REDIR_MOVED = 4
REDIR_DOWN_STATE = 5
REDIR_DOWN_UNBOUND = 6
REDIR_DOWN_RO_STATE = 7

CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot"
TRYAGAIN = "TRYAGAIN Multiple keys request during rehashing of slot"
CLUSTERDOWN = "CLUSTERDOWN The cluster is down"
CLUSTERDOWN_RO = "CLUSTERDOWN The cluster is down and only accepts read commands"
CLUSTERDOWN_UNBOUND = "CLUSTERDOWN Hash slot not served"

CLUSTER_OK = 0
_SHARD_PUBSUB = frozenset(("ssubscribe", "sunsubscribe", "spublish"))


class Redirect(str):
    """A redirection text: the cluster check's rejection (EXEC's is not an EXECABORT)."""


# -- keys as getKeysFromCommand finds them ---------------------------------------------------
def _atoi(b):
    """C atoi: leading spaces, a sign, then digits (0 when none)."""
    s = b.lstrip(b" \t\n\v\f\r")
    i = 0
    if s[:1] in (b"+", b"-"):
        i = 1
    j = i
    while j < len(s) and 48 <= s[j] <= 57:
        j += 1
    if j == i:
        return 0
    v = int(s[i:j])
    return -v if s[:1] == b"-" else v


def _generic(store, count_at, first, step=1):
    """genericGetKeys: numkeys keys from `first` (then the store key, if any)."""
    def getkeys(argv):
        argc = len(argv)
        num = _atoi(argv[count_at]) if count_at < argc else 0
        if num < 1 or num > (argc - first) // step:
            return []
        keys = list(range(first, first + num * step, step))
        if store:
            keys.append(store)
        return keys
    return getkeys


def _sort_keys(argv):
    """sortGetKeys: the sorted key, and the last STORE's key."""
    keys = [1]
    store = None
    i = 2
    argc = len(argv)
    while i < argc:
        a = argv[i].lower()
        if a == b"limit":
            i += 2
        elif a == b"store" and i + 1 < argc:
            store = i + 1
        elif a in (b"get", b"by"):
            i += 1
        i += 1
    if store is not None:
        keys.append(store)
    return keys


def _migrate_keys(argv):
    """migrateGetKeys."""
    from ..commands.migrate import migrate_key_range
    first, num = migrate_key_range(argv)
    return list(range(first, first + num))


def _georadius_keys(argv):
    """georadiusGetKeys: the key, and the last STORE/STOREDIST key."""
    stored = -1
    i = 5
    argc = len(argv)
    while i < argc:
        a = argv[i].lower()
        if (a == b"store" or a == b"storedist") and i + 1 < argc:
            stored = i + 1
            i += 1
        i += 1
    return [1] if stored < 0 else [1, stored]


def _xread_keys(argv):
    """xreadGetKeys: the first half of the arguments after STREAMS."""
    argc = len(argv)
    streams = -1
    i = 1
    while i < argc:
        a = argv[i].lower()
        if a == b"block" or a == b"count":
            i += 1
        elif a == b"group":
            i += 2
        elif a == b"noack":
            pass
        elif a == b"streams":
            streams = i
            break
        else:
            break
        i += 1
    if streams < 0:
        return []
    num = argc - streams - 1
    if num == 0 or num % 2:
        return []
    return list(range(streams + 1, streams + 1 + num // 2))


def _first_only(argv):
    return [1]


GETKEYS_PROCS = {
    "bitfield": _first_only, "set": _first_only, "sort_ro": _first_only,
    "sort": _sort_keys, "migrate": _migrate_keys,
    "georadius": _georadius_keys, "georadiusbymember": _georadius_keys,
    "blmpop": _generic(0, 2, 3), "bzmpop": _generic(0, 2, 3),
    "lmpop": _generic(0, 1, 2), "zmpop": _generic(0, 1, 2),
    "eval": _generic(0, 2, 3), "evalsha": _generic(0, 2, 3), "eval_ro": _generic(0, 2, 3),
    "evalsha_ro": _generic(0, 2, 3), "fcall": _generic(0, 2, 3),
    "fcall_ro": _generic(0, 2, 3), "sintercard": _generic(0, 1, 2),
    "zdiff": _generic(0, 1, 2), "zinter": _generic(0, 1, 2), "zintercard": _generic(0, 1, 2),
    "zunion": _generic(0, 1, 2), "zdiffstore": _generic(1, 2, 3),
    "zinterstore": _generic(1, 2, 3), "zunionstore": _generic(1, 2, 3),
    "xread": _xread_keys, "xreadgroup": _xread_keys,
}


def key_positions(cmd, argv):
    """getKeysFromCommand: argv positions of the keys (channels for sharded pub/sub)."""
    proc = GETKEYS_PROCS.get(cmd.fullname)
    if proc is not None:
        return proc(argv)
    first = cmd.first_key
    if not first:
        return []
    argc = len(argv)
    last = cmd.last_key
    if last < 0:
        last += argc
    if last >= argc:
        return []      # (only for negative arity: the command reports the error)
    return list(range(first, last + 1, cmd.key_step or 1))


# dispatch kinds (Command.cluster_kind)
KIND_NONE = 0       # no keys: never redirected
KIND_FIRST = 1      # exactly one key, argv[1]
KIND_RANGE = 2      # the legacy first/last/step range
KIND_FULL = 3       # anything else: the full check (getkeys procs, EXEC, ASKING...)
_FULL_NAMES = frozenset(("exec", "asking", "readonly", "readwrite", "reset", "multi"))


def command_kind(cmd):
    if cmd.name in _FULL_NAMES and cmd.parent is None:
        return KIND_FULL
    proc = GETKEYS_PROCS.get(cmd.fullname)
    if proc is _first_only:
        return KIND_FIRST
    if proc is not None:
        return KIND_FULL
    if not cmd.first_key:
        return KIND_NONE
    if cmd.first_key == 1 and cmd.last_key == 1:
        return KIND_FIRST
    return KIND_RANGE


def set_command_kinds():
    for cmd in all_commands():
        cmd.cluster_kind = command_kind(cmd)


# -- the slots of recent keys -----------------------------------------------------------------
# CRC16 per command is the largest part of the redirection check in Python; a dict lookup is
# cheaper (and the key's hash it computes is reused by the keyspace lookup that follows), so
# the slots of hot keys are remembered. Only short keys are kept, the cache is emptied when
# full, and ClusterClient.run adds at most one key per read (a workload of ever new keys
# would pay for inserts it never uses).
_SLOT_CACHE = {}
SLOT_CACHE_SIZE = 1 << 14
SLOT_CACHE_KEYLEN = 64
LAST_SLOT = [(None, 0)]      # [(the key whose slot ClusterClient.run computed last, slot)]


def cached_slot(key):
    """key_hash_slot(key), remembered for the next time (see _SLOT_CACHE; ClusterClient.run
    has this inline)."""
    s = key_hash_slot(key)
    if len(key) <= SLOT_CACHE_KEYLEN:
        if len(_SLOT_CACHE) >= SLOT_CACHE_SIZE:
            _SLOT_CACHE.clear()
        _SLOT_CACHE[key] = s
    return s


# -- getNodeByQuery ---------------------------------------------------------------------------

_SCRIPT_CMDS = frozenset(("eval", "eval_ro", "evalsha", "evalsha_ro", "fcall", "fcall_ro"))


def command_writes(srv, c, cmd, argv):
    """getCommandFlags(c) & CMD_WRITE: a script with a shebang / a function declares its
    own flags (write unless no-writes)."""
    if cmd.fullname in _SCRIPT_CMDS:
        from ..scripting.eval import script_command_write
        w = script_command_write(srv, cmd.fullname, argv)
        if w is not None:
            return w
    return cmd.is_write


def key_exists(db, key):
    """lookupKeyReadWithFlags(NOTOUCH|NOSTATS|NONOTIFY|NOEXPIRE) != NULL."""
    return key in db.data and not db.key_is_expired(key)


def get_node_by_query(srv, c, cmd, argv):
    """getNodeByQuery: (node, slot, error code). node is cl.myself when the command can run
    here; slot is -1 when Redis leaves it unset (no keys, unbound slot, cross slot)."""
    cl = srv.cluster
    me = cl.myself
    if cmd.name == "exec" and cmd.parent is None:
        if c.multi is None:
            return me, -1, REDIR_NONE       # EXEC without MULTI: its own error
        commands = c.multi
    else:
        commands = ((cmd, argv),)
    shard = cmd.fullname in _SHARD_PUBSUB
    firstkey = None
    n = None
    slot = 0
    migrating = importing = multiple = False
    missing = existing = 0
    db0 = srv.dbs[0]
    for mcmd, margv in commands:
        for pos in key_positions(mcmd, margv):
            key = margv[pos]
            thisslot = key_hash_slot(key)
            if firstkey is None:
                firstkey = key
                slot = thisslot
                n = cl.slots[slot]
                if n is None:
                    return None, -1, REDIR_DOWN_UNBOUND
                if n is me and cl.migrating_slots_to[slot] is not None:
                    migrating = True
                elif cl.importing_slots_from[slot] is not None:
                    importing = True
            elif key != firstkey:
                if slot != thisslot:
                    return None, -1, REDIR_CROSS_SLOT
                multiple = True
            if (migrating or importing) and not shard:
                if key_exists(db0, key):
                    existing += 1
                else:
                    missing += 1
    if n is None:
        return me, -1, REDIR_NONE
    v = srv.config.values
    if cl.state != CLUSTER_OK:
        if shard:
            if not v["cluster-allow-pubsubshard-when-down"]:
                return None, -1, REDIR_DOWN_STATE
        elif not v["cluster-allow-reads-when-down"]:
            return None, -1, REDIR_DOWN_STATE
        elif command_writes(srv, c, cmd, argv):
            return None, -1, REDIR_DOWN_RO_STATE
    if (migrating or importing) and cmd.name == "migrate":
        return me, slot, REDIR_NONE
    if migrating and missing:
        if existing:
            return None, slot, REDIR_UNSTABLE
        return cl.migrating_slots_to[slot], slot, REDIR_ASK
    if importing and (c.asking or "asking" in cmd.flags):
        if multiple and missing:
            return None, slot, REDIR_UNSTABLE
        return me, slot, REDIR_NONE
    if ((c.readonly_mode or shard) and me.is_slave() and me.slaveof is n
            and not _writes_here(srv, c, cmd, argv)):
        return me, slot, REDIR_NONE
    if n is not me:
        return n, slot, REDIR_MOVED
    return n, slot, REDIR_NONE


def _writes_here(srv, c, cmd, argv):
    """processCommand's is_write_command: the command's flags, or for EXEC any queued
    command's (mstate.cmd_flags)."""
    if command_writes(srv, c, cmd, argv):
        return True
    if cmd.name == "exec" and c.multi:
        return any(command_writes(srv, c, qc, qa) for qc, qa in c.multi)
    return False


def preferred_endpoint(srv, n):
    """getPreferredEndpoint."""
    t = srv.config.values["cluster-preferred-endpoint-type"]
    if t == "ip":
        return n.ip
    if t == "hostname":
        return n.hostname or "?"
    return ""


def redirect_text(srv, c, n, slot, code):
    """clusterRedirectClient's error text (without the leading '-')."""
    if code == REDIR_CROSS_SLOT:
        return CROSSSLOT
    if code == REDIR_UNSTABLE:
        return TRYAGAIN
    if code == REDIR_DOWN_STATE:
        return CLUSTERDOWN
    if code == REDIR_DOWN_RO_STATE:
        return CLUSTERDOWN_RO
    if code == REDIR_DOWN_UNBOUND:
        return CLUSTERDOWN_UNBOUND
    # MOVED / ASK: the plaintext port for a non-TLS client of a TLS cluster
    port = n.port
    if srv.config.values["tls-cluster"] and n.pport:
        from ..tls import is_tls
        if not is_tls(c):
            port = n.pport
    return "%s %d %s:%d" % ("ASK" if code == REDIR_ASK else "MOVED", slot,
                            preferred_endpoint(srv, n), port)


def cluster_check(c, cmd, argv):
    """processCommand's cluster redirection, as a state check: the error text, or None."""
    srv = c.server
    if srv.cluster is None or c.must_obey_client():
        return None
    kind = cmd.cluster_kind
    if kind == KIND_NONE:
        c.cluster_slot = -1
        return None
    if kind == KIND_FULL and cmd.name != "exec" and not cmd.movablekeys \
            and not cmd.key_specs:
        c.cluster_slot = -1      # ASKING, READONLY... (no keys)
        return None
    n, slot, code = get_node_by_query(srv, c, cmd, argv)
    c.cluster_slot = slot
    if n is srv.cluster.myself:
        return None
    return Redirect(redirect_text(srv, c, n, slot, code))


# -- blocked clients --------------------------------------------------------------------------
def redirect_blocked_client(srv, c):
    """clusterRedirectBlockedClientIfNeeded: unblock c with a redirection when the slot
    of its keys is no longer served here (or the cluster is down). True if done."""
    b = c.blocked
    if b is None or not b.keys:
        return False
    cl = srv.cluster
    if cl is None:
        return False
    if cl.state != CLUSTER_OK:
        msg = CLUSTERDOWN
    else:
        key = b.keys[0]
        slot = key_hash_slot(key)
        node = cl.slots[slot]
        me = cl.myself
        cmd = b.cmd
        if (c.readonly_mode and cmd is not None and not cmd.is_write and me.is_slave()
                and me.slaveof is node):
            node = me
        if node is me or cl.importing_slots_from[slot] is not None:
            return False
        if node is None:
            msg = CLUSTERDOWN_UNBOUND
        else:
            msg = redirect_text(srv, c, node, slot, REDIR_MOVED)
    from ..blocking import unblock
    reply = error(msg)
    srv.count_error(reply)
    unblock(c, reply)
    return True


def redirect_blocked_clients(srv):
    """Every blocked client of this node (clientsCron's clusterRedirectBlockedClient
    IfNeeded, and after a cluster state change). Returns how many were redirected."""
    if not getattr(srv, "blocked_clients", 0) or srv.cluster is None:
        return 0
    n = 0
    clients = {}
    for db in srv.dbs:          # (a cluster node only has db 0; clients blocked on keys)
        for q in db.blocking.values():
            clients.update(dict.fromkeys(q))
    for c in clients:
        if c.blocked is not None and redirect_blocked_client(srv, c):
            n += 1
    return n


# -- scripts (scriptVerifyClusterState) -------------------------------------------------------
def script_cluster_check(ctx, fc, cmd, argv):
    """A command called by a script: the error text, or None. fc is the script client."""
    caller = ctx.caller
    srv = fc.server
    if srv.cluster is None or caller.must_obey_client() or getattr(ctx, "obey", False):
        return None
    fc.asking = caller.asking
    fc.readonly_mode = caller.readonly_mode
    n, slot, code = get_node_by_query(srv, fc, cmd, argv)
    if n is not srv.cluster.myself:
        if code == REDIR_DOWN_RO_STATE:
            return ("Script attempted to execute a write command while the cluster is down "
                    "and readonly")
        if code == REDIR_DOWN_STATE:
            return "Script attempted to execute a command while the cluster is down"
        return "Script attempted to access a non local key in a cluster node"
    if slot != -1 and not getattr(ctx, "cross_slot", True):
        if caller.cluster_slot == -1:
            caller.cluster_slot = slot
        elif caller.cluster_slot != slot:
            return "Script attempted to access keys that do not hash to the same slot"
    return None


# -- the cluster-mode client ------------------------------------------------------------------
class ClusterClient(Client):
    """A client of a cluster node. Its dispatcher is Client's with the redirection check
    inline: a command whose keys all hash to a slot this node owns (no migration, no import,
    cluster ok, no ASKING pending) runs on the fast path; anything else takes process(),
    where Client.check runs the full getNodeByQuery (cluster_check)."""

    def run(self, cmds):
        """Client.run plus the inline slot check (keep the two in step)."""
        srv = self.server
        dispatch = srv.dispatch
        perf = _perf_ns
        cache = _SLOT_CACHE
        slot_get = cache.get
        last = LAST_SLOT
        room = True
        crc = crc_hqx
        out_append = self.out.append
        cl = srv.cluster
        fast = cl is not None and cl.state == CLUSTER_OK and not self.asking
        if fast:
            slots = cl.slots
            mig = cl.migrating_slots_to
            imp = cl.importing_slots_from
            me = cl.myself
        t0 = perf()
        for i, argv in enumerate(cmds):
            cmd = dispatch.get(argv[0])
            if cmd is None:
                cmd = dispatch.get(argv[0].lower())
            if (cmd is None or cmd.needs_check or self.checks or srv.checks
                    or self.reply_mode or srv.ready_keys or not fast):
                slow = True
            else:
                n = len(argv)
                a = cmd.arity
                kind = cmd.cluster_kind
                if (n != a and (a > 0 or n < -a)) or kind == 3:
                    slow = True
                elif kind == 1:      # one key, argv[1]: its slot served here, stable
                    key = argv[1]
                    s = slot_get(key)
                    if s is None:
                        s = key_hash_slot(key) if 123 in key else crc(key, 0) & 16383
                        last[0] = (key, s)   # (a new key's index entry needs it next)
                        if room and len(key) <= SLOT_CACHE_KEYLEN:
                            room = False     # one new entry per read: cheap when keys vary
                            if len(cache) >= SLOT_CACHE_SIZE:
                                cache.clear()
                            cache[key] = s
                    slow = slots[s] is not me or mig[s] is not None or imp[s] is not None
                elif kind:           # a key range: one slot, served here, stable
                    slow = not self._range_ok(cmd, argv, slots, mig, imp, me)
                else:                # no keys
                    slow = False
            if slow:
                self.process(argv)
                t0 = perf()
                cl = srv.cluster
                fast = cl is not None and cl.state == CLUSTER_OK and not self.asking
                if fast:
                    slots = cl.slots
                    mig = cl.migrating_slots_to
                    imp = cl.importing_slots_from
                    me = cl.myself
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

    @staticmethod
    def _range_ok(cmd, argv, slots, mig, imp, me):
        """The legacy key range all in one slot that this node serves, not migrating or
        importing (a multi-key command the fast path may run)."""
        argc = len(argv)
        last = cmd.last_key
        if last < 0:
            last += argc
        if last >= argc:
            return False
        s = -1
        for j in range(cmd.first_key, last + 1, cmd.key_step or 1):
            key = argv[j]
            t = _SLOT_CACHE.get(key)
            if t is None:
                t = cached_slot(key)
            if s != t:
                if s != -1:
                    return False
                s = t
        return s == -1 or (slots[s] is me and mig[s] is None and imp[s] is None)

    def process(self, argv):
        """processCommand with every check (Client.check always runs: the redirection
        is one of its state checks), then resetClient's ASKING rule."""
        srv = self.server
        cmd = srv.dispatch.get(argv[0])
        if cmd is None:
            cmd = srv.dispatch.get(argv[0].lower())
        ran = self.check(argv, cmd)
        if ran is not None:
            self.last_cmd = ran
            self.call(ran, argv)
        if self.asking and self.multi is None and (ran is None or ran.fullname != "asking"):
            self.asking = False
        if srv.ready_keys:
            srv.handle_ready_keys()

    def reject(self, cmd, msg):
        if type(msg) is Redirect and cmd is not None and cmd.fullname == "exec":
            # processCommand: a redirected EXEC discards the transaction, and replies with
            # the redirection itself (no EXECABORT)
            from ..commands.transactions import discard_transaction
            discard_transaction(self)
            cmd.rejected_calls += 1
            reply = error(msg)
            self.server.count_error(reply)
            if not self.reply_mode & 1:
                self.out.append(reply)
            return
        Client.reject(self, cmd, msg)


# -- set-up -----------------------------------------------------------------------------------
def _reset_client(c):
    """RESET clears CLIENT_ASKING and CLIENT_READONLY."""
    c.asking = False
    c.readonly_mode = False


def _blocked_cron(srv):
    if getattr(srv, "blocked_clients", 0) and srv.cluster is not None:
        redirect_blocked_clients(srv)


def install(srv):
    """Cluster mode's keyspace side, from RedisServer.__init__ (cluster-enabled yes):
    db 0 indexed by slot, cluster clients, the redirection check."""
    from .keyindex import ClusterDatabase
    from ..commands import connection
    srv.dbs[0] = ClusterDatabase(srv, 0)
    srv.client_class = ClusterClient
    srv.state_checks.insert(0, cluster_check)
    srv.inline_checks = 1
    srv.script_cluster_check = script_cluster_check
    srv.cron_hooks.append(_blocked_cron)
    if _reset_client not in connection.reset_hooks:
        connection.reset_hooks.append(_reset_client)
    set_command_kinds()
