"""When the cyclic garbage collector runs: the young objects as CPython does, and
whatever lives through a cron tick frozen out of its reach.

CPython's full collection walks every tracked object, and it comes each time the
long-lived objects have grown by a quarter. A server's data is long-lived containers
(every hash, set, list, zset and stream is at least one tracked object), so with a
million of them each full collection stopped every client for 200-500 ms; Redis has no
collector and no such pause. So once per cron tick (at most every 100 ms) the server
collects every generation that is not frozen, which holds only the objects made since
the last tick (a millisecond or two under the heaviest write load), and freezes what
survives: gc.freeze moves it to the permanent generation, which no collection walks.
Frozen objects are still freed by reference counting, as usual. RDB and AOF loads run
with the collector off and freeze what they built at once (without_collector).

The price: a reference cycle among frozen objects is never freed. So the objects that
outlive a tick (the data, clients, scripts and functions, replication and cluster
state) must not form cycles, and where they do, the cycle is unlinked when its owner
goes (a stream group's consumers and their pending entries, types/stream.py).
REDISLET_GC_AUDIT=FILE checks this: when the server shuts down it collects everything,
frozen or not, and appends what it found to FILE, counted by type (tests/test_gcpolicy.py
runs workloads under it and expects nothing). REDISLET_GC=python keeps CPython's own
schedule, and so does a server embedded in another program (embed.py): freezing there
would keep the host's own cycles for ever.
"""
import collections
import gc
import os
import time

_INTERVAL = 0.1
_last = 0.0
_active = False        # this process's objects are frozen at each tick


def install(srv):
    """For a server that owns its process (cli.run)."""
    global _active
    if os.environ.get("REDISLET_GC", "") != "python":
        _active = True
        srv.cron_hooks.append(tick)


def tick(srv):
    """Collect what is not frozen, then freeze what survived."""
    global _last
    now = time.monotonic()
    if now - _last < _INTERVAL or not gc.isenabled():
        return
    _last = now
    gc.collect()
    gc.freeze()


def without_collector(load):
    """load() (an RDB or AOF load) with the collector paused: it allocates millions of
    containers and none is garbage, so the collections their allocation triggers would
    only rescan the growing dataset. Afterwards everything is in the youngest
    generation, and the next collection would walk it all to find nothing: it is frozen
    instead (under CPython's schedule, moved to the oldest generation)."""
    was = gc.isenabled()
    gc.disable()
    try:
        return load()
    finally:
        if was:
            gc.freeze()
            if not _active:
                gc.unfreeze()
            gc.enable()


def audit():
    """REDISLET_GC_AUDIT: append to that file what a collection of everything finds."""
    path = os.environ.get("REDISLET_GC_AUDIT")
    if not path:
        return
    gc.unfreeze()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        found = gc.collect()
        counts = collections.Counter(
            "%s.%s" % (type(o).__module__, type(o).__qualname__) for o in gc.garbage)
    finally:
        gc.garbage.clear()
        gc.set_debug(0)
    try:
        with open(path, "a") as f:
            f.write("pid %d: %d unreachable\n" % (os.getpid(), found))
            for name, n in counts.most_common():
                f.write("  %d %s\n" % (n, name))
    except OSError:
        pass        # (a diagnostic never stops a shutdown)
