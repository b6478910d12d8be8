"""A database: the keyspace dict, the expiry dict, lazy and active expiry, and the hooks
that every write goes through (WATCH invalidation, waking clients blocked on a key).

Values are Python objects chosen per type: bytes for strings, and the classes or builtins
the type modules use (see TYPE_NAMES). Expiry times are absolute Unix milliseconds.
"""
import itertools
import random
import time

from .errors import CommandError, WRONGTYPE

TYPE_NAMES = {bytes: b"string"}   # type modules register their classes here
ENCODING_FUNCS = {}   # class -> fn(value) -> encoding name (OBJECT ENCODING), per type module
COPY_FUNCS = {}       # class -> fn(value) -> independent copy (COPY); default: value.copy()
SIGNAL_ON_DELETE = set()   # types whose deletion/overwrite wakes blocked clients (XREADGROUP)


def now_ms():
    return int(time.time() * 1000)


class Database:
    __slots__ = ("id", "data", "expires", "server", "watched", "blocking", "avg_ttl",
                 "expire_cursor", "expire_scan", "lru", "lru_base")

    def __init__(self, server, dbid):
        self.id = dbid
        self.server = server
        self.data = {}
        self.expires = {}
        self.watched = {}     # key -> {client: None} of clients WATCHing it (in order)
        self.blocking = {}    # key -> deque of clients blocked on it (first come first served)
        self.avg_ttl = 0
        self.expire_cursor = 0
        self.expire_scan = None
        self.lru = {}         # key -> last access (srv.lru_clock ms), or LFU word in LFU mode
        self.lru_base = None  # the clock of the keys missing from lru (see access_clock)

    # -- reading ----------------------------------------------------------------------
    def lookup(self, key, write=True):
        """The live value of key or None; an expired key is reclaimed on the spot.
        Updates the key's access time (LRU clock, or LFU counter) like lookupKey.
        write=False (lookup_read): a replica leaves an expired key to its master."""
        v = self.data.get(key)
        if v is not None:
            if self.expires:
                when = self.expires.get(key)
                if (when is not None and when < self.server.time_ms()
                        and not self.server.loading   # keyIsExpired: not while loading
                        and not self.server.master_executing):   # nor for a replica's master
                    srv = self.server
                    if (srv.is_replica and not (
                            write and not srv.config.values["replica-read-only"])) or (
                            srv.pause_type and srv.pause_active()):
                        # a replica waits for the master's DEL (but a write on a writable
                        # replica deletes it: LOOKUP_WRITE); while clients are paused
                        # (CLIENT PAUSE, FAILOVER) the dataset stays put (expireIfNeeded)
                        return None
                    self.expire_key(key)
                    return None
            srv = self.server
            if srv.lfu_mode:
                lfu_touch(self, key)
            else:
                self.lru[key] = srv.lru_clock
        return v

    def peek(self, key):
        """lookup() without updating the access time (LOOKUP_NOTOUCH: TTL, TYPE, EXISTS,
        OBJECT)."""
        v = self.data.get(key)
        if v is not None and self.expires:
            when = self.expires.get(key)
            if (when is not None and when < self.server.time_ms() and not self.server.loading
                    and not self.server.master_executing):
                srv = self.server
                if srv.is_replica or (srv.pause_type and srv.pause_active()):
                    return None   # (as in lookup)
                self.expire_key(key)
                return None
        return v

    def lookup_read(self, key, touch=True):
        """lookup() counting keyspace hits and misses, as lookupKeyRead does
        (touch=False: LOOKUP_NOTOUCH)."""
        v = self.lookup(key, False) if touch else self.peek(key)
        if v is None:
            srv = self.server
            srv.stat_keyspace_misses += 1
            if srv.notify_flags & 2048:   # NOTIFY_KEY_MISS
                srv.notify(2048, b"keymiss", key, self.id)
        else:
            self.server.stat_keyspace_hits += 1
        return v

    def lookup_type(self, key, cls, read=True):
        """The value of key if it is of type cls, None if missing; WRONGTYPE otherwise."""
        v = self.lookup_read(key) if read else self.lookup(key)
        if v is not None and type(v) is not cls:
            raise CommandError(WRONGTYPE)
        return v

    def exists(self, key):
        return self.lookup(key) is not None

    def ttl_ms(self, key):
        """Remaining ms, -1 without expiry, -2 for a missing key."""
        if self.lookup(key) is None:
            return -2
        when = self.expires.get(key)
        if when is None:
            return -1
        return max(0, when - self.server.time_ms())

    def get_expire(self, key):
        return self.expires.get(key)

    def random_key(self):
        """A random live key or None (expired samples are reclaimed, as dbRandomKey)."""
        data = self.data
        tries = 0
        while data:
            key = _sample_key(data)
            if key in self.expires:
                tries += 1
                if tries > 100 and len(self.expires) == len(data):
                    return key   # all keys volatile: give one back, like Redis
                if self.lookup(key) is None:
                    continue
            return key
        return None

    # -- writing ----------------------------------------------------------------------
    def add(self, key, value):
        """Create a new key (it must not exist)."""
        self.data[key] = value
        self.lru[key] = self.server.lru_new
        if self.blocking and key in self.blocking:
            self.server.ready_keys.append((self, key))
        self.touch(key)
        if self.server.notify_flags & 16384:   # NOTIFY_NEW (dbAdd)
            self.server.notify(16384, b"new", key, self.id)

    def set(self, key, value, keepttl=False):
        """Create or overwrite key (setKey): drops its expiry unless keepttl.
        (ClusterDatabase.set in cluster/keyindex.py repeats this body: keep them in step.)"""
        data = self.data
        old = data.get(key)
        data[key] = value
        srv = self.server
        if old is None or not srv.lfu_mode:   # dbOverwrite keeps the LFU counter
            self.lru[key] = srv.lru_new
        if not keepttl and self.expires:
            self.expires.pop(key, None)
        if (self.blocking and key in self.blocking
                and (old is None or type(old) in SIGNAL_ON_DELETE)):
            srv.ready_keys.append((self, key))
        if self.watched or srv.key_modified_hook is not None:
            self.touch(key)
        if old is None and srv.notify_flags & 16384:   # NOTIFY_NEW (dbAdd)
            srv.notify(16384, b"new", key, self.id)

    def set_plain(self, keys, values):
        """set() for many keys at once (MSET), when none of its hooks applies: no client
        blocked on or watching a key, no key-modified hook, LRU mode, no 'new' events, no
        key with a TTL (setKey would reclaim or drop it). Returns False, having done
        nothing, otherwise."""
        srv = self.server
        if (self.blocking or self.watched or srv.key_modified_hook is not None
                or srv.lfu_mode or srv.notify_flags & 16384
                or not self.expires.keys().isdisjoint(keys)):
            return False
        # a loop of dict stores (specialized by the interpreter) beats dict.update over
        # zip() for the few keys of an MSET
        data = self.data
        lru = self.lru
        clock = srv.lru_new
        for key, value in zip(keys, values):
            data[key] = value
            lru[key] = clock
        return True

    def delete(self, key, lazy=False):
        """Remove key; True if it existed (dbDelete; dbAsyncDelete when lazy). Callers
        count dirty and notify."""
        v = self.data.pop(key, None)
        if v is None:
            return False
        if lazy:
            self.server.lazyfree.free(v)
        if self.blocking and type(v) in SIGNAL_ON_DELETE and key in self.blocking:
            self.server.ready_keys.append((self, key))
        self.lru.pop(key, None)
        if self.expires:
            self.expires.pop(key, None)
        if self.watched or self.server.key_modified_hook is not None:
            self.touch(key)
        return True

    def set_expire(self, key, when_ms):
        self.expires[key] = when_ms
        srv = self.server
        if srv.is_replica and not srv.master_executing:
            srv.repl.remember_replica_key(self, key)   # a writable replica's own TTL

    def persist(self, key):
        return self.expires.pop(key, None) is not None

    def touch(self, key):
        """signalModifiedKey: invalidate WATCHes (and, later, client-side caching)."""
        w = self.watched.get(key) if self.watched else None
        if w:
            touch_watched(self, key, w)
        hook = self.server.key_modified_hook
        if hook is not None:
            hook(self, key)

    def signal_ready(self, key):
        """A list/zset/stream key got new data: clients blocked on it may be served."""
        if self.blocking and key in self.blocking:
            self.server.ready_keys.append((self, key))

    def expire_key(self, key):
        """Reclaim an expired key: delete, count, notify, propagate DEL (as Redis)."""
        srv = self.server
        v = self.data.pop(key, None)
        if srv.lazyfree_expire and v is not None:
            srv.lazyfree.free(v)
        if self.blocking and type(v) in SIGNAL_ON_DELETE and key in self.blocking:
            srv.ready_keys.append((self, key))
        self.expires.pop(key, None)
        self.lru.pop(key, None)
        srv.stat_expired_keys += 1
        srv.expiring_key = True     # signalModifiedKey(NULL, ...): no client changed it
        self.touch(key)
        srv.expiring_key = False
        srv.notify(srv.NOTIFY_EXPIRED, b"expired", key, self.id)
        srv.propagate(self.id, [b"UNLINK" if srv.lazyfree_expire else b"DEL", key])

    def clear(self, lazy=False):
        """FLUSHDB: drop everything, invalidating every watched key; lazy (ASYNC): the
        old dicts are freed a piece at a time (lazyfree.py)."""
        n = len(self.data)
        if self.watched:
            self.touch_all_watched(None)
        if self.blocking and SIGNAL_ON_DELETE:
            for key in self.blocking:
                if type(self.data.get(key)) in SIGNAL_ON_DELETE:
                    self.server.ready_keys.append((self, key))
        if lazy:
            self.server.lazyfree.free_database(self.data, self.expires, self.lru)
        self.data = {}
        self.expires = {}
        self.lru = {}
        self.lru_base = None
        return n

    def access_clock(self, key, default=None):
        """robj->lru of key: its db.lru entry, or lru_base for the keys an RDB load put in
        that nothing touched since (the loader leaves them out of db.lru: one dict slot
        and 0.12 s less per million keys loaded), or default."""
        c = self.lru.get(key, self.lru_base)
        return default if c is None else c

    def replaced_data(self):
        """The RDB loader installed a whole new self.data (cluster db 0 re-indexes)."""

    def keys_added(self, keys):
        """Bulk paths put new keys into self.data directly (cluster db 0 indexes them)."""

    def key_is_expired(self, key):
        """keyIsExpired: key has a TTL in the past (it may still be in the dict)."""
        when = self.expires.get(key) if self.expires else None
        return when is not None and not self.server.loading and when < self.server.time_ms()

    def touch_all_watched(self, replaced_with=None):
        """touchAllWatchedKeysInDb: FLUSHDB/FLUSHALL (replaced_with None) and SWAPDB
        (replaced_with = the other db; call it for both dbs before swapping contents).
        Flags clients watching keys that exist here or in replaced_with; keys that were
        already expired when watched are left alone as Redis 7.0 does."""
        if not self.watched:
            return
        data = self.data
        for key, clients in list(self.watched.items()):
            here = key in data
            there = replaced_with is not None and key in replaced_with.data
            if not (here or there):
                continue
            ident = (self, key)
            for c in clients:
                wk = c.watched_keys
                if wk.get(ident):   # watched while already expired
                    if not there:
                        wk[ident] = False
                        continue
                    if replaced_with.key_is_expired(key):
                        continue
                elif not here and replaced_with.key_is_expired(key):
                    wk[ident] = True
                    continue
                c.dirty_cas = True

    # -- active expiry ----------------------------------------------------------------
    def active_expire(self, deadline):
        """One slice of the active expire cycle. Redis samples random buckets; a dict has no
        buckets, so this walks a snapshot of the volatile keys round after round (every key
        is visited each round), 20 at a time, going on while more than 10% of a batch was
        expired and the time budget lasts. Returns the number of keys reclaimed."""
        expires = self.expires
        if not expires:
            self.expire_scan = None
            return 0
        keys = self.expire_scan
        i = self.expire_cursor
        if keys is None or i >= len(keys):
            keys = self.expire_scan = list(expires)
            i = 0
        now = self.server.time_ms()
        total = 0
        n = len(keys)
        while i < n:
            batch_end = min(i + 20, n)
            expired = 0
            for key in keys[i:batch_end]:
                when = expires.get(key)
                if when is not None and when < now:
                    self.expire_key(key)
                    expired += 1
            total += expired
            checked = batch_end - i
            i = batch_end
            if expired * 10 <= checked or time.monotonic() > deadline:
                break
        self.expire_cursor = i
        return total


def touch_watched(db, key, clients):
    """touchWatchedKey: flag the clients WATCHing key (db.watched[key]) so their EXEC
    fails, and drop all their watches. A key watched while already expired counts as
    unchanged once deleted (Redis 7.0.15 semantics, including its early loop exit)."""
    ident = (db, key)
    for c in list(clients):
        wk = c.watched_keys
        if wk.get(ident):
            if key not in db.data:
                wk[ident] = False
                continue
            break
        c.dirty_cas = True
        unwatch_all(c)


def unwatch_all(c):
    """unwatchAllKeys: forget every key client c watches."""
    wk = c.watched_keys
    if not wk:
        return
    for db, key in wk:
        clients = db.watched.get(key)
        if clients is not None:
            clients.pop(c, None)
            if not clients:
                del db.watched[key]
    wk.clear()


# -- access time / frequency (OBJECT IDLETIME, OBJECT FREQ, eviction) --------------------
# db.lru[key] holds, like robj->lru, either the LRU clock of the last access (ms, as
# srv.lru_clock, refreshed by the cron) or, with an LFU maxmemory-policy, the LFU word
# (minutes << 8 | logarithmic counter). srv.lru_new is the value a new key starts with.
LFU_INIT_VAL = 5
LRU_CLOCK_MAX = (1 << 24) - 1


def lru_field(word):
    """robj->lru as Redis holds it (24 bits): an LFU word as is, an LRU clock in seconds.
    An LRU clock here is in ms, so never under 2**24; after a maxmemory-policy change a
    key still holds the other kind, read as Redis reads it."""
    return word // 1000 & LRU_CLOCK_MAX if word > LRU_CLOCK_MAX else word


def idle_ms(word, now):
    """estimateObjectIdleTime: the time since the access clock word, now being
    srv.lru_clock, in whole seconds of the clock as Redis counts it. An LFU word left
    from an LFU policy is read as a 24-bit seconds clock, as Redis does."""
    clock = now // 1000
    if word > LRU_CLOCK_MAX:
        word //= 1000
        return (clock - word) * 1000 if clock > word else 0
    clock &= LRU_CLOCK_MAX
    return (clock - word if clock >= word else clock + LRU_CLOCK_MAX - word) * 1000


def lfu_minutes():
    return (int(time.time()) // 60) & 65535


def lfu_decr_and_return(db, key):
    """LFUDecrAndReturn: the key's counter after decaying one step per lfu-decay-time
    minutes elapsed since its last decrement time."""
    word = db.access_clock(key)
    if word is None:
        return LFU_INIT_VAL
    word = lru_field(word)      # an LRU clock left from an LRU policy reads as Redis's
    ldt = word >> 8
    counter = word & 255
    decay = db.server.config.values["lfu-decay-time"]
    if decay:
        now = lfu_minutes()
        elapsed = now - ldt if now >= ldt else 65535 - ldt + now
        periods = elapsed // decay
        if periods:
            counter = 0 if periods > counter else counter - periods
    return counter


def lfu_touch(db, key):
    """updateLFU: decay, then a logarithmic (probabilistic) increment."""
    counter = lfu_decr_and_return(db, key)
    if counter < 255:
        base = counter - LFU_INIT_VAL
        if base < 0:
            base = 0
        if random.random() < 1.0 / (base * db.server.config.values["lfu-log-factor"] + 1):
            counter += 1
    db.lru[key] = (lfu_minutes() << 8) | counter


def restored_clock(srv, lfu_freq, lru_idle):
    """objectSetLRUOrLFU: the access clock of a key restored (RESTORE, RDB load) with an
    LFU frequency or an idle time (-1: none given), or None to keep a new key's."""
    if srv.lfu_mode:
        if lfu_freq >= 0:
            return (lfu_minutes() << 8) | lfu_freq
    elif lru_idle >= 0:
        return srv.lru_clock - lru_idle * 1000
    return None


def update_lru_clock(srv):
    """Refresh srv.lru_clock / srv.lru_new / srv.lfu_mode (the cron and CONFIG SET
    maxmemory-policy call this)."""
    srv.lfu_mode = "lfu" in srv.config.values["maxmemory-policy"]
    srv.lru_clock = int(time.time() * 1000)
    srv.lru_new = (lfu_minutes() << 8) | LFU_INIT_VAL if srv.lfu_mode else srv.lru_clock


def _sample_key(d):
    """A uniformly random key of a non-empty dict (islice runs in C)."""
    return next(itertools.islice(iter(d), random.randrange(len(d)), None))
