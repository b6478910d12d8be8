"""Generic keyspace commands: DEL, UNLINK, EXISTS, TYPE, KEYS, SCAN, RANDOMKEY, RENAME,
RENAMENX, COPY, MOVE, SWAPDB, FLUSHDB, FLUSHALL, DBSIZE, TOUCH, the EXPIRE family, TTL
family, PERSIST and OBJECT (db.c, expire.c, object.c)."""
from .. import db as _db
from .. import hooks
from ..db import (TYPE_NAMES, ENCODING_FUNCS, update_lru_clock, lfu_decr_and_return,
                  idle_ms)
from ..errors import CommandError, SYNTAX, NOT_INTEGER, NO_SUCH_KEY, INVALID_DB
from ..glob import compile_glob
from ..resp.encode import OK, ZERO, ONE, NEG_ONE, NEG_TWO, integer, bulk, array
from ..scan import parse_cursor, parse_scan_options, scan_dict, scan_reply, drop_cache
from ..util import parse_ll
from .help import help_reply
from .table import command

LLONG_MAX = (1 << 63) - 1
LLONG_MIN = -(1 << 63)
INT_MIN = -(1 << 31)
INT_MAX = (1 << 31) - 1

NOTIFY_GENERIC = 1 << 2

SAME_OBJECT = "ERR source and destination objects are the same"

# db.COPY_FUNCS: class -> fn(value) -> independent copy (COPY); without an entry,
# value.copy() is used (immutable values such as bytes are shared).
COPY_FUNCS = _db.COPY_FUNCS

# callables(srv, dbid) run after FLUSHDB (dbid) / FLUSHALL (dbid -1) emptied the data:
# persistence (FLUSHALL saves the RDB when save points are set), client tracking...
flush_hooks = []

# OBJECT ENCODING defaults for type names without an ENCODING_FUNCS entry
_DEFAULT_ENCODING = {b"string": b"raw", b"list": b"quicklist", b"set": b"hashtable",
                     b"zset": b"skiplist", b"hash": b"hashtable", b"stream": b"stream"}


def _notify(srv, event, key, dbid):
    if srv.notify_flags & NOTIFY_GENERIC:
        srv.notify(NOTIFY_GENERIC, event, key, dbid)


def type_name(v):
    """getObjectTypeName for a live value."""
    return TYPE_NAMES.get(type(v), b"unknown")


def _get_int(arg, msg=NOT_INTEGER):
    """getIntFromObjectOrReply."""
    v = parse_ll(arg)
    if v is None:
        raise CommandError(msg)
    if not INT_MIN <= v <= INT_MAX:
        raise CommandError(msg if msg is not NOT_INTEGER else
                           "ERR value is out of range, value must between -2147483648 and "
                           "2147483647")
    return v


def _cluster(c):
    return c.server.config.values.get("cluster-enabled")


# -- per-server setup: the access clock for OBJECT IDLETIME / FREQ ------------------------
def _server_init(srv):
    update_lru_clock(srv)
    srv.cron_hooks.append(update_lru_clock)
    srv.config.on_change("maxmemory-policy", lambda _v: update_lru_clock(srv))


hooks.server_init.append(_server_init)


# -- DEL / UNLINK / EXISTS / TYPE / TOUCH -------------------------------------------------
def _del_generic(c, argv, lazy=False):
    db = c.db
    srv = c.server
    n = 0
    for key in argv[1:]:
        if db.expires:
            db.lookup(key)   # expireIfNeeded
        if db.delete(key, lazy):
            if not db.watched:
                db.touch(key)   # db.delete only signals watchers; tracking needs the rest
            _notify(srv, b"del", key, db.id)
            srv.dirty += 1
            n += 1
    return integer(n)


@command("del")
def del_(c, argv):
    return _del_generic(c, argv, c.server.config.values["lazyfree-lazy-user-del"])


@command("unlink")
def unlink(c, argv):
    return _del_generic(c, argv, True)


@command("exists")
def exists(c, argv):
    db = c.db
    n = 0
    for key in argv[1:]:
        if db.lookup_read(key, False) is not None:
            n += 1
    return integer(n)


@command("type")
def type_(c, argv):
    v = c.db.lookup_read(argv[1], False)
    if v is None:
        return b"+none\r\n"
    return b"+" + type_name(v) + b"\r\n"


@command("touch")
def touch(c, argv):
    db = c.db
    n = 0
    for key in argv[1:]:
        if db.lookup_read(key) is not None:
            n += 1
    return integer(n)


@command("dbsize")
def dbsize(c, argv):
    return integer(len(c.db.data))


# -- KEYS / SCAN / RANDOMKEY ----------------------------------------------------------------
@command("keys")
def keys(c, argv):
    db = c.db
    pat = argv[1]
    data = db.data
    if pat == b"*":
        found = list(data)
    else:
        found = list(filter(compile_glob(pat), data))
    expires = db.expires
    if expires and found:
        srv = db.server
        if not srv.loading:
            now = srv.time_ms()
            found = [k for k in found if not (k in expires and expires[k] < now)]
    return array(found)


@command("scan")
def scan(c, argv):
    cursor = parse_cursor(argv[1])
    count, match, typename = parse_scan_options(argv, 2, allow_type=True)
    db = c.db
    nxt, found = scan_dict(db.data, cursor, count, match)
    if found and (typename is not None or db.expires):
        out = []
        for k in found:
            if typename is not None:
                # Redis reads the type first (an expired key reads as "none", and is
                # then no longer expired for the filter below)
                v = db.lookup_read(k, False)
                if (b"none" if v is None else type_name(v)) != typename:
                    continue
                out.append(k)
                continue
            elif db.peek(k) is None:   # expireIfNeeded
                continue
            out.append(k)
        found = out
    return scan_reply(nxt, found)


@command("randomkey")
def randomkey(c, argv):
    key = c.db.random_key()
    return c.r.null if key is None else bulk(key)


# -- RENAME / MOVE / COPY / SWAPDB --------------------------------------------------------
def _rename(c, argv, nx):
    db = c.db
    src, dst = argv[1], argv[2]
    v = db.lookup(src)
    if v is None:
        raise CommandError(NO_SUCH_KEY)
    if src == dst:
        return ZERO if nx else OK
    when = db.expires.get(src) if db.expires else None
    lru = db.access_clock(src)
    if db.lookup(dst) is not None:
        if nx:
            return ZERO
        db.delete(dst)
    db.add(dst, v)
    if lru is not None:
        db.lru[dst] = lru
    if when is not None:
        db.set_expire(dst, when)
    db.delete(src)
    db.touch(src)
    db.touch(dst)
    srv = c.server
    _notify(srv, b"rename_from", src, db.id)
    _notify(srv, b"rename_to", dst, db.id)
    srv.dirty += 1
    return ONE if nx else OK


@command("rename")
def rename(c, argv):
    return _rename(c, argv, False)


@command("renamenx")
def renamenx(c, argv):
    return _rename(c, argv, True)


@command("move")
def move(c, argv):
    if _cluster(c):
        raise CommandError("ERR MOVE is not allowed in cluster mode")
    srv = c.server
    src = c.db
    dbid = _get_int(argv[2])
    if not 0 <= dbid < len(srv.dbs):
        raise CommandError(INVALID_DB)
    dst = srv.dbs[dbid]
    if dst is src:
        raise CommandError(SAME_OBJECT)
    key = argv[1]
    v = src.lookup(key)
    if v is None:
        return ZERO
    when = src.expires.get(key) if src.expires else None
    if dst.lookup(key) is not None:
        return ZERO
    lru = src.access_clock(key)
    dst.add(key, v)
    if lru is not None:
        dst.lru[key] = lru
    if when is not None:
        dst.set_expire(key, when)
    src.delete(key)
    src.touch(key)
    dst.touch(key)
    _notify(srv, b"move_from", key, src.id)
    _notify(srv, b"move_to", key, dst.id)
    srv.dirty += 1
    return ONE


def copy_value(v):
    """A deep copy of a value for COPY (per-type hook, or the value's copy() method)."""
    fn = COPY_FUNCS.get(type(v))
    if fn is not None:
        return fn(v)
    if type(v) is bytes:
        return v
    cp = getattr(v, "copy", None)
    return cp() if cp is not None else v


@command("copy")
def copy_(c, argv):
    srv = c.server
    src = dst = c.db
    replace = False
    j = 3
    n = len(argv)
    while j < n:
        opt = argv[j].lower()
        if opt == b"replace":
            replace = True
        elif opt == b"db" and j + 1 < n:
            dbid = _get_int(argv[j + 1])
            if not 0 <= dbid < len(srv.dbs):
                raise CommandError(INVALID_DB)
            dst = srv.dbs[dbid]
            j += 1
        else:
            raise CommandError(SYNTAX)
        j += 1
    if _cluster(c) and (src.id != 0 or dst.id != 0):
        raise CommandError("ERR Copying to another database is not allowed in cluster mode")
    key, newkey = argv[1], argv[2]
    if src is dst and key == newkey:
        raise CommandError(SAME_OBJECT)
    v = src.lookup_read(key)
    if v is None:
        return ZERO
    when = src.expires.get(key) if src.expires else None
    delete = False
    if dst.lookup(newkey) is not None:
        if not replace:
            return ZERO
        delete = True
    newv = copy_value(v)
    if delete:
        dst.delete(newkey)
    dst.add(newkey, newv)
    if when is not None:
        dst.set_expire(newkey, when)
    dst.touch(newkey)
    _notify(srv, b"copy_to", newkey, dst.id)
    srv.dirty += 1
    return ONE


@command("swapdb")
def swapdb(c, argv):
    if _cluster(c):
        raise CommandError("ERR SWAPDB is not allowed in cluster mode")
    id1 = _get_int(argv[1], "ERR invalid first DB index")
    id2 = _get_int(argv[2], "ERR invalid second DB index")
    srv = c.server
    dbs = srv.dbs
    if not (0 <= id1 < len(dbs) and 0 <= id2 < len(dbs)):
        raise CommandError(INVALID_DB)
    if id1 != id2:
        db1, db2 = dbs[id1], dbs[id2]
        db1.touch_all_watched(db2)
        db2.touch_all_watched(db1)
        # scanDatabaseForDeletedStreams: a stream that clients (XREADGROUP) block on and
        # that the swap takes away wakes them (they get the "no longer exists" error)
        for old, new in ((db1, db2), (db2, db1)):
            if old.blocking:
                for key in old.blocking:
                    if (type(old.data.get(key)) in _db.SIGNAL_ON_DELETE
                            and type(new.data.get(key)) not in _db.SIGNAL_ON_DELETE):
                        srv.ready_keys.append((old, key))
        for a in ("data", "expires", "lru", "lru_base", "avg_ttl", "expire_cursor", "expire_scan"):
            x, y = getattr(db1, a), getattr(db2, a)
            setattr(db1, a, y)
            setattr(db2, a, x)
        # clients blocked on keys that now exist in their db may be served
        for db in (db1, db2):
            if db.blocking:
                for key in db.blocking:
                    if key in db.data:
                        srv.ready_keys.append((db, key))
    srv.dirty += 1
    return OK


# -- FLUSHDB / FLUSHALL ---------------------------------------------------------------------
def _flush_lazy(c, argv):
    """getFlushCommandFlags: ASYNC, SYNC, or lazyfree-lazy-user-flush."""
    if len(argv) == 2:
        opt = argv[1].lower()
        if opt in (b"sync", b"async"):
            return opt == b"async"
    elif len(argv) == 1:
        return c.server.config.values["lazyfree-lazy-user-flush"]
    raise CommandError(SYNTAX)


@command("flushdb")
def flushdb(c, argv):
    lazy = _flush_lazy(c, argv)
    srv = c.server
    srv.dirty += c.db.clear(lazy)
    drop_cache()
    for hook in flush_hooks:
        hook(srv, c.db.id)
    c.prop_override = [argv]   # forceCommandPropagation: even when already empty
    return OK


@command("flushall")
def flushall(c, argv):
    lazy = _flush_lazy(c, argv)
    srv = c.server
    removed = 0
    for db in srv.dbs:
        removed += db.clear(lazy)
    srv.dirty += removed
    drop_cache()
    for hook in flush_hooks:
        hook(srv, -1)
    c.prop_override = [argv]
    return OK


# -- EXPIRE family ------------------------------------------------------------------------
def _expire_generic(c, argv, basetime, seconds, name):
    key = argv[1]
    nx = xx = gt = lt = False
    for opt in argv[3:]:
        o = opt.lower()
        if o == b"nx":
            nx = True
        elif o == b"xx":
            xx = True
        elif o == b"gt":
            gt = True
        elif o == b"lt":
            lt = True
        else:
            raise CommandError("ERR Unsupported option %s"
                               % opt.decode("utf-8", "surrogateescape"))
    if nx and (xx or gt or lt):
        raise CommandError("ERR NX and XX, GT or LT options at the same time are not "
                           "compatible")
    if gt and lt:
        raise CommandError("ERR GT and LT options at the same time are not compatible")
    when = parse_ll(argv[2])
    if when is None:
        raise CommandError(NOT_INTEGER)
    if seconds:
        if when > LLONG_MAX // 1000 or when < -(-LLONG_MIN // 1000):
            raise CommandError("ERR invalid expire time in '%s' command" % name)
        when *= 1000
    if basetime is not None:
        now = c.server.time_ms()
        if when > LLONG_MAX - now:
            raise CommandError("ERR invalid expire time in '%s' command" % name)
        when += now
    db = c.db
    if db.lookup(key) is None:
        return ZERO
    if nx or xx or gt or lt:
        cur = db.expires.get(key)
        if nx and cur is not None:
            return ZERO
        if xx and cur is None:
            return ZERO
        if gt and (cur is None or when <= cur):
            return ZERO
        if lt and cur is not None and when >= cur:
            return ZERO
    srv = c.server
    if already_expired(srv, when):
        db.delete(key)
        srv.dirty += 1
        c.prop_override = [[b"UNLINK" if srv.lazyfree_expire else b"DEL", key]]
        db.touch(key)
        _notify(srv, b"del", key, db.id)
        return ONE
    db.set_expire(key, when)
    prop = list(argv)
    if name != "pexpireat":
        prop[0] = b"PEXPIREAT"
    if basetime is not None or seconds:
        prop[2] = b"%d" % when
    c.prop_override = [prop]
    db.touch(key)
    _notify(srv, b"expire", key, db.id)
    srv.dirty += 1
    return ONE


def already_expired(srv, when):
    """checkAlreadyExpired: a past expiry deletes the key, except while loading and on
    replicas (they wait for the master's DEL)."""
    return when <= srv.time_ms() and not srv.loading and not srv.is_replica


@command("expire")
def expire(c, argv):
    return _expire_generic(c, argv, 0, True, "expire")


@command("pexpire")
def pexpire(c, argv):
    return _expire_generic(c, argv, 0, False, "pexpire")


@command("expireat")
def expireat(c, argv):
    return _expire_generic(c, argv, None, True, "expireat")


@command("pexpireat")
def pexpireat(c, argv):
    return _expire_generic(c, argv, None, False, "pexpireat")


def _ttl_generic(c, argv, ms, absolute):
    db = c.db
    key = argv[1]
    if db.lookup_read(key, False) is None:
        return NEG_TWO
    when = db.expires.get(key) if db.expires else None
    if when is None:
        return NEG_ONE
    ttl = when if absolute else when - c.server.time_ms()
    if ttl < 0:
        ttl = 0
    return integer(ttl if ms else (ttl + 500) // 1000)


@command("ttl")
def ttl(c, argv):
    return _ttl_generic(c, argv, False, False)


@command("pttl")
def pttl(c, argv):
    return _ttl_generic(c, argv, True, False)


@command("expiretime")
def expiretime(c, argv):
    return _ttl_generic(c, argv, False, True)


@command("pexpiretime")
def pexpiretime(c, argv):
    return _ttl_generic(c, argv, True, True)


@command("persist")
def persist(c, argv):
    db = c.db
    key = argv[1]
    if db.lookup(key) is None or not db.persist(key):
        return ZERO
    db.touch(key)
    srv = c.server
    _notify(srv, b"persist", key, db.id)
    srv.dirty += 1
    return ONE


# -- OBJECT -------------------------------------------------------------------------------
_LFU_ERR = ("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note "
            "that when switching between policies at runtime LRU and LFU data will take "
            "some time to adjust.")
_NOT_LFU_ERR = ("ERR An LFU maxmemory policy is not selected, access frequency not tracked. "
                "Please note that when switching between policies at runtime LRU and LFU "
                "data will take some time to adjust.")


def _object_lookup(c, key):
    """objectCommandLookup: NOTOUCH, no keymiss event (hits/misses are counted)."""
    db = c.db
    v = db.peek(key)
    srv = c.server
    if v is None:
        srv.stat_keyspace_misses += 1
    else:
        srv.stat_keyspace_hits += 1
    return v


def object_encoding(v):
    fn = ENCODING_FUNCS.get(type(v))
    if fn is not None:
        return fn(v)
    return _DEFAULT_ENCODING.get(type_name(v), b"unknown")


@command("object|help")
def object_help(c, argv):
    return help_reply(argv, [
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
    ])


@command("object|encoding")
def object_encoding_cmd(c, argv):
    v = _object_lookup(c, argv[2])
    if v is None:
        return c.r.null
    return bulk(object_encoding(v))


# OBJECT REFCOUNT of values Redis keeps as shared objects (strings.py sets the hook)
refcount_funcs = {}


@command("object|refcount")
def object_refcount(c, argv):
    v = _object_lookup(c, argv[2])
    if v is None:
        return c.r.null
    fn = refcount_funcs.get(type(v))
    return integer(fn(c.server, v) if fn is not None else 1)


@command("object|idletime")
def object_idletime(c, argv):
    key = argv[2]
    v = _object_lookup(c, key)
    if v is None:
        return c.r.null
    srv = c.server
    if srv.lfu_mode:
        raise CommandError(_LFU_ERR)
    now = srv.lru_clock
    return integer(idle_ms(c.db.access_clock(key, now), now) // 1000)


@command("object|freq")
def object_freq(c, argv):
    key = argv[2]
    v = _object_lookup(c, key)
    if v is None:
        return c.r.null
    if not c.server.lfu_mode:
        raise CommandError(_NOT_LFU_ERR)
    return integer(lfu_decr_and_return(c.db, key))
