"""Lazy freeing (lazyfree.c): a big value leaves the keyspace at once and is torn down
a piece at a time between the loop's passes, where Redis frees it in a background
thread.

Freeing a value by reference counting is one C call that nothing interrupts: a set of a
million members takes about 120 ms, a database of a million keys more, and every client
waits. UNLINK, FLUSHDB/FLUSHALL ASYNC and the lazyfree-lazy-* directives hand such values
to `srv.lazyfree` instead: a value whose free effort (free_effort below, Redis's
lazyfreeGetFreeEffort) is at most LAZYFREE_THRESHOLD is freed at once, as in Redis; a
bigger one, or a whole flushed database, is queued. Each step, run once per loop pass
while the queue is not empty, frees pieces of up to PIECE elements for at most STEP_S
seconds, so clients are served between steps. INFO: lazyfree_pending_objects counts the
queued objects (a flushed database counts its keys, as emptyDbAsync does),
lazyfreed_objects those freed.

A queued value is no longer reachable from any keyspace, so its teardown may take it
apart in any order (a zset's index, a stream's nodes).
"""
import time
from collections import deque

from .db import TYPE_NAMES

LAZYFREE_THRESHOLD = 64
PIECE = 1024
STEP_S = 0.001


def free_effort(v):
    """lazyfreeGetFreeEffort: the work freeing v takes."""
    kind = TYPE_NAMES.get(type(v))
    if kind == b"list":
        # quicklist nodes: listpacks of at most 8 KB (list-max-listpack-size -2)
        return 1 + (sum(map(len, v)) + 2 * len(v)) // 8192
    if kind in (b"set", b"hash"):
        return len(v) if getattr(v, "ht", True) else 1
    if kind == b"zset":
        return 1 if getattr(v, "listpack", False) else len(v)
    if kind == b"stream":
        effort = v.rax_nodes()
        if v.groups:
            first = v.groups[min(v.groups)]      # raxSeek "^": the first group by name
            effort += len(v.groups) * (1 + len(first.pel))
        return effort
    return 1


def _big(v):
    """Worth freeing in the background (a string never is)."""
    return type(v) is not bytes and free_effort(v) > LAZYFREE_THRESHOLD


_END = object()


class LazyFree:
    def __init__(self, srv):
        self.srv = srv
        self.queue = deque()       # (teardown generator, objects it counts for)
        self.pending = 0           # lazyfree_pending_objects
        self.scheduled = False

    def free(self, value):
        """freeObjAsync: value has just left the keyspace."""
        if _big(value):
            self._queue(_teardown(value), 1)

    def free_database(self, data, expires, lru):
        """emptyDbAsync: a database's dicts, replaced by empty ones."""
        if data:
            self._queue(_teardown_database(data, expires, lru), len(data))

    def _queue(self, gen, count):
        self.queue.append((gen, count))
        self.pending += count
        if not self.scheduled:
            self.scheduled = True
            self.srv.loop.call_soon(self.step)

    def step(self):
        """Free pieces until STEP_S has passed or the queue is empty."""
        self.scheduled = False
        q = self.queue
        deadline = time.perf_counter() + STEP_S
        while q and time.perf_counter() < deadline:
            gen, count = q[0]
            if next(gen, _END) is _END:       # torn down
                q.popleft()
                self.pending -= count
                self.srv.stat_lazyfreed_objects += count
        if q:
            self.scheduled = True
            self.srv.loop.call_soon(self.step)


def _teardown(v):
    """Free v a piece at a time (a generator: one piece per iteration)."""
    from .commands.hashes import Hash
    from .commands.sets import RSet
    from .types.rlist import RList
    from .types.stream import Stream
    from .types.zset import ZSet
    t = type(v)
    if t is Hash:
        yield from _pop_pieces(v, v.popitem)
    elif t is RSet:
        yield from _pop_pieces(v, v.pop)
    elif t is RList:
        yield from _pop_pieces(v, v.pop)
    elif t is ZSet:
        yield from _pop_pieces(v.dict, v.dict.popitem)
        # the index: a list of sublists of a few hundred keys each (SortedKeys.lists)
        lists = v.order.lists
        while lists:
            del lists[-4:]
            yield
        v.order.clear()
    elif t is Stream:
        nodes = v.nodes
        while nodes:
            del nodes[-16:]            # stream nodes hold up to 100 entries each
            yield
        v.groups = None


def _pop_pieces(container, pop):
    while container:
        for _ in range(min(PIECE, len(container))):
            pop()
        yield


def _teardown_database(data, expires, lru):
    """A flushed database: its keys and values (a big value torn down in turn), then
    the TTL and access-clock dicts."""
    pop = data.popitem
    while data:
        for _ in range(min(PIECE, len(data))):
            value = pop()[1]
            if _big(value):
                yield from _teardown(value)
        yield
    for d in (expires, lru):
        yield from _pop_pieces(d, d.popitem)
