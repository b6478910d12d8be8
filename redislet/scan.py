"""The SCAN-family cursor (SCAN, HSCAN, SSCAN, ZSCAN) and its argument parsing.

Redis walks hash-table buckets in reverse-binary order, so a cursor survives rehashing.
A Python dict or set exposes no buckets, so this module orders the elements by a stable
hash instead:

* Every element has a fixed position: pos(k) = (hash(k) + 2**63) >> 1, in [0, 2**63).
  hash() of bytes/ints is stable for the life of the process, so an element keeps its
  position whatever is added or removed.
* A call with cursor c returns the elements with the smallest positions >= c (COUNT of
  them, plus any further elements sharing the last position, so a position is never
  split between calls), and the next cursor is the position of the first element not
  returned; 0 once the end is reached. Cursors only move forward, and the ranges
  [c, next) tile the whole position space, so every element present for the whole
  iteration is returned exactly once; elements added or removed meanwhile may or may not
  be, as in Redis.
* To answer a call in about O(COUNT) we need the elements in position order: the first
  call of an iteration (cursor 0) on a big collection takes a snapshot of it, dealt into
  about N/BUCKET buckets by the top bits of the position in one O(N) pass (`deal`: about
  0.25 s per million elements as Python, 0.05-0.09 s compiled, where a full sort took
  over 1 s). A bucket is sorted the first time a call reaches it. The snapshot stays in a
  small cache keyed by the collection's identity; later calls find their bucket by
  shifting the cursor and skip the elements that were deleted since. Elements added after
  the snapshot are not reported (allowed: they did not exist for the whole iteration).
  Correctness never depends on the cache: a snapshot rebuilt at any later time still
  contains every element that existed for the whole iteration, because the positions do
  not depend on the snapshot. A snapshot is only reused if it was taken after the current
  iteration began, which holds because every cursor-0 call on a big collection takes a
  new one.
* Small collections (a few times COUNT) are answered directly without a snapshot.

Usage by a type module (HSCAN):

    cursor = parse_cursor(argv[2])
    ...lookup, type check...
    count, match, _ = parse_scan_options(argv, 3, allow_type=False)
    nxt, fields = scan_dict(h, cursor, count, match)
    reply: scan_reply(nxt, [f, v, f, v...])
"""
from array import array
from bisect import bisect_left

from .errors import CommandError, SYNTAX, NOT_INTEGER
from .glob import compile_glob
from .resp.encode import bulks
from .util import parse_ll

_OFF = 1 << 63
BUCKET = 1024      # elements per snapshot bucket, on average
_MASK64 = (1 << 64) - 1
_CACHE_MAX = 16
_cache = {}    # id(collection) -> [collection, keys list, hashes array]


def position(k):
    """The cursor position of an element."""
    return (hash(k) + _OFF) >> 1


def parse_cursor(arg):
    """parseScanCursorOrReply: strtoul base 10 semantics (optional sign, negative values
    wrap, empty string is 0), 'ERR invalid cursor' otherwise."""
    if not arg:
        return 0
    b = arg
    neg = False
    if b[0] in b"+-":
        neg = b[0] == 45
        b = b[1:]
    if not b or not b.isdigit():
        raise CommandError("ERR invalid cursor")
    v = int(b)
    if v > _MASK64:
        raise CommandError("ERR invalid cursor")
    if neg:
        v = (-v) & _MASK64
    return v


def parse_scan_options(argv, i, allow_type=False):
    """scanGenericCommand's option parsing from argv[i:]: returns (count, match_fn or None,
    type name bytes lower-cased or None). match_fn is None when the pattern is '*'."""
    count = 10
    match = None
    typename = None
    n = len(argv)
    while i < n:
        opt = argv[i].lower()
        more = n - i >= 2
        if opt == b"count" and more:
            count = parse_ll(argv[i + 1])
            if count is None:
                raise CommandError(NOT_INTEGER)
            if count < 1:
                raise CommandError(SYNTAX)
            i += 2
        elif opt == b"match" and more:
            pat = argv[i + 1]
            match = None if pat == b"*" else compile_glob(pat)
            i += 2
        elif opt == b"type" and allow_type and more:
            typename = argv[i + 1].lower()
            i += 2
        else:
            raise CommandError(SYNTAX)
    return count, match, typename


def scan_reply(cursor, items):
    """The two-element SCAN reply: [cursor as bulk, array of bulk strings]."""
    c = b"%d" % (cursor if cursor < _OFF else cursor - (1 << 64))
    return bulks(b"*2\r\n$%d\r\n%s\r\n*%d\r\n" % (len(c), c, len(items)), items)


def scan_dict(d, cursor, count, match_fn=None):
    """One SCAN step over a dict or set `d`: returns (next_cursor, elements) with the
    elements (keys) at positions >= cursor, about `count` of them, filtered by match_fn
    (applied after selection, as Redis applies MATCH after the bucket walk)."""
    n = len(d)
    if n == 0:
        _cache.pop(id(d), None)
        return 0, []
    thr = (cursor << 1) - _OFF     # hash threshold equivalent to position >= cursor
    if cursor >= _OFF:             # beyond every position
        return 0, []
    if n <= 4 * count or n <= 256:
        if cursor == 0:
            cand = list(d)
        else:
            cand = [k for k in d if hash(k) >= thr]
        if len(cand) > count:
            cand.sort(key=hash)
            end = count
            last = (hash(cand[end - 1]) + _OFF) >> 1
            while end < len(cand) and (hash(cand[end]) + _OFF) >> 1 == last:
                end += 1
            nxt = ((hash(cand[end]) + _OFF) >> 1) if end < len(cand) else 0
            cand = cand[:end]
        else:
            nxt = 0
        if match_fn is not None:
            cand = [k for k in cand if match_fn(_as_bytes(k))]
        return nxt, cand
    ident = id(d)
    snap = _cache.get(ident)
    if cursor == 0 or snap is None or snap.d is not d:
        snap = _Snapshot(d)
        _cache.pop(ident, None)
        if len(_cache) >= _CACHE_MAX:
            del _cache[next(iter(_cache))]
        _cache[ident] = snap
    else:   # most recently used last
        del _cache[ident]
        _cache[ident] = snap
    out, nxt = snap.take(cursor, thr, count)
    if nxt == 0:
        _cache.pop(ident, None)
    if match_fn is not None:
        out = [k for k in out if match_fn(_as_bytes(k))]
    return nxt, out


def deal(keys, sh, nbuckets):
    """keys dealt into nbuckets lists by the top bits of their positions: bucket
    (hash + 2**63) >> sh. The one O(N) step of a SCAN iteration of a big collection,
    compiled where the build can (scan.pxd: C integers for the arithmetic)."""
    buckets = [[] for _ in range(nbuckets)]
    off = _OFF
    for k in keys:
        buckets[(hash(k) + off) >> sh].append(k)
    return buckets


class _Snapshot:
    """The elements of a collection at one moment, bucketed by the top bits of their
    position; each bucket sorted by position when first needed."""
    __slots__ = ("d", "buckets", "sorted", "shift")

    def __init__(self, d):
        bits = max(1, (len(d) // BUCKET).bit_length())
        self.shift = 63 - bits
        # the bucket of position (h + _OFF) >> 1, from the hash: (h + _OFF) >> (shift + 1)
        self.d = d
        self.buckets = deal(d, self.shift + 1, 1 << bits)
        self.sorted = bytearray(1 << bits)

    def bucket(self, b):
        """Bucket b sorted, as (keys, hashes)."""
        if not self.sorted[b]:
            keys = self.buckets[b]
            keys.sort(key=hash)
            self.buckets[b] = (keys, array("q", map(hash, keys)))
            self.sorted[b] = 1
        return self.buckets[b]

    def take(self, cursor, thr, count):
        """Up to `count` live elements at positions >= cursor (deleted ones skipped,
        within a budget that keeps a call cheap), never splitting a position between two
        calls; returns (elements, next cursor or 0 at the end). Each step takes a run of
        positions and drops the deleted elements with a C-level filter."""
        live = self.d.__contains__
        off = _OFF
        out = []
        budget = count * 10
        nb = len(self.sorted)
        b = cursor >> self.shift
        keys, hashes = self.bucket(b)
        i = bisect_left(hashes, thr)
        while True:
            total = len(keys)
            while i < total and len(out) < count and budget > 0:
                j = min(total, i + min(count - len(out), budget))
                # the rest of the last position (equal positions share a bucket)
                last = (hashes[j - 1] + off) >> 1
                while j < total and (hashes[j] + off) >> 1 == last:
                    j += 1
                budget -= j - i
                out += filter(live, keys[i:j])
                i = j
            if i < total:
                return out, (hashes[i] + off) >> 1
            b += 1
            if b == nb:
                return out, 0
            if len(out) >= count or budget <= 0:
                return out, b << self.shift   # the next bucket's first position
            keys, hashes = self.bucket(b)
            i = 0


def drop_cache():
    """Forget every snapshot (FLUSHDB/FLUSHALL replace the keyspace dicts: don't keep the
    old ones alive). Iterations in progress go on correctly, rebuilding on demand."""
    _cache.clear()


def _as_bytes(k):
    return k if type(k) is bytes else (b"%d" % k if type(k) is int else bytes(k))
