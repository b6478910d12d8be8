"""Stream commands (t_stream.c): XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM, XSETID, XREAD,
XREADGROUP, XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM, XINFO.

Effects propagate as Redis does: XADD with the concrete ID (and approximate trims as exact
ones), XREADGROUP / XCLAIM / XAUTOCLAIM as XCLAIM ... FORCE JUSTID LASTID per entry plus
XGROUP SETID / CREATECONSUMER where needed.
"""
from __future__ import annotations   # (the compiled build types the annotated names)

from .table import command
from .help import help_reply
from .. import db as _db, hooks
from ..blocking import block, parse_timeout
from ..errors import CommandError, SYNTAX, WRONGTYPE, NO_SUCH_KEY
from ..resp.encode import OK, ZERO, ONE, EMPTY_ARRAY, BULK_HEADS, bulk, integer
from ..types.stream import (Stream, Group, Consumer, NACK, MASK64, MAX_ID, fmt_id, id_bulk,
                            node_max_bytes, SCG_INVALID_ENTRIES_READ)
from ..util import DECIMAL, parse_ll, ll_arg as _ll
from time import time_ns as _time_ns

_db.TYPE_NAMES[Stream] = b"stream"
_db.SIGNAL_ON_DELETE.add(Stream)
_db.ENCODING_FUNCS[Stream] = lambda v: b"stream"


def _server_init(srv):
    """The node limits XADD reads on every call, kept on the server and refreshed on
    CONFIG SET."""
    def refresh(_v=None):
        vals = srv.config.values
        srv.stream_node_max_entries = vals["stream-node-max-entries"]
        srv.stream_node_max_bytes = node_max_bytes(vals["stream-node-max-bytes"])

    refresh()
    srv.config.on_change("stream-node-max-entries", refresh)
    srv.config.on_change("stream-node-max-bytes", refresh)


hooks.server_init.append(_server_init)

INVALID_ID = "ERR Invalid stream ID specified as stream command argument"
XREAD_BLOCKED_DEFAULT_COUNT = 1000
_NOTIFY_STREAM = 1 << 10


def _wrongargs(name):
    return CommandError("ERR wrong number of arguments for '%s' command" % name)


def _s(b):
    """bytes -> str for error texts, as C's %s prints them (up to a NUL)."""
    i = b.find(b"\0")
    if i >= 0:
        b = b[:i]
    return b.decode("utf-8", "surrogateescape")


def _subcmd_syntax(argv):
    return CommandError("ERR unknown subcommand or wrong number of arguments for '%.128s'. "
                        "Try %s HELP." % (_s(argv[1]), _s(argv[0]).upper()))


# -- ID parsing ---------------------------------------------------------------------------
_SPACES = b" \t\n\v\f\r"


def _str2ull(s):
    """string2ull: string2ll, else strtoull over the whole (C) string; None if invalid."""
    if s.isdigit():
        v = int(s)
        return v if v <= MASK64 else None
    if parse_ll(s) is not None:
        return None   # a negative long long
    t = s.lstrip(_SPACES)
    neg = False
    if t[:1] in (b"+", b"-"):
        neg = t[:1] == b"-"
        t = t[1:]
    if not t or not t.isdigit():
        return None
    v = int(t)
    if v > MASK64:
        return None
    return (-v) & MASK64 if neg else v


def parse_id(arg, missing_seq=0, strict=False):
    """streamGenericParseIDOrReply without the ms-* form: the ID as one int."""
    if len(arg) > 127:
        raise CommandError(INVALID_ID)
    i = arg.find(b"\0")
    if i >= 0:
        arg = arg[:i]
    if arg == b"-":
        if strict:
            raise CommandError(INVALID_ID)
        return 0
    if arg == b"+":
        if strict:
            raise CommandError(INVALID_ID)
        return MAX_ID
    dash = arg.find(b"-")
    if dash < 0:
        ms = _str2ull(arg)
        seq = missing_seq
    else:
        ms = _str2ull(arg[:dash])
        seq = _str2ull(arg[dash + 1:])
        if seq is None:
            raise CommandError(INVALID_ID)
    if ms is None:
        raise CommandError(INVALID_ID)
    return (ms << 64) | seq


def try_parse_id(arg):
    """The strict parse without a reply (XCLAIM's ID list): None if invalid."""
    try:
        return parse_id(arg, 0, True)
    except CommandError:
        return None


def parse_xadd_id(arg):
    """The strict parse accepting ms-*: returns (id, seq_given)."""
    if len(arg) <= 127:
        a = arg
        i = a.find(b"\0")
        if i >= 0:
            a = a[:i]
        if a.endswith(b"-*") and a.find(b"-") == len(a) - 2:
            ms = _str2ull(a[:-2])
            if ms is None:
                raise CommandError(INVALID_ID)
            return ms << 64, False
    return parse_id(arg, 0, True), True


def parse_interval(arg, missing_seq):
    """streamParseIntervalIDOrReply: (id, exclusive)."""
    if len(arg) > 1 and arg[:1] == b"(":
        return parse_id(arg[1:], missing_seq, True), True
    return parse_id(arg, missing_seq, False), False


def parse_range_start(arg):
    idk, ex = parse_interval(arg, 0)
    if ex:
        if idk == MAX_ID:
            raise CommandError("ERR invalid start ID for the interval")
        idk += 1
    return idk


def parse_range_end(arg):
    idk, ex = parse_interval(arg, MASK64)
    if ex:
        if idk == 0:
            raise CommandError("ERR invalid end ID for the interval")
        idk -= 1
    return idk


# -- replies ------------------------------------------------------------------------------
# an entry of one field/value pair (the usual one) in one formatting step
_PAIR_ENTRY = b"*2\r\n$%d\r\n%s\r\n*2\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"


def entry_reply(idk, fv):
    s = b"%d-%d" % (idk >> 64, idk & MASK64)
    if len(fv) == 2:
        f, v = fv
        return _PAIR_ENTRY % (len(s), s, len(f), f, len(v), v)
    return b"*2\r\n$%d\r\n%s\r\n*%d\r\n%s" % (
        len(s), s, len(fv), b"".join([b"$%d\r\n%s\r\n" % (len(x), x) for x in fv]))


def entries_reply(ents):
    parts = [b"*%d\r\n" % len(ents)]
    append = parts.append
    for idk, fv in ents:
        s = b"%d-%d" % (idk >> 64, idk & MASK64)
        if len(fv) == 2:
            f, v = fv
            append(_PAIR_ENTRY % (len(s), s, len(f), f, len(v), v))
            continue
        append(b"*2\r\n$%d\r\n%s\r\n*%d\r\n" % (len(s), s, len(fv)))
        for x in fv:
            append(b"$%d\r\n%s\r\n" % (len(x), x))
    return b"".join(parts)


def _lookup_write(c: Client, key):
    v = c.db.lookup(key)
    if v is not None and type(v) is not Stream:
        raise CommandError(WRONGTYPE)
    return v


def _lookup_read(c: Client, key):
    v = c.db.lookup_read(key)
    if v is not None and type(v) is not Stream:
        raise CommandError(WRONGTYPE)
    return v


def _notify(c: Client, event, key):
    srv: RedisServer = c.server
    if srv.notify_flags & _NOTIFY_STREAM:
        srv.notify(_NOTIFY_STREAM, event, key, c.db.id)


# -- XADD / XTRIM -------------------------------------------------------------------------
TRIM_NONE, TRIM_MAXLEN, TRIM_MINID = 0, 1, 2


class AddTrimArgs:
    __slots__ = ("idk", "id_given", "seq_given", "no_mkstream", "strategy", "arg_idx",
                 "approx", "limit", "maxlen", "minid", "idpos")

    def __init__(self):
        self.idk = 0
        self.id_given = False
        self.seq_given = True
        self.no_mkstream = False
        self.strategy = TRIM_NONE
        self.arg_idx = 0
        self.approx = False
        self.limit = 0
        self.maxlen = 0
        self.minid = 0
        self.idpos = 0


def parse_add_trim(c: Client, argv, xadd):
    """streamParseAddOrTrimArgsOrReply."""
    a = AddTrimArgs()
    argc = len(argv)
    i = 2
    limit_given = False
    while i < argc:
        more = argc - 1 - i
        opt = argv[i]
        lo = opt.lower()
        if xadd and opt == b"*":
            break
        elif lo == b"maxlen" and more:
            if a.strategy != TRIM_NONE:
                raise CommandError("ERR syntax error, MAXLEN and MINID options at the same "
                                   "time are not compatible")
            a.approx = False
            nxt = argv[i + 1]
            if more >= 2 and nxt == b"~":
                a.approx = True
                i += 1
            elif more >= 2 and nxt == b"=":
                i += 1
            a.maxlen = _ll(argv[i + 1])
            if a.maxlen < 0:
                raise CommandError("ERR The MAXLEN argument must be >= 0.")
            i += 1
            a.strategy = TRIM_MAXLEN
            a.arg_idx = i
        elif lo == b"minid" and more:
            if a.strategy != TRIM_NONE:
                raise CommandError("ERR syntax error, MAXLEN and MINID options at the same "
                                   "time are not compatible")
            a.approx = False
            nxt = argv[i + 1]
            if more >= 2 and nxt == b"~":
                a.approx = True
                i += 1
            elif more >= 2 and nxt == b"=":
                i += 1
            a.minid = parse_id(argv[i + 1], 0, True)
            i += 1
            a.strategy = TRIM_MINID
            a.arg_idx = i
        elif lo == b"limit" and more:
            a.limit = _ll(argv[i + 1])
            if a.limit < 0:
                raise CommandError("ERR The LIMIT argument must be >= 0.")
            limit_given = True
            i += 1
        elif xadd and lo == b"nomkstream":
            a.no_mkstream = True
        elif xadd:
            a.idk, a.seq_given = parse_xadd_id(opt)
            a.id_given = True
            break
        else:
            raise CommandError(SYNTAX)
        i += 1
    a.idpos = i
    if a.limit and a.strategy == TRIM_NONE:
        raise CommandError("ERR syntax error, LIMIT cannot be used without specifying a "
                           "trimming strategy")
    if not xadd and a.strategy == TRIM_NONE:
        raise CommandError("ERR syntax error, XTRIM must be called with a trimming strategy")
    if c.must_obey_client():     # (their trims are exact)
        a.limit = 0
    elif limit_given:
        if not a.approx:
            raise CommandError("ERR syntax error, LIMIT cannot be used without the special ~ "
                               "option")
    elif a.approx:
        lim = 100 * c.server.stream_node_max_entries
        if lim <= 0:
            lim = 10000
        if lim > 1000000:
            lim = 1000000
        a.limit = lim
    else:
        a.limit = 0
    return a


def _do_trim(s, a):
    if a.strategy == TRIM_MAXLEN:
        return s.trim(maxlen=a.maxlen, approx=a.approx, limit=a.limit)
    if a.strategy == TRIM_MINID:
        return s.trim(minid=a.minid, approx=a.approx, limit=a.limit)
    return 0


def _rewrite_trim(s, a, argv):
    """Approximate trims propagate as exact ones with the resulting length / first ID."""
    argv[a.arg_idx - 1] = b"="
    if a.strategy == TRIM_MAXLEN:
        argv[a.arg_idx] = b"%d" % s.length
    else:
        argv[a.arg_idx] = fmt_id(s.first_any_id())


_EXHAUSTED = ("ERR The stream has exhausted the last possible ID, unable to add more "
              "items")


@command("xadd")
def xadd(c: Client, argv):
    """XADD; the plain form `XADD key * field value ...` (no options, auto ID) takes the
    short way: nothing to parse, no ID checks (an auto ID is always past the last one)."""
    if argv[2] != b"*":
        return _xadd_generic(c, argv)
    argc = len(argv)
    if argc < 5 or not argc & 1:
        raise _wrongargs("xadd")
    db: Database = c.db
    s: Stream
    key = argv[1]
    s = _add_target(db, key, True)
    last = s.last_id
    # streamNextID: a new millisecond starts at seq 0, else the last ID + 1 (a full
    # sequence carries into the next millisecond)
    ms = _time_ns() // 1000000      # mstime()
    if ms > last >> 64:
        seq = 0
        idk = ms << 64
    else:
        idk = last + 1
        ms = idk >> 64
        seq = idk & MASK64
    # (a tuple of bytes: untracked by the GC once it survives)
    if argc == 5:
        fv = (argv[3], argv[4])
        tot = len(fv[0]) + len(fv[1])
    else:
        fv = tuple(argv[3:])
        tot = sum(map(len, fv))
    if tot > 1073741824:
        raise CommandError("ERR Elements are too large to be stored")
    srv: RedisServer = c.server
    s.append(idk, fv, tot, srv.stream_node_max_entries, srv.stream_node_max_bytes)
    # the ID's text: "<ms>-" is kept from the last call (XADDs come many per millisecond)
    # and small sequence numbers come from a table; %-formatting both costs twice as much
    if ms != _ms_text[0]:
        _ms_text[0] = ms
        _ms_text[1] = b"%d-" % ms
    prefix = _ms_text[1]
    sq = DECIMAL[seq] if seq < 10000 else b"%d" % seq
    if db.watched or srv.key_modified_hook is not None:
        db.touch(key)
    if srv.notify_flags & _NOTIFY_STREAM:
        srv.notify(_NOTIFY_STREAM, b"xadd", key, db.id)
    srv.dirty += 1
    if srv.propagate_targets:
        newargv = argv[:]
        newargv[2] = prefix + sq          # replicas and the AOF get the ID chosen here
        c.prop_override = [newargv]
    if db.blocking:
        db.signal_ready(key)
    return b"".join((BULK_HEADS[len(prefix) + len(sq)], prefix, sq, b"\r\n"))


_ms_text = [-1, b""]


def _add_target(db, key, mkstream):
    """The stream XADD appends to: created when missing (None under NOMKSTREAM);
    WRONGTYPE, or the exhausted-ID error when its last ID is the maximum."""
    s = db.lookup(key)
    if s is None:
        if not mkstream:
            return None
        s = Stream()
        db.add(key, s)
    elif type(s) is not Stream:
        raise CommandError(WRONGTYPE)
    if s.last_id == MAX_ID:
        raise CommandError(_EXHAUSTED)
    return s


def _xadd_generic(c: Client, argv):
    a = parse_add_trim(c, argv, True)
    idpos = a.idpos
    fp = idpos + 1
    n = len(argv) - fp
    if n < 2 or n & 1:
        raise _wrongargs("xadd")
    if a.id_given and a.seq_given and a.idk == 0:
        raise CommandError("ERR The ID specified in XADD must be greater than 0-0")
    db: Database = c.db
    key = argv[1]
    s = _add_target(db, key, not a.no_mkstream)
    if s is None:
        return c.r.null
    last = s.last_id
    if not a.id_given:
        ms = _time_ns() // 1000000      # mstime()
        idk = (ms << 64) if ms > (last >> 64) else last + 1
    elif a.seq_given:
        idk = a.idk
    else:
        idk = a.idk
        if (last >> 64) == (idk >> 64):
            if last & MASK64 == MASK64:
                raise CommandError("ERR Elements are too large to be stored")
            idk = last + 1
    if idk <= last:
        raise CommandError("ERR The ID specified in XADD is equal or smaller than the target "
                           "stream top item")
    fv = tuple(argv[fp:])
    tot = sum(map(len, fv))
    if tot > 1073741824:
        raise CommandError("ERR Elements are too large to be stored")
    srv: RedisServer = c.server
    s.append(idk, fv, tot, srv.stream_node_max_entries, srv.stream_node_max_bytes)
    sid = b"%d-%d" % (idk >> 64, idk & MASK64)
    db.touch(key)
    if srv.notify_flags & _NOTIFY_STREAM:
        srv.notify(_NOTIFY_STREAM, b"xadd", key, db.id)
    srv.dirty += 1
    newargv = None
    if a.strategy != TRIM_NONE:
        if _do_trim(s, a):
            _notify(c, b"xtrim", key)
        if a.approx:
            newargv = list(argv)
            _rewrite_trim(s, a, newargv)
    if not a.id_given or not a.seq_given:
        if newargv is None:
            newargv = list(argv)
        newargv[idpos] = sid
    if newargv is not None:
        c.prop_override = [newargv]
    if db.blocking:
        db.signal_ready(key)
    return b"$%d\r\n%s\r\n" % (len(sid), sid)


@command("xtrim")
def xtrim(c: Client, argv):
    a = parse_add_trim(c, argv, False)
    key = argv[1]
    s = _lookup_write(c, key)
    if s is None:
        return ZERO
    deleted = _do_trim(s, a)
    if deleted:
        _notify(c, b"xtrim", key)
        if a.approx:
            newargv = list(argv)
            _rewrite_trim(s, a, newargv)
            c.prop_override = [newargv]
        c.db.touch(key)
        c.server.dirty += deleted
    return integer(deleted)


# -- reading ------------------------------------------------------------------------------
def _xrange(c: Client, argv, rev):
    startarg = argv[3] if rev else argv[2]
    endarg = argv[2] if rev else argv[3]
    start = parse_range_start(startarg)
    end = parse_range_end(endarg)
    count = -1
    j = 4
    argc = len(argv)
    while j < argc:
        if argv[j].lower() == b"count" and argc - j - 1 >= 1:
            count = _ll(argv[j + 1])
            if count < 0:
                count = 0
            j += 2
        else:
            raise CommandError(SYNTAX)
    s = _lookup_read(c, argv[1])
    if s is None:
        return EMPTY_ARRAY
    if count == 0:
        return c.r.null_array
    if count == -1:
        count = 0
    return entries_reply(s.range(start, end, count, rev))


@command("xrange")
def xrange_(c: Client, argv):
    return _xrange(c, argv, False)


@command("xrevrange")
def xrevrange(c: Client, argv):
    return _xrange(c, argv, True)


@command("xlen")
def xlen(c: Client, argv):
    s = _lookup_read(c, argv[1])
    return ZERO if s is None else integer(s.length)


@command("xdel")
def xdel(c: Client, argv):
    key = argv[1]
    s = _lookup_write(c, key)
    if s is None:
        return ZERO
    ids = [parse_id(a, 0, True) for a in argv[2:]]
    deleted = 0
    first_entry = False
    for idk in ids:
        if s.delete(idk):
            if idk == s.first_id:
                first_entry = True
            if idk > s.max_deleted:
                s.max_deleted = idk
            deleted += 1
    if deleted:
        if s.length == 0:
            s.first_id = 0
        elif first_entry:
            s.first_id = s.first_valid_id()
        c.db.touch(key)
        _notify(c, b"xdel", key)
        c.server.dirty += deleted
    return integer(deleted)


@command("xsetid")
def xsetid(c: Client, argv):
    idk = parse_id(argv[2], 0, True)
    max_xdel = 0
    entries_added = -1
    i = 3
    argc = len(argv)
    while i < argc:
        more = argc - 1 - i
        opt = argv[i].lower()
        if opt == b"entriesadded" and more:
            entries_added = _ll(argv[i + 1])
            if entries_added < 0:
                raise CommandError("ERR entries_added must be positive")
            i += 2
        elif opt == b"maxdeletedid" and more:
            max_xdel = parse_id(argv[i + 1], 0, True)
            if idk < max_xdel:
                raise CommandError("ERR The ID specified in XSETID is smaller than the "
                                   "provided max_deleted_entry_id")
            i += 2
        else:
            raise CommandError(SYNTAX)
    s = _lookup_write(c, argv[1])
    if s is None:
        raise CommandError(NO_SUCH_KEY)
    if s.length > 0:
        if idk < s.last_valid_id():
            raise CommandError("ERR The ID specified in XSETID is smaller than the target "
                               "stream top item")
        if entries_added != -1 and s.length > entries_added:
            raise CommandError("ERR The entries_added specified in XSETID is smaller than "
                               "the target stream length")
    s.last_id = idk
    if entries_added != -1:
        s.entries_added = entries_added
    if max_xdel:
        s.max_deleted = max_xdel
    c.server.dirty += 1
    _notify(c, b"xsetid", argv[1])
    return OK


# -- consumer groups: shared machinery ---------------------------------------------------
def _lookup_consumer(g, name, now, refresh=True):
    cons = g.consumers.get(name)
    if cons is not None and refresh:
        cons.seen_time = now
    return cons


def _create_consumer(c: Client, g, name, key, dbid, now, notify=True, dirty=True):
    if name in g.consumers:
        return None
    cons = g.consumers[name] = Consumer(name, now)
    srv: RedisServer = c.server
    if dirty:
        srv.dirty += 1
    if notify and srv.notify_flags & _NOTIFY_STREAM:
        srv.notify(_NOTIFY_STREAM, b"xgroup-createconsumer", key, dbid)
    return cons


def _xclaim_argv(key, gname, g, idarg, nack):
    """streamPropagateXCLAIM."""
    return [b"XCLAIM", key, gname, nack.consumer.name, b"0", idarg, b"TIME",
            b"%d" % nack.delivery_time, b"RETRYCOUNT", b"%d" % nack.delivery_count,
            b"FORCE", b"JUSTID", b"LASTID", fmt_id(g.last_id)]


def _setid_argv(key, gname, g):
    """streamPropagateGroupID."""
    return [b"XGROUP", b"SETID", key, gname, fmt_id(g.last_id), b"ENTRIESREAD",
            b"%d" % g.entries_read]


def _group_read(s, key, gname, g, consumer, start, count, noack, prop, now):
    """streamReplyWithRange with a group: deliver new entries, update the group's last ID
    and read counter, create or reassign the NACKs; fills `prop` with the effects."""
    ents = s.range(start, MAX_ID, count)
    parts = [b"*%d\r\n" % len(ents)]
    moved = False
    pel = g.pel
    cpel = consumer.pel
    for idk, fv in ents:
        if idk > g.last_id:
            if g.entries_read != SCG_INVALID_ENTRIES_READ and \
                    not s.range_has_tombstones(idk):
                g.entries_read += 1
            elif s.entries_added:
                g.entries_read = s.estimate_distance(idk)
            g.last_id = idk
            if noack:
                moved = True
        sid = b"%d-%d" % (idk >> 64, idk & MASK64)
        if len(fv) == 2:
            f, v = fv
            parts.append(_PAIR_ENTRY % (len(sid), sid, len(f), f, len(v), v))
        else:
            parts.append(b"*2\r\n$%d\r\n%s\r\n*%d\r\n" % (len(sid), sid, len(fv)))
            for x in fv:
                parts.append(b"$%d\r\n%s\r\n" % (len(x), x))
        if not noack:
            nack = pel.get(idk)
            if nack is None:
                nack = NACK(consumer, now)
                pel[idk] = nack
                cpel[idk] = nack
            else:
                old = nack.consumer
                if old is not None:
                    old.pel.pop(idk, None)
                nack.consumer = consumer
                nack.delivery_time = now
                nack.delivery_count = 1
                cpel[idk] = nack
            prop.append(_xclaim_argv(key, gname, g, sid, nack))
    if moved:
        prop.append(_setid_argv(key, gname, g))
    return b"".join(parts)


def _history_read(c: Client, s, consumer, start, count, now):
    """streamReplyWithRangeFromConsumerPEL: the consumer's own pending entries."""
    out = []
    n = 0
    null_array = c.r.null_array
    for idk in consumer.pel.irange(minimum=start):
        if count and n >= count:
            break
        fv = s.get(idk)
        if fv is None:
            out.append(b"*2\r\n" + id_bulk(idk) + null_array)
        else:
            out.append(entry_reply(idk, fv))
            nack = consumer.pel[idk]
            nack.delivery_time = now
            nack.delivery_count += 1
        n += 1
    return b"*%d\r\n" % n + b"".join(out)


# -- XREAD / XREADGROUP -------------------------------------------------------------------
def _deny_blocking(c):
    return c.in_exec or getattr(c, "deny_blocking", False)


def _xread(c: Client, argv, xreadgroup):
    timeout = -1
    count = 0
    streams_arg = 0
    nstreams = 0
    noack = False
    groupname = consumername = None
    argc = len(argv)
    i = 1
    while i < argc:
        more = argc - i - 1
        o = argv[i].lower()
        if o == b"block" and more:
            if getattr(c, "in_script", False):
                raise CommandError("ERR %s command is not allowed with BLOCK option from "
                                   "scripts" % _s(argv[0]))
            i += 1
            timeout = parse_timeout(argv[i], seconds=False)
        elif o == b"count" and more:
            i += 1
            count = _ll(argv[i])
            if count < 0:
                count = 0
        elif o == b"streams" and more:
            streams_arg = i + 1
            nstreams = argc - streams_arg
            if nstreams % 2:
                raise CommandError("ERR Unbalanced XREAD list of streams: for each stream "
                                   "key an ID or '$' must be specified.")
            nstreams //= 2
            break
        elif o == b"group" and more >= 2:
            if not xreadgroup:
                raise CommandError("ERR The GROUP option is only supported by XREADGROUP. "
                                   "You called XREAD instead.")
            groupname = argv[i + 1]
            consumername = argv[i + 2]
            i += 2
        elif o == b"noack":
            if not xreadgroup:
                raise CommandError("ERR The NOACK option is only supported by XREADGROUP. "
                                   "You called XREAD instead.")
            noack = True
        else:
            raise CommandError(SYNTAX)
        i += 1
    if streams_arg == 0:
        raise CommandError(SYNTAX)
    if xreadgroup and groupname is None:
        raise CommandError("ERR Missing GROUP option for XREADGROUP")

    db: Database = c.db
    keys = argv[streams_arg:streams_arg + nstreams]
    ids = []
    groups = [] if groupname is not None else None
    for k in range(nstreams):
        key = keys[k]
        arg = argv[streams_arg + nstreams + k]
        s = _lookup_read(c, key)
        if groupname is not None:
            g = s.groups.get(groupname) if (s is not None and s.groups) else None
            if g is None:
                raise CommandError("NOGROUP No such key '%s' or consumer group '%s' in "
                                   "XREADGROUP with GROUP option" % (_s(key), _s(groupname)))
            groups.append(g)
        if arg == b"$":
            if xreadgroup:
                raise CommandError("ERR The $ ID is meaningless in the context of XREADGROUP:"
                                   " you want to read the history of this consumer by "
                                   "specifying a proper ID, or use the > ID to get new "
                                   "messages. The $ ID would just return an empty result "
                                   "set.")
            ids.append(s.last_id if s is not None else 0)
            continue
        if arg == b">":
            if not xreadgroup:
                raise CommandError("ERR The > ID can be specified only when calling "
                                   "XREADGROUP using the GROUP <group> <consumer> option.")
            ids.append(MAX_ID)
            continue
        ids.append(parse_id(arg, 0, True))

    srv: RedisServer = c.server
    prop = [] if xreadgroup else None
    out = []
    served = 0
    resp2 = c.resp == 2
    now = srv.time_ms() if groupname is not None else 0
    for k in range(nstreams):
        key = keys[k]
        s = _lookup_read(c, key)
        if s is None:
            continue
        gt = ids[k]
        sync = False
        history = False
        if groups is not None:
            if gt != MAX_ID:
                sync = history = True
            elif s.length:
                g = groups[k]
                if s.last_valid_id() > g.last_id:
                    sync = True
                    gt = g.last_id
        elif s.length:
            if s.last_valid_id() > gt:
                sync = True
        if not sync:
            continue
        served += 1
        start = gt + 1 if gt != MAX_ID else 0
        if resp2:
            out.append(b"*2\r\n")
        out.append(bulk(key))
        if groups is not None:
            g = groups[k]
            cons = _lookup_consumer(g, consumername, now)
            if cons is None:
                cons = _create_consumer(c, g, consumername, key, db.id, now)
                if noack:
                    prop.append([b"XGROUP", b"CREATECONSUMER", key, groupname, consumername])
            if history:
                out.append(_history_read(c, s, cons, start, count, now))
            else:
                out.append(_group_read(s, key, groupname, g, cons, start, count, noack,
                                       prop, now))
            srv.dirty += 1
        else:
            out.append(entries_reply(s.range(start, MAX_ID, count)))
    if prop is not None:
        c.prop_override = prop
    if served:
        head = b"*%d\r\n" % served if resp2 else b"%%%d\r\n" % served
        return head + b"".join(out)
    if timeout != -1:
        if _deny_blocking(c):
            return c.r.null_array
        uniq = []
        idmap = {}
        for k in range(nstreams):
            if keys[k] not in idmap:
                idmap[keys[k]] = ids[k]
                uniq.append(keys[k])
        bcount = count or XREAD_BLOCKED_DEFAULT_COUNT
        serve = _make_serve(db, idmap, bcount, groupname, consumername, noack)
        return block(c, uniq, timeout, serve, c.r.null_array)
    return c.r.null_array


def _make_serve(db, idmap, count, groupname, consumername, noack):
    """serveClientsBlockedOnStreamKey for one blocked XREAD / XREADGROUP client."""
    def serve(rc, key):
        s = db.lookup(key)
        if s is None or type(s) is not Stream:
            if groupname is not None:
                return b"-UNBLOCKED the stream key no longer exists\r\n"
            return None
        g = None
        if groupname is not None:
            g = s.groups.get(groupname) if s.groups else None
            if g is None:
                return (b"-NOGROUP the consumer group this client was blocked on no longer "
                        b"exists\r\n")
            gt = g.last_id
        else:
            gt = idmap[key]
        if s.last_id <= gt:
            return None
        start = gt + 1
        srv = rc.server
        head = (b"*1\r\n*2\r\n" if rc.resp == 2 else b"%1\r\n") + bulk(key)
        if g is None:
            return head + entries_reply(s.range(start, MAX_ID, count))
        now = srv.time_ms()
        prop = []
        cons = _lookup_consumer(g, consumername, now)
        if cons is None:
            # the blocked client's own db is the one it blocked in
            cons = _create_consumer(rc, g, consumername, key, db.id, now)
            if noack:
                prop.append([b"XGROUP", b"CREATECONSUMER", key, groupname, consumername])
        body = _group_read(s, key, groupname, g, cons, start, count, noack, prop, now)
        if prop:
            # the served client's effects go out as one unit (afterCommand)
            opened = len(prop) > 1 and srv.propagate_begin()
            for a in prop:
                srv.propagate(db.id, a)
            if opened:
                srv.propagate_end()
        return head + body
    return serve


@command("xread")
def xread(c: Client, argv):
    return _xread(c, argv, False)


@command("xreadgroup")
def xreadgroup(c: Client, argv):
    return _xread(c, argv, True)


# -- XGROUP -------------------------------------------------------------------------------
def _xgroup_common(c: Client, argv):
    """The shared prologue of xgroupCommand: options, key and group lookups."""
    sub = argv[1].lower()
    create = sub == b"create"
    setid = sub == b"setid"
    mkstream = False
    entries_read = SCG_INVALID_ENTRIES_READ
    argc = len(argv)
    i = 5
    while i < argc:
        o = argv[i].lower()
        if create and o == b"mkstream":
            mkstream = True
            i += 1
        elif (create or setid) and o == b"entriesread" and i + 1 < argc:
            entries_read = _ll(argv[i + 1])
            if entries_read < 0 and entries_read != SCG_INVALID_ENTRIES_READ:
                raise CommandError("ERR value for ENTRIESREAD must be positive or -1")
            i += 2
        else:
            raise _subcmd_syntax(argv)
    s = _lookup_write(c, argv[2])
    grp = argv[3]
    g = None
    if not mkstream:
        if s is None:
            raise CommandError("ERR The XGROUP subcommand requires the key to exist. Note "
                               "that for CREATE you may want to use the MKSTREAM option to "
                               "create an empty stream automatically.")
        g = s.groups.get(grp) if s.groups else None
        if g is None and sub in (b"setid", b"createconsumer", b"delconsumer"):
            raise CommandError("NOGROUP No such consumer group '%s' for key name '%s'"
                               % (_s(grp), _s(argv[2])))
    return s, g, mkstream, entries_read


@command("xgroup|create")
def xgroup_create(c: Client, argv):
    s, g, mkstream, entries_read = _xgroup_common(c, argv)
    if len(argv) > 8:
        raise _subcmd_syntax(argv)
    if argv[4] == b"$":
        idk = s.last_id if s is not None else 0
    else:
        idk = parse_id(argv[4], 0, True)
    key = argv[2]
    if s is None:
        s = Stream()
        c.db.add(key, s)
    if s.groups is None:
        s.groups = {}
    name = argv[3]
    if name in s.groups:
        raise CommandError("BUSYGROUP Consumer Group name already exists")
    s.groups[name] = Group(idk, entries_read)
    c.server.dirty += 1
    _notify(c, b"xgroup-create", key)
    return OK


@command("xgroup|setid")
def xgroup_setid(c: Client, argv):
    s, g, _mk, entries_read = _xgroup_common(c, argv)
    if len(argv) not in (5, 7):
        raise _subcmd_syntax(argv)
    if argv[4] == b"$":
        idk = s.last_id
    else:
        idk = parse_id(argv[4], 0, False)
    g.last_id = idk
    g.entries_read = entries_read
    c.server.dirty += 1
    _notify(c, b"xgroup-setid", argv[2])
    return OK


@command("xgroup|destroy")
def xgroup_destroy(c: Client, argv):
    s, g, _mk, _er = _xgroup_common(c, argv)
    if g is None:
        return ZERO
    del s.groups[argv[3]]
    c.server.dirty += 1
    _notify(c, b"xgroup-destroy", argv[2])
    c.db.signal_ready(argv[2])
    return ONE


@command("xgroup|createconsumer")
def xgroup_createconsumer(c: Client, argv):
    s, g, _mk, _er = _xgroup_common(c, argv)
    created = _create_consumer(c, g, argv[4], argv[2], c.db.id, c.server.time_ms())
    return ONE if created is not None else ZERO


@command("xgroup|delconsumer")
def xgroup_delconsumer(c: Client, argv):
    s, g, _mk, _er = _xgroup_common(c, argv)
    cons = g.consumers.get(argv[4])
    if cons is None:
        return ZERO
    pending = len(cons.pel)
    for idk in cons.pel:
        g.pel.pop(idk, None)
    cons.pel.clear()           # (its NACKs refer back to it: no cycle left behind)
    del g.consumers[argv[4]]
    c.server.dirty += 1
    _notify(c, b"xgroup-delconsumer", argv[2])
    return integer(pending)


_XGROUP_HELP = [
    "CREATE <key> <groupname> <id|$> [option]",
    "    Create a new consumer group. Options are:",
    "    * MKSTREAM",
    "      Create the empty stream if it does not exist.",
    "    * ENTRIESREAD entries_read",
    "      Set the group's entries_read counter (internal use).",
    "CREATECONSUMER <key> <groupname> <consumer>",
    "    Create a new consumer in the specified group.",
    "DELCONSUMER <key> <groupname> <consumer>",
    "    Remove the specified consumer.",
    "DESTROY <key> <groupname>",
    "    Remove the specified group.",
    "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    "    Set the current group ID and entries_read counter.",
]


@command("xgroup|help")
def xgroup_help(c: Client, argv):
    return help_reply(argv, _XGROUP_HELP)


# -- XACK / XPENDING / XCLAIM / XAUTOCLAIM -----------------------------------------------
@command("xack")
def xack(c: Client, argv):
    s = _lookup_read(c, argv[1])
    g = s.groups.get(argv[2]) if (s is not None and s.groups) else None
    if g is None:
        return ZERO
    ids = [parse_id(a, 0, True) for a in argv[3:]]
    n = 0
    pel = g.pel
    for idk in ids:
        nack = pel.pop(idk, None)
        if nack is not None:
            if nack.consumer is not None:
                nack.consumer.pel.pop(idk, None)
            n += 1
    if n:
        c.server.dirty += n
    return integer(n)


@command("xpending")
def xpending(c: Client, argv):
    argc = len(argv)
    justinfo = argc == 3
    if argc != 3 and (argc < 6 or argc > 9):
        raise CommandError(SYNTAX)
    minidle = 0
    consumername = None
    if argc >= 6:
        si = 3
        if argv[3].lower() == b"idle":
            minidle = _ll(argv[4])
            if argc < 8:
                raise CommandError(SYNTAX)
            si += 2
        count = _ll(argv[si + 2])
        if count < 0:
            count = 0
        start = parse_range_start(argv[si])
        end = parse_range_end(argv[si + 1])
        if si + 3 < argc:
            consumername = argv[si + 3]
    s = _lookup_read(c, argv[1])
    g = s.groups.get(argv[2]) if (s is not None and s.groups) else None
    if g is None:
        raise CommandError("NOGROUP No such key '%s' or consumer group '%s'"
                           % (_s(argv[1]), _s(argv[2])))
    r = c.r
    if justinfo:
        pel = g.pel
        if not pel:
            return b"*4\r\n:0\r\n" + r.null + r.null + r.null_array
        cons = [x for x in g.sorted_consumers() if x.pel]
        parts = [b"*4\r\n", integer(len(pel)), id_bulk(pel.keys()[0]),
                 id_bulk(pel.keys()[-1]), b"*%d\r\n" % len(cons)]
        for x in cons:
            parts.append(b"*2\r\n" + bulk(x.name) + bulk(b"%d" % len(x.pel)))
        return b"".join(parts)
    if consumername is not None:
        cons = g.consumers.get(consumername)
        if cons is None:
            return EMPTY_ARRAY
        pel = cons.pel
    else:
        pel = g.pel
    now = c.server.time_ms()
    out = []
    if count and start <= end:
        for idk in pel.irange(start, end):
            nack = pel[idk]
            if minidle and now - nack.delivery_time < minidle:
                continue
            elapsed = now - nack.delivery_time
            if elapsed < 0:
                elapsed = 0
            out.append(b"*4\r\n" + id_bulk(idk) + bulk(nack.consumer.name) + integer(elapsed)
                       + integer(nack.delivery_count))
            count -= 1
            if not count:
                break
    return b"*%d\r\n" % len(out) + b"".join(out)


@command("xclaim")
def xclaim(c: Client, argv):
    key = argv[1]
    gname = argv[2]
    s = _lookup_read(c, key)
    g = s.groups.get(gname) if (s is not None and s.groups) else None
    if g is None:
        raise CommandError("NOGROUP No such key '%s' or consumer group '%s'"
                           % (_s(key), _s(gname)))
    minidle = _ll(argv[4], "ERR Invalid min-idle-time argument for XCLAIM")
    if minidle < 0:
        minidle = 0
    argc = len(argv)
    ids = []
    j = 5
    while j < argc:
        idk = try_parse_id(argv[j])
        if idk is None:
            break
        ids.append((idk, argv[j]))
        j += 1
    srv: RedisServer = c.server
    now = srv.time_ms()
    retrycount = -1
    deliverytime = -1
    force = justid = False
    last_id = 0
    while j < argc:
        more = argc - 1 - j
        opt = argv[j].lower()
        if opt == b"force":
            force = True
        elif opt == b"justid":
            justid = True
        elif opt == b"idle" and more:
            j += 1
            deliverytime = now - _ll(argv[j], "ERR Invalid IDLE option argument for XCLAIM")
        elif opt == b"time" and more:
            j += 1
            deliverytime = _ll(argv[j], "ERR Invalid TIME option argument for XCLAIM")
        elif opt == b"retrycount" and more:
            j += 1
            retrycount = _ll(argv[j], "ERR Invalid RETRYCOUNT option argument for XCLAIM")
        elif opt == b"lastid" and more:
            j += 1
            last_id = parse_id(argv[j], 0, True)
        else:
            raise CommandError("ERR Unrecognized XCLAIM option '%s'" % _s(argv[j]))
        j += 1
    propagate_last_id = False
    if last_id > g.last_id:
        g.last_id = last_id
        propagate_last_id = True
    if deliverytime != -1:
        if deliverytime < 0 or deliverytime > now:
            deliverytime = now
    else:
        deliverytime = now
    consumer = None
    name = argv[3]
    out = []
    prop = []
    pel = g.pel
    for idk, raw in ids:
        nack = pel.get(idk)
        fv = s.get(idk)
        if fv is None:
            if nack is not None:
                prop.append(_xclaim_argv(key, gname, g, raw, nack))
                propagate_last_id = False
                srv.dirty += 1
                del pel[idk]
                if nack.consumer is not None:
                    nack.consumer.pel.pop(idk, None)
            continue
        if force and nack is None:
            nack = NACK(None, now)
            pel[idk] = nack
        if nack is None:
            continue
        if nack.consumer is not None and minidle:
            if now - nack.delivery_time < minidle:
                continue
        if consumer is None:
            consumer = _lookup_consumer(g, name, now)
            if consumer is None:
                consumer = _create_consumer(c, g, name, key, c.db.id, now)
        if nack.consumer is not consumer and nack.consumer is not None:
            nack.consumer.pel.pop(idk, None)
        nack.delivery_time = deliverytime
        if retrycount >= 0:
            nack.delivery_count = retrycount
        elif not justid:
            nack.delivery_count += 1
        if nack.consumer is not consumer:
            consumer.pel[idk] = nack
            nack.consumer = consumer
        out.append(id_bulk(idk) if justid else entry_reply(idk, fv))
        prop.append(_xclaim_argv(key, gname, g, raw, nack))
        propagate_last_id = False
        srv.dirty += 1
    if propagate_last_id:
        prop.append(_setid_argv(key, gname, g))
        srv.dirty += 1
    c.prop_override = prop
    return b"*%d\r\n" % len(out) + b"".join(out)


_MAX_AUTOCLAIM_COUNT = ((1 << 63) - 1) // 16


@command("xautoclaim")
def xautoclaim(c: Client, argv):
    key = argv[1]
    gname = argv[2]
    minidle = _ll(argv[4], "ERR Invalid min-idle-time argument for XAUTOCLAIM")
    if minidle < 0:
        minidle = 0
    start = parse_range_start(argv[5])
    count = 100
    justid = False
    argc = len(argv)
    j = 6
    while j < argc:
        more = argc - 1 - j
        opt = argv[j].lower()
        if opt == b"count" and more:
            v = parse_ll(argv[j + 1])
            if v is None or not 1 <= v <= _MAX_AUTOCLAIM_COUNT:
                raise CommandError("ERR COUNT must be > 0")
            count = v
            j += 1
        elif opt == b"justid":
            justid = True
        else:
            raise CommandError(SYNTAX)
        j += 1
    s = _lookup_read(c, key)
    g = s.groups.get(gname) if (s is not None and s.groups) else None
    if g is None:
        raise CommandError("NOGROUP No such key '%s' or consumer group '%s'"
                           % (_s(key), _s(gname)))
    if count * 16 > (1 << 44):
        raise CommandError("ERR Insufficient memory, failed allocating transient memory, "
                           "COUNT too high.")
    srv: RedisServer = c.server
    now = srv.time_ms()
    attempts = count * 10
    pel = g.pel
    keys = pel.keys()
    consumer = None
    name = argv[3]
    out = []
    deleted = []
    prop = []
    pos = start
    while attempts and count:
        attempts -= 1
        idx = pel.bisect_left(pos)
        if idx >= len(keys):
            break
        idk = keys[idx]
        pos = idk + 1
        nack = pel[idk]
        fv = s.get(idk)
        if fv is None:
            prop.append(_xclaim_argv(key, gname, g, fmt_id(idk), nack))
            srv.dirty += 1
            del pel[idk]
            if nack.consumer is not None:
                nack.consumer.pel.pop(idk, None)
            deleted.append(idk)
            count -= 1
            continue
        if minidle and now - nack.delivery_time < minidle:
            continue
        if consumer is None:
            consumer = _lookup_consumer(g, name, now)
            if consumer is None:
                consumer = _create_consumer(c, g, name, key, c.db.id, now)
        if nack.consumer is not consumer and nack.consumer is not None:
            nack.consumer.pel.pop(idk, None)
        nack.delivery_time = now
        if not justid:
            nack.delivery_count += 1
        if nack.consumer is not consumer:
            consumer.pel[idk] = nack
            nack.consumer = consumer
        out.append(id_bulk(idk) if justid else entry_reply(idk, fv))
        count -= 1
        prop.append(_xclaim_argv(key, gname, g, fmt_id(idk), nack))
        srv.dirty += 1
    idx = pel.bisect_left(pos)
    cursor = keys[idx] if idx < len(keys) else 0
    c.prop_override = prop
    return (b"*3\r\n" + id_bulk(cursor) + b"*%d\r\n" % len(out) + b"".join(out)
            + b"*%d\r\n" % len(deleted) + b"".join([id_bulk(x) for x in deleted]))


# -- XINFO --------------------------------------------------------------------------------
_XINFO_HELP = [
    "CONSUMERS <key> <groupname>",
    "    Show consumers of <groupname>.",
    "GROUPS <key>",
    "    Show the stream consumer groups.",
    "STREAM <key> [FULL [COUNT <count>]",
    "    Show information about the stream.",
]


@command("xinfo|help")
def xinfo_help(c: Client, argv):
    return help_reply(argv, _XINFO_HELP)


def _xinfo_key(c: Client, argv):
    s = c.db.lookup_read(argv[2])
    if s is None:
        raise CommandError(NO_SUCH_KEY)
    if type(s) is not Stream:
        raise CommandError(WRONGTYPE)
    return s


def _maybe_int(r, v):
    return r.null if v is None else integer(v)


@command("xinfo|consumers")
def xinfo_consumers(c: Client, argv):
    s = _xinfo_key(c, argv)
    g = s.groups.get(argv[3]) if s.groups else None
    if g is None:
        raise CommandError("NOGROUP No such consumer group '%s' for key name '%s'"
                           % (_s(argv[3]), _s(argv[2])))
    r = c.r
    now = c.server.time_ms()
    cons = g.sorted_consumers()
    parts = [b"*%d\r\n" % len(cons)]
    for x in cons:
        idle = now - x.seen_time
        if idle < 0:
            idle = 0
        parts.append(r.map([(bulk(b"name"), bulk(x.name)),
                            (bulk(b"pending"), integer(len(x.pel))),
                            (bulk(b"idle"), integer(idle))]))
    return b"".join(parts)


@command("xinfo|groups")
def xinfo_groups(c: Client, argv):
    s = _xinfo_key(c, argv)
    r = c.r
    groups = s.sorted_groups()
    parts = [b"*%d\r\n" % len(groups)]
    for name, g in groups:
        parts.append(r.map([
            (bulk(b"name"), bulk(name)),
            (bulk(b"consumers"), integer(len(g.consumers))),
            (bulk(b"pending"), integer(len(g.pel))),
            (bulk(b"last-delivered-id"), id_bulk(g.last_id)),
            (bulk(b"entries-read"), r.null if g.entries_read == SCG_INVALID_ENTRIES_READ
             else integer(g.entries_read)),
            (bulk(b"lag"), _maybe_int(r, s.lag(g)))]))
    return b"".join(parts)


@command("xinfo|stream")
def xinfo_stream(c: Client, argv):
    s = _xinfo_key(c, argv)
    r = c.r
    opts = argv[3:]
    full = True
    count = 10
    if not opts:
        full = False
    else:
        if len(opts) not in (1, 3):
            raise _subcmd_syntax(argv)
        if opts[0].lower() != b"full":
            raise _subcmd_syntax(argv)
        if len(opts) == 3:
            if opts[1].lower() != b"count":
                raise _subcmd_syntax(argv)
            count = _ll(opts[2])
            if count < 0:
                count = 10
    pairs = [(bulk(b"length"), integer(s.length)),
             (bulk(b"radix-tree-keys"), integer(len(s.nodes))),
             (bulk(b"radix-tree-nodes"), integer(s.rax_nodes())),
             (bulk(b"last-generated-id"), id_bulk(s.last_id)),
             (bulk(b"max-deleted-entry-id"), id_bulk(s.max_deleted)),
             (bulk(b"entries-added"), integer(s.entries_added)),
             (bulk(b"recorded-first-entry-id"), id_bulk(s.first_id))]
    if not full:
        pairs.append((bulk(b"groups"), integer(len(s.groups) if s.groups else 0)))
        first = s.range(0, MAX_ID, 1)
        last = s.range(0, MAX_ID, 1, True)
        pairs.append((bulk(b"first-entry"),
                      entry_reply(*first[0]) if first else r.null))
        pairs.append((bulk(b"last-entry"), entry_reply(*last[0]) if last else r.null))
        return r.map(pairs)
    pairs.append((bulk(b"entries"), entries_reply(s.range(0, MAX_ID, count))))
    groups = s.sorted_groups()
    gparts = [b"*%d\r\n" % len(groups)]
    for name, g in groups:
        pend = []
        for idk, nack in g.pel.items():
            if count and len(pend) >= count:
                break
            pend.append(b"*4\r\n" + id_bulk(idk) + bulk(nack.consumer.name)
                        + integer(nack.delivery_time) + integer(nack.delivery_count))
        cparts = []
        cons = g.sorted_consumers()
        for x in cons:
            cp = []
            for idk, nack in x.pel.items():
                if count and len(cp) >= count:
                    break
                cp.append(b"*3\r\n" + id_bulk(idk) + integer(nack.delivery_time)
                          + integer(nack.delivery_count))
            cparts.append(r.map([
                (bulk(b"name"), bulk(x.name)),
                (bulk(b"seen-time"), integer(x.seen_time)),
                (bulk(b"pel-count"), integer(len(x.pel))),
                (bulk(b"pending"), b"*%d\r\n" % len(cp) + b"".join(cp))]))
        gparts.append(r.map([
            (bulk(b"name"), bulk(name)),
            (bulk(b"last-delivered-id"), id_bulk(g.last_id)),
            (bulk(b"entries-read"), r.null if g.entries_read == SCG_INVALID_ENTRIES_READ
             else integer(g.entries_read)),
            (bulk(b"lag"), _maybe_int(r, s.lag(g))),
            (bulk(b"pel-count"), integer(len(g.pel))),
            (bulk(b"pending"), b"*%d\r\n" % len(pend) + b"".join(pend)),
            (bulk(b"consumers"), b"*%d\r\n" % len(cons) + b"".join(cparts))]))
    pairs.append((bulk(b"groups"), b"".join(gparts)))
    return r.map(pairs)
