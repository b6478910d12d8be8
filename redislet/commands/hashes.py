"""Hash commands: HSET, HSETNX, HGET, HMGET, HMSET, HDEL, HLEN, HSTRLEN, HEXISTS, HKEYS,
HVALS, HGETALL, HINCRBY, HINCRBYFLOAT, HRANDFIELD, HSCAN.

A hash is a `Hash` (a dict of field bytes -> value bytes). Its `ht` flag mirrors Redis's
encoding: False while Redis would keep a listpack (few, short entries; iteration follows
insertion order, as a listpack does), True once converted to a hash table (one way, as in
Redis). HINCRBYFLOAT computes in x87 80-bit long double like Redis (see the ld_* helpers).
"""
from __future__ import annotations   # (the compiled build types the annotated names)

import itertools
import random
from fractions import Fraction

from ..longdouble import format_long_double, parse_long_double, round_ld

from .table import command
from .. import db as _db
from ..errors import CommandError, WRONGTYPE, SYNTAX, NOT_INTEGER, wrong_args
from ..resp.encode import OK, ZERO, ONE, EMPTY_ARRAY, array, bulk, bulks, integer
from ..config import NOTIFY_HASH
from ..util import parse_ll

LONG_MAX = (1 << 63) - 1
LONG_MIN = -(1 << 63)


class Hash(dict):
    """A hash value. `ht` is True once Redis would have converted it to a hash table."""
    __slots__ = ("ht",)

    def copy(self):
        h = Hash(self)
        h.ht = self.ht
        return h


_db.TYPE_NAMES[Hash] = b"hash"


def new_hash(ht=False):
    h = Hash()
    h.ht = ht
    return h


def make_hash(pairs, cfg):
    """A Hash from field -> value pairs with the encoding Redis picks when it builds one
    (RDB load, RESTORE): listpack unless too many entries or a too long field/value."""
    h = Hash(pairs)
    maxv = cfg["hash-max-listpack-value"]
    h.ht = len(h) > cfg["hash-max-listpack-entries"] or any(
        len(f) > maxv or len(v) > maxv for f, v in h.items())
    return h


def hash_encoding(h):
    return b"hashtable" if h.ht else b"listpack"


_db.ENCODING_FUNCS[Hash] = hash_encoding


def _write_hash(c: Client, key):
    """hashTypeLookupWriteOrCreate: the hash at key, created (listpack) when missing."""
    db: Database = c.db
    h = db.lookup(key)
    if h is None:
        h = Hash()
        h.ht = False
        db.add(key, h)
        return h
    if type(h) is not Hash:
        raise CommandError(WRONGTYPE)
    return h


def _read_hash(c: Client, key):
    h = c.db.lookup_read(key)
    if h is not None and type(h) is not Hash:
        raise CommandError(WRONGTYPE)
    return h


def _set_one(h, cfg, field, value):
    """hashTypeSet for HINCRBY*: converts first when the field/value is too long."""
    if not h.ht:
        maxv = cfg["hash-max-listpack-value"]
        if len(field) > maxv or len(value) > maxv:
            h.ht = True
    h[field] = value
    if not h.ht and len(h) > cfg["hash-max-listpack-entries"]:
        h.ht = True


def _modified(c: Client, key, event, dirty):
    srv: RedisServer = c.server
    _signal(srv, c.db, key, event)
    srv.dirty += dirty


def _signal(srv, db, key, event):
    """signalModifiedKey and the keyspace event, each behind the test its call would make
    first (most writes need neither)."""
    if db.watched or srv.key_modified_hook is not None:
        db.touch(key)
    if srv.notify_flags & NOTIFY_HASH:
        srv.notify(NOTIFY_HASH, event, key, db.id)


# -- writes ---------------------------------------------------------------------------

def _hset_generic(c: Client, argv, name):
    n = len(argv)
    if n & 1:
        raise wrong_args(name)
    db: Database = c.db
    key = argv[1]
    h = db.lookup(key)
    if h is None:
        h = Hash()
        h.ht = False
        db.add(key, h)
    elif type(h) is not Hash:
        raise CommandError(WRONGTYPE)
    if n == 4:
        f = argv[2]
        v = argv[3]
        if not h.ht:
            cfg = c.server.config.values
            maxv = cfg["hash-max-listpack-value"]
            if len(f) > maxv or len(v) > maxv:
                h.ht = True
            created = f not in h
            h[f] = v
            if created and len(h) > cfg["hash-max-listpack-entries"]:
                h.ht = True
        else:
            created = f not in h
            h[f] = v
        created = 1 if created else 0
    else:
        before = len(h)
        if not h.ht:
            cfg = c.server.config.values
            maxv = cfg["hash-max-listpack-value"]
            for a in itertools.islice(argv, 2, None):
                if len(a) > maxv:
                    h.ht = True
                    break
        for i in range(2, n, 2):
            h[argv[i]] = argv[i + 1]
        created = len(h) - before
        if not h.ht and len(h) > c.server.config.values["hash-max-listpack-entries"]:
            h.ht = True
    srv: RedisServer = c.server
    _signal(srv, db, key, b"hset")
    srv.dirty += (n - 2) >> 1
    return created


@command("hset")
def hset(c: Client, argv):
    if len(argv) != 4:
        return integer(_hset_generic(c, argv, "hset"))
    db: Database = c.db
    key = argv[1]
    h = db.lookup(key)
    if h is None or type(h) is not Hash or not h.ht:
        return integer(_hset_generic(c, argv, "hset"))
    # hot path: one pair into a hash-table hash
    n0 = len(h)
    h[argv[2]] = argv[3]
    srv: RedisServer = c.server
    if db.watched or srv.key_modified_hook is not None:
        db.touch(key)
    if srv.notify_flags & NOTIFY_HASH:
        srv.notify(NOTIFY_HASH, b"hset", key, db.id)
    srv.dirty += 1
    return ONE if len(h) != n0 else ZERO


@command("hmset")
def hmset(c: Client, argv):
    _hset_generic(c, argv, "hmset")
    return OK


@command("hsetnx")
def hsetnx(c: Client, argv):
    key = argv[1]
    h = _write_hash(c, key)
    f = argv[2]
    if f in h:
        return ZERO
    _set_one(h, c.server.config.values, f, argv[3])
    _modified(c, key, b"hset", 1)
    return ONE


@command("hdel")
def hdel(c: Client, argv):
    key = argv[1]
    db: Database = c.db
    h = db.lookup(key)
    if h is None:
        return ZERO
    if type(h) is not Hash:
        raise CommandError(WRONGTYPE)
    deleted = 0
    removed = False
    for f in itertools.islice(argv, 2, None):
        if h.pop(f, None) is not None:
            deleted += 1
            if not h:
                db.delete(key)
                removed = True
                break
    if deleted:
        srv: RedisServer = c.server
        _signal(srv, db, key, b"hdel")
        if removed:
            srv.notify(srv.NOTIFY_GENERIC, b"del", key, db.id)
        srv.dirty += deleted
    return integer(deleted)


@command("hincrby")
def hincrby(c: Client, argv):
    incr = parse_ll(argv[3])
    if incr is None:
        raise CommandError(NOT_INTEGER)
    key = argv[1]
    h = _write_hash(c, key)
    field = argv[2]
    cur = h.get(field)
    if cur is not None:
        value = parse_ll(cur)
        if value is None:
            raise CommandError("ERR hash value is not an integer")
    else:
        value = 0
    value += incr
    if not LONG_MIN <= value <= LONG_MAX:
        raise CommandError("ERR increment or decrement would overflow")
    _set_one(h, c.server.config.values, field, b"%d" % value)
    _modified(c, key, b"hincrby", 1)
    return integer(value)


@command("hincrbyfloat")
def hincrbyfloat(c: Client, argv):
    incr = parse_long_double(argv[3])
    if incr is None:
        raise CommandError("ERR value is not a valid float")
    if not isinstance(incr, Fraction):
        raise CommandError("ERR value is NaN or Infinity")
    key = argv[1]
    h = _write_hash(c, key)
    field = argv[2]
    cur = h.get(field)
    if cur is not None:
        value = parse_long_double(cur)
        if value is None:
            raise CommandError("ERR hash value is not a float")
        if not isinstance(value, Fraction):
            raise CommandError("ERR increment would produce NaN or Infinity")
    else:
        value = 0
    total = round_ld(value + incr)
    if total is None:
        raise CommandError("ERR increment would produce NaN or Infinity")
    out = format_long_double(total)
    _set_one(h, c.server.config.values, field, out)
    _modified(c, key, b"hincrbyfloat", 1)
    c.prop_override = [[b"HSET", key, field, out]]
    return bulk(out)


# -- reads ----------------------------------------------------------------------------

@command("hget")
def hget(c: Client, argv):
    h = c.db.lookup_read(argv[1])
    if h is None:
        return c.r.null
    if type(h) is not Hash:
        raise CommandError(WRONGTYPE)
    v = h.get(argv[2])
    if v is None:
        return c.r.null
    return b"$%d\r\n%s\r\n" % (len(v), v)


@command("hmget")
def hmget(c: Client, argv):
    h = _read_hash(c, argv[1])
    null = c.r.null
    parts = [b"*%d\r\n" % (len(argv) - 2)]
    if h is None:
        parts.append(null * (len(argv) - 2))
    else:
        get = h.get
        for f in itertools.islice(argv, 2, None):
            v = get(f)
            parts.append(null if v is None else b"$%d\r\n%s\r\n" % (len(v), v))
    return b"".join(parts)


@command("hlen")
def hlen(c: Client, argv):
    h = _read_hash(c, argv[1])
    return ZERO if h is None else integer(len(h))


@command("hstrlen")
def hstrlen(c: Client, argv):
    h = _read_hash(c, argv[1])
    if h is None:
        return ZERO
    v = h.get(argv[2])
    return ZERO if v is None else integer(len(v))


@command("hexists")
def hexists(c: Client, argv):
    h = _read_hash(c, argv[1])
    if h is None:
        return ZERO
    return ONE if argv[2] in h else ZERO


@command("hkeys")
def hkeys(c: Client, argv):
    h = _read_hash(c, argv[1])
    if h is None:
        return EMPTY_ARRAY
    return array(h)


@command("hvals")
def hvals(c: Client, argv):
    h = _read_hash(c, argv[1])
    if h is None:
        return EMPTY_ARRAY
    return array(h.values())


@command("hgetall")
def hgetall(c: Client, argv):
    h = _read_hash(c, argv[1])
    if h is None:
        return c.r.map_header(0)
    return bulks(c.r.map_header(len(h)), list(itertools.chain.from_iterable(h.items())))


def _random_field(h):
    """A uniformly random field of a non-empty hash."""
    return next(itertools.islice(iter(h), random.randrange(len(h)), None))


@command("hrandfield")
def hrandfield(c: Client, argv):
    argc = len(argv)
    if argc >= 3:
        l = parse_ll(argv[2])
        if l is None:
            raise CommandError(NOT_INTEGER)
        if l < -LONG_MAX:
            raise CommandError("ERR value is out of range, value must between "
                               "-9223372036854775807 and 9223372036854775807")
        withvalues = False
        if argc > 4 or (argc == 4 and argv[3].lower() != b"withvalues"):
            raise CommandError(SYNTAX)
        if argc == 4:
            withvalues = True
            if l < -(LONG_MAX // 2) or l > LONG_MAX // 2:
                raise CommandError("ERR value is out of range")
        return _hrandfield_count(c, argv[1], l, withvalues)
    h = _read_hash(c, argv[1])
    if h is None:
        return c.r.null
    f = _random_field(h)
    return b"$%d\r\n%s\r\n" % (len(f), f)


def _pairs_reply(c: Client, items, withvalues):
    """Reply for HRANDFIELD's (field, value) items: flat in RESP2, pairs in RESP3."""
    if not withvalues:
        parts = [b"*%d\r\n" % len(items)]
        parts.extend([b"$%d\r\n%s\r\n" % (len(f), f) for f, _ in items])
    elif c.resp == 2:
        parts = [b"*%d\r\n" % (2 * len(items))]
        parts.extend([b"$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(f), f, len(v), v)
                      for f, v in items])
    else:
        parts = [b"*%d\r\n" % len(items)]
        parts.extend([b"*2\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(f), f, len(v), v)
                      for f, v in items])
    return b"".join(parts)


def _hrandfield_count(c: Client, key, l, withvalues):
    h = _read_hash(c, key)
    if h is None:
        return EMPTY_ARRAY
    size = len(h)
    if l >= 0:
        count = l
        uniq = True
    else:
        count = -l
        uniq = False
    if count == 0:
        return EMPTY_ARRAY
    if not uniq or count == 1:
        # CASE 1: repetitions allowed, random order
        if count == 1:
            f = _random_field(h)
            return _pairs_reply(c, [(f, h[f])], withvalues)
        items = list(h.items())
        if count > 1000:
            # in batches: a reply over the output buffer limits stops the loop
            from ..clientmem import random_reply
            return random_reply(c, count, lambda n: _pairs_reply(
                c, random.choices(items, k=n), withvalues))
        return _pairs_reply(c, random.choices(items, k=count), withvalues)
    if count >= size:
        # CASE 2: the whole hash, in its order
        return _pairs_reply(c, list(h.items()), withvalues)
    items = list(h.items())
    if not h.ht and count * 3 <= size:
        # listpack CASE 4: unique random pairs, in listpack order
        idx = sorted(random.sample(range(size), count))
        return _pairs_reply(c, [items[i] for i in idx], withvalues)
    return _pairs_reply(c, random.sample(items, count), withvalues)


@command("hscan")
def hscan(c: Client, argv):
    from . import sets
    return sets.scan_container(c, argv, Hash)
