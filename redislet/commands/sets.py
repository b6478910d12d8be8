"""Set commands: SADD, SREM, SCARD, SISMEMBER, SMISMEMBER, SMEMBERS, SPOP, SRANDMEMBER,
SMOVE, SINTER, SINTERCARD, SINTERSTORE, SUNION, SUNIONSTORE, SDIFF, SDIFFSTORE, SSCAN
(and the HSCAN/SSCAN scanner shared with hashes).

A set is an `RSet` (a Python set of member bytes). Its `ht` flag mirrors Redis 7.0's
encoding: False while Redis keeps an intset (only canonical integers, at most
set-max-intset-entries members; iterated in ascending numeric order, as an intset is),
True once converted to a hash table (one way, as in Redis).
"""
from __future__ import annotations   # (the compiled build types the annotated names)

import itertools
import random

from .table import command
from .. import db as _db
from .. import dictmodel
from ..errors import CommandError, WRONGTYPE, SYNTAX, NOT_INTEGER
from ..scan import parse_cursor, parse_scan_options, scan_dict, scan_reply
from ..resp.encode import ZERO, ONE, EMPTY_ARRAY, array, bulks, integer
from ..config import NOTIFY_SET
from ..util import parse_ll

LONG_MAX = (1 << 63) - 1
EMPTY_SCAN = b"*2\r\n$1\r\n0\r\n*0\r\n"


class RSet(set):
    """A set value. `ht` is True once Redis would have converted it to a hash table."""
    __slots__ = ("ht",)

    def copy(self):
        s = RSet(self)
        s.ht = self.ht
        return s


_db.TYPE_NAMES[RSet] = b"set"


def set_encoding(s):
    return b"hashtable" if s.ht else b"intset"


_db.ENCODING_FUNCS[RSet] = set_encoding


def _max_intset(cfg):
    m = cfg["set-max-intset-entries"]
    return m if m < (1 << 30) else (1 << 30)


def _needs_ht(members, cfg):
    """True unless an intset could hold members (all canonical integers, few enough)."""
    if len(members) > _max_intset(cfg):
        return True
    for m in members:
        if parse_ll(m) is None:
            return True
    return False


def make_set(members, cfg):
    """An RSet with the encoding Redis picks for a freshly built set (RDB load, RESTORE,
    SINTERSTORE...): intset when every member is an integer and they are few enough."""
    s = RSet(members)
    s.ht = _needs_ht(s, cfg)
    return s


def _ordered(s):
    """Members in Redis's iteration order where it is defined (intset: ascending)."""
    return s if s.ht else sorted(s, key=int)


def _set_reply(r, members):
    return bulks(r.set_header(len(members)), members)


# DEBUG HTSTATS-KEY's model of the dict of a set (redislet/dictmodel.py): the dict
# operations of the commands below, once a set has a model
_FAIR_STEPS = 15          # dictGetFairRandomKey -> dictGetSomeKeys(15): a rehash step each


def _dm_add(srv, s, members):
    dm = dictmodel.get(s) if s is not None else None
    if dm is not None:
        seen = set()
        for m in members:
            dm.add(srv, m, m not in s and m not in seen)
            seen.add(m)


def _dm_steps(srv, s, n):
    dm = dictmodel.get(s)
    if dm is not None:
        dm.steps(srv, n)


def _random_member(s):
    return next(itertools.islice(iter(s), random.randrange(len(s)), None))


def _read_set(c: Client, key):
    s = c.db.lookup_read(key)
    if s is not None and type(s) is not RSet:
        raise CommandError(WRONGTYPE)
    return s


def _add_members(s, members, cfg):
    """setTypeAdd for each member; returns how many were new."""
    n0 = len(s)
    if len(members) == 1:
        s.add(members[0])
    else:
        s.update(members)
    added = len(s) - n0
    if added and not s.ht:
        if len(s) > _max_intset(cfg):
            s.ht = True
        else:
            for m in members:
                if parse_ll(m) is None:
                    s.ht = True
                    break
    return added


# -- writes ---------------------------------------------------------------------------

@command("sadd")
def sadd(c: Client, argv):
    db: Database = c.db
    key = argv[1]
    s = db.lookup(key)
    if s is None:
        s = RSet()
        s.ht = parse_ll(argv[2]) is None
        db.add(key, s)
    elif type(s) is not RSet:
        raise CommandError(WRONGTYPE)
    if dictmodel._models:
        _dm_add(c.server, s, argv[2:])
    n0 = len(s)
    if len(argv) == 3:
        s.add(argv[2])
    else:
        s.update(itertools.islice(argv, 2, None))
    added = len(s) - n0
    if added:
        if not s.ht:
            cfg = c.server.config.values
            if len(s) > _max_intset(cfg):
                s.ht = True
            else:
                for m in itertools.islice(argv, 2, None):
                    if parse_ll(m) is None:
                        s.ht = True
                        break
        srv: RedisServer = c.server
        if db.watched or srv.key_modified_hook is not None:
            db.touch(key)
        if srv.notify_flags & NOTIFY_SET:
            srv.notify(NOTIFY_SET, b"sadd", key, db.id)
        srv.dirty += added
    return integer(added)


@command("srem")
def srem(c: Client, argv):
    db: Database = c.db
    key = argv[1]
    s = db.lookup(key)
    if s is None:
        return ZERO
    if type(s) is not RSet:
        raise CommandError(WRONGTYPE)
    deleted = 0
    removed = False
    dm = dictmodel.get(s) if dictmodel._models else None
    for m in itertools.islice(argv, 2, None):
        if dm is not None:
            if m in s:
                dm.delete(c.server, m)
            else:
                dm.steps(c.server, 1)
        if m in s:
            s.remove(m)
            deleted += 1
            if not s:
                db.delete(key)
                removed = True
                break
    if deleted:
        srv: RedisServer = c.server
        if db.watched or srv.key_modified_hook is not None:
            db.touch(key)
        if srv.notify_flags & NOTIFY_SET:
            srv.notify(NOTIFY_SET, b"srem", key, db.id)
        if removed:
            srv.notify(srv.NOTIFY_GENERIC, b"del", key, db.id)
        srv.dirty += deleted
    return integer(deleted)


@command("smove")
def smove(c: Client, argv):
    db: Database = c.db
    srckey, dstkey, ele = argv[1], argv[2], argv[3]
    src = db.lookup(srckey)
    dst = db.lookup(dstkey)
    if src is None:
        return ZERO
    if type(src) is not RSet or (dst is not None and type(dst) is not RSet):
        raise CommandError(WRONGTYPE)
    if src is dst:
        return ONE if ele in src else ZERO
    if ele not in src:
        return ZERO
    srv: RedisServer = c.server
    if dictmodel._models:
        dm = dictmodel.get(src)
        if dm is not None:
            dm.delete(srv, ele)
        _dm_add(srv, dst, [ele])
    src.remove(ele)
    srv.notify(srv.NOTIFY_SET, b"srem", srckey, db.id)
    if not src:
        db.delete(srckey)
        srv.notify(srv.NOTIFY_GENERIC, b"del", srckey, db.id)
    if dst is None:
        dst = RSet()
        dst.ht = parse_ll(ele) is None
        db.add(dstkey, dst)
    db.touch(srckey)
    srv.dirty += 1
    if _add_members(dst, [ele], srv.config.values):
        srv.dirty += 1
        db.touch(dstkey)
        srv.notify(srv.NOTIFY_SET, b"sadd", dstkey, db.id)
    return ONE


@command("spop")
def spop(c: Client, argv):
    if len(argv) == 3:
        return _spop_count(c, argv)
    if len(argv) > 3:
        raise CommandError(SYNTAX)
    db: Database = c.db
    key = argv[1]
    s = db.lookup(key)
    if s is None:
        return c.r.null
    if type(s) is not RSet:
        raise CommandError(WRONGTYPE)
    ele = _random_member(s)
    if dictmodel._models:
        dm = dictmodel.get(s)
        if dm is not None:
            dm.delete(c.server, ele)
    s.remove(ele)
    srv: RedisServer = c.server
    srv.notify(srv.NOTIFY_SET, b"spop", key, db.id)
    c.prop_override = [[b"SREM", key, ele]]
    if not s:
        db.delete(key)
        srv.notify(srv.NOTIFY_GENERIC, b"del", key, db.id)
    db.touch(key)
    srv.dirty += 1
    return b"$%d\r\n%s\r\n" % (len(ele), ele)


def _spop_count(c: Client, argv):
    count = parse_ll(argv[2])
    if count is None or count < 0:
        raise CommandError("ERR value is out of range, must be positive")
    db: Database = c.db
    key = argv[1]
    s = db.lookup(key)
    if s is None:
        return c.r.set_header(0)
    if type(s) is not RSet:
        raise CommandError(WRONGTYPE)
    if count == 0:
        return c.r.set_header(0)
    srv: RedisServer = c.server
    cfg = srv.config.values
    size = len(s)
    srv.notify(srv.NOTIFY_SET, b"spop", key, db.id)
    if count >= size:
        srv.dirty += size
        srv.stat_keyspace_hits += 1   # the reply comes from SUNION's lookupKeyRead
        members = s if _needs_ht(s, cfg) else sorted(s, key=int)
        reply = _set_reply(c.r, members)
        db.delete(key)
        srv.notify(srv.NOTIFY_GENERIC, b"del", key, db.id)
        c.prop_override = [[b"DEL", key]]
        db.touch(key)
        return reply
    srv.dirty += count
    remaining = size - count
    popped = random.sample(list(s), count)
    if dictmodel._models:
        dm = dictmodel.get(s)
        if dm is not None:
            for m in popped:
                dm.delete(srv, m)
    s.difference_update(popped)
    if remaining * 5 <= count:
        # Redis rebuilds the set from the remaining members (its encoding is recomputed)
        # and replies with the popped ones in the old set's order
        if not s.ht:
            popped.sort(key=int)
        s.ht = _needs_ht(s, cfg)
    c.prop_override = [[b"SREM", key, m] for m in popped]
    db.touch(key)
    return _set_reply(c.r, popped)


# -- reads ----------------------------------------------------------------------------

@command("scard")
def scard(c: Client, argv):
    s = _read_set(c, argv[1])
    return ZERO if s is None else integer(len(s))


@command("sismember")
def sismember(c: Client, argv):
    s = _read_set(c, argv[1])
    if s is None:
        return ZERO
    if dictmodel._models:
        _dm_steps(c.server, s, 1)          # dictFind
    return ONE if argv[2] in s else ZERO


@command("smismember")
def smismember(c: Client, argv):
    s = _read_set(c, argv[1])
    parts = [b"*%d\r\n" % (len(argv) - 2)]
    if s is None:
        parts.append(ZERO * (len(argv) - 2))
    else:
        if dictmodel._models:
            _dm_steps(c.server, s, len(argv) - 2)
        parts.extend([ONE if m in s else ZERO for m in itertools.islice(argv, 2, None)])
    return b"".join(parts)


@command("srandmember")
def srandmember(c: Client, argv):
    if len(argv) == 3:
        return _srandmember_count(c, argv)
    if len(argv) > 3:
        raise CommandError(SYNTAX)
    s = _read_set(c, argv[1])
    if s is None:
        return c.r.null
    if dictmodel._models:
        _dm_steps(c.server, s, _FAIR_STEPS)
    m = _random_member(s)
    return b"$%d\r\n%s\r\n" % (len(m), m)


def _srandmember_count(c: Client, argv):
    l = parse_ll(argv[2])
    if l is None:
        raise CommandError(NOT_INTEGER)
    if l < -LONG_MAX:
        raise CommandError("ERR value is out of range, value must between "
                           "-9223372036854775807 and 9223372036854775807")
    s = _read_set(c, argv[1])
    if s is None:
        return EMPTY_ARRAY
    if l >= 0:
        count, uniq = l, True
    else:
        count, uniq = -l, False
    if count == 0:
        return EMPTY_ARRAY
    if dictmodel._models and (not uniq or count * 3 <= len(s)):
        # one dictGetFairRandomKey per element returned (SRANDMEMBER's cases 1 and 4)
        _dm_steps(c.server, s, _FAIR_STEPS * count)
    if not uniq or count == 1:
        if count == 1:
            return array([_random_member(s)])
        if count > 1000:
            # in batches: a reply over the output buffer limits stops the loop
            from ..clientmem import random_reply
            members = list(s)
            return random_reply(c, count, lambda n: array(
                random.choices(members, k=n)))
        return array(random.choices(list(s), k=count))
    if count >= len(s):
        return array(_ordered(s))
    return array(random.sample(list(s), count))


def _lookup_sets(c: Client, keys):
    """The sets at keys for SINTER*/SUNION*/SDIFF* (None for missing keys); WRONGTYPE if
    any key holds another type."""
    db: Database = c.db
    out = []
    for k in keys:
        s = db.lookup_read(k)
        if s is not None and type(s) is not RSet:
            raise CommandError(WRONGTYPE)
        out.append(s)
    return out


def _inter(sets):
    """Intersection of non-empty sets, in the order Redis iterates the smallest one."""
    sets = sorted(sets, key=len)
    first = sets[0]
    others = [s for s in sets[1:] if s is not first]
    res = first.intersection(*others) if others else set(first)
    if first.ht:
        return list(res)
    return sorted(res, key=int)


@command("smembers")
def smembers(c: Client, argv):
    s = _read_set(c, argv[1])
    if s is None:
        return c.r.set_header(0)
    return _set_reply(c.r, _ordered(s))


@command("sinter")
def sinter(c: Client, argv):
    sets = _lookup_sets(c, argv[1:])
    if None in sets:
        return c.r.set_header(0)
    return _set_reply(c.r, _inter(sets))


@command("sintercard")
def sintercard(c: Client, argv):
    numkeys = parse_ll(argv[1])
    if numkeys is None or numkeys < 1:
        raise CommandError("ERR numkeys should be greater than 0")
    if numkeys > len(argv) - 2:
        raise CommandError("ERR Number of keys can't be greater than number of args")
    limit = 0
    j = 2 + numkeys
    argc = len(argv)
    while j < argc:
        if argv[j].lower() == b"limit" and argc - 1 - j > 0:
            j += 1
            limit = parse_ll(argv[j])
            if limit is None or limit < 0:
                raise CommandError("ERR LIMIT can't be negative")
        else:
            raise CommandError(SYNTAX)
        j += 1
    sets = _lookup_sets(c, argv[2:2 + numkeys])
    if None in sets:
        return ZERO
    sets.sort(key=len)
    first = sets[0]
    others = [s for s in sets[1:] if s is not first]
    if not limit:
        return integer(len(first.intersection(*others)) if others else len(first))
    n = 0
    for m in first:
        for s in others:
            if m not in s:
                break
        else:
            n += 1
            if n >= limit:
                break
    return integer(n)


def _store(c: Client, dstkey, members, event):
    """Store a computed set at dstkey (or delete dstkey when empty); reply the size."""
    db: Database = c.db
    srv: RedisServer = c.server
    if members:
        s = make_set(members, srv.config.values)
        db.set(dstkey, s)
        db.touch(dstkey)
        srv.notify(srv.NOTIFY_SET, event, dstkey, db.id)
        srv.dirty += 1
        return integer(len(s))
    if db.delete(dstkey):
        srv.dirty += 1
        db.touch(dstkey)
        srv.notify(srv.NOTIFY_GENERIC, b"del", dstkey, db.id)
    return ZERO


@command("sinterstore")
def sinterstore(c: Client, argv):
    sets = _lookup_sets(c, argv[2:])
    if None in sets:
        return _store(c, argv[1], (), b"sinterstore")
    return _store(c, argv[1], _inter(sets), b"sinterstore")


def _union_diff(c: Client, keys, diff):
    """sunionDiffGenericCommand: (members in Redis's result order, result set ht flag)."""
    sets = _lookup_sets(c, keys)
    cfg = c.server.config.values
    first = sets[0]
    if not diff:
        res = set()
        res.update(*[s for s in sets if s is not None])
        ht = _needs_ht(res, cfg)
    elif first is None or any(s is first for s in sets[1:]):
        return [], False
    else:
        others = [s for s in sets[1:] if s is not None]
        res = first.difference(*others)
        algo_one = (len(first) * (len(others) + 1)) // 2
        algo_two = len(first) + sum(len(s) for s in others)
        if algo_one <= algo_two:
            ht = _needs_ht(res, cfg)
        else:
            ht = _needs_ht(first, cfg)   # algorithm 2 adds the whole first set first
    if ht:
        return list(res), True
    return sorted(res, key=int), False


@command("sunion")
def sunion(c: Client, argv):
    return _set_reply(c.r, _union_diff(c, argv[1:], False)[0])


@command("sdiff")
def sdiff(c: Client, argv):
    return _set_reply(c.r, _union_diff(c, argv[1:], True)[0])


def _store_union_diff(c: Client, argv, diff, event):
    members, ht = _union_diff(c, argv[2:], diff)
    db: Database = c.db
    srv: RedisServer = c.server
    dstkey = argv[1]
    if members:
        s = RSet(members)
        s.ht = ht
        db.set(dstkey, s)
        db.touch(dstkey)
        srv.notify(srv.NOTIFY_SET, event, dstkey, db.id)
        srv.dirty += 1
        return integer(len(s))
    if db.delete(dstkey):
        srv.dirty += 1
        db.touch(dstkey)
        srv.notify(srv.NOTIFY_GENERIC, b"del", dstkey, db.id)
    return ZERO


@command("sunionstore")
def sunionstore(c: Client, argv):
    return _store_union_diff(c, argv, False, b"sunionstore")


@command("sdiffstore")
def sdiffstore(c: Client, argv):
    return _store_union_diff(c, argv, True, b"sdiffstore")


# -- SSCAN / HSCAN --------------------------------------------------------------------

def scan_container(c: Client, argv, cls):
    """HSCAN / SSCAN key cursor [MATCH pattern] [COUNT count] (scanGenericCommand)."""
    cursor = parse_cursor(argv[2])
    o = c.db.lookup_read(argv[1])
    if o is None:
        return EMPTY_SCAN
    if type(o) is not cls:
        raise CommandError(WRONGTYPE)
    count, match, _ = parse_scan_options(argv, 3)
    if not o.ht:
        # listpack / intset: everything in one call, cursor 0
        cursor = 0
        keys = list(o) if cls is not RSet else sorted(o, key=int)
        if match is not None:
            keys = [k for k in keys if match(k)]
    else:
        cursor, keys = scan_dict(o, cursor, count, match)
    if cls is not RSet:
        out = []
        for k in keys:
            out.append(k)
            out.append(o[k])
        keys = out
    return scan_reply(cursor, keys)


@command("sscan")
def sscan(c: Client, argv):
    return scan_container(c, argv, RSet)
