"""A model of the bucket layout of Redis's dict (dict.c) for the hash tables of set values,
for DEBUG HTSTATS-KEY (and, at the end, of the keyspace table sizes for DEBUG HTSTATS).

Python sets have no buckets, table sizes or incremental rehashing, but Redis's own tests
look at them (SRANDMEMBER over a set whose table shrank while a child process existed,
then rehashed incrementally). A set gets a model the first time DEBUG HTSTATS-KEY looks at
it: its table then has the size Redis's growth rule gives for its members, and it is not
rehashing. From then on the set commands report their dict operations to the model
(`note_*`), which follows dict.c: expansion on add (_dictExpandIfNeeded), shrinking after a
removal (htNeedsResize + dictResize), the resize policy while a child process exists
(DICT_RESIZE_AVOID: no resize, rehashing only past dict_force_resize_ratio), and one rehash
step per operation (_dictRehashStep: one bucket, at most 10 empty buckets visited).

Bucket of a member: SSCAN (scan.py) walks members by a stable 63-bit position; Redis walks
buckets in reverse-binary order of their index. Taking the member's hash to be the bit
reversal of its position makes the bucket of a table of 2^n slots the reversal of the
position's top n bits, so SSCAN's order is the order of Redis's cursor over these buckets.
"""
from .scan import position

DICT_HT_INITIAL_EXP = 2          # 4 buckets
HASHTABLE_MIN_FILL = 10
FORCE_RESIZE_RATIO = 5
STATS_VECTLEN = 50
MAX_MODELS = 8

_models = {}                     # id(set) -> DictModel (holding the set: ids stay unique)


def _next_exp(size):
    """_dictNextExp."""
    e = DICT_HT_INITIAL_EXP
    while (1 << e) < size:
        e += 1
    return e


def _bucket(member, exp):
    top = position(member) >> (63 - exp) if exp else 0
    r = 0
    for _ in range(exp):
        r = (r << 1) | (top & 1)
        top >>= 1
    return r


def _can_resize(srv):
    """updateDictResizePolicy: 'enable' without a child process, else 'avoid'."""
    return "avoid" if getattr(srv, "child_type", None) is not None else "enable"


class DictModel:
    __slots__ = ("s", "exp0", "exp1", "rehashidx", "t0", "t1", "buckets0")

    def __init__(self, s):
        self.s = s
        self.exp0 = _next_exp(len(s)) if s else -1
        self.exp1 = -1
        self.rehashidx = -1
        self.t0 = set(s)
        self.t1 = set()
        self.buckets0 = {}
        for m in self.t0:
            self.buckets0.setdefault(_bucket(m, self.exp0), set()).add(m)

    # -- dict.c -----------------------------------------------------------------------------
    def rehashing(self):
        return self.rehashidx != -1

    def _rehash_step(self, srv):
        """_dictRehashStep -> dictRehash(d, 1)."""
        if self.rehashidx == -1:
            return
        if _can_resize(srv) == "avoid":
            s0, s1 = 1 << self.exp0, 1 << self.exp1
            if (s1 > s0 and s1 // s0 < FORCE_RESIZE_RATIO) or \
                    (s1 < s0 and s0 // s1 < FORCE_RESIZE_RATIO):
                return
        empty_visits = 10
        if self.t0:
            while self.rehashidx not in self.buckets0:
                self.rehashidx += 1
                empty_visits -= 1
                if empty_visits == 0:
                    return
            moved = self.buckets0.pop(self.rehashidx)
            self.t0 -= moved
            self.t1 |= moved
            self.rehashidx += 1
        if not self.t0:
            self.exp0 = self.exp1
            self.t0 = self.t1
            self.t1 = set()
            self.buckets0 = {}
            for m in self.t0:
                self.buckets0.setdefault(_bucket(m, self.exp0), set()).add(m)
            self.exp1 = -1
            self.rehashidx = -1

    def _expand(self, size):
        """_dictExpand: start rehashing into a table for size elements."""
        if self.rehashing() or len(self.t0) > size:
            return
        exp = _next_exp(size)
        if exp == self.exp0:
            return
        if self.exp0 == -1 or not self.t0:
            self.exp0 = exp
            self.buckets0 = {}
            return
        self.exp1 = exp
        self.rehashidx = 0

    def _expand_if_needed(self, srv):
        """_dictExpandIfNeeded."""
        if self.rehashing():
            return
        if self.exp0 == -1:
            self._expand(1 << DICT_HT_INITIAL_EXP)
            return
        used, size = len(self.t0), 1 << self.exp0
        policy = _can_resize(srv)
        if (policy == "enable" and used >= size) or used // size > FORCE_RESIZE_RATIO:
            self._expand(used + 1)

    def add(self, srv, member, new):
        """dictAdd (the step happens for an existing member too)."""
        self._rehash_step(srv)
        if not new:
            return
        self._expand_if_needed(srv)
        if self.rehashing():
            self.t1.add(member)
        else:
            self.t0.add(member)
            self.buckets0.setdefault(_bucket(member, self.exp0), set()).add(member)

    def delete(self, srv, member):
        """dictDelete, then setTypeRemove's htNeedsResize + dictResize."""
        self._rehash_step(srv)
        if member in self.t0:
            self.t0.discard(member)
            b = _bucket(member, self.exp0)
            ms = self.buckets0.get(b)
            if ms is not None:
                ms.discard(member)
                if not ms:
                    del self.buckets0[b]
        else:
            self.t1.discard(member)
        size = (1 << self.exp0 if self.exp0 >= 0 else 0) + \
            (1 << self.exp1 if self.exp1 >= 0 else 0)
        used = len(self.t0) + len(self.t1)
        if size > (1 << DICT_HT_INITIAL_EXP) and used * 100 // size < HASHTABLE_MIN_FILL:
            if _can_resize(srv) == "enable" and not self.rehashing():
                self._expand(max(len(self.t0), 1 << DICT_HT_INITIAL_EXP))

    def steps(self, srv, n):
        for _ in range(n):
            if not self.rehashing():
                break
            self._rehash_step(srv)

    # -- dictGetStats -----------------------------------------------------------------------
    def _stats_ht(self, idx):
        name = "main hash table" if idx == 0 else "rehashing target"
        members = self.t0 if idx == 0 else self.t1
        exp = self.exp0 if idx == 0 else self.exp1
        if not members:
            return ("Hash table %d stats (%s):\n"
                    "No stats available for empty dictionaries\n" % (idx, name))
        size = 1 << exp
        if idx == 0:
            chains = {b: len(ms) for b, ms in self.buckets0.items()}
        else:
            chains = {}
            for m in members:
                b = _bucket(m, exp)
                chains[b] = chains.get(b, 0) + 1
        slots = len(chains)
        clvector = [0] * STATS_VECTLEN
        clvector[0] = size - slots
        for n in chains.values():
            clvector[min(n, STATS_VECTLEN - 1)] += 1
        total = sum(chains.values())
        out = ["Hash table %d stats (%s):\n"
               " table size: %d\n"
               " number of elements: %d\n"
               " different slots: %d\n"
               " max chain length: %d\n"
               " avg chain length (counted): %.02f\n"
               " avg chain length (computed): %.02f\n"
               " Chain length distribution:\n" % (idx, name, size, len(members), slots,
                                                   max(chains.values()), total / slots,
                                                   len(members) / slots)]
        for i in range(STATS_VECTLEN - 1):
            if clvector[i]:
                out.append("   %d: %d (%.02f%%)\n" % (i, clvector[i], clvector[i] / size * 100))
        return "".join(out)

    def stats(self):
        text = self._stats_ht(0)[:4095]
        if self.rehashing() and len(text) < 4095:
            text += self._stats_ht(1)
        return text[:4095]


def model_for(s):
    """The model of set s, made on first use (DEBUG HTSTATS-KEY)."""
    m = _models.get(id(s))
    if m is None or m.s is not s:
        if len(_models) >= MAX_MODELS:
            _models.pop(next(iter(_models)))
        m = _models[id(s)] = DictModel(s)
    return m


def get(s):
    """The model of s if it has one (the set commands' hooks)."""
    m = _models.get(id(s))
    return m if m is not None and m.s is s else None


def forget(s):
    _models.pop(id(s), None)


# -- the keyspace dicts (DEBUG HTSTATS <dbid>) ----------------------------------------------
# Their table size is the one the growth rule gives for the key count (debug._dict_stats),
# except around a child process: while one exists, adds do not expand a table
# (DICT_RESIZE_AVOID) unless used/size > dict_force_resize_ratio, so each db's sizes are
# frozen when the child starts. After it ends they stay until the next write (the next add
# expands a full table; srv.dirty moving stands for it).

def _grow_size(n):
    size = 1 << DICT_HT_INITIAL_EXP
    while size < n:
        size <<= 1
    return size


def child_changed(srv, active):
    """updateDictResizePolicy, called when a child process starts or ends."""
    if active:
        srv.ht_frozen = {db.id: (_grow_size(len(db.data)) if db.data else 0,
                                 _grow_size(len(db.expires)) if db.expires else 0)
                         for db in srv.dbs}
        srv.ht_thaw_dirty = None
    else:
        srv.ht_thaw_dirty = srv.dirty


def keyspace_table_size(srv, db, which):
    """The table size of db's main dict (which 0) or expires dict (1), or None when it is
    the one the growth rule gives for its count."""
    frozen = getattr(srv, "ht_frozen", None)
    if not frozen:
        return None
    if getattr(srv, "child_type", None) is None:
        thaw = getattr(srv, "ht_thaw_dirty", None)
        if thaw is None or srv.dirty != thaw:
            srv.ht_frozen = None
            return None
    used = len(db.data if which == 0 else db.expires)
    size = frozen.get(db.id, (0, 0))[which]
    if used and not size:
        size = 1 << DICT_HT_INITIAL_EXP       # the first add always creates a table
    # adds past used/size > dict_force_resize_ratio expanded it anyway
    while used > (FORCE_RESIZE_RATIO + 1) * size:
        size = _grow_size((FORCE_RESIZE_RATIO + 1) * size + 1)
    return size
