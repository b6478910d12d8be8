"""List commands (t_list.c): LPUSH/RPUSH[X], LPOP/RPOP, LLEN, LRANGE, LINDEX, LSET, LINSERT,
LREM, LTRIM, LPOS, LMOVE, RPOPLPUSH, LMPOP and the blocking BLPOP, BRPOP, BLMOVE, BRPOPLPUSH,
BLMPOP.

Values are RList (a deque). Writers follow Redis's order of effects: the key is created with
db.add (which wakes clients blocked on it), modified in place, then signalModifiedKey
(db.touch), the keyspace event, and dirty. A list emptied by a command is deleted.
Blocked clients are served by the serve functions below (blocked.c serveClientBlockedOnList):
they re-check the key when called and propagate the pop they perform.
"""
from __future__ import annotations   # (the compiled build types the annotated names)

from itertools import islice

from .table import command
from ..blocking import block, parse_timeout
from ..errors import CommandError, WRONGTYPE_REPLY, NOT_INTEGER_REPLY, SYNTAX_REPLY
from ..resp.encode import OK, ZERO, NEG_ONE, EMPTY_ARRAY, bulks, integer
from ..types.rlist import RList
from ..util import parse_ll

NOTIFY_GENERIC = 1 << 2
NOTIFY_LIST = 1 << 4

_NOT_POSITIVE = b"-ERR value is out of range, must be positive\r\n"
_NO_SUCH_KEY = b"-ERR no such key\r\n"
_OUT_OF_RANGE = b"-ERR index out of range\r\n"
_RANK_ZERO = (b"-ERR RANK can't be zero: use 1 to start from the first match, 2 from the "
              b"second ... or use negative to start from the end of the list\r\n")
_COUNT_NEGATIVE = b"-ERR COUNT can't be negative\r\n"
_MAXLEN_NEGATIVE = b"-ERR MAXLEN can't be negative\r\n"
_NUMKEYS = b"-ERR numkeys should be greater than 0\r\n"
_MPOP_COUNT = b"-ERR count should be greater than 0\r\n"
LONG_MAX = (1 << 63) - 1


def _array(items, n):
    """An array of the n bulk strings of the list items. Elements of one length (frequent)
    are joined around a shared header, which is faster still than bulks()."""
    if n == 0:
        return EMPTY_ARRAY
    lens = set(map(len, items))
    if len(lens) == 1:
        ln = lens.pop()
        return (b"*%d\r\n$%d\r\n" % (n, ln) + (b"\r\n$%d\r\n" % ln).join(items)
                + b"\r\n")
    return bulks(b"*%d\r\n" % n, items)


def _notify(srv, flag, event, key, dbid):
    if srv.notify_flags & flag:
        srv.notify(flag, event, key, dbid)


def _removed(c: Client, db, key, v, left, count):
    """listElementsRemoved: event, delete an emptied list, signalModifiedKey, dirty."""
    srv: RedisServer = c.server
    if srv.notify_flags & NOTIFY_LIST:
        srv.notify(NOTIFY_LIST, b"lpop" if left else b"rpop", key, db.id)
    if v:
        if db.watched or srv.key_modified_hook is not None:
            db.touch(key)
    else:
        db.delete(key)
        _notify(srv, NOTIFY_GENERIC, b"del", key, db.id)
        if not db.watched:   # db.delete already signalled a watched key
            db.touch(key)
    srv.dirty += count


def _pop_range(v, count, left):
    """Pop up to count elements from one end (in popping order)."""
    if count >= len(v):
        items = list(v) if left else list(reversed(v))
        v.clear()
        return items
    if left:
        pop = v.popleft
    else:
        pop = v.pop
    return [pop() for _ in range(count)]


def _where(arg):
    """getListPositionFromObjectOrReply: True for LEFT, False for RIGHT, None otherwise."""
    a = arg.lower()
    if a == b"left":
        return True
    if a == b"right":
        return False
    return None


# -- push ------------------------------------------------------------------------------
def _push(c: Client, argv, left, xx):
    db: Database = c.db
    key = argv[1]
    v = db.lookup(key)
    if v is None:
        if xx:
            return ZERO
        v = RList()
        db.add(key, v)
        new = True
    elif type(v) is not RList:
        return WRONGTYPE_REPLY
    else:
        new = False
    n = len(argv) - 2
    if n == 1:
        if left:
            v.appendleft(argv[2])
        else:
            v.append(argv[2])
    elif left:
        v.extendleft(islice(argv, 2, None))
    else:
        v.extend(islice(argv, 2, None))
    srv: RedisServer = c.server
    srv.dirty += n
    if not new and (db.watched or srv.key_modified_hook is not None):
        db.touch(key)
    if srv.notify_flags & NOTIFY_LIST:
        srv.notify(NOTIFY_LIST, b"lpush" if left else b"rpush", key, db.id)
    return integer(len(v))


@command("lpush")
def lpush(c: Client, argv):
    return _push(c, argv, True, False)


@command("rpush")
def rpush(c: Client, argv):
    return _push(c, argv, False, False)


@command("lpushx")
def lpushx(c: Client, argv):
    return _push(c, argv, True, True)


@command("rpushx")
def rpushx(c: Client, argv):
    return _push(c, argv, False, True)


# -- pop -------------------------------------------------------------------------------
def _pop(c: Client, argv, left):
    n = len(argv)
    if n > 3:
        raise CommandError("ERR wrong number of arguments for '%s' command"
                           % ("lpop" if left else "rpop"))
    if n == 3:
        count = parse_ll(argv[2])
        if count is None or count < 0:
            return _NOT_POSITIVE
    db: Database = c.db
    key = argv[1]
    v = db.lookup(key)
    if v is None:
        return c.r.null if n == 2 else c.r.null_array
    if type(v) is not RList:
        return WRONGTYPE_REPLY
    if n == 2:
        x = v.popleft() if left else v.pop()
        _removed(c, db, key, v, left, 1)
        return b"$%d\r\n%s\r\n" % (len(x), x)
    if count == 0:
        return EMPTY_ARRAY
    items = _pop_range(v, count, left)
    _removed(c, db, key, v, left, len(items))
    return _array(items, len(items))


@command("lpop")
def lpop(c: Client, argv):
    return _pop(c, argv, True)


@command("rpop")
def rpop(c: Client, argv):
    return _pop(c, argv, False)


def _mpop_keys(c: Client, keys, left, count):
    """mpopGenericCommand's search: (reply, key) for the first non-empty list, or None.
    Raises nothing: a WRONGTYPE key gives (WRONGTYPE_REPLY, None)."""
    db: Database = c.db
    for key in keys:
        v = db.lookup(key)
        if v is None:
            continue
        if type(v) is not RList:
            return WRONGTYPE_REPLY, None
        items = _pop_range(v, count, left)
        _removed(c, db, key, v, left, len(items))
        c.prop_override = [[b"LPOP" if left else b"RPOP", key, b"%d" % len(items)]]
        return (b"*2\r\n$%d\r\n%s\r\n" % (len(key), key)) + _array(items, len(items)), key
    return None


def _parse_mpop(argv, numkeys_idx):
    """lmpopGenericCommand's parsing: (keys, left, count) or an error reply."""
    numkeys = parse_ll(argv[numkeys_idx])
    if numkeys is None or numkeys < 1:
        return _NUMKEYS
    where_idx = numkeys_idx + numkeys + 1
    argc = len(argv)
    if where_idx >= argc:
        return SYNTAX_REPLY
    left = _where(argv[where_idx])
    if left is None:
        return SYNTAX_REPLY
    count = -1
    j = where_idx + 1
    while j < argc:
        if count == -1 and argv[j].lower() == b"count" and j < argc - 1:
            j += 1
            count = parse_ll(argv[j])
            if count is None or count < 1:
                return _MPOP_COUNT
        else:
            return SYNTAX_REPLY
        j += 1
    if count == -1:
        count = 1
    return argv[numkeys_idx + 1:where_idx], left, count


@command("lmpop")
def lmpop(c: Client, argv):
    parsed = _parse_mpop(argv, 1)
    if type(parsed) is bytes:
        return parsed
    keys, left, count = parsed
    res = _mpop_keys(c, keys, left, count)
    if res is None:
        return c.r.null_array
    return res[0]


# -- reading ---------------------------------------------------------------------------
@command("llen")
def llen(c: Client, argv):
    v = c.db.lookup_read(argv[1])
    if v is None:
        return ZERO
    if type(v) is not RList:
        return WRONGTYPE_REPLY
    return integer(len(v))


@command("lindex")
def lindex(c: Client, argv):
    v = c.db.lookup_read(argv[1])
    if v is None:
        return c.r.null
    if type(v) is not RList:
        return WRONGTYPE_REPLY
    idx = parse_ll(argv[2])
    if idx is None:
        return NOT_INTEGER_REPLY
    n = len(v)
    if idx < 0:
        idx += n
    if 0 <= idx < n:
        x = v[idx]
        return b"$%d\r\n%s\r\n" % (len(x), x)
    return c.r.null


def _range_reply(v, start, end):
    """addListRangeReply (not reversed)."""
    n = len(v)
    if start < 0:
        start += n
        if start < 0:
            start = 0
    if end < 0:
        end += n
    if start > end or start >= n:
        return EMPTY_ARRAY
    if end >= n:
        end = n - 1
    cnt = end - start + 1
    if cnt == n:
        items = list(v)
    elif start <= n - 1 - end:
        items = list(islice(v, start, end + 1))
    else:
        items = list(islice(reversed(v), n - 1 - end, n - start))
        items.reverse()
    return _array(items, cnt)


@command("lrange")
def lrange(c: Client, argv):
    start = parse_ll(argv[2])
    end = parse_ll(argv[3])
    if start is None or end is None:
        return NOT_INTEGER_REPLY
    v = c.db.lookup_read(argv[1])
    if v is None:
        return EMPTY_ARRAY
    if type(v) is not RList:
        return WRONGTYPE_REPLY
    return _range_reply(v, start, end)


@command("lpos")
def lpos(c: Client, argv):
    ele = argv[2]
    rank, count, maxlen = 1, -1, 0
    argc = len(argv)
    j = 3
    while j < argc:
        opt = argv[j].lower()
        more = j < argc - 1
        if opt == b"rank" and more:
            j += 1
            rank = parse_ll(argv[j])
            if rank is None:
                return NOT_INTEGER_REPLY
            if rank == 0:
                return _RANK_ZERO
        elif opt == b"count" and more:
            j += 1
            count = parse_ll(argv[j])
            if count is None or count < 0:
                return _COUNT_NEGATIVE
        elif opt == b"maxlen" and more:
            j += 1
            maxlen = parse_ll(argv[j])
            if maxlen is None or maxlen < 0:
                return _MAXLEN_NEGATIVE
        else:
            return SYNTAX_REPLY
        j += 1
    forward = True
    if rank < 0:
        forward = False
        if rank == -(1 << 63):
            # -LONG_MIN overflows in C and stays LONG_MIN: every match qualifies, and
            # COUNT's test (matches-rank+1 >= count) overflows too, so all are returned
            if count > 0:
                count = 0
        else:
            rank = -rank
    v = c.db.lookup_read(argv[1])
    if v is None:
        return EMPTY_ARRAY if count != -1 else c.r.null
    if type(v) is not RList:
        return WRONGTYPE_REPLY
    n = len(v)
    limit = n if maxlen == 0 or maxlen > n else maxlen
    found = []
    matches = 0
    want = count if count > 0 else (1 if count == -1 else n + 1)
    if forward:
        pos = 0
        index = v.index
        while pos < limit:
            try:
                i = index(ele, pos, limit)
            except ValueError:
                break
            matches += 1
            if matches >= rank:
                found.append(i)
                if len(found) >= want:
                    break
            pos = i + 1
    else:
        i = n - 1
        stop = n - 1 - limit
        for x in reversed(v):
            if i == stop:
                break
            if x == ele:
                matches += 1
                if matches >= rank:
                    found.append(i)
                    if len(found) >= want:
                        break
            i -= 1
    if count == -1:
        return integer(found[0]) if found else c.r.null
    return b"*%d\r\n" % len(found) + b"".join([integer(i) for i in found])


# -- in-place writes -------------------------------------------------------------------
@command("lset")
def lset(c: Client, argv):
    db: Database = c.db
    key = argv[1]
    v = db.lookup(key)
    if v is None:
        return _NO_SUCH_KEY
    if type(v) is not RList:
        return WRONGTYPE_REPLY
    idx = parse_ll(argv[2])
    if idx is None:
        return NOT_INTEGER_REPLY
    n = len(v)
    if idx < 0:
        idx += n
    if not 0 <= idx < n:
        return _OUT_OF_RANGE
    v[idx] = argv[3]
    db.touch(key)
    srv: RedisServer = c.server
    _notify(srv, NOTIFY_LIST, b"lset", key, db.id)
    srv.dirty += 1
    return OK


@command("linsert")
def linsert(c: Client, argv):
    where = argv[2].lower()
    if where == b"after":
        after = True
    elif where == b"before":
        after = False
    else:
        return SYNTAX_REPLY
    db: Database = c.db
    key = argv[1]
    v = db.lookup(key)
    if v is None:
        return ZERO
    if type(v) is not RList:
        return WRONGTYPE_REPLY
    try:
        i = v.index(argv[3])
    except ValueError:
        return NEG_ONE
    v.insert(i + 1 if after else i, argv[4])
    db.touch(key)
    srv: RedisServer = c.server
    _notify(srv, NOTIFY_LIST, b"linsert", key, db.id)
    srv.dirty += 1
    return integer(len(v))


@command("lrem")
def lrem(c: Client, argv):
    toremove = parse_ll(argv[2])
    if toremove is None:
        return NOT_INTEGER_REPLY
    db: Database = c.db
    key = argv[1]
    v = db.lookup(key)
    if v is None:
        return ZERO
    if type(v) is not RList:
        return WRONGTYPE_REPLY
    ele = argv[3]
    occ = v.count(ele)
    k = occ if toremove == 0 else min(abs(toremove), occ)
    if k:
        if k == occ:
            kept = [x for x in v if x != ele]
            v.clear()
            v.extend(kept)
        elif toremove > 0 and k <= 8:
            for _ in range(k):
                v.remove(ele)
        else:
            left = k
            if toremove > 0:
                kept = []
                for x in v:
                    if left and x == ele:
                        left -= 1
                    else:
                        kept.append(x)
                v.clear()
                v.extend(kept)
            else:
                kept = []
                for x in reversed(v):
                    if left and x == ele:
                        left -= 1
                    else:
                        kept.append(x)
                v.clear()
                v.extendleft(kept)
    srv: RedisServer = c.server
    srv.dirty += k
    if k:
        db.touch(key)
        _notify(srv, NOTIFY_LIST, b"lrem", key, db.id)
    if not v:
        db.delete(key)
        _notify(srv, NOTIFY_GENERIC, b"del", key, db.id)
    return integer(k)


@command("ltrim")
def ltrim(c: Client, argv):
    start = parse_ll(argv[2])
    end = parse_ll(argv[3])
    if start is None or end is None:
        return NOT_INTEGER_REPLY
    db: Database = c.db
    key = argv[1]
    v = db.lookup(key)
    if v is None:
        return OK
    if type(v) is not RList:
        return WRONGTYPE_REPLY
    n = len(v)
    if start < 0:
        start += n
        if start < 0:
            start = 0
    if end < 0:
        end += n
    if start > end or start >= n:
        ltrim_, rtrim = n, 0
    else:
        if end >= n:
            end = n - 1
        ltrim_, rtrim = start, n - end - 1
    kept = n - ltrim_ - rtrim
    if kept == 0:
        v.clear()
    elif ltrim_ + rtrim <= kept:
        popleft = v.popleft
        for _ in range(ltrim_):
            popleft()
        pop = v.pop
        for _ in range(rtrim):
            pop()
    else:
        items = list(islice(v, ltrim_, ltrim_ + kept))
        v.clear()
        v.extend(items)
    srv: RedisServer = c.server
    _notify(srv, NOTIFY_LIST, b"ltrim", key, db.id)
    if not v:
        db.delete(key)
        _notify(srv, NOTIFY_GENERIC, b"del", key, db.id)
        if not db.watched:
            db.touch(key)
    else:
        db.touch(key)
    srv.dirty += ltrim_ + rtrim
    return OK


# -- move ------------------------------------------------------------------------------
def _push_dst(c: Client, db, dst, dv, x, to_left):
    """lmoveHandlePush: create the destination if needed, push, lpush/rpush event."""
    if dv is None:
        dv = RList()
        db.add(dst, dv)
    else:
        db.touch(dst)
    if to_left:
        dv.appendleft(x)
    else:
        dv.append(x)
    _notify(c.server, NOTIFY_LIST, b"lpush" if to_left else b"rpush", dst, db.id)


def _lmove(c: Client, src, dst, from_left, to_left):
    """lmoveGenericCommand: the reply, or None when nothing moved (src missing)."""
    db: Database = c.db
    sv = db.lookup(src)
    if sv is None:
        return None
    if type(sv) is not RList:
        return WRONGTYPE_REPLY
    dv = db.lookup(dst)
    if dv is not None and type(dv) is not RList:
        return WRONGTYPE_REPLY
    x = sv.popleft() if from_left else sv.pop()
    _push_dst(c, db, dst, dv, x, to_left)
    srv: RedisServer = c.server
    _notify(srv, NOTIFY_LIST, b"lpop" if from_left else b"rpop", src, db.id)
    if sv:
        db.touch(src)
    else:
        db.delete(src)
        _notify(srv, NOTIFY_GENERIC, b"del", src, db.id)
        if not db.watched:
            db.touch(src)
    srv.dirty += 1
    return b"$%d\r\n%s\r\n" % (len(x), x)


@command("lmove")
def lmove(c: Client, argv):
    from_left = _where(argv[3])
    if from_left is None:
        return SYNTAX_REPLY
    to_left = _where(argv[4])
    if to_left is None:
        return SYNTAX_REPLY
    reply = _lmove(c, argv[1], argv[2], from_left, to_left)
    return c.r.null if reply is None else reply


@command("rpoplpush")
def rpoplpush(c: Client, argv):
    reply = _lmove(c, argv[1], argv[2], False, True)
    return c.r.null if reply is None else reply


# -- blocking --------------------------------------------------------------------------
def _live_list(c: Client, key):
    """The non-empty list at key in the blocked client's db, or None (serve re-check)."""
    b = c.blocked
    db = b.db if b is not None else c.db
    v = db.lookup(key)
    if v is None or type(v) is not RList or not v:
        return None, db
    return v, db


def _serve_pop(left):
    """serveClientBlockedOnList for BLPOP/BRPOP: propagated as LPOP/RPOP key."""
    def serve(c, key):
        v, db = _live_list(c, key)
        if v is None:
            return None
        srv: RedisServer = c.server
        srv.propagate(db.id, [b"LPOP" if left else b"RPOP", key])
        x = v.popleft() if left else v.pop()
        _notify(srv, NOTIFY_LIST, b"lpop" if left else b"rpop", key, db.id)
        if not v:
            db.delete(key)
            _notify(srv, NOTIFY_GENERIC, b"del", key, db.id)
        return b"*2\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(x), x)
    return serve


def _serve_mpop(left, count):
    """serveClientBlockedOnList for BLMPOP: propagated as LPOP/RPOP key count."""
    def serve(c, key):
        v, db = _live_list(c, key)
        if v is None:
            return None
        srv: RedisServer = c.server
        srv.propagate(db.id, [b"LPOP" if left else b"RPOP", key,
                              b"%d" % min(count, len(v))])
        items = _pop_range(v, count, left)
        _notify(srv, NOTIFY_LIST, b"lpop" if left else b"rpop", key, db.id)
        if v:
            db.touch(key)
        else:
            db.delete(key)
            _notify(srv, NOTIFY_GENERIC, b"del", key, db.id)
            if not db.watched:
                db.touch(key)
        srv.dirty += len(items)
        return (b"*2\r\n$%d\r\n%s\r\n" % (len(key), key)) + _array(items, len(items))
    return serve


def _serve_move(dst, from_left, to_left, rpoplpush):
    """serveClientBlockedOnList for BLMOVE/BRPOPLPUSH: propagated as LMOVE/RPOPLPUSH. A
    destination of the wrong type answers WRONGTYPE (the client is unblocked)."""
    def serve(c, key):
        v, db = _live_list(c, key)
        if v is None:
            return None
        srv: RedisServer = c.server
        dv = db.lookup(dst)
        if dv is not None and type(dv) is not RList:
            return WRONGTYPE_REPLY   # counted in errorstats by handle_ready_keys
        x = v.popleft() if from_left else v.pop()
        _push_dst(c, db, dst, dv, x, to_left)
        if rpoplpush:
            srv.propagate(db.id, [b"RPOPLPUSH", key, dst])
        else:
            srv.propagate(db.id, [b"LMOVE", key, dst, b"left" if from_left else b"right",
                                  b"left" if to_left else b"right"])
        _notify(srv, NOTIFY_LIST, b"lpop" if from_left else b"rpop", key, db.id)
        if not v:
            db.delete(key)
            _notify(srv, NOTIFY_GENERIC, b"del", key, db.id)
        return b"$%d\r\n%s\r\n" % (len(x), x)
    return serve


def _bpop(c: Client, argv, left):
    timeout = parse_timeout(argv[-1])
    db: Database = c.db
    keys = argv[1:-1]
    for key in keys:
        v = db.lookup(key)
        if v is None:
            continue
        if type(v) is not RList:
            return WRONGTYPE_REPLY
        x = v.popleft() if left else v.pop()
        _removed(c, db, key, v, left, 1)
        c.prop_override = [[b"LPOP" if left else b"RPOP", key]]
        return b"*2\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(x), x)
    return block(c, keys, timeout, _serve_pop(left), c.r.null_array)


@command("blpop")
def blpop(c: Client, argv):
    return _bpop(c, argv, True)


@command("brpop")
def brpop(c: Client, argv):
    return _bpop(c, argv, False)


@command("blmpop")
def blmpop(c: Client, argv):
    parsed = _parse_mpop(argv, 2)
    if type(parsed) is bytes:
        return parsed
    keys, left, count = parsed
    timeout = parse_timeout(argv[1])
    res = _mpop_keys(c, keys, left, count)
    if res is not None:
        return res[0]
    return block(c, keys, timeout, _serve_mpop(left, count), c.r.null_array)


def _bmove(c: Client, argv, from_left, to_left, timeout, rpoplpush):
    src, dst = argv[1], argv[2]
    v = c.db.lookup(src)
    if v is None:
        if c.in_exec or getattr(c, "deny_blocking", False):
            return c.r.null   # blmoveGenericCommand: a null bulk when it may not block
        # a timeout answers a null array, like every list block (replyToBlockedClientTimedOut)
        return block(c, (src,), timeout, _serve_move(dst, from_left, to_left, rpoplpush),
                     c.r.null_array)
    if type(v) is not RList:
        return WRONGTYPE_REPLY
    reply = _lmove(c, src, dst, from_left, to_left)
    if reply[:1] != b"-":
        c.prop_override = [[b"RPOPLPUSH", src, dst] if rpoplpush
                           else [b"LMOVE", src, dst, argv[3], argv[4]]]
    return reply


@command("blmove")
def blmove(c: Client, argv):
    from_left = _where(argv[3])
    if from_left is None:
        return SYNTAX_REPLY
    to_left = _where(argv[4])
    if to_left is None:
        return SYNTAX_REPLY
    timeout = parse_timeout(argv[5])
    return _bmove(c, argv, from_left, to_left, timeout, False)


@command("brpoplpush")
def brpoplpush(c: Client, argv):
    timeout = parse_timeout(argv[3])
    return _bmove(c, argv, False, True, timeout, True)
