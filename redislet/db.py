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


def now_ms():
    return int(time.time() * 1000)


class Database:
    __slots__ = ("id", "data", "expires", "server", "watched", "blocking", "avg_ttl",
                 "expire_cursor", "expire_scan")

    def __init__(self, server, dbid):
        self.id = dbid
        self.server = server
        self.data = {}
        self.expires = {}
        self.watched = {}     # key -> list of clients WATCHing it
        self.blocking = {}    # key -> deque of clients blocked on it (first come first served)
        self.avg_ttl = 0
        self.expire_cursor = 0
        self.expire_scan = None

    # -- reading ----------------------------------------------------------------------
    def lookup(self, key):
        """The live value of key or None; an expired key is reclaimed on the spot."""
        v = self.data.get(key)
        if v is not None and self.expires:
            when = self.expires.get(key)
            if when is not None and when < self.server.time_ms():
                if self.server.is_replica:
                    return None   # a replica waits for the master's DEL
                self.expire_key(key)
                return None
        return v

    def lookup_read(self, key):
        """lookup() counting keyspace hits and misses, as lookupKeyRead does."""
        v = self.lookup(key)
        if v is None:
            self.server.stat_keyspace_misses += 1
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
        if self.blocking and key in self.blocking:
            self.server.ready_keys.append((self, key))
        self.touch(key)

    def set(self, key, value, keepttl=False):
        """Create or overwrite key (setKey): drops its expiry unless keepttl."""
        data = self.data
        new = key not in data
        data[key] = value
        if not keepttl and self.expires:
            self.expires.pop(key, None)
        if new and self.blocking and key in self.blocking:
            self.server.ready_keys.append((self, key))
        if self.watched:
            self.touch(key)

    def delete(self, key):
        """Remove key; True if it existed (dbDelete). Callers count dirty and notify."""
        if self.data.pop(key, None) is None:
            return False
        if self.expires:
            self.expires.pop(key, None)
        if self.watched:
            self.touch(key)
        return True

    def set_expire(self, key, when_ms):
        self.expires[key] = when_ms

    def persist(self, key):
        return self.expires.pop(key, None) is not None

    def touch(self, key):
        """signalModifiedKey: invalidate WATCHes (and, later, client-side caching)."""
        w = self.watched.get(key) if self.watched else None
        if w:
            for c in w:
                c.dirty_cas = True
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
        self.data.pop(key, None)
        self.expires.pop(key, None)
        srv.stat_expired_keys += 1
        self.touch(key)
        srv.notify(srv.NOTIFY_EXPIRED, b"expired", key, self.id)
        srv.propagate(self.id, [b"UNLINK" if srv.lazyfree_expire else b"DEL", key])

    def clear(self):
        """FLUSHDB: drop everything, invalidating every watched key."""
        n = len(self.data)
        if self.watched:
            for key in list(self.watched):
                if key in self.data:
                    self.touch(key)
        self.data = {}
        self.expires = {}
        return n

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


def _sample_key(d):
    """A uniformly random key of a non-empty dict (islice runs in C)."""
    return next(itertools.islice(iter(d), random.randrange(len(d)), None))
