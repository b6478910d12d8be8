"""maxmemory: the used-memory measure, key eviction (evict.c) and processCommand's OOM
rejection.

The measure (INFO used_memory, compared with maxmemory)
------------------------------------------------------
Redis compares zmalloc's allocated bytes with maxmemory. A Python process has no cheap
counter of that kind, and its RSS does not shrink when objects are freed (the memory is
reused), so evicting "until RSS < maxmemory" would evict everything. The measure is:

    used = STARTUP + client buffers + sum over dbs of (keys * avg_item + volatile * EXPIRE)

- STARTUP is a fixed stand-in for an empty Redis's used_memory_startup: the interpreter's
  own memory (RSS at start-up, ~20-40 MB) is not counted, so `maxmemory 100mb` bounds the
  dataset to ~100 MB and the process to about that plus the interpreter's baseline.
- avg_item is, per db, the average Python footprint of one key: the key's bytes object,
  the value (containers: their table plus len() times the mean of a few sampled
  elements), and the amortized dict entries in db.data and db.lru (plus the LFU word's
  int in LFU mode). It is kept as a running average fed by samples: the newest key of the
  client's db whenever a command created keys (dicts iterate in insertion order, so that
  is O(1)), the keys the eviction pool samples, and a few random keys per cron tick.
  Dbs with few keys are averaged exactly.
- client buffers: the memory of the normal, pub/sub and master clients as clientmem.py
  models getClientMemoryUsage (query buffer, argv, reply buffer and list, multi state...),
  kept up to date by the client cron and by the reads/writes that change a client's
  buffers. Redis counts them too; replica output buffers and the AOF buffer are left out,
  so mem_not_counted_for_evict stays 0.
Cheap to check (a few len() per db), it goes down by exactly one avg_item per evicted or
deleted key (no evict-everything spiral), and tracks the dataset for homogeneous loads.
Limits: a skewed dataset (one huge container among small strings) is estimated from
samples and may be off until the samples see it; in-place growth of an existing value
(APPEND, RPUSH on a big list) is seen when that key is next sampled (cron: 100 ms at hz 10).

Eviction (performEvictions)
---------------------------
Installed as a processCommand state check whenever maxmemory is set (it runs before every
command, as performEvictions does). Over the limit: noeviction fails; the LRU/LFU/TTL
policies fill Redis's eviction pool (EVPOOL_SIZE best candidates across calls) with
maxmemory-samples keys per db and evict the best live one; the random policies take a
random key, visiting the dbs round robin. Python dicts have no random access, so random
keys are drawn from a per-db snapshot list of the sampled dict, rebuilt once an eighth of
it has been evicted or the dict was replaced (FLUSHDB/SWAPDB) or has grown a lot; the
snapshot keeps evicted key *names* alive until it is rebuilt (bounded by that eighth).
Each eviction deletes the key (db.delete: WATCH and client-side tracking invalidation),
counts evicted_keys, notifies `evicted` (keyspace events 'e') and propagates DEL, or
UNLINK with lazyfree-lazy-eviction, to the AOF and replicas. The loop stops after
maxmemory-eviction-tenacity's time limit (checked every 16 keys) and goes on from an
event-loop callback (evictionTimeProc), also started by CONFIG SET maxmemory.
No evictions (and no OOM) while loading, while clients are paused, inside a busy script,
or on a replica with replica-ignore-maxmemory yes. When over the limit and nothing can be
evicted, deny-oom commands (anything queued in MULTI, EXEC holding one) get the OOM error.
"""
import random
import sys
import time
from bisect import insort
from itertools import islice

from . import hooks

OOM = "OOM command not allowed when used memory > 'maxmemory'."

EVICT_OK, EVICT_RUNNING, EVICT_FAIL = 0, 1, 2
EVPOOL_SIZE = 16
STARTUP = 876_024        # an empty Redis 7.0.15's used_memory_startup
DICT_ENTRY = 88          # one entry in a dict under churn (python sizes the table at 3x used
                         # on resize: 60-120 bytes per entry; ~40 while only growing)
INT_OBJ = 32             # a (non-small) int: expire times, LFU words
EXPIRE = DICT_ENTRY + INT_OBJ
EXACT_BELOW = 64         # dbs with fewer keys are averaged exactly
ALPHA = 1.0 / 32         # weight of one sample in the running average
CRON_SAMPLES = 8

_getsizeof = sys.getsizeof


def obj_size(n):
    """Allocation of a bytes object of length n: pymalloc's 16-byte classes up to 512
    bytes, then malloc (8 bytes of chunk header, 16-byte alignment)."""
    sz = 33 + n
    if sz <= 512:
        return (sz + 15) & ~15
    return (sz + 23) & ~15


def _elems(it, n):
    """Mean allocation of up to 8 elements from iterator it (len() of each)."""
    tot = 0
    k = 0
    for e in islice(it, 8):
        tot += obj_size(len(e)) if type(e) is bytes else _getsizeof(e)
        k += 1
    return tot / k if k else 0.0


def value_size(srv, v):
    """Python footprint of a value, from its container and a few sampled elements."""
    t = type(v)
    if t is bytes:
        return obj_size(len(v))
    from .commands.hashes import Hash
    from .commands.sets import RSet
    from .types.rlist import RList
    from .types.zset import ZSet
    n = len(v) if hasattr(v, "__len__") else 0
    if t is RList or t is RSet:
        return _getsizeof(v) + n * _elems(iter(v), n)
    if t is Hash:
        return _getsizeof(v) + n * (_elems(iter(v), n) + _elems(iter(v.values()), n))
    if t is ZSet:
        m = _elems(iter(v.dict), n)
        # dict entry + float score + the order index's key (score prefix + member) + slot
        return _getsizeof(v.dict) + n * (2 * m + 24 + 16 + 8)
    # streams and anything else: Redis's own estimate, doubled for Python's objects
    from .commands.memory import object_size
    return 2 * object_size(srv, v, 5)


class MaxMemory:
    def __init__(self, srv):
        self.srv = srv
        n = len(srv.dbs)
        self.avg = [0.0] * n          # running average footprint of one key, per db
        self.seen = [0] * n           # db size when its newest key was last sampled
        self.seeded = [0] * n         # db size when the average was last (re)computed
        self.pool = []                # [idle, dbid, key] ascending: the eviction pool
        self.snaps = {}               # (dbid, allkeys) -> [dict, key list, evicted since]
        self.next_db = 0
        self.pre_oom = False          # pre_command_oom_state
        self.proc = None              # evictionTimeProc handle
        self.exceeded_since = 0.0     # stat_last_eviction_exceeded_time (monotonic)
        self.enforced = False
        self.active = []              # dbs that may hold keys (cron and _observe keep it)
        self.tick = 0
        srv.maxmemory = self
        srv.used_memory = self.used
        srv.out_of_memory = self.out_of_memory       # used by scripting (allow-oom)
        srv.stat_total_eviction_exceeded_time = 0
        srv.cron_hooks.append(self.cron)
        cfg = srv.config
        for name in ("maxmemory", "maxmemory-policy", "maxmemory-samples",
                     "maxmemory-eviction-tenacity", "lazyfree-lazy-eviction"):
            cfg.on_change(name, lambda v: self.update())
        self.update()

    # -- configuration ----------------------------------------------------------------
    def update(self):
        """Install the state check only while maxmemory is set (keeps the fast path)."""
        srv = self.srv
        v = srv.config.values
        self.maxmemory = v["maxmemory"]
        self.policy = p = v["maxmemory-policy"]
        self.samples = v["maxmemory-samples"]
        t = v["maxmemory-eviction-tenacity"]
        # evictionTimeLimitUs, in seconds
        self.time_limit = (50e-6 * t if t <= 10 else
                           500e-6 * 1.15 ** (t - 10) if t < 100 else float("inf"))
        self.allkeys = p.startswith("allkeys")
        self.kind = p[-3:]                 # lru, lfu, ttl, dom (random), ion (noeviction)
        self.pooled = self.kind in ("lru", "lfu", "ttl")
        self.lazy = v["lazyfree-lazy-eviction"]
        self.pool = []
        self.snaps = {}
        was = self.enforced
        self.enforced = bool(self.maxmemory)
        self.active = [db for db in srv.dbs if db.data]
        checks = srv.state_checks
        if self.enforced:
            if self.check not in checks:
                # processCommand evicts before MISCONF / READONLY / LOADING / BUSY checks
                # (and after the cluster redirection, the inline check of cluster mode)
                checks.insert(srv.inline_checks, self.check)
            if srv.loop is not None and self.used() > self.maxmemory:
                self.start_proc()          # updateMaxmemory -> startEvictionTimeProc
        elif self.check in checks:
            checks.remove(self.check)
        if not self.enforced and was:
            self.pre_oom = False
            self._exceeded(EVICT_OK)
        srv.update_checks()

    # -- the measure ------------------------------------------------------------------
    def item_size(self, db, key):
        v = db.data.get(key)
        if v is None:
            return None
        sz = obj_size(len(key)) + value_size(self.srv, v) + 2 * DICT_ENTRY
        if self.srv.lfu_mode:
            sz += INT_OBJ
        return sz

    def _sample(self, db, key):
        sz = self.item_size(db, key)
        if sz is not None:
            a = self.avg[db.id]
            self.avg[db.id] = sz if not a else a + (sz - a) * ALPHA

    def _seed(self, db):
        """(Re)compute a db's average from scratch: every key of a small db, else the
        oldest and newest keys plus random ones from the eviction snapshot, if any."""
        data = db.data
        n = len(data)
        if n <= EXACT_BELOW:
            keys = list(data)
        else:
            keys = list(islice(data, 8)) + list(islice(reversed(data), 8))
            snap = self.snaps.get((db.id, self.allkeys))
            if snap is not None and snap[1]:
                keys += random.choices(snap[1], k=16)
        tot = 0
        k = 0
        for key in keys:
            sz = self.item_size(db, key)
            if sz is not None:
                tot += sz
                k += 1
        self.avg[db.id] = tot / k if k else 0.0
        self.seeded[db.id] = self.seen[db.id] = n

    def _observe(self, db):
        """A command may have created keys: fold the newest one into the average (one
        in four: the average moves slowly anyway)."""
        n = len(db.data)
        i = db.id
        if n != self.seen[i]:
            if db not in self.active:
                self.active.append(db)
            if n <= EXACT_BELOW or not self.avg[i] or n > 2 * self.seeded[i]:
                self._seed(db)
            else:
                if n > self.seen[i]:
                    self.tick += 1
                    if not self.tick & 3:
                        self._sample(db, next(reversed(db.data)))
                self.seen[i] = n

    def used(self):
        """The used-memory measure (INFO used_memory)."""
        total = STARTUP + self.srv.cmem.clients_memory()
        avg = self.avg
        for db in self.active if self.enforced else self.srv.dbs:
            n = len(db.data)
            if n:
                a = avg[db.id]
                if not a or (n != self.seeded[db.id] and n <= EXACT_BELOW):
                    self._seed(db)
                    a = avg[db.id]
                total += n * a + len(db.expires) * EXPIRE
        total = int(total)
        srv = self.srv
        if total > getattr(srv, "stat_peak_memory", 0):
            srv.stat_peak_memory = total
        return total

    def cron(self, srv):
        self.active = [db for db in srv.dbs if db.data]
        for db in self.active:
            data = db.data
            n = len(data)
            if n <= EXACT_BELOW or not self.avg[db.id]:
                if n != self.seeded[db.id] or not self.avg[db.id]:
                    self._seed(db)
                continue
            snap = self._snapshot(db, db.data) if self.enforced else None
            if snap is not None:
                for key in random.choices(snap[1], k=CRON_SAMPLES):
                    self._sample(db, key)
            elif abs(n - self.seeded[db.id]) * 8 > self.seeded[db.id]:
                self._seed(db)

    # -- processCommand ---------------------------------------------------------------
    def out_of_memory(self):
        """pre_command_oom_state: the last check found memory over the limit with nothing
        left to evict."""
        return self.enforced and self.pre_oom

    def check(self, c, cmd, argv):
        srv = self.srv
        if len(srv.state_checks) > 1 and _busy(srv):
            return None                    # isInsideYieldingLongCommand
        self._observe(c.db)
        oom = self.perform() == EVICT_FAIL
        self.pre_oom = oom
        if not oom:
            return None
        name = cmd.name
        if c.multi is not None and name not in ("exec", "discard", "quit", "reset"):
            return OOM                     # queuing may use unbounded memory
        if name == "exec":
            from .commands.transactions import queued_flags
            reject = queued_flags(c)["denyoom"]
        else:
            reject = cmd.denyoom
        return OOM if reject else None

    # -- performEvictions -------------------------------------------------------------
    def safe(self):
        """isSafeToPerformEvictions."""
        srv = self.srv
        if srv.loading or _busy(srv):
            return False
        repl = getattr(srv, "repl", None)
        if (repl is not None and repl.masterhost is not None
                and srv.config.values["replica-ignore-maxmemory"]):
            return False
        if srv.pause_type and srv.pause_active():
            return False
        return srv.prop_batch is None      # (never inside a transaction's effects)

    def perform(self):
        if not self.enforced:
            return EVICT_OK
        used = self.used()
        if used <= self.maxmemory:
            return self._exceeded(EVICT_OK) if self.exceeded_since else EVICT_OK
        if not self.safe():
            return EVICT_OK
        if self.policy == "noeviction":
            return self._exceeded(EVICT_FAIL)
        srv = self.srv
        tofree = used - self.maxmemory
        freed = 0.0
        keys_freed = 0
        start = time.monotonic()
        result = EVICT_OK
        notify = srv.notify_flags & srv.NOTIFY_EVICTED
        delcmd = b"UNLINK" if self.lazy else b"DEL"
        while freed < tofree:
            pick = self._pick_pooled() if self.pooled else self._pick_random()
            if pick is None:
                result = EVICT_FAIL
                break
            db, key = pick
            freed += self.avg[db.id] + (EXPIRE if key in db.expires else 0)
            db.delete(key, self.lazy)      # WATCH + client-side tracking (signalModifiedKey)
            snap = self.snaps.get((db.id, self.allkeys))
            if snap is not None:
                snap[2] += 1
            self.seen[db.id] = len(db.data)
            srv.stat_evicted_keys += 1
            if notify:
                srv.notify(srv.NOTIFY_EVICTED, b"evicted", key, db.id)
            srv.propagate(db.id, [delcmd, key])
            keys_freed += 1
            if keys_freed % 16 == 0 and time.monotonic() - start > self.time_limit:
                self.start_proc()
                break
        if result != EVICT_FAIL and self.proc is not None:
            result = EVICT_RUNNING
        return self._exceeded(result)

    def _exceeded(self, result):
        """stat_total_eviction_exceeded_time bookkeeping (update_metrics)."""
        srv = self.srv
        if result == EVICT_OK:
            if self.exceeded_since:
                srv.stat_total_eviction_exceeded_time += int(
                    (time.monotonic() - self.exceeded_since) * 1e6)
                self.exceeded_since = 0.0
        elif not self.exceeded_since:
            self.exceeded_since = time.monotonic()
        return result

    def current_exceeded_us(self):
        return int((time.monotonic() - self.exceeded_since) * 1e6) \
            if self.exceeded_since else 0

    def start_proc(self):
        """startEvictionTimeProc: keep evicting from the event loop."""
        if self.proc is None and self.srv.loop is not None:
            self.proc = self.srv.loop.call_soon(self._proc)

    def _proc(self):
        self.proc = None
        r = self.perform()
        if r == EVICT_RUNNING and self.proc is None:
            self.start_proc()

    # -- choosing keys ----------------------------------------------------------------
    def _snapshot(self, db, d):
        """The key list random samples are drawn from (see the module docstring)."""
        ident = (db.id, self.allkeys)
        snap = self.snaps.get(ident)
        if (snap is None or snap[0] is not d or snap[2] * 8 > len(snap[1]) + 64
                or len(d) > 2 * len(snap[1]) + 64):
            snap = self.snaps[ident] = [d, list(d), 0]
        return snap

    def _draw(self, db, d, count):
        """dictGetSomeKeys: up to count live keys of d (all of them when d is small)."""
        for attempt in (0, 1):
            keys = self._snapshot(db, d)[1] if not attempt else \
                self._rebuild(db, d)[1]
            nk = len(keys)
            if count >= nk:
                got = [k for k in keys if k in d]
            else:
                rnd = random.random
                got = [k for k in [keys[int(rnd() * nk)] for _ in range(count)] if k in d]
            if got or not d:
                return got
        return got

    def _rebuild(self, db, d):
        snap = self.snaps[(db.id, self.allkeys)] = [d, list(d), 0]
        return snap

    def _populate(self, db, d):
        """evictionPoolPopulate: sample keys of d, keep the best EVPOOL_SIZE candidates
        (ascending score: idle time, 255 - LFU counter, or how soon the TTL ends)."""
        got = self._draw(db, d, self.samples)
        if not got:
            return
        if len(db.data) > EXACT_BELOW:
            self._sample(db, got[0])       # feed the used-memory average
        pool = self.pool
        dbid = db.id
        kind = self.kind
        if kind == "lru":
            now = self.srv.time_ms()
            lru_get = db.lru.get
            base = db.lru_base
            if base is None:
                base = self.srv.lru_clock
            scores = [(now - lru_get(k, base), k) for k in got]
        elif kind == "lfu":
            from .db import lfu_decr_and_return
            scores = [(255 - lfu_decr_and_return(db, k), k) for k in got]
        else:                              # volatile-ttl: the sooner the better
            exp = db.expires
            scores = [((1 << 64) - exp[k], k) for k in got]
        for idle, key in scores:
            if len(pool) >= EVPOOL_SIZE:
                if idle <= pool[0][0]:
                    continue               # worse than everything in a full pool
                del pool[0]
            insort(pool, (idle, dbid, key))

    def _pick_pooled(self):
        dbs = self.srv.dbs
        allkeys = self.allkeys
        while True:
            total = 0
            for db in self.active:
                d = db.data if allkeys else db.expires
                if d:
                    self._populate(db, d)
                    total += len(d)
            if not total:
                return None
            pool = self.pool
            while pool:
                _, dbid, key = pool.pop()
                db = dbs[dbid]
                if key in (db.data if allkeys else db.expires):
                    return db, key
                # a ghost (deleted since it was sampled): try the next one

    def _pick_random(self):
        dbs = self.srv.dbs
        n = len(dbs)
        for _ in range(n):
            self.next_db += 1
            db = dbs[self.next_db % n]
            d = db.data if self.allkeys else db.expires
            if d:
                got = self._draw(db, d, 1)
                if got:
                    return db, got[0]
        return None


def _busy(srv):
    """A script or function past busy-reply-threshold yields to the loop (its BUSY check
    is installed): no evictions meanwhile."""
    for ch in srv.state_checks:
        if getattr(ch, "_busy_check", False):
            return True
    return False


hooks.server_init.append(MaxMemory)
