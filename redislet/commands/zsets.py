"""Sorted set commands (Redis 7.0.15 t_zset.c): ZADD, ZINCRBY, ZREM, ZCARD, ZSCORE,
ZMSCORE, ZRANK, ZREVRANK, ZCOUNT, ZLEXCOUNT, ZRANGE (+ BYSCORE/BYLEX/REV/LIMIT), ZRANGESTORE,
ZREVRANGE, Z[REV]RANGEBYSCORE, Z[REV]RANGEBYLEX, ZREMRANGEBY{RANK,SCORE,LEX}, ZPOPMIN,
ZPOPMAX, BZPOPMIN, BZPOPMAX, ZMPOP, BZMPOP, ZRANDMEMBER, ZUNION[STORE], ZINTER[STORE],
ZINTERCARD, ZDIFF[STORE], ZSCAN.

The value type is types.zset.ZSet. Scores go out as c.r.double (RESP2 "%.17g" bulk, RESP3
double), as Redis 7.0's addReplyDouble.
"""
from __future__ import annotations   # (the compiled build types the annotated names)

import random

from .table import command
from .. import db as _db
from ..blocking import block, parse_timeout
from ..errors import CommandError, WRONGTYPE, SYNTAX, NOT_INTEGER, NOT_FLOAT
from ..resp.encode import ZERO, ONE, EMPTY_ARRAY, array, bulks, integer
from ..types.zset import (ZSet, str2d, parse_score_range, parse_lex_range, d2string,
                          ld2string, score_key)
from ..util import parse_ll
from .. import scan as _scan

LONG_MAX = (1 << 63) - 1
NOTIFY_ZSET = 1 << 7
NOTIFY_GENERIC = 1 << 2

_db.TYPE_NAMES[ZSet] = b"zset"
_db.ENCODING_FUNCS[ZSet] = lambda z: b"listpack" if z.listpack else b"skiplist"

MIN_MAX_ERR = "ERR min or max is not a float"
LEX_ERR = "ERR min or max not valid string range item"
EMPTY_SCAN = b"*2\r\n$1\r\n0\r\n*0\r\n"


def _limits(c):
    v = c.server.config.values
    return v["zset-max-listpack-entries"], v["zset-max-listpack-value"]


def _get_long(b, msg=NOT_INTEGER):
    v = parse_ll(b)
    if v is None:
        raise CommandError(msg)
    return v


def _notify(srv, event, key, dbid, flag=NOTIFY_ZSET):
    if srv.notify_flags & flag:
        srv.notify(flag, event, key, dbid)


def _is_set(v):
    return _db.TYPE_NAMES.get(type(v)) == b"set"


# -- replies ------------------------------------------------------------------------------
def reply_items(c: Client, items, withscores):
    """An array of (score, member): members only, or member+score flat (RESP2) or as
    [member, score] pairs (RESP3)."""
    n = len(items)
    if not withscores:
        return array([m for _, m in items])
    # addReplyDouble's %.17g (which spells the infinities "inf" and "-inf" too)
    if c.resp == 2:
        flat = [None] * (2 * n)
        flat[0::2] = [m for _, m in items]
        flat[1::2] = [b"%.17g" % s for s, _ in items]
        return bulks(b"*%d\r\n" % (2 * n), flat)
    parts = [b"*%d\r\n" % n]
    parts.extend([b"*2\r\n$%d\r\n%s\r\n,%.17g\r\n" % (len(m), m, s) for s, m in items])
    return b"".join(parts)


def store_result(c: Client, dst, items, event):
    """Store (score, member) items (distinct members) at dst as a new zset, or delete dst
    when there are none (the *STORE commands). Returns the reply."""
    db: Database = c.db
    srv: RedisServer = c.server
    if items:
        zs = ZSet.from_scored(items)
        me, mv = _limits(c)
        zs.fit_encoding(me, mv)
        db.set(dst, zs)
        db.touch(dst)
        _notify(srv, event, dst, db.id)
        srv.dirty += 1
        return integer(len(items))
    if db.delete(dst):
        db.touch(dst)
        _notify(srv, b"del", dst, db.id, NOTIFY_GENERIC)
        srv.dirty += 1
    return ZERO


# -- ZADD / ZINCRBY -----------------------------------------------------------------------
_NX, _XX, _CH, _INCR, _GT, _LT = 1, 2, 4, 8, 16, 32
_ZADD_OPTS = {b"nx": _NX, b"xx": _XX, b"ch": _CH, b"incr": _INCR, b"gt": _GT, b"lt": _LT}


def zadd_generic(c: Client, argv, flags):
    n = len(argv)
    i = 2
    opts = _ZADD_OPTS
    while i < n:
        a = argv[i]
        if len(a) > 4:
            break
        f = opts.get(a.lower())
        if f is None:
            break
        flags |= f
        i += 1
    elements = n - i
    if elements & 1 or not elements:
        raise CommandError(SYNTAX)
    nx = flags & _NX
    xx = flags & _XX
    gt = flags & _GT
    lt = flags & _LT
    incr = flags & _INCR
    if nx and xx:
        raise CommandError("ERR XX and NX options at the same time are not compatible")
    if (gt and nx) or (lt and nx) or (gt and lt):
        raise CommandError("ERR GT, LT, and/or NX options at the same time are not "
                           "compatible")
    if incr and elements > 2:
        raise CommandError("ERR INCR option supports a single increment-element pair")
    scores = []
    for j in range(i, n, 2):
        s = str2d(argv[j])
        if s is None:
            raise CommandError(NOT_FLOAT)
        scores.append(s)
    return zadd_apply(c, argv[1], flags, scores, argv[i + 1::2])


def _create(c: Client, key, member):
    """A new zset at key for a ZADD whose first member is member (zsetTypeCreate)."""
    v = c.server.config.values
    zs = ZSet(not (v["zset-max-listpack-entries"] == 0
                   or v["zset-max-listpack-value"] < len(member)))
    c.db.add(key, zs)
    return zs


def zadd_apply(c: Client, key, flags, scores, members):
    """The effect of ZADD (zsetAdd per pair) once options and scores are parsed."""
    nx = flags & _NX
    xx = flags & _XX
    gt = flags & _GT
    lt = flags & _LT
    incr = flags & _INCR
    db: Database = c.db
    zs = db.lookup(key)
    if zs is not None and type(zs) is not ZSet:
        raise CommandError(WRONGTYPE)
    srv: RedisServer = c.server
    if zs is None:
        if xx:
            return c.r.null if incr else (ZERO)
        zs = _create(c, key, members[0])
        created = True
    else:
        created = False
    me = mv = None
    d = zs.dict
    order = zs.order
    sk = score_key
    # a new key filled by many pairs: fill the dict, sort once at the end
    bulk = created and len(scores) > 8
    added = updated = processed = 0
    score = 0.0
    j = 0
    err = None
    for score in scores:
        member = members[j]
        j += 1
        cur = d.get(member)
        if cur is not None:
            if nx:
                continue
            if incr:
                score += cur
                if score != score:
                    err = "ERR resulting score is not a number (NaN)"
                    break
            if (lt and score >= cur) or (gt and score <= cur):
                continue
            processed += 1
            if score != cur:
                st = 0.0 if score == 0.0 and zs.listpack else score
                if not bulk:
                    order.remove(sk(cur) + member)
                    order.add(sk(st) + member)
                d[member] = st
                updated += 1
        elif not xx:
            if zs.listpack:
                if me is None:
                    v = srv.config.values
                    me = v["zset-max-listpack-entries"]
                    mv = v["zset-max-listpack-value"]
                if len(d) + 1 > me or len(member) > mv:
                    zs.listpack = False
            st = 0.0 if score == 0.0 and zs.listpack else score   # listpack: -0 -> 0
            d[member] = st
            if not bulk:
                order.add(sk(st) + member)
            added += 1
            processed += 1
    if bulk:
        order.update([sk(s) + m for m, s in d.items()])
    if added or updated:
        srv.dirty += added + updated
        if not created:
            db.touch(key)
        _notify(srv, b"zincr" if incr else b"zadd", key, db.id)
    if err is not None:
        raise CommandError(err)
    if incr:
        return c.r.double(score) if processed else c.r.null
    return integer(added + updated if flags & _CH else added)


def _zadd_one(c: Client, key, score, member, incr):
    """`ZADD key score member` / `ZINCRBY key incr member` without options: zadd_apply's
    path for one pair, without its generality (the common command of ZADD workloads)."""
    db: Database = c.db
    zs: ZSet
    found = db.lookup(key)
    if found is None:
        zs = _create(c, key, member)
        created = True
    elif type(found) is not ZSet:
        raise CommandError(WRONGTYPE)
    else:
        zs = found
        created = False
    d = zs.dict
    cur = d.get(member)
    if cur is None:
        st = score
        if zs.listpack:
            v = c.server.config.values
            if (len(d) >= v["zset-max-listpack-entries"]
                    or len(member) > v["zset-max-listpack-value"]):
                zs.listpack = False
            elif score == 0.0:
                st = 0.0      # listpack: -0 -> 0
        zs.insert(member, st)
        reply = ONE
    else:
        if incr:
            score += cur
            if score != score:
                raise CommandError("ERR resulting score is not a number (NaN)")
        if score == cur:
            return c.r.double(score) if incr else ZERO
        zs.set_score(member, cur, 0.0 if score == 0.0 and zs.listpack else score)
        reply = ZERO
    srv: RedisServer = c.server
    srv.dirty += 1
    if not created and (db.watched or srv.key_modified_hook is not None):
        db.touch(key)
    if srv.notify_flags & NOTIFY_ZSET:
        srv.notify(NOTIFY_ZSET, b"zincr" if incr else b"zadd", key, db.id)
    return c.r.double(score) if incr else reply


@command("zadd")
def zadd(c: Client, argv):
    if len(argv) == 4:
        score = str2d(argv[2])
        if score is not None:    # no option parses as a float
            return _zadd_one(c, argv[1], score, argv[3], False)
    return zadd_generic(c, argv, 0)


@command("zincrby")
def zincrby(c: Client, argv):
    score = str2d(argv[2])
    if score is None:     # options are parsed here too (ZINCRBY k NX m: syntax error)
        return zadd_generic(c, argv, _INCR)
    return _zadd_one(c, argv[1], score, argv[3], True)


# -- ZREM / ZREMRANGEBY* ------------------------------------------------------------------
def _lookup_write(c: Client, key):
    v = c.db.lookup(key)
    if v is not None and type(v) is not ZSet:
        raise CommandError(WRONGTYPE)
    return v


def _lookup_read(c: Client, key):
    v = c.db.lookup_read(key)
    if v is not None and type(v) is not ZSet:
        raise CommandError(WRONGTYPE)
    return v


@command("zrem")
def zrem(c: Client, argv):
    key = argv[1]
    zs = _lookup_write(c, key)
    if zs is None:
        return ZERO
    db: Database = c.db
    deleted = 0
    removed = False
    for m in argv[2:]:
        if zs.delete(m):
            deleted += 1
            if not zs.dict:
                db.delete(key)
                removed = True
                break
    if deleted:
        srv: RedisServer = c.server
        _notify(srv, b"zrem", key, db.id)
        if removed:
            _notify(srv, b"del", key, db.id, NOTIFY_GENERIC)
        db.touch(key)
        srv.dirty += deleted
    return integer(deleted)


def _zremrange(c: Client, argv, kind):
    key = argv[1]
    if kind == 0:
        event = b"zremrangebyrank"
        start = _get_long(argv[2])
        end = _get_long(argv[3])
    elif kind == 1:
        event = b"zremrangebyscore"
        spec = parse_score_range(argv[2], argv[3])
        if spec is None:
            raise CommandError(MIN_MAX_ERR)
    else:
        event = b"zremrangebylex"
        spec = parse_lex_range(argv[2], argv[3])
        if spec is None:
            raise CommandError(LEX_ERR)
    zs = _lookup_write(c, key)
    if zs is None:
        return ZERO
    if kind == 0:
        llen = len(zs.dict)
        if start < 0:
            start += llen
        if end < 0:
            end += llen
        if start < 0:
            start = 0
        if start > end or start >= llen:
            return ZERO
        if end >= llen:
            end = llen - 1
        lo, hi = start, end + 1
    elif kind == 1:
        lo, hi = zs.score_span(spec)
    else:
        lo, hi = zs.lex_span(spec)
    deleted = zs.delete_slice(lo, hi)
    db: Database = c.db
    srv: RedisServer = c.server
    if deleted:
        removed = not zs.dict
        if removed:
            db.delete(key)
        db.touch(key)
        _notify(srv, event, key, db.id)
        if removed:
            _notify(srv, b"del", key, db.id, NOTIFY_GENERIC)
        srv.dirty += deleted
    return integer(deleted)


@command("zremrangebyrank")
def zremrangebyrank(c: Client, argv):
    return _zremrange(c, argv, 0)


@command("zremrangebyscore")
def zremrangebyscore(c: Client, argv):
    return _zremrange(c, argv, 1)


@command("zremrangebylex")
def zremrangebylex(c: Client, argv):
    return _zremrange(c, argv, 2)


# -- simple reads -------------------------------------------------------------------------
@command("zcard")
def zcard(c: Client, argv):
    zs = _lookup_read(c, argv[1])
    return ZERO if zs is None else integer(len(zs.dict))


@command("zscore")
def zscore(c: Client, argv):
    zs = c.db.lookup_read(argv[1])
    if zs is None:
        return c.r.null
    if type(zs) is not ZSet:
        raise CommandError(WRONGTYPE)
    s = zs.dict.get(argv[2])
    return c.r.null if s is None else c.r.double(s)


@command("zmscore")
def zmscore(c: Client, argv):
    zs = _lookup_read(c, argv[1])
    r = c.r
    parts = [b"*%d\r\n" % (len(argv) - 2)]
    d = zs.dict if zs is not None else {}
    for m in argv[2:]:
        s = d.get(m)
        parts.append(r.null if s is None else r.double(s))
    return b"".join(parts)


def _zrank(c: Client, argv, reverse):
    zs = c.db.lookup_read(argv[1])
    if zs is None:
        return c.r.null
    if type(zs) is not ZSet:
        raise CommandError(WRONGTYPE)
    r = zs.rank(argv[2], reverse)
    return c.r.null if r is None else integer(r)


@command("zrank")
def zrank(c: Client, argv):
    return _zrank(c, argv, False)


@command("zrevrank")
def zrevrank(c: Client, argv):
    return _zrank(c, argv, True)


@command("zcount")
def zcount(c: Client, argv):
    spec = parse_score_range(argv[2], argv[3])
    if spec is None:
        raise CommandError(MIN_MAX_ERR)
    zs = _lookup_read(c, argv[1])
    if zs is None:
        return ZERO
    lo, hi = zs.score_span(spec)
    return integer(hi - lo)


@command("zlexcount")
def zlexcount(c: Client, argv):
    spec = parse_lex_range(argv[2], argv[3])
    if spec is None:
        raise CommandError(LEX_ERR)
    zs = _lookup_read(c, argv[1])
    if zs is None:
        return ZERO
    lo, hi = zs.lex_span(spec)
    return integer(hi - lo)


# -- ZRANGE family ------------------------------------------------------------------------
_AUTO, _RANK, _SCORE, _LEX = 0, 1, 2, 3


def range_items(zs, rangetype, reverse, a, b, offset, limit, scores=True):
    """The (score, member) items selected by a ZRANGE-style query, in reply order; the
    members alone with scores=False (no score to decode). rank: a, b = start, end;
    score/lex: a = parsed spec."""
    get = zs.range if scores else zs.members
    if rangetype == _RANK:
        llen = len(zs.dict)
        start, end = a, b
        if start < 0:
            start += llen
        if end < 0:
            end += llen
        if start < 0:
            start = 0
        if start > end or start >= llen:
            return []
        if end >= llen:
            end = llen - 1
        if not reverse:
            return get(start, end + 1)
        items = get(llen - 1 - end, llen - start)
        items.reverse()
        return items
    if rangetype == _SCORE:
        if offset > 0 and offset >= len(zs.dict):
            return []
        lo, hi = zs.score_span(a)
    else:
        lo, hi = zs.lex_span(a, reverse)
    if offset < 0 or lo >= hi:
        return []
    if not reverse:
        start = lo + offset
        end = hi if limit < 0 else min(hi, start + limit)
        if start >= end:
            return []
        return get(start, end)
    end = hi - offset
    start = lo if limit < 0 else max(lo, end - limit)
    if start >= end:
        return []
    items = get(start, end)
    items.reverse()
    return items


def zrange_generic(c: Client, argv, argc_start, store, rangetype, reverse):
    """zrangeGenericCommand: reverse is None for AUTO direction."""
    key = argv[argc_start]
    minidx = argc_start + 1
    maxidx = argc_start + 2
    withscores = False
    offset = 0
    limit = -1
    n = len(argv)
    j = argc_start + 3
    while j < n:
        opt = argv[j].lower()
        left = n - j - 1
        if not store and opt == b"withscores":
            withscores = True
        elif opt == b"limit" and left >= 2:
            offset = _get_long(argv[j + 1])
            limit = _get_long(argv[j + 2])
            j += 2
        elif reverse is None and opt == b"rev":
            reverse = True
        elif rangetype == _AUTO and opt == b"bylex":
            rangetype = _LEX
        elif rangetype == _AUTO and opt == b"byscore":
            rangetype = _SCORE
        else:
            raise CommandError(SYNTAX)
        j += 1
    if reverse is None:
        reverse = False
    if rangetype == _AUTO:
        rangetype = _RANK
    if limit != -1 and rangetype == _RANK:
        raise CommandError("ERR syntax error, LIMIT is only supported in combination with "
                           "either BYSCORE or BYLEX")
    if withscores and rangetype == _LEX:
        raise CommandError("ERR syntax error, WITHSCORES not supported in combination "
                           "with BYLEX")
    if reverse and rangetype != _RANK:
        minidx, maxidx = maxidx, minidx
    a = b = None
    if rangetype == _RANK:
        a = _get_long(argv[minidx])
        b = _get_long(argv[maxidx])
    elif rangetype == _SCORE:
        a = parse_score_range(argv[minidx], argv[maxidx])
        if a is None:
            raise CommandError(MIN_MAX_ERR)
    else:
        a = parse_lex_range(argv[minidx], argv[maxidx])
        if a is None:
            raise CommandError(LEX_ERR)
    zs = c.db.lookup_read(key)
    if zs is None:
        if store:
            return store_result(c, argv[1], (), b"zrangestore")
        return EMPTY_ARRAY
    if type(zs) is not ZSet:
        raise CommandError(WRONGTYPE)
    if not (store or withscores):
        return array(range_items(zs, rangetype, reverse, a, b, offset, limit, False))
    items = range_items(zs, rangetype, reverse, a, b, offset, limit)
    if store:
        return store_result(c, argv[1], items, b"zrangestore")
    return reply_items(c, items, withscores)


@command("zrange")
def zrange(c: Client, argv):
    return zrange_generic(c, argv, 1, False, _AUTO, None)


@command("zrangestore")
def zrangestore(c: Client, argv):
    return zrange_generic(c, argv, 2, True, _AUTO, None)


@command("zrevrange")
def zrevrange(c: Client, argv):
    return zrange_generic(c, argv, 1, False, _RANK, True)


@command("zrangebyscore")
def zrangebyscore(c: Client, argv):
    return zrange_generic(c, argv, 1, False, _SCORE, False)


@command("zrevrangebyscore")
def zrevrangebyscore(c: Client, argv):
    return zrange_generic(c, argv, 1, False, _SCORE, True)


@command("zrangebylex")
def zrangebylex(c: Client, argv):
    return zrange_generic(c, argv, 1, False, _LEX, False)


@command("zrevrangebylex")
def zrevrangebylex(c: Client, argv):
    return zrange_generic(c, argv, 1, False, _LEX, True)


# -- ZUNION / ZINTER / ZDIFF --------------------------------------------------------------
_UNION, _INTER, _DIFF = 0, 1, 2
_SUM, _MIN, _MAX = 0, 1, 2


def _src_len(v):
    if v is None:
        return 0
    if type(v) is ZSet:
        return len(v.dict)
    return len(v)


def _src_iter(v):
    """(member, score) pairs of a source (sets give score 1)."""
    if type(v) is ZSet:
        return v.items()
    return [(m, 1.0) for m in v]


def _src_find(v, m):
    if type(v) is ZSet:
        return v.dict.get(m)
    return 1.0 if m in v else None


def zsetop_generic(c: Client, argv, dstkey, numkeys_idx, op, cardinality_only=False):
    setnum = _get_long(argv[numkeys_idx])
    if setnum < 1:
        raise CommandError("ERR at least 1 input key is needed for '%s' command"
                           % argv[0].decode("utf-8", "replace").lower())
    n = len(argv)
    if setnum > n - (numkeys_idx + 1):
        raise CommandError(SYNTAX)
    db: Database = c.db
    srcs = []
    j = numkeys_idx + 1
    for _ in range(setnum):
        v = db.lookup_read(argv[j])
        if v is not None and type(v) is not ZSet and not _is_set(v):
            raise CommandError(WRONGTYPE)
        srcs.append([v, 1.0])
        j += 1
    aggregate = _SUM
    withscores = False
    limit = 0
    remaining = n - j
    while remaining:
        opt = argv[j].lower()
        if (op != _DIFF and not cardinality_only and remaining >= setnum + 1
                and opt == b"weights"):
            j += 1
            remaining -= 1
            for k in range(setnum):
                w = str2d(argv[j])
                if w is None:
                    raise CommandError("ERR weight value is not a float")
                srcs[k][1] = w
                j += 1
                remaining -= 1
        elif (op != _DIFF and not cardinality_only and remaining >= 2
                and opt == b"aggregate"):
            j += 1
            agg = argv[j].lower()
            if agg == b"sum":
                aggregate = _SUM
            elif agg == b"min":
                aggregate = _MIN
            elif agg == b"max":
                aggregate = _MAX
            else:
                raise CommandError(SYNTAX)
            j += 1
            remaining -= 2
        elif (remaining >= 1 and dstkey is None and not cardinality_only
                and opt == b"withscores"):
            j += 1
            remaining -= 1
            withscores = True
        elif cardinality_only and remaining >= 2 and opt == b"limit":
            limit = parse_ll(argv[j + 1])
            if limit is None or limit < 0:
                raise CommandError("ERR LIMIT can't be negative")
            j += 2
            remaining -= 2
        else:
            raise CommandError(SYNTAX)

    if op != _DIFF:
        srcs.sort(key=lambda s: _src_len(s[0]))
    result = {}      # member -> score
    if op == _INTER:
        if _src_len(srcs[0][0]) > 0:
            first, w0 = srcs[0]
            rest = srcs[1:]
            card = 0
            for m, s in _src_iter(first):
                score = w0 * s
                if score != score:
                    score = 0.0
                ok = True
                for v, w in rest:
                    if v is first:
                        value = s * w
                    else:
                        value = _src_find(v, m)
                        if value is None:
                            ok = False
                            break
                        value *= w
                    if aggregate == _SUM:
                        score = score + value
                        if score != score:
                            score = 0.0
                    elif aggregate == _MIN:
                        if value < score:
                            score = value
                    elif value > score:
                        score = value
                if not ok:
                    continue
                if cardinality_only:
                    card += 1
                    if limit and card >= limit:
                        break
                else:
                    result[m] = score
            if cardinality_only:
                return integer(card)
        elif cardinality_only:
            return ZERO
    elif op == _UNION:
        for v, w in srcs:
            if _src_len(v) == 0:
                continue
            for m, s in _src_iter(v):
                score = w * s
                if score != score:
                    score = 0.0
                cur = result.get(m)
                if cur is None:
                    result[m] = score
                elif aggregate == _SUM:
                    cur = cur + score
                    result[m] = 0.0 if cur != cur else cur
                elif aggregate == _MIN:
                    if score < cur:
                        result[m] = score
                elif score > cur:
                    result[m] = score
    else:
        first = srcs[0][0]
        if _src_len(first) > 0 and not any(v is first for v, _ in srcs[1:]):
            others = [v for v, _ in srcs[1:] if _src_len(v) > 0]
            for m, s in _src_iter(first):
                for v in others:
                    if _src_find(v, m) is not None:
                        break
                else:
                    result[m] = s
    items = sorted([(s, m) for m, s in result.items()])
    if dstkey is not None:
        event = (b"zunionstore", b"zinterstore", b"zdiffstore")[op]
        return store_result(c, dstkey, items, event)
    return reply_items(c, items, withscores)


@command("zunionstore")
def zunionstore(c: Client, argv):
    return zsetop_generic(c, argv, argv[1], 2, _UNION)


@command("zinterstore")
def zinterstore(c: Client, argv):
    return zsetop_generic(c, argv, argv[1], 2, _INTER)


@command("zdiffstore")
def zdiffstore(c: Client, argv):
    return zsetop_generic(c, argv, argv[1], 2, _DIFF)


@command("zunion")
def zunion(c: Client, argv):
    return zsetop_generic(c, argv, None, 1, _UNION)


@command("zinter")
def zinter(c: Client, argv):
    return zsetop_generic(c, argv, None, 1, _INTER)


@command("zintercard")
def zintercard(c: Client, argv):
    return zsetop_generic(c, argv, None, 1, _INTER, True)


@command("zdiff")
def zdiff(c: Client, argv):
    return zsetop_generic(c, argv, None, 1, _DIFF)


# -- pops ---------------------------------------------------------------------------------
_POP_NAMES = (b"ZPOPMIN", b"ZPOPMAX")
_POP_EVENTS = (b"zpopmin", b"zpopmax")


def zpop_on(c: Client, db, key, zs, where, emitkey, count, nested):
    """Pop from zs (non-empty, at key): the reply, as genericZpopCommand builds it.
    count -1 is a plain single pop. Counts dirty, notifies, deletes an emptied key."""
    if count == -1:
        count = 1
    d = zs.dict
    llen = len(d)
    rangelen = count if count < llen else llen
    if where == 0:
        items = zs.pop_range(0, rangelen)
    else:
        items = zs.pop_range(llen - rangelen, llen)
        items.reverse()
    srv: RedisServer = c.server
    srv.dirty += rangelen
    _notify(srv, _POP_EVENTS[where], key, db.id)
    db.touch(key)
    dbl = c.r.double
    parts = []
    if not nested and not emitkey:
        parts.append(b"*%d\r\n" % (rangelen * 2))
    elif nested and not emitkey:
        parts.append(b"*%d\r\n" % rangelen)
    elif not nested and emitkey:
        parts.append(b"*%d\r\n$%d\r\n%s\r\n" % (rangelen * 2 + 1, len(key), key))
    else:
        parts.append(b"*2\r\n$%d\r\n%s\r\n*%d\r\n" % (len(key), key, rangelen))
    for s, m in items:
        if nested:
            parts.append(b"*2\r\n")
        parts.append(b"$%d\r\n%s\r\n" % (len(m), m))
        parts.append(dbl(s))
    if not d:
        db.delete(key)
        _notify(srv, b"del", key, db.id, NOTIFY_GENERIC)
    return b"".join(parts), rangelen


def zpop_generic(c: Client, keys, where, emitkey, count, nested, nil_when_empty):
    """genericZpopCommand over keys: returns (reply, key or None, popped count)."""
    db: Database = c.db
    zs = None
    key = None
    for k in keys:
        v = db.lookup(k)
        if v is None:
            continue
        if type(v) is not ZSet:
            raise CommandError(WRONGTYPE)
        zs = v
        key = k
        break
    if zs is None:
        return (c.r.null_array if nil_when_empty else EMPTY_ARRAY), None, 0
    if count == 0:
        return EMPTY_ARRAY, None, 0
    reply, n = zpop_on(c, db, key, zs, where, emitkey, count, nested)
    return reply, key, n


def _zpopminmax(c: Client, argv, where):
    if len(argv) > 3:
        raise CommandError(SYNTAX)
    count = -1
    if len(argv) == 3:
        count = parse_ll(argv[2])
        if count is None or count < 0:
            raise CommandError("ERR value is out of range, must be positive")
    nested = c.resp > 2 and count != -1
    return zpop_generic(c, [argv[1]], where, False, count, nested, False)[0]


@command("zpopmin")
def zpopmin(c: Client, argv):
    return _zpopminmax(c, argv, 0)


@command("zpopmax")
def zpopmax(c: Client, argv):
    return _zpopminmax(c, argv, 1)


def _make_serve(where, count, nested):
    def serve(c, key):
        db: Database = c.db
        zs = db.data.get(key)
        if type(zs) is not ZSet or not zs.dict:
            return None
        if db.expires and db.lookup(key) is None:
            return None
        llen = len(zs.dict)
        try:
            reply, _ = zpop_on(c, db, key, zs, where, True, count, nested)
        except CommandError as e:
            return e.reply
        prop = [_POP_NAMES[where], key]
        if count != -1:
            prop.append(b"%d" % (count if count < llen else llen))
        c.server.propagate(db.id, prop)
        return reply
    return serve


def blocking_zpop(c: Client, keys, where, timeout_arg, count, nested):
    """blockingGenericZpopCommand."""
    timeout = parse_timeout(timeout_arg)
    db: Database = c.db
    for key in keys:
        v = db.lookup(key)
        if v is None:
            continue
        if type(v) is not ZSet:
            raise CommandError(WRONGTYPE)
        if not v.dict:
            continue
        llen = len(v.dict)
        reply, _ = zpop_on(c, db, key, v, where, True, count, nested)
        prop = [_POP_NAMES[where], key]
        if count != -1:
            prop.append(b"%d" % (count if count < llen else llen))
        c.prop_override = [prop]
        return reply
    return block(c, keys, timeout, _make_serve(where, count, nested), c.r.null_array)


@command("bzpopmin")
def bzpopmin(c: Client, argv):
    return blocking_zpop(c, argv[1:-1], 0, argv[-1], -1, False)


@command("bzpopmax")
def bzpopmax(c: Client, argv):
    return blocking_zpop(c, argv[1:-1], 1, argv[-1], -1, False)


def _zmpop_generic(c: Client, argv, numkeys_idx, is_block):
    numkeys = parse_ll(argv[numkeys_idx])
    if numkeys is None or numkeys < 1:
        raise CommandError("ERR numkeys should be greater than 0")
    where_idx = numkeys_idx + numkeys + 1
    n = len(argv)
    if where_idx >= n:
        raise CommandError(SYNTAX)
    w = argv[where_idx].lower()
    if w == b"min":
        where = 0
    elif w == b"max":
        where = 1
    else:
        raise CommandError(SYNTAX)
    count = -1
    j = where_idx + 1
    while j < n:
        if count == -1 and argv[j].lower() == b"count" and n - 1 - j > 0:
            j += 1
            count = parse_ll(argv[j])
            if count is None or count < 1:
                raise CommandError("ERR count should be greater than 0")
        else:
            raise CommandError(SYNTAX)
        j += 1
    if count == -1:
        count = 1
    keys = argv[numkeys_idx + 1:where_idx]
    if is_block:
        return blocking_zpop(c, keys, where, argv[1], count, True)
    reply, key, popped = zpop_generic(c, keys, where, True, count, True, True)
    if key is not None:
        c.prop_override = [[_POP_NAMES[where], key, b"%d" % popped]]
    return reply


@command("zmpop")
def zmpop(c: Client, argv):
    return _zmpop_generic(c, argv, 1, False)


@command("bzmpop")
def bzmpop(c: Client, argv):
    return _zmpop_generic(c, argv, 2, True)


# -- ZRANDMEMBER --------------------------------------------------------------------------
def _zrandmember_count(c: Client, zs, l, withscores):
    if l >= 0:
        count = l
        uniq = True
    else:
        count = -l
        uniq = False
    if count == 0:
        return EMPTY_ARRAY
    size = len(zs.dict)
    at = zs.at
    if not uniq or count == 1:
        rnd = random.randrange
        if count > 1000:
            # in batches: a reply over the output buffer limits stops the loop
            from ..clientmem import random_reply
            return random_reply(c, count, lambda n: reply_items(
                c, [at(rnd(size)) for _ in range(n)], withscores))
        items = [at(rnd(size)) for _ in range(count)]
        return reply_items(c, items, withscores)
    if count >= size:
        # CASE 2: the whole set, as zuiNext walks it (from the tail: highest rank first)
        items = zs.range(0, size)
        items.reverse()
        return reply_items(c, items, withscores)
    idx = random.sample(range(size), count)
    if count * 3 > size:
        idx.sort()   # CASE 3 replies in the order of the remaining elements
    return reply_items(c, [at(i) for i in idx], withscores)


@command("zrandmember")
def zrandmember(c: Client, argv):
    n = len(argv)
    if n >= 3:
        l = parse_ll(argv[2])
        if l is None:
            raise CommandError(NOT_INTEGER)
        if l < -LONG_MAX:
            raise CommandError("ERR value is out of range, value must between "
                               "-9223372036854775807 and 9223372036854775807")
        if n > 4 or (n == 4 and argv[3].lower() != b"withscores"):
            raise CommandError(SYNTAX)
        withscores = n == 4
        if withscores and (l < -(LONG_MAX // 2) or l > LONG_MAX // 2):
            raise CommandError("ERR value is out of range")
        zs = _lookup_read(c, argv[1])
        if zs is None:
            return EMPTY_ARRAY
        return _zrandmember_count(c, zs, l, withscores)
    zs = _lookup_read(c, argv[1])
    if zs is None:
        return c.r.null
    m = zs.at(random.randrange(len(zs.dict)))[1]
    return b"$%d\r\n%s\r\n" % (len(m), m)


# -- ZSCAN --------------------------------------------------------------------------------
@command("zscan")
def zscan(c: Client, argv):
    cursor = _scan.parse_cursor(argv[2])
    zs = _lookup_read(c, argv[1])
    if zs is None:
        return EMPTY_SCAN
    count, match, _ = _scan.parse_scan_options(argv, 3, allow_type=False)
    d = zs.dict
    out = []
    if zs.listpack:
        for m, s in zs.items():
            if match is None or match(m):
                out.append(m)
                out.append(d2string(s))
        return _scan.scan_reply(0, out)
    nxt, members = _scan.scan_dict(d, cursor, count, match)
    for m in members:
        out.append(m)
        out.append(ld2string(d[m]))
    return _scan.scan_reply(nxt, out)
