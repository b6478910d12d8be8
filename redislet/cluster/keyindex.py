"""The keyspace side of cluster mode: which keys (db 0) and which shard channels belong to
each hash slot (cluster.c slotToKey* / slotToChannel*), for CLUSTER COUNTKEYSINSLOT /
GETKEYSINSLOT / COUNTKEYSINSLOT, slot deletion, MIGRATE tooling and the redirection checks.

Keys: with cluster-enabled yes, db 0 is a ClusterDatabase. It keeps `slot_keys`, a list of
16384 entries, each None or an insertion-ordered dict {key: None} of the slot's keys. Every
way a key enters or leaves db 0 goes through the methods overridden here (add, set,
set_plain, delete, expire_key, clear) or through `replaced_data` (the RDB loader installing
a whole dataset, DEBUG POPULATE's bulk path). Overwriting the value of an existing key
(`db.data[key] = new`) changes nothing here. Redis links a slot's keys newest first
(slotToKeyAddEntry inserts at the head), so iteration over a slot is in reverse insertion
order. A standalone server never imports this module.

Channels: `srv.slot_channels` maps a slot to the set of its shard channels that have
subscribers (the slots_to_channels rax; iterated in byte order as the rax is).
"""
from itertools import islice

from ..db import Database, SIGNAL_ON_DELETE
from .redirect import _SLOT_CACHE, LAST_SLOT
from .slots import key_hash_slot, SLOTS

__all__ = ["ClusterDatabase", "count_keys_in_slot", "keys_in_slot", "del_keys_in_slot",
           "remove_channels_in_slot", "count_channels_in_slot", "channels_in_slot",
           "channel_added", "channel_removed", "redirect_blocked_clients"]


def slot_of(key):
    """key_hash_slot, taking the slot the redirection check computed for this key if any."""
    last = LAST_SLOT[0]
    if last[0] is key:
        return last[1]
    s = _SLOT_CACHE.get(key)
    return key_hash_slot(key) if s is None else s


class ClusterDatabase(Database):
    """db 0 of a cluster node: a Database that also indexes its keys by hash slot."""
    __slots__ = ("slot_keys",)

    def __init__(self, server, dbid=0):
        Database.__init__(self, server, dbid)
        self.slot_keys = [None] * SLOTS

    # -- the index ------------------------------------------------------------------------
    def _index_add(self, key):
        s = slot_of(key)
        d = self.slot_keys[s]
        if d is None:
            self.slot_keys[s] = {key: None}
        else:
            d[key] = None

    def _index_del(self, key):
        s = key_hash_slot(key)
        d = self.slot_keys[s]
        if d is not None:
            d.pop(key, None)
            if not d:
                self.slot_keys[s] = None

    def replaced_data(self):
        """The whole dataset was replaced (RDB load, full sync): rebuild the index."""
        sk = self.slot_keys = [None] * SLOTS
        slot = key_hash_slot
        for key in self.data:
            s = slot(key)
            d = sk[s]
            if d is None:
                sk[s] = {key: None}
            else:
                d[key] = None

    def keys_added(self, keys):
        """Keys put into self.data directly (bulk paths such as DEBUG POPULATE)."""
        for key in keys:
            self._index_add(key)

    # -- Database's write paths -------------------------------------------------------------
    def add(self, key, value):
        self._index_add(key)
        Database.add(self, key, value)

    def set(self, key, value, keepttl=False):
        """Database.set with the index (its body repeated here, keep the two in step: one
        call less on the write path of every SET)."""
        data = self.data
        old = data.get(key)
        data[key] = value
        srv = self.server
        if old is None:
            self._index_add(key)
            self.lru[key] = srv.lru_new
        elif not srv.lfu_mode:   # dbOverwrite keeps the LFU counter
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
        data = self.data
        new = [k for k in keys if k not in data]
        if not Database.set_plain(self, keys, values):
            return False
        for key in new:
            self._index_add(key)
        return True

    def delete(self, key, lazy=False):
        if Database.delete(self, key, lazy):
            self._index_del(key)
            return True
        return False

    def expire_key(self, key):
        had = key in self.data
        Database.expire_key(self, key)
        if had:
            self._index_del(key)

    def clear(self, lazy=False):
        n = Database.clear(self, lazy)
        self.slot_keys = [None] * SLOTS
        return n

    # -- slot queries -----------------------------------------------------------------------
    def count_in_slot(self, slot):
        d = self.slot_keys[slot]
        return 0 if d is None else len(d)

    def keys_in_slot(self, slot, count):
        d = self.slot_keys[slot]
        if d is None or count <= 0:
            return []
        return list(islice(reversed(d), count))

    def delete_in_slot(self, slot):
        """delKeysInSlot (7.0.15): dbDelete of every key of the slot, newest first. No
        keyspace event, no propagation, no dirty, no signalModifiedKey: only what
        dbGenericDelete does (streams wake XREADGROUP clients)."""
        d = self.slot_keys[slot]
        if d is None:
            return 0
        self.slot_keys[slot] = None
        keys = list(reversed(d))
        data, expires, lru = self.data, self.expires, self.lru
        blocking = self.blocking
        ready = self.server.ready_keys
        for key in keys:
            if expires:
                expires.pop(key, None)
            v = data.pop(key, None)
            lru.pop(key, None)
            if blocking and type(v) in SIGNAL_ON_DELETE and key in blocking:
                ready.append((self, key))
        return len(keys)


# -- the API the cluster state machine uses ---------------------------------------------------
def count_keys_in_slot(db, slot):
    """countKeysInSlot: keys of db (db 0 of a cluster node) in slot."""
    sk = getattr(db, "slot_keys", None)
    if sk is None:
        return sum(1 for k in db.data if key_hash_slot(k) == slot)   # (not a cluster db)
    d = sk[slot]
    return 0 if d is None else len(d)


def keys_in_slot(db, slot, count):
    """CLUSTER GETKEYSINSLOT: up to count keys of slot, in Redis's order (newest first)."""
    if getattr(db, "slot_keys", None) is None:
        return [k for k in db.data if key_hash_slot(k) == slot][::-1][:max(count, 0)]
    return db.keys_in_slot(slot, count)


def del_keys_in_slot(srv, slot):
    """delKeysInSlot: delete every key of slot in db 0; returns how many."""
    db = srv.dbs[0]
    if getattr(db, "slot_keys", None) is None:
        n = 0
        for k in [k for k in db.data if key_hash_slot(k) == slot]:
            n += db.delete(k)
        return n
    n = db.delete_in_slot(slot)
    if n and srv.ready_keys:
        srv.handle_ready_keys()
    return n


# -- shard channels per slot (slotToChannelAdd / slotToChannelDel) ----------------------------
def _slot_channels(srv):
    sc = getattr(srv, "slot_channels", None)
    if sc is None:
        sc = srv.slot_channels = {}
    return sc


def channel_added(srv, channel):
    """slotToChannelAdd: a shard channel got its first subscriber."""
    sc = _slot_channels(srv)
    s = key_hash_slot(channel)
    chans = sc.get(s)
    if chans is None:
        sc[s] = {channel}
    else:
        chans.add(channel)


def channel_removed(srv, channel):
    """slotToChannelDel: a shard channel lost its last subscriber."""
    sc = getattr(srv, "slot_channels", None)
    if not sc:
        return
    s = key_hash_slot(channel)
    chans = sc.get(s)
    if chans is not None:
        chans.discard(channel)
        if not chans:
            del sc[s]


def count_channels_in_slot(srv, slot):
    """countChannelsInSlot."""
    sc = getattr(srv, "slot_channels", None)
    chans = sc.get(slot) if sc else None
    return len(chans) if chans else 0


def channels_in_slot(srv, slot):
    """The shard channels of slot in the rax's (byte) order."""
    sc = getattr(srv, "slot_channels", None)
    chans = sc.get(slot) if sc else None
    return sorted(chans) if chans else []


def remove_channels_in_slot(srv, slot):
    """removeChannelsInSlot: every subscriber of every shard channel of slot is
    unsubscribed, each with the sunsubscribe push (pubsubShardUnsubscribeAllClients)."""
    channels = channels_in_slot(srv, slot)
    if not channels:
        return 0
    from ..commands.pubsub import shard_unsubscribe_all_clients
    for ch in channels:
        shard_unsubscribe_all_clients(srv, ch)
    return len(channels)


def redirect_blocked_clients(srv):
    """clusterRedirectBlockedClientIfNeeded for every blocked client (see redirect.py)."""
    from .redirect import redirect_blocked_clients as fn
    return fn(srv)
