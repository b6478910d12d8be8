"""String commands (t_string.c): GET, SET and its variants, GETEX, GETDEL, GETSET, MGET,
MSET, MSETNX, APPEND, STRLEN, INCR/DECR family, INCRBYFLOAT, GETRANGE/SUBSTR, SETRANGE, LCS.

Strings are stored as bytes. OBJECT ENCODING is computed from the value as Redis's
tryObjectEncoding would pick it (int / embstr / raw); values that Redis keeps in another
encoding than that (APPEND and SETRANGE make 'raw' strings, INCRBYFLOAT an 'embstr' even
when it looks like an integer) are remembered by identity in _ENC (mark_encoding).
"""
from __future__ import annotations   # (the compiled build types the annotated names)

import sys
from fractions import Fraction

from ..longdouble import format_long_double, parse_long_double, round_ld

from .. import hooks
from ..db import ENCODING_FUNCS, lfu_touch
from ..errors import (CommandError, SYNTAX, NOT_INTEGER, NOT_FLOAT, WRONGTYPE,
                      WRONGTYPE_REPLY, NOT_INTEGER_REPLY)
from ..resp.encode import OK, ZERO, ONE, EMPTY_BULK, BULK_HEADS, integer, bulk, bulks
from ..util import DECIMAL, SMALL_LL, parse_ll
from . import keys as _keys
from .table import command

LLONG_MAX = (1 << 63) - 1
LLONG_MIN = -(1 << 63)
NOTIFY_GENERIC = 1 << 2
NOTIFY_STRING = 1 << 3
SHARED_INTEGERS = 10000
EMBSTR_LIMIT = 44
_OVERFLOW_REPLY = b"-ERR increment or decrement would overflow\r\n"
_STRING_TOO_BIG = "ERR string exceeds maximum allowed size (proto-max-bulk-len)"


# -- encodings (OBJECT ENCODING / REFCOUNT) ------------------------------------------------
_ENC = {}          # id(value) -> (value, encoding) for values not in their computed encoding
_enc_purged = [0]


def mark_encoding(v, enc):
    """Remember that the stored string v is in encoding enc (b'raw' after an in-place
    change such as APPEND/SETRANGE/SETBIT, b'embstr' for INCRBYFLOAT results). Only
    needed when enc differs from what string_encoding computes."""
    n = len(v)
    if n <= 1 or (n > EMBSTR_LIMIT and enc == b"raw"):
        return   # 1-byte bytes are interpreter singletons; long strings are raw anyway
    _ENC[id(v)] = (v, enc)


def mark_raw(v):
    mark_encoding(v, b"raw")


def string_encoding(v):
    e = _ENC.get(id(v)) if _ENC else None
    if e is not None and e[0] is v:
        return e[1]
    n = len(v)
    if n <= 20 and parse_ll(v) is not None:
        return b"int"
    return b"embstr" if n <= EMBSTR_LIMIT else b"raw"


def _shared_integers_allowed(srv):
    v = srv.config.values
    return not v["maxmemory"] or not v["maxmemory-policy"].endswith(("-lru", "-lfu"))


def string_refcount(srv, v):
    if string_encoding(v) == b"int" and _shared_integers_allowed(srv):
        n = parse_ll(v)
        if 0 <= n < SHARED_INTEGERS:
            return 2147483647   # OBJ_SHARED_REFCOUNT
    return 1


ENCODING_FUNCS[bytes] = string_encoding
_keys.refcount_funcs[bytes] = string_refcount


# -- DEBUG OBJECT addresses ----------------------------------------------------------------
# A string's "at:" address is id() of its bytes, except that INCR/DECR change an unshared
# int-encoded value in place (incrDecrCommand keeps the robj, so its address stays). Only
# once DEBUG OBJECT has been used (ADDR_TRACKING) does INCR remember, in _ADDR, id(new
# value) -> (new value, anchor): the anchor is the bytes object whose id is the address, kept
# alive so that no other object gets its id. The counters' hot path pays nothing otherwise.
_ADDR = {}
ADDR_TRACKING = False


def _anchor(v):
    e = _ADDR.get(id(v)) if _ADDR else None
    return e[1] if e is not None and e[0] is v else v


def object_address(v):
    """The address DEBUG OBJECT shows for a stored value (enables the tracking)."""
    global ADDR_TRACKING
    ADDR_TRACKING = True
    return id(_anchor(v))


# INCR/DECR results in [0, SHARED_INTEGERS) are one bytes object per value (util.DECIMAL),
# as Redis shares its integer objects (createStringObjectFromLongLongForValue): no
# formatting, and a stored counter parses with one dict lookup (util.SMALL_LL). Nothing
# marks them (mark_encoding only sees fresh results); OBJECT REFCOUNT answers for them as
# Redis does, and DEBUG OBJECT shows one address per value. Where Redis would not share (a
# maxmemory LRU/LFU policy) only an address can tell, so the check waits until DEBUG
# OBJECT has been used (ADDR_TRACKING).


def _incr_in_place(srv, old, new, new_bytes):
    """incrDecrCommand's in-place case: the old object is not shared, int-encoded, and the
    new value is not a shared integer."""
    if ((new < 0 or new >= SHARED_INTEGERS or not _shared_integers_allowed(srv))
            and string_encoding(old) == b"int" and string_refcount(srv, old) == 1):
        _ADDR[id(new_bytes)] = (new_bytes, _anchor(old))


def _purge_marks(marks, purged):
    n = len(marks)
    if n > 256 and n > 2 * purged[0]:
        getrc = sys.getrefcount
        for k, e in list(marks.items()):
            if getrc(e[0]) <= 2:   # only the tuple and getrefcount's argument
                del marks[k]
        purged[0] = len(marks)


_addr_purged = [0]


def _purge_encodings(srv):
    """Forget marks of values no longer stored anywhere (only our dict refers to them)."""
    _purge_marks(_ENC, _enc_purged)
    _purge_marks(_ADDR, _addr_purged)


hooks.server_init.append(lambda srv: srv.cron_hooks.append(_purge_encodings))


# -- helpers -------------------------------------------------------------------------------
def _notify_set(srv, key, dbid):
    if srv.notify_flags & NOTIFY_STRING:
        srv.notify(NOTIFY_STRING, b"set", key, dbid)


def _notify(srv, cls, event, key, dbid):
    if srv.notify_flags & cls:
        srv.notify(cls, event, key, dbid)


def _set_key(db, key, value, keepttl=False):
    """setKey: lookupKeyWrite (reclaims an expired key first), then set."""
    if db.expires and key in db.expires:
        db.lookup(key)
    db.set(key, value, keepttl)


def _signal(db, key):
    """signalModifiedKey after an in-place change."""
    if db.watched or db.server.key_modified_hook is not None:
        db.touch(key)


def _check_len(srv, size, append):
    if size + append > srv.config.values["proto-max-bulk-len"]:
        raise CommandError(_STRING_TOO_BIG)


def _get_string(c, key):
    """getGenericCommand's lookup: value or None, WRONGTYPE for other types."""
    v = c.db.lookup_read(key)
    if v is not None and type(v) is not bytes:
        raise CommandError(WRONGTYPE)
    return v


# -- GET / SET family ----------------------------------------------------------------------
@command("get")
def get(c: Client, argv):
    v = c.db.lookup_read(argv[1])
    if v is None:
        return c.r.null
    if type(v) is not bytes:
        return WRONGTYPE_REPLY
    n = len(v)
    if n < 1024:    # bulk(v), inline
        return b"".join((BULK_HEADS[n], v, b"\r\n"))
    return b"$%d\r\n%s\r\n" % (n, v)


F_NX, F_XX, F_EX, F_PX, F_KEEPTTL, F_GET, F_EXAT, F_PXAT, F_PERSIST = (
    1, 2, 4, 8, 16, 32, 64, 128, 256)
_EXPIRES = F_EX | F_PX | F_EXAT | F_PXAT


def _parse_extended(argv, j, is_set):
    """parseExtendedStringArgumentsOrReply: (flags, expire argument or None)."""
    flags = 0
    expire = None
    n = len(argv)
    while j < n:
        opt = argv[j].lower()
        has_next = j < n - 1
        if opt == b"nx" and not flags & F_XX and is_set:
            flags |= F_NX
        elif opt == b"xx" and not flags & F_NX and is_set:
            flags |= F_XX
        elif opt == b"get" and is_set:
            flags |= F_GET
        elif (opt == b"keepttl" and not flags & (F_PERSIST | _EXPIRES) and is_set):
            flags |= F_KEEPTTL
        elif (opt == b"persist" and not is_set
              and not flags & (_EXPIRES | F_KEEPTTL)):
            flags |= F_PERSIST
        elif opt == b"ex" and not flags & (F_KEEPTTL | F_PERSIST | F_EXAT | F_PX | F_PXAT) \
                and has_next:
            flags |= F_EX
            expire = argv[j + 1]
            j += 1
        elif opt == b"px" and not flags & (F_KEEPTTL | F_PERSIST | F_EX | F_EXAT | F_PXAT) \
                and has_next:
            flags |= F_PX
            expire = argv[j + 1]
            j += 1
        elif opt == b"exat" and not flags & (F_KEEPTTL | F_PERSIST | F_EX | F_PX | F_PXAT) \
                and has_next:
            flags |= F_EXAT
            expire = argv[j + 1]
            j += 1
        elif opt == b"pxat" and not flags & (F_KEEPTTL | F_PERSIST | F_EX | F_EXAT | F_PX) \
                and has_next:
            flags |= F_PXAT
            expire = argv[j + 1]
            j += 1
        else:
            raise CommandError(SYNTAX)
        j += 1
    return flags, expire


def _expire_ms(c, arg, flags, name):
    """getExpireMillisecondsOrReply: the absolute expiry in ms."""
    ms = parse_ll(arg)
    if ms is None:
        raise CommandError(NOT_INTEGER)
    seconds = flags & (F_EX | F_EXAT)
    if ms <= 0 or (seconds and ms > LLONG_MAX // 1000):
        raise CommandError("ERR invalid expire time in '%s' command" % name)
    if seconds:
        ms *= 1000
    if flags & (F_EX | F_PX):
        ms += c.server.time_ms()
    if ms > LLONG_MAX:
        raise CommandError("ERR invalid expire time in '%s' command" % name)
    return ms


def _set_generic(c, flags, key, val, expire, name, ok_reply=OK, abort_reply=None,
                 argv=None):
    ms = _expire_ms(c, expire, flags, name) if expire is not None else 0
    reply = None
    if flags & F_GET:
        old = _get_string(c, key)
        reply = c.r.null if old is None else bulk(old)
    db: Database = c.db
    found = db.lookup(key) is not None
    if (flags & F_NX and found) or (flags & F_XX and not found):
        if reply is not None:
            return reply
        return abort_reply if abort_reply is not None else c.r.null
    db.set(key, val, flags & F_KEEPTTL)
    srv: RedisServer = c.server
    srv.dirty += 1
    _notify_set(srv, key, db.id)
    if expire is not None:
        db.set_expire(key, ms)
        c.prop_override = [[b"SET", key, val, b"PXAT", b"%d" % ms]]
        _notify(srv, NOTIFY_GENERIC, b"expire", key, db.id)
    elif flags & F_GET:
        c.prop_override = [[a for i, a in enumerate(argv) if i < 3 or a.lower() != b"get"]]
    return reply if reply is not None else ok_reply


@command("set")
def set_(c: Client, argv):
    db: Database
    srv: RedisServer
    if len(argv) == 3:
        # the common case: SET key value
        db = c.db
        key = argv[1]
        if db.expires and key in db.expires:
            db.lookup(key)
        db.set(key, argv[2])
        srv = c.server
        srv.dirty += 1
        if srv.notify_flags & NOTIFY_STRING:
            srv.notify(NOTIFY_STRING, b"set", key, db.id)
        return OK
    flags, expire = _parse_extended(argv, 3, True)
    return _set_generic(c, flags, argv[1], argv[2], expire, "set", argv=argv)


@command("setnx")
def setnx(c, argv):
    return _set_generic(c, F_NX, argv[1], argv[2], None, "setnx", ONE, ZERO)


@command("setex")
def setex(c, argv):
    return _set_generic(c, F_EX, argv[1], argv[3], argv[2], "setex")


@command("psetex")
def psetex(c, argv):
    return _set_generic(c, F_PX, argv[1], argv[3], argv[2], "psetex")


@command("getex")
def getex(c, argv):
    flags, expire = _parse_extended(argv, 2, False)
    db: Database = c.db
    key = argv[1]
    v = db.lookup_read(key)
    if v is None:
        return c.r.null
    if type(v) is not bytes:
        raise CommandError(WRONGTYPE)
    ms = _expire_ms(c, expire, flags, "getex") if expire is not None else 0
    reply = bulk(v)
    srv: RedisServer = c.server
    if flags & (F_PXAT | F_EXAT) and _keys.already_expired(srv, ms):
        db.delete(key)
        c.prop_override = [[b"UNLINK" if srv.lazyfree_expire else b"DEL", key]]
        _signal(db, key)
        _notify(srv, NOTIFY_GENERIC, b"del", key, db.id)
        srv.dirty += 1
    elif expire is not None:
        db.set_expire(key, ms)
        c.prop_override = [[b"PEXPIREAT", key, b"%d" % ms]]
        db.touch(key)
        _notify(srv, NOTIFY_GENERIC, b"expire", key, db.id)
        srv.dirty += 1
    elif flags & F_PERSIST:
        if db.persist(key):
            db.touch(key)
            c.prop_override = [[b"PERSIST", key]]
            _notify(srv, NOTIFY_GENERIC, b"persist", key, db.id)
            srv.dirty += 1
    return reply


@command("getdel")
def getdel(c, argv):
    key = argv[1]
    v = _get_string(c, key)
    if v is None:
        return c.r.null
    db: Database = c.db
    srv: RedisServer = c.server
    if db.delete(key):
        lazy = srv.config.values["lazyfree-lazy-user-del"]
        c.prop_override = [[b"UNLINK" if lazy else b"DEL", key]]
        _signal(db, key)
        _notify(srv, NOTIFY_GENERIC, b"del", key, db.id)
        srv.dirty += 1
    return bulk(v)


@command("getset")
def getset(c, argv):
    key = argv[1]
    v = _get_string(c, key)
    db: Database = c.db
    _set_key(db, key, argv[2])
    srv: RedisServer = c.server
    _notify_set(srv, key, db.id)
    srv.dirty += 1
    c.prop_override = [[b"SET", key, argv[2]]]
    return c.r.null if v is None else bulk(v)


@command("mget")
def mget(c, argv):
    if len(argv) > 8:
        reply = _mget_many(c, argv)
        if reply is not None:
            return reply
    lookup = c.db.lookup_read
    null = c.r.null
    out = [b"*%d\r\n" % (len(argv) - 1)]
    for key in argv[1:]:
        v = lookup(key)
        if v is None or type(v) is not bytes:
            out.append(null)
        else:
            out.append(b"$%d\r\n%s\r\n" % (len(v), v))
    return b"".join(out)


def _mget_many(c, argv):
    """MGET of many keys none of which can have expired (no TTL): each lookupKeyRead is a
    get, a hit or miss count and an LRU clock update, done here for all keys at C speed.
    None (having done nothing) when that does not hold, or when a key is missing or not a
    string (the loop in mget() makes those replies)."""
    db: Database = c.db
    srv: RedisServer = c.server
    keys = argv[1:]
    if srv.lfu_mode or srv.notify_flags & 2048 or (      # NOTIFY_KEY_MISS
            db.expires and not db.expires.keys().isdisjoint(keys)):
        return None
    vals = list(map(db.data.get, keys))
    if not all(map(bytes.__instancecheck__, vals)):      # a missing key (None) too
        return None
    srv.stat_keyspace_hits += len(vals)
    lru = db.lru
    clock = srv.lru_clock
    for key in keys:        # (dict stores beat lru.update(dict.fromkeys(...)) here)
        lru[key] = clock
    return bulks(b"*%d\r\n" % len(keys), vals)


def _mset_generic(c: Client, argv, nx):
    db: Database
    srv: RedisServer
    n = len(argv)
    if n % 2 == 0:
        raise CommandError("ERR wrong number of arguments for '%s' command"
                           % ("msetnx" if nx else "mset"))
    db = c.db
    if nx:
        for j in range(1, n, 2):
            if db.lookup(argv[j]) is not None:
                return ZERO
    srv = c.server
    if srv.notify_flags & NOTIFY_STRING or not db.set_plain(argv[1::2], argv[2::2]):
        for j in range(1, n, 2):
            key = argv[j]
            _set_key(db, key, argv[j + 1])
            _notify_set(srv, key, db.id)
    srv.dirty += (n - 1) // 2
    return ONE if nx else OK


@command("mset")
def mset(c, argv):
    return _mset_generic(c, argv, False)


@command("msetnx")
def msetnx(c, argv):
    return _mset_generic(c, argv, True)


# -- APPEND / STRLEN / GETRANGE / SETRANGE -------------------------------------------------
@command("append")
def append(c, argv):
    db: Database = c.db
    key = argv[1]
    v = db.lookup(key)
    srv: RedisServer = c.server
    if v is None:
        new = argv[2]
        db.add(key, new)
    else:
        if type(v) is not bytes:
            raise CommandError(WRONGTYPE)
        add = argv[2]
        _check_len(srv, len(v), len(add))
        new = v + add if add else bytes(bytearray(v))   # a fresh (raw) object
        db.data[key] = new
        mark_encoding(new, b"raw")
    _signal(db, key)
    _notify(srv, NOTIFY_STRING, b"append", key, db.id)
    srv.dirty += 1
    return integer(len(new))


@command("strlen")
def strlen(c, argv):
    v = c.db.lookup_read(argv[1])
    if v is None:
        return ZERO
    if type(v) is not bytes:
        raise CommandError(WRONGTYPE)
    return integer(len(v))


def _getrange(c, argv):
    start = parse_ll(argv[2])
    end = parse_ll(argv[3]) if start is not None else None
    if start is None or end is None:
        raise CommandError(NOT_INTEGER)
    v = c.db.lookup_read(argv[1])
    if v is None:
        return EMPTY_BULK
    if type(v) is not bytes:
        raise CommandError(WRONGTYPE)
    n = len(v)
    if start < 0 and end < 0 and start > end:
        return EMPTY_BULK
    if start < 0:
        start += n
    if end < 0:
        end += n
    if start < 0:
        start = 0
    if end < 0:
        end = 0
    if end >= n:
        end = n - 1
    if start > end or n == 0:
        return EMPTY_BULK
    return bulk(v[start:end + 1])


@command("getrange")
def getrange(c, argv):
    return _getrange(c, argv)


@command("substr")
def substr(c, argv):
    return _getrange(c, argv)


@command("setrange")
def setrange(c, argv):
    offset = parse_ll(argv[2])
    if offset is None:
        raise CommandError(NOT_INTEGER)
    if offset < 0:
        raise CommandError("ERR offset is out of range")
    value = argv[3]
    db: Database = c.db
    key = argv[1]
    srv: RedisServer = c.server
    v = db.lookup(key)
    if v is None:
        if not value:
            return ZERO
        _check_len(srv, offset, len(value))
        new = b"\x00" * offset + value
        db.add(key, new)
    else:
        if type(v) is not bytes:
            raise CommandError(WRONGTYPE)
        if not value:
            return integer(len(v))
        _check_len(srv, offset, len(value))
        n = len(v)
        if offset > n:
            new = v + b"\x00" * (offset - n) + value
        else:
            new = v[:offset] + value + v[offset + len(value):]
        db.data[key] = new
    mark_encoding(new, b"raw")
    _signal(db, key)
    _notify(srv, NOTIFY_STRING, b"setrange", key, db.id)
    srv.dirty += 1
    return integer(len(new))


# -- INCR / DECR family --------------------------------------------------------------------
def _incrby(c: Client, key, incr):
    """incrDecrCommand. The hot path (benchmarked) inlines db.lookup's work."""
    db: Database = c.db
    srv: RedisServer
    v = db.data.get(key)
    if v is not None and db.expires and key in db.expires:
        v = db.lookup(key)   # may reclaim an expired key
    srv = db.server
    if v is None:
        new = incr
        db.add(key, DECIMAL[new] if 0 <= new < SHARED_INTEGERS else b"%d" % new)
    else:
        if type(v) is not bytes:
            return WRONGTYPE_REPLY
        old = SMALL_LL(v)
        if old is None:
            if v.isdigit() and len(v) < 19 and (v[0] != 48 or len(v) == 1):
                old = int(v)
            else:
                old = parse_ll(v)
                if old is None:
                    return NOT_INTEGER_REPLY
        new = old + incr
        if 0 <= new < SHARED_INTEGERS and (not ADDR_TRACKING or _shared_integers_allowed(srv)):
            db.data[key] = DECIMAL[new]
        else:
            if new > LLONG_MAX or new < LLONG_MIN:
                return _OVERFLOW_REPLY
            nv = db.data[key] = b"%d" % new
            if ADDR_TRACKING:
                _incr_in_place(srv, v, new, nv)
        if srv.lfu_mode:
            lfu_touch(db, key)
        else:
            db.lru[key] = srv.lru_clock
        if db.watched or srv.key_modified_hook is not None:
            db.touch(key)
    if srv.notify_flags & NOTIFY_STRING:
        srv.notify(NOTIFY_STRING, b"incrby", key, db.id)
    srv.dirty += 1
    return integer(new)


@command("incr")
def incr(c, argv):
    return _incrby(c, argv[1], 1)


@command("decr")
def decr(c, argv):
    return _incrby(c, argv[1], -1)


@command("incrby")
def incrby(c, argv):
    n = parse_ll(argv[2])
    if n is None:
        return NOT_INTEGER_REPLY
    return _incrby(c, argv[1], n)


@command("decrby")
def decrby(c, argv):
    n = parse_ll(argv[2])
    if n is None:
        return NOT_INTEGER_REPLY
    if n == LLONG_MIN:
        raise CommandError("ERR decrement would overflow")
    return _incrby(c, argv[1], -n)


@command("incrbyfloat")
def incrbyfloat(c, argv):
    db: Database = c.db
    key = argv[1]
    v = db.lookup(key)
    if v is not None and type(v) is not bytes:
        raise CommandError(WRONGTYPE)
    cur = parse_long_double(v) if v is not None else Fraction(0)
    inc = parse_long_double(argv[2]) if cur is not None else None
    if cur is None or inc is None:
        raise CommandError(NOT_FLOAT)
    res = None
    if isinstance(cur, Fraction) and isinstance(inc, Fraction):   # not +-inf
        res = round_ld(cur + inc)
    if res is None:
        raise CommandError("ERR increment would produce NaN or Infinity")
    new = format_long_double(res)
    if v is None:
        db.add(key, new)
    else:
        db.data[key] = new
        _signal(db, key)
    if len(new) <= 20 and parse_ll(new) is not None:
        mark_encoding(new, b"embstr")
    srv: RedisServer = c.server
    _notify(srv, NOTIFY_STRING, b"incrbyfloat", key, db.id)
    srv.dirty += 1
    c.prop_override = [[b"SET", key, new, b"KEEPTTL"]]
    return bulk(new)


# -- LCS -----------------------------------------------------------------------------------
@command("lcs")
def lcs(c, argv):
    db: Database = c.db
    a = db.lookup_read(argv[1])
    b = db.lookup_read(argv[2])
    if (a is not None and type(a) is not bytes) or (b is not None and type(b) is not bytes):
        raise CommandError("ERR The specified keys must contain string values")
    a = a or b""
    b = b or b""
    getlen = getidx = withmatchlen = False
    minmatchlen = 0
    j = 3
    n = len(argv)
    while j < n:
        opt = argv[j].lower()
        if opt == b"idx":
            getidx = True
        elif opt == b"len":
            getlen = True
        elif opt == b"withmatchlen":
            withmatchlen = True
        elif opt == b"minmatchlen" and j < n - 1:
            minmatchlen = parse_ll(argv[j + 1])
            if minmatchlen is None:
                raise CommandError(NOT_INTEGER)
            if minmatchlen < 0:
                minmatchlen = 0
            j += 1
        else:
            raise CommandError(SYNTAX)
        j += 1
    if getlen and getidx:
        raise CommandError("ERR If you want both the length and indexes, please just use "
                           "IDX.")
    alen, blen = len(a), len(b)
    if alen >= 0xFFFFFFFF - 1 or blen >= 0xFFFFFFFF - 1:
        raise CommandError("ERR String too long for LCS")
    if (alen + 1) * (blen + 1) * 4 > c.server.config.values["proto-max-bulk-len"]:
        raise CommandError("ERR Insufficient memory, transient memory for LCS exceeds "
                           "proto-max-bulk-len")
    computelcs = getidx or not getlen
    rows = _lcs_rows(a, b, computelcs)
    full = blen - (rows[-1]).bit_count() if blen else 0
    if not computelcs:
        return integer(full)
    # walk back from (alen, blen) exactly as Redis does
    masks = {}

    def L(i, jj):
        # LCS(a[:i], b[:jj]) = zeros among the low jj bits of row i
        if i == 0 or jj == 0:
            return 0
        m = masks.get(jj)
        if m is None:
            m = masks[jj] = (1 << jj) - 1
        return jj - (rows[i] & m).bit_count()

    idx = full
    result = bytearray(idx)
    matches = []
    i, jj = alen, blen
    a_start = alen   # alen means "no range yet"
    a_end = b_start = b_end = 0
    while i > 0 and jj > 0:
        emit = False
        if a[i - 1] == b[jj - 1]:
            result[idx - 1] = a[i - 1]
            if a_start == alen:
                a_start = a_end = i - 1
                b_start = b_end = jj - 1
            elif a_start == i and b_start == jj:
                a_start -= 1
                b_start -= 1
            else:
                emit = True
            if a_start == 0 or b_start == 0:
                emit = True
            idx -= 1
            i -= 1
            jj -= 1
        else:
            if L(i - 1, jj) > L(i, jj - 1):
                i -= 1
            else:
                jj -= 1
            if a_start != alen:
                emit = True
        if emit:
            mlen = a_end - a_start + 1
            if minmatchlen == 0 or mlen >= minmatchlen:
                if getidx:
                    m = [b"*%d\r\n" % (3 if withmatchlen else 2),
                         b"*2\r\n", integer(a_start), integer(a_end),
                         b"*2\r\n", integer(b_start), integer(b_end)]
                    if withmatchlen:
                        m.append(integer(mlen))
                    matches.append(b"".join(m))
            a_start = alen
    if getidx:
        r = c.r
        return r.map([(bulk(b"matches"), b"*%d\r\n" % len(matches) + b"".join(matches)),
                      (bulk(b"len"), integer(full))])
    return bulk(bytes(result))


def _lcs_rows(a, b, keep):
    """Bit-parallel LCS (Allison-Dix / Hyyro): row i is a bit vector over b whose zero
    bits among the low j bits count LCS(a[:i], b[:j]). Returns every row if keep, else
    just the last one."""
    blen = len(b)
    full = (1 << blen) - 1
    pm = {}
    for j, ch in enumerate(b):
        pm[ch] = pm.get(ch, 0) | (1 << j)
    v = full
    rows = [v] if keep else None
    for ch in a:
        u = v & pm.get(ch, 0)
        v = ((v + u) | (v - u)) & full
        if keep:
            rows.append(v)
    return rows if keep else [v]
