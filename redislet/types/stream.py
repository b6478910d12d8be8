"""The stream type: entries in nodes that mirror Redis's radix tree of listpacks.

An entry ID is one int, ms << 64 | seq. Entries live in nodes (Redis's listpacks): each node
keeps its master ID (the rax key), the IDs of its entries in a sorted list, the field/value
tuples (None marks a tombstone, as the DELETED flag does; tuples, not lists, because the
GC stops tracking a tuple of bytes, so a long stream does not lengthen every full
collection), the live and deleted counters and
the listpack byte size Redis would have. The node boundaries follow Redis exactly
(stream-node-max-entries / stream-node-max-bytes), so approximate trimming (~), which
removes whole nodes only, gives the same lengths as Redis.

Lookups bisect the node keys, then the IDs inside one node: appends and range reads from
any ID never scan the stream.
"""
from __future__ import annotations   # (the compiled build types the annotated names)

from bisect import bisect_left, bisect_right

from sortedcontainers import SortedDict

from ..util import parse_ll

MASK64 = (1 << 64) - 1
MAX_ID = (1 << 128) - 1
SCG_INVALID_ENTRIES_READ = -1
LP_MAX_SIZE = 1 << 30          # STREAM_LISTPACK_MAX_SIZE


def node_max_bytes(v):
    """stream-node-max-bytes as streamAppendItem applies it: 0 (no limit) and values over
    the listpack limit are capped at LP_MAX_SIZE."""
    return LP_MAX_SIZE if v == 0 or v > LP_MAX_SIZE else v


def fmt_id(k):
    return b"%d-%d" % (k >> 64, k & MASK64)


def id_bulk(k):
    s = b"%d-%d" % (k >> 64, k & MASK64)
    return b"$%d\r\n%s\r\n" % (len(s), s)


# -- listpack size emulation ------------------------------------------------------------
def lp_int_size(v):
    """Bytes of an integer listpack element, backlen included."""
    if 0 <= v <= 127:
        return 2
    if -4096 <= v <= 4095:
        return 3
    if -32768 <= v <= 32767:
        return 4
    if -8388608 <= v <= 8388607:
        return 5
    if -2147483648 <= v <= 2147483647:
        return 6
    return 10


def _backlen(n):
    if n <= 127:
        return 1
    if n < 16383:
        return 2
    if n < 2097151:
        return 3
    if n < 268435455:
        return 4
    return 5


_INT_START = frozenset(b"-0123456789")
_LIVE_WIDENS = frozenset((127, 4095, 32767, 8388607, 2147483647))   # lp_int_size steps


def lp_str_size(s):
    """Bytes of a string listpack element (integers are stored as integers)."""
    n = len(s)
    if n <= 20 and n and s[0] in _INT_START:
        v = parse_ll(s)
        if v is not None:
            return lp_int_size(v)
    if n < 64:
        return n + 2
    if n < 4096:
        return n + 2 + _backlen(n + 2)
    return n + 5 + _backlen(n + 5)


def _wrap(d):
    """(int64_t)d for the difference of two uint64 values, as the listpack stores ID
    deltas."""
    d &= MASK64
    return d - (1 << 64) if d >> 63 else d


def id_bytes(dm, ds):
    """Listpack bytes of an entry's flags, ms delta and seq delta; dm, ds: the differences
    from the master ID's ms and seq (dm >= 0: entries follow their master)."""
    if 0 <= dm <= 127 and 0 <= ds <= 127:
        return 6
    if dm <= 4095 and -4096 <= ds <= 4095:
        return (4 if dm <= 127 else 5) + (2 if 0 <= ds <= 127 else 3)
    return 2 + lp_int_size(_wrap(dm)) + lp_int_size(_wrap(ds))


def fields_bytes(fv, same):
    """Listpack bytes of an entry after its ID: [numfields, fields] (unless it has the
    master's fields), values, lp-count."""
    nf = len(fv) >> 1
    n = 0
    if same:
        for x in fv[1::2]:
            n += lp_str_size(x)
        return n + lp_int_size(nf + 3)
    n += lp_int_size(nf)
    for x in fv:
        n += lp_str_size(x)
    return n + lp_int_size(2 * nf + 4)


def entry_bytes(master, idk, fv, same):
    """Listpack bytes of one entry: flags, ms delta, seq delta, [numfields, fields], values,
    lp-count."""
    return id_bytes((idk >> 64) - (master >> 64), (idk & MASK64) - (master & MASK64)) \
        + fields_bytes(fv, same)


class Node:
    __slots__ = ("master", "ids", "entries", "live", "deleted", "nbytes", "mfields",
                 "mms", "mseq")

    def __init__(self, master, fv):
        self.master = master
        self.mms = master >> 64          # the master ID's parts, for the entry deltas
        self.mseq = master & MASK64
        self.ids = []
        self.entries = []
        self.live = 0
        self.deleted = 0
        mf = fv[0::2]
        self.mfields = mf
        # header(6) + eof(1) + count(1) + deleted(0) + numfields + fields + terminator(0)
        n = 7 + 2 + 2 + lp_int_size(len(mf)) + 2
        for f in mf:
            n += lp_str_size(f)
        self.nbytes = n

    def set_counters(self, live, deleted):
        self.nbytes += (lp_int_size(live) - lp_int_size(self.live)
                        + lp_int_size(deleted) - lp_int_size(self.deleted))
        self.live = live
        self.deleted = deleted


class NACK:
    __slots__ = ("delivery_time", "delivery_count", "consumer")

    def __init__(self, consumer, now):
        self.delivery_time = now
        self.delivery_count = 1
        self.consumer = consumer


class Consumer:
    __slots__ = ("name", "seen_time", "pel")

    def __init__(self, name, now):
        self.name = name
        self.seen_time = now
        self.pel = SortedDict()


class Group:
    __slots__ = ("last_id", "entries_read", "pel", "consumers")

    def __init__(self, last_id, entries_read):
        self.last_id = last_id
        self.entries_read = entries_read
        self.pel = SortedDict()      # id -> NACK
        self.consumers = {}          # name -> Consumer (listed in name order)

    def sorted_consumers(self):
        return [self.consumers[k] for k in sorted(self.consumers)]

    def __del__(self):
        # A consumer and its pending entries refer to each other (Consumer.pel holds the
        # NACKs, NACK.consumer the consumer). The data must hold no reference cycles
        # (gcpolicy.py), so they are unlinked when the group goes: with its stream, or
        # by XGROUP DESTROY.
        for cons in self.consumers.values():
            cons.pel.clear()


class Stream:
    __slots__ = ("nodes", "keys", "length", "last_id", "first_id", "max_deleted",
                 "entries_added", "groups")

    def __init__(self):
        self.nodes = []          # Node, in ID order
        self.keys = []           # master ID of each node (the rax keys)
        self.length = 0
        self.last_id = 0
        self.first_id = 0
        self.max_deleted = 0
        self.entries_added = 0
        self.groups = None       # name -> Group, created on demand

    # -- adding -----------------------------------------------------------------------
    def append(self, idk, fv, totlen, max_entries, max_bytes):
        """streamAppendItem with the ID already decided (greater than last_id); totlen is
        the total length of the fields and values; max_bytes is stream-node-max-bytes with
        0 and values over LP_MAX_SIZE already read as LP_MAX_SIZE (node_max_bytes)."""
        node: Node
        nodes = self.nodes
        node = nodes[-1] if nodes else None
        pair = len(fv) == 2
        if node is None or node.nbytes + totlen >= max_bytes or \
                (max_entries and node.live + node.deleted >= max_entries):
            node = Node(idk, fv)
            nodes.append(node)
            self.keys.append(idk)
            same = True
        elif pair:
            mf = node.mfields
            same = len(mf) == 1 and fv[0] == mf[0]
        else:
            same = fv[0::2] == node.mfields
        # the entry's listpack bytes, the usual case inlined (id_bytes, fields_bytes)
        dm = (idk >> 64) - node.mms
        ds = (idk & MASK64) - node.mseq
        n = 6 if dm <= 127 and 0 <= ds <= 127 else id_bytes(dm, ds)
        if same and pair:
            x = fv[1]
            k = len(x)
            if k < 64 and (not k or x[0] not in _INT_START):
                n += k + 4            # value, lp-count (2)
            else:
                n += lp_str_size(x) + 2
        else:
            n += fields_bytes(fv, same)
        live = node.live
        if live in _LIVE_WIDENS:
            n += lp_int_size(live + 1) - lp_int_size(live)
        node.live = live + 1
        node.nbytes += n
        node.ids.append(idk)
        node.entries.append(fv)
        self.length += 1
        self.entries_added += 1
        self.last_id = idk
        if self.length == 1:
            self.first_id = idk

    def load_node(self, master, ids, entries, lp_bytes=None):
        """Append a whole node as an RDB listpack holds it (master ID, entry IDs, field/value
        lists with None for tombstones), keeping Redis's node layout. Counters (length,
        last_id, first_id, entries_added...) are the loader's to set. lp_bytes: the size
        of that listpack (Redis's lpBytes, which decides when XADD opens a new node); for
        a node without tombstones it is exactly what the per-entry accounting adds up to,
        and a tombstone counts the bytes it really has there."""
        first = next((e for e in entries if e is not None), None)
        node = Node(master, first if first is not None else (b"", b""))
        mf = node.mfields
        live = deleted = 0
        if lp_bytes is not None:
            deleted = entries.count(None)
            live = len(entries) - deleted
        else:
            for idk, fv in zip(ids, entries):
                if fv is None:
                    node.nbytes += 6      # a tombstone keeps its bytes; size is not observable
                    deleted += 1
                else:
                    node.nbytes += entry_bytes(master, idk, fv, fv[0::2] == mf)
                    live += 1
        node.ids = list(ids)
        node.entries = list(entries)
        node.set_counters(live, deleted)
        if lp_bytes is not None:
            node.nbytes = lp_bytes
        self.nodes.append(node)
        self.keys.append(master)
        return node

    # -- reading ----------------------------------------------------------------------
    def range(self, start, end, count=0, rev=False):
        """Live entries (id, fv) with start <= id <= end, at most count (0 = all).
        Within a node the bounds are bisected; a node without tombstones is taken by
        slices rather than entry by entry."""
        out = []
        if start > end or not self.nodes:
            return out
        nodes = self.nodes
        if not rev:
            ni = bisect_right(self.keys, start) - 1
            if ni < 0:
                ni = 0
            j = bisect_left(nodes[ni].ids, start)
            for ni in range(ni, len(nodes)):
                node = nodes[ni]
                ids = node.ids
                m = len(ids)
                hi = m if not m or ids[-1] <= end else bisect_right(ids, end, j)
                ents = node.entries
                if not node.deleted:
                    if count and hi - j >= count - len(out):
                        k = j + count - len(out)
                        out.extend(zip(ids[j:k], ents[j:k]))
                        return out
                    out.extend(zip(ids[j:hi], ents[j:hi]))
                else:
                    for k in range(j, hi):
                        e = ents[k]
                        if e is not None:
                            out.append((ids[k], e))
                            if len(out) == count:
                                return out
                if hi < m:          # the next entry is past end
                    return out
                j = 0
            return out
        ni = bisect_right(self.keys, end) - 1
        if ni < 0:
            return out
        hi = bisect_right(nodes[ni].ids, end)      # the entries before hi are <= end
        while True:
            node = nodes[ni]
            ids = node.ids
            lo = 0 if not ids or ids[0] >= start else bisect_left(ids, start, 0, hi)
            ents = node.entries
            if not node.deleted:
                if count and hi - lo >= count - len(out):
                    k = hi - (count - len(out))
                    out.extend(zip(reversed(ids[k:hi]), reversed(ents[k:hi])))
                    return out
                out.extend(zip(reversed(ids[lo:hi]), reversed(ents[lo:hi])))
            else:
                for k in range(hi - 1, lo - 1, -1):
                    e = ents[k]
                    if e is not None:
                        out.append((ids[k], e))
                        if len(out) == count:
                            return out
            if lo > 0 or ni == 0:   # the entry before lo is before start
                return out
            ni -= 1
            hi = len(nodes[ni].ids)

    def get(self, idk):
        """The field/value list of a live entry, or None."""
        keys = self.keys
        ni = bisect_right(keys, idk) - 1
        if ni < 0:
            return None
        node = self.nodes[ni]
        ids = node.ids
        j = bisect_left(ids, idk)
        if j < len(ids) and ids[j] == idk:
            return node.entries[j]
        return None

    def exists(self, idk):
        return self.get(idk) is not None

    def last_valid_id(self):
        """streamLastValidID: the last live entry ID (0 when empty)."""
        for node in reversed(self.nodes):
            ents = node.entries
            for j in range(len(ents) - 1, -1, -1):
                if ents[j] is not None:
                    return node.ids[j]
        return 0

    def first_valid_id(self):
        """streamGetEdgeID(first, skip tombstones); MAX_ID when there is none."""
        for node in self.nodes:
            if node.live:
                ents = node.entries
                for j in range(len(ents)):
                    if ents[j] is not None:
                        return node.ids[j]
        return MAX_ID

    def first_any_id(self):
        """streamGetEdgeID(first, tombstones included); MAX_ID for an empty rax."""
        for node in self.nodes:
            if node.ids:
                return node.ids[0]
        return MAX_ID

    # -- deleting ---------------------------------------------------------------------
    def delete(self, idk):
        """streamDeleteItem: True if a live entry was deleted."""
        keys = self.keys
        ni = bisect_right(keys, idk) - 1
        if ni < 0:
            return False
        node = self.nodes[ni]
        ids = node.ids
        j = bisect_left(ids, idk)
        if j >= len(ids) or ids[j] != idk or node.entries[j] is None:
            return False
        if node.live == 1:
            del self.nodes[ni]
            del keys[ni]
        else:
            node.entries[j] = None
            node.set_counters(node.live - 1, node.deleted + 1)
        self.length -= 1
        return True

    def trim(self, maxlen=None, minid=None, approx=False, limit=0):
        """streamTrim by MAXLEN (maxlen) or MINID (minid): returns entries removed."""
        nodes = self.nodes
        bymaxlen = maxlen is not None
        deleted = 0
        i = 0
        nn = len(nodes)
        while i < nn:
            if bymaxlen and self.length <= maxlen:
                break
            node = nodes[i]
            entries = node.live
            if limit and deleted + entries > limit:
                break
            if bymaxlen:
                remove = self.length - entries >= maxlen
            else:
                remove = node.ids[-1] < minid
            if remove:
                self.length -= entries
                deleted += entries
                i += 1
                continue
            if approx:
                break
            ents = node.entries
            ids = node.ids
            removed = 0
            for j in range(len(ids)):
                if bymaxlen:
                    if self.length <= maxlen:
                        break
                elif ids[j] >= minid:
                    break
                if ents[j] is not None:
                    ents[j] = None
                    removed += 1
                    self.length -= 1
            deleted += removed
            if removed:
                node.set_counters(entries - removed, node.deleted + removed)
            break
        if i:
            del nodes[:i]
            del self.keys[:i]
        if self.length == 0:
            self.first_id = 0
        elif deleted:
            self.first_id = self.first_valid_id()
        return deleted

    # -- consumer groups: lag and read counters -------------------------------------
    def range_has_tombstones(self, start):
        """streamRangeHasTombstones(start, +inf)."""
        md = self.max_deleted
        if not self.length or not md:
            return False
        if self.first_id > md:
            return False
        return start <= md

    def estimate_distance(self, idk):
        """streamEstimateDistanceFromFirstEverEntry."""
        if not self.entries_added:
            return 0
        if not self.length and idk <= self.last_id:
            return self.entries_added
        if idk == self.last_id:
            return self.entries_added
        if idk > self.last_id:
            return SCG_INVALID_ENTRIES_READ
        md = self.max_deleted
        if not md or md < self.first_id:
            if idk < self.first_id:
                return self.entries_added - self.length
            if idk == self.first_id:
                return self.entries_added - self.length + 1
        return SCG_INVALID_ENTRIES_READ

    def lag(self, g):
        """streamReplyWithCGLag: the lag or None when it cannot be known."""
        if not self.entries_added:
            return 0
        if g.entries_read != SCG_INVALID_ENTRIES_READ and \
                not self.range_has_tombstones(g.last_id):
            return self.entries_added - g.entries_read
        er = self.estimate_distance(g.last_id)
        if er != SCG_INVALID_ENTRIES_READ:
            return self.entries_added - er
        return None

    def sorted_groups(self):
        if not self.groups:
            return []
        return [(k, self.groups[k]) for k in sorted(self.groups)]

    # -- introspection ----------------------------------------------------------------
    def rax_nodes(self):
        """numnodes of Redis's radix tree holding the node keys (16-byte big endian)."""
        keys = [k.to_bytes(16, "big") for k in self.keys]
        if not keys:
            return 1
        return _rax_count(keys, 0)

    # -- copies and rewrites ----------------------------------------------------------
    def copy(self):
        """A deep copy (COPY), keeping the node layout."""
        s = Stream()
        for node in self.nodes:
            n = Node.__new__(Node)
            n.master = node.master
            n.mms = node.mms
            n.mseq = node.mseq
            n.ids = node.ids[:]
            n.entries = node.entries[:]
            n.live = node.live
            n.deleted = node.deleted
            n.nbytes = node.nbytes
            n.mfields = node.mfields
            s.nodes.append(n)
        s.keys = self.keys[:]
        s.length = self.length
        s.last_id = self.last_id
        s.first_id = self.first_id
        s.max_deleted = self.max_deleted
        s.entries_added = self.entries_added
        if self.groups:
            s.groups = {}
            for name, g in self.groups.items():
                ng = Group(g.last_id, g.entries_read)
                cmap = {}
                for cname, cons in g.consumers.items():
                    nc = Consumer(cname, cons.seen_time)
                    ng.consumers[cname] = nc
                    cmap[id(cons)] = nc
                for idk, nack in g.pel.items():
                    nn = NACK(cmap.get(id(nack.consumer)), nack.delivery_time)
                    nn.delivery_count = nack.delivery_count
                    ng.pel[idk] = nn
                    if nn.consumer is not None:
                        nn.consumer.pel[idk] = nn
                s.groups[name] = ng
        return s

    def entries(self):
        """Every live entry (id, fv) in order."""
        for node in self.nodes:
            ents = node.entries
            ids = node.ids
            for j in range(len(ids)):
                if ents[j] is not None:
                    yield ids[j], ents[j]

    def rewrite_commands(self, key):
        """The commands that rebuild this stream (aof.c rewriteStreamObject)."""
        if self.length:
            for idk, fv in self.entries():
                yield [b"XADD", key, fmt_id(idk)] + list(fv)
        else:
            yield [b"XADD", key, b"MAXLEN", b"0", b"0-1", b"x", b"y"]
        yield [b"XSETID", key, fmt_id(self.last_id), b"ENTRIESADDED",
               b"%d" % self.entries_added, b"MAXDELETEDID", fmt_id(self.max_deleted)]
        for name, g in self.sorted_groups():
            yield [b"XGROUP", b"CREATE", key, name, fmt_id(g.last_id), b"ENTRIESREAD",
                   b"%d" % g.entries_read]
            for cons in g.sorted_consumers():
                if not cons.pel:
                    yield [b"XGROUP", b"CREATECONSUMER", key, name, cons.name]
                    continue
                for idk, nack in cons.pel.items():
                    yield [b"XCLAIM", key, name, cons.name, b"0", fmt_id(idk), b"TIME",
                           b"%d" % nack.delivery_time, b"RETRYCOUNT",
                           b"%d" % nack.delivery_count, b"JUSTID", b"FORCE"]


def _rax_count(keys, depth):
    """Rax nodes in the subtree of a node at prefix length `depth` holding sorted keys
    (fixed length, so every key is a leaf): the node itself, a branching node where the
    keys diverge (when that is deeper), and the subtrees of its children."""
    if len(keys) == 1:
        return 1 if depth == len(keys[0]) else 2
    a, b = keys[0], keys[-1]
    lcp = depth
    while a[lcp] == b[lcp]:
        lcp += 1
    total = 1 if lcp == depth else 2
    i = 0
    n = len(keys)
    while i < n:
        ch = keys[i][lcp]
        j = i + 1
        while j < n and keys[j][lcp] == ch:
            j += 1
        total += _rax_count(keys[i:j], lcp + 1)
        i = j
    return total
