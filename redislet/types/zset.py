"""The sorted set value: a dict member -> score plus an ordered index of byte keys.

Ordering is Redis's: by score (IEEE double, -0 == 0), ties by member bytes (memcmp, then
length). The index (`order`, a SortedKeys) holds one bytes key per member: `score_key(score)
+ member`, whose 8-byte prefix sorts like the double, so plain bytes comparison (C memcmp,
shorter first) is exactly that order. A bytes key costs about half of a (score, member) tuple
to compare. -0 and 0 share a prefix (they tie, as in Redis); the dict keeps
the exact score, so ZSCORE still answers -0 where Redis does. Callers go through the methods
below and never build keys themselves. Every operation that Redis does in O(log n) on its
skiplist (insert, delete, rank, start of a range) is O(log n) here.

`listpack` mirrors Redis's encoding for OBJECT ENCODING and ZSCAN: a zset starts as a
listpack when it fits zset-max-listpack-entries/value and converts to a skiplist (one way)
when it outgrows them.

Number parsing follows Redis: `str2d` is string2d (strict strtod: whole string, no leading
space, NaN and overflow rejected), `parse_score_range` is zslParseRange (plain strtod with
its leniencies), `parse_lex_range` is zslParseLexRange.
"""
import math
import re
import struct
from itertools import repeat as _repeat
from operator import add as _add, itemgetter, neg as _neg

from .sortedkeys import SortedKeys

_INF = math.inf
_nextafter = math.nextafter
_WS = frozenset(b" \t\n\v\f\r")

_pack_d = struct.Struct(">d").pack
_unpack_d = struct.Struct(">d").unpack_from   # reads the first 8 bytes of a key
_FLIP = bytes(range(255, -1, -1))      # bytes.translate table: every bit inverted
ZERO_KEY = b"\x80" + bytes(7)          # the prefix of 0 and -0
member_of_key = itemgetter(slice(8, None))   # an index key's member, at C speed


def score_key(s):
    """8 bytes that sort (as unsigned big-endian) like the double s; -0 maps to 0's."""
    if s > 0.0:
        return _pack_d(-s)       # s's bits with the sign bit set
    if s == 0.0:
        return ZERO_KEY
    return _pack_d(s).translate(_FLIP)   # negative: every bit inverted


def _decode(keys, d):
    """(score, member) of index keys. The score comes from the key (a random access into
    a big dict costs a cache miss), except for 0, whose sign only the dict knows."""
    out = []
    append = out.append
    unpack = _unpack_d
    flip = _FLIP
    for k in keys:
        if k[0] > 127:
            s = -unpack(k)[0]
            if s == 0.0:
                s = d[k[8:]]
        else:
            s = unpack(k.translate(flip))[0]
        append((s, k[8:]))
    return out


class ZSet:
    __slots__ = ("dict", "order", "listpack")

    def __init__(self, listpack=True):
        self.dict = {}              # member (bytes) -> score (float), the exact score
        self.order = SortedKeys()   # score_key(score) + member, in rank order
        self.listpack = listpack

    def __len__(self):
        return len(self.dict)

    def copy(self):
        """An independent copy with the same encoding (COPY, RESTORE...)."""
        z = ZSet(self.listpack)
        z.dict = dict(self.dict)
        z.order = self.order.copy()
        return z

    @classmethod
    def from_pairs(cls, items, listpack):
        """A zset of (member, score) pairs (RDB load); a repeated member keeps its last
        score (the caller compares len() with the count to detect duplicates)."""
        return cls.from_dict(dict(items), listpack)

    @classmethod
    def from_dict(cls, d, listpack):
        """A zset owning the dict member -> score d (RDB load)."""
        z = cls(listpack)
        z.dict = d
        scores = d.values()
        if scores and min(scores) >= 0.0:
            # score_key of a score >= 0 (+0.0 added turns -0.0 into 0.0) is the packed
            # negated score: the keys at C speed, no call per member
            keys = map(_add, map(_pack_d, map(_neg, map(_add, scores, _repeat(0.0)))), d)
        else:
            sk = score_key
            keys = [sk(s) + m for m, s in d.items()]
        z.order.update(keys)
        return z

    @classmethod
    def from_items(cls, items, max_entries, max_value):
        """A zset built from (member, score) pairs (RDB load, RESTORE), with the encoding
        Redis would pick for it."""
        z = cls.from_pairs(items, True)
        z.fit_encoding(max_entries, max_value)
        return z

    @classmethod
    def from_scored(cls, items, listpack=True):
        """A zset of (score, member) pairs with distinct members (*STORE results)."""
        z = cls(listpack)
        sk = score_key
        d = z.dict
        keys = []
        for s, m in items:
            d[m] = s
            keys.append(sk(s) + m)
        z.order.update(keys)
        return z

    # -- reading in rank order ----------------------------------------------------------
    def items(self):
        """(member, score) in rank order (RDB/AOF rewrite, DUMP)."""
        return [(m, s) for s, m in _decode(self.order, self.dict)]

    def members(self, lo=0, hi=None):
        """The members of ranks [lo, hi) (0 <= lo, hi <= len), in rank order."""
        if lo == 0 and hi is None:
            return list(map(member_of_key, self.order))
        return list(map(member_of_key, self.order[lo:hi]))

    def iter_members(self):
        """The members in rank order, lazily."""
        for k in self.order:
            yield k[8:]

    def range(self, lo, hi):
        """(score, member) of ranks [lo, hi) (0 <= lo, hi <= len), in rank order."""
        return _decode(self.order[lo:hi], self.dict)

    def at(self, i):
        """(score, member) at rank i."""
        return _decode((self.order[i],), self.dict)[0]

    def iter_from(self, i):
        """(score, member) from rank i upwards, lazily (GEO box scans)."""
        d = self.dict
        for k in self.order.islice(i):
            yield _decode((k,), d)[0]

    def bisect_score(self, score):
        """The rank of the first element whose score is >= score."""
        return self.order.bisect_left(score_key(score))

    # -- elements ---------------------------------------------------------------------
    def insert(self, member, score):
        """Add a member that is not in the set."""
        self.dict[member] = score
        self.order.add(score_key(score) + member)

    def set_score(self, member, old, new):
        order = self.order
        order.remove(score_key(old) + member)
        order.add(score_key(new) + member)
        self.dict[member] = new

    def delete(self, member):
        score = self.dict.pop(member, None)
        if score is None:
            return False
        self.order.remove(score_key(score) + member)
        return True

    def add(self, member, score):
        """Insert or update (used to build results)."""
        old = self.dict.get(member)
        if old is None:
            self.insert(member, score)
        elif old != score:
            self.set_score(member, old, score)

    def pop(self, index):
        """Remove and return (score, member) at index (0 = min, -1 = max)."""
        m = self.order.pop(index)[8:]
        return self.dict.pop(m), m

    def pop_range(self, lo, hi):
        """Remove the elements of ranks [lo, hi) (0 <= lo < hi <= len) and return their
        (score, member) in rank order."""
        order = self.order
        d = self.dict
        if hi - lo == len(order):
            keys = list(order)
            order.clear()
            items = [(d[m], m) for m in [k[8:] for k in keys]]
            d.clear()
            return items
        keys = order[lo:hi]
        del order[lo:hi]
        pop = d.pop
        return [(pop(m), m) for m in [k[8:] for k in keys]]

    def delete_slice(self, lo, hi):
        """Remove the elements of ranks [lo, hi); returns how many."""
        if hi <= lo:
            return 0
        order = self.order
        if hi - lo == len(order):
            order.clear()
            self.dict.clear()
            return hi - lo
        keys = order[lo:hi]
        del order[lo:hi]
        d = self.dict
        for k in keys:
            del d[k[8:]]
        return len(keys)

    def rank(self, member, reverse=False):
        score = self.dict.get(member)
        if score is None:
            return None
        r = self.order.index(score_key(score) + member)
        return len(self.dict) - 1 - r if reverse else r

    # -- encoding ---------------------------------------------------------------------
    def check_encoding(self, max_entries, max_value, member_len):
        """zsetAdd's conversion test before inserting a member of member_len bytes."""
        if len(self.dict) + 1 > max_entries or member_len > max_value:
            self.listpack = False

    def fit_encoding(self, max_entries, max_value):
        """zsetConvertToListpackIfNeeded for a freshly built set (results of *STORE)."""
        if len(self.dict) > max_entries:
            self.listpack = False
            return
        for m in self.dict:
            if len(m) > max_value:
                self.listpack = False
                return
        self.listpack = True
        self.normalize_zeros()

    def normalize_zeros(self):
        """A listpack stores integral scores as integers: -0 reads back as 0 (the index
        key is the same for both)."""
        d = self.dict
        for m in [m for m, s in d.items() if s == 0.0 and math.copysign(1.0, s) < 0]:
            d[m] = 0.0

    # -- ranges -----------------------------------------------------------------------
    def score_span(self, spec):
        """Ranks [lo, hi) of the elements within a score range spec."""
        mn, minex, mx, maxex = spec
        order = self.order
        n = len(order)
        if minex:
            lo = n if mn == _INF else order.bisect_left(score_key(_nextafter(mn, _INF)))
        else:
            lo = order.bisect_left(score_key(mn))
        if maxex:
            hi = order.bisect_left(score_key(mx))
        else:
            hi = n if mx == _INF else order.bisect_left(score_key(_nextafter(mx, _INF)))
        if hi < lo:
            hi = lo
        return lo, hi

    def lex_span(self, spec, reverse=False):
        """Ranks [lo, hi) matched by a lex range (as Redis walks it: from the first element
        >= min forward while <= max, or from the last <= max backward while >= min)."""
        order = self.order
        n = len(order)
        if n == 0 or lex_range_empty(spec):
            return 0, 0
        first = order[0]
        last = order[-1]
        if first[:8] == last[:8]:
            p = first[:8]      # one score: members are in lex order, bisect them
            kmin, vmin, kmax, vmax = spec
            if kmin == 0:
                lo = 0
            elif kmin == 3:
                lo = n
            elif kmin == 1:
                lo = order.bisect_left(p + vmin)
            else:
                lo = order.bisect_right(p + vmin)
            if kmax == 3:
                hi = n
            elif kmax == 0:
                hi = 0
            elif kmax == 1:
                hi = order.bisect_right(p + vmax)
            else:
                hi = order.bisect_left(p + vmax)
            if hi < lo:
                hi = lo
            return lo, hi
        # mixed scores: Redis's linear semantics (results are "undefined" but stable)
        if not lex_gte_min(last[8:], spec) or not lex_lte_max(first[8:], spec):
            return 0, 0
        members = self.members()
        if not reverse:
            i = 0
            while i < n and not lex_gte_min(members[i], spec):
                i += 1
            j = i
            while j < n and lex_lte_max(members[j], spec):
                j += 1
            return i, j
        j = n - 1
        while j >= 0 and not lex_lte_max(members[j], spec):
            j -= 1
        i = j
        while i >= 0 and lex_gte_min(members[i], spec):
            i -= 1
        return i + 1, j + 1


# -- lex ranges -------------------------------------------------------------------------
# spec = (kmin, vmin, kmax, vmax); kind 0 = '-' (min string), 1 = '[', 2 = '(', 3 = '+'

def _lex_item(b):
    if not b:
        return None
    c = b[0]
    if c == 43:      # '+'
        return (3, None) if len(b) == 1 else None
    if c == 45:      # '-'
        return (0, None) if len(b) == 1 else None
    if c == 91:      # '['
        return (1, b[1:])
    if c == 40:      # '('
        return (2, b[1:])
    return None


def parse_lex_range(bmin, bmax):
    """zslParseLexRange: a spec tuple, or None ("min or max not valid string range item")."""
    a = _lex_item(bmin)
    if a is None:
        return None
    b = _lex_item(bmax)
    if b is None:
        return None
    return (a[0], a[1], b[0], b[1])


def _cmplex(ka, va, kb, vb):
    """sdscmplex between two range items (- is below everything, + above)."""
    if ka == 0 or ka == 3 or kb == 0 or kb == 3:
        ra = -1 if ka == 0 else (1 if ka == 3 else 0)
        rb = -1 if kb == 0 else (1 if kb == 3 else 0)
        if ra != rb:
            return -1 if ra < rb else 1
        if ra != 0:
            return 0
    return (va > vb) - (va < vb)


def lex_range_empty(spec):
    kmin, vmin, kmax, vmax = spec
    cmp = _cmplex(kmin, vmin, kmax, vmax)
    minex = kmin != 1
    maxex = kmax != 1
    return cmp > 0 or (cmp == 0 and (minex or maxex))


def lex_gte_min(ele, spec):
    k = spec[0]
    if k == 0:
        return True
    if k == 3:
        return False
    return ele >= spec[1] if k == 1 else ele > spec[1]


def lex_lte_max(ele, spec):
    k = spec[2]
    if k == 3:
        return True
    if k == 0:
        return False
    return ele <= spec[3] if k == 1 else ele < spec[3]


# -- numbers ----------------------------------------------------------------------------
_HEX_RE = re.compile(rb"[+-]?0[xX](?:[0-9a-fA-F]+(?:\.[0-9a-fA-F]*)?|\.[0-9a-fA-F]+)"
                     rb"(?:[pP][+-]?[0-9]+)?")
_DEC_PREFIX_RE = re.compile(rb"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _mantissa_nonzero(b):
    low = b.lower()
    if low.lstrip(b"+-").startswith(b"0x"):
        m = low.split(b"p", 1)[0]
        return any(ch in b"123456789abcdef" for ch in m.lstrip(b"+-")[2:])
    m = low.split(b"e", 1)[0]
    return any(ch in b"123456789" for ch in m)


def _strtod_full(b, strict):
    """strtod over the whole of b (no leading space). Returns float or None. strict applies
    string2d's ERANGE rejections (overflow to +-HUGE_VAL, underflow to zero)."""
    try:
        v = float(b)
    except ValueError:
        if _HEX_RE.fullmatch(b) is None:
            return None
        try:
            v = float.fromhex(b.decode())
        except OverflowError:
            if strict:
                return None
            return -_INF if b[:1] == b"-" else _INF
        if v == 0.0 and strict and _mantissa_nonzero(b):
            return None
        return v
    if v != v or b[-1] in _WS or b"_" in b:
        return None
    if v == _INF or v == -_INF:
        if strict and b"n" not in b and b"N" not in b:
            return None          # overflow, not a literal inf
    elif v == 0.0 and strict and _mantissa_nonzero(b):
        return None
    return v


def str2d(b):
    """Redis's string2d: a float, or None (-> "value is not a valid float")."""
    if b.isdigit() and len(b) < 300:
        return float(b)   # plain ASCII digits: strtod's value, too short to overflow
    try:
        v = float(b)
    except ValueError:
        if not b or b[0] in _WS:
            return None
        return _strtod_full(b, True)
    if (v - v == 0.0 and b[0] not in _WS and b[-1] not in _WS and b"_" not in b
            and (v != 0.0 or not b.strip(b"0.+-"))):
        return v   # the common case: finite, plain (zero only when written as zero)
    if b[0] in _WS:
        return None
    return _strtod_full(b, True)


def _strtod_lenient(b):
    """strtod(s, &eptr) with eptr[0] == '\\0' required (C string: stops at a NUL)."""
    nul = b.find(b"\0")
    if nul >= 0:
        b = b[:nul]
    if not b:
        return 0.0
    i = 0
    n = len(b)
    while i < n and b[i] in _WS:
        i += 1
    if i == n:
        return None
    return _strtod_full(b[i:], False)


def parse_score_range(bmin, bmax):
    """zslParseRange: (min, minex, max, maxex) or None ("min or max is not a float")."""
    if bmin[:1] == b"(":
        mn = _strtod_lenient(bmin[1:])
        minex = True
    else:
        mn = _strtod_lenient(bmin)
        minex = False
    if mn is None:
        return None
    if bmax[:1] == b"(":
        mx = _strtod_lenient(bmax[1:])
        maxex = True
    else:
        mx = _strtod_lenient(bmax)
        maxex = False
    if mx is None:
        return None
    return (mn, minex, mx, maxex)


def d2string(d):
    """Redis's d2string (how a listpack stores a score): integers without exponent."""
    if d == _INF:
        return b"inf"
    if d == -_INF:
        return b"-inf"
    if d == 0.0:
        return b"-0" if math.copysign(1.0, d) < 0 else b"0"
    if -4611686018427387904.0 <= d <= 4611686018427387904.0 and d == int(d):
        return b"%d" % int(d)
    return b"%.17g" % d


def ld2string(d):
    """createStringObjectFromLongDouble(d, 0): %.17Lg (the skiplist encoding in ZSCAN)."""
    if d == _INF:
        return b"inf"
    if d == -_INF:
        return b"-inf"
    return b"%.17g" % d


def human_double(d):
    """ld2string LD_STR_HUMAN: %.17Lf without trailing zeroes (GEOPOS, INCRBYFLOAT)."""
    if d == _INF:
        return b"inf"
    if d == -_INF:
        return b"-inf"
    s = b"%.17f" % d
    if b"." in s:
        s = s.rstrip(b"0")
        if s.endswith(b"."):
            s = s[:-1]
    if s == b"-0":
        s = b"0"
    return s
