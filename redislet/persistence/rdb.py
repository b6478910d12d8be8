"""RDB files (version 10, as Redis 7.0 writes them) and DUMP payloads: saving, loading,
BGSAVE in a forked child.

Shared interface (AOF and replication build on it):

    dump_value(value, cfg=None, compress=True) -> bytes   type byte + object (no key)
    load_value(data, cfg=None) -> value                    inverse; RDBError on bad data
    dump_payload(value, cfg=None) / verify_payload(data)   DUMP format (version + CRC64)
    write_rdb(srv, f, aux_extra=None, aof_base=False)      whole RDB stream to binary file f
    save(srv, path) -> ok                                  rdbSave: temp file, fsync, rename
    load_rdb(srv, f, ...) -> bytes consumed                REPLACE srv's dataset from f
    load(srv, path)
    fork_save(srv, path, on_done)                          child saves; on_done(code, signal)

Every object type and encoding of Redis 7.0 and earlier is read: strings (raw, integer,
LZF), lists (plain, ziplist, quicklist of ziplists, quicklist 2 of listpacks and plain
nodes), sets (plain, intset), hashes (plain, zipmap, ziplist, listpack), sorted sets
(ZSET, ZSET_2, ziplist, listpack), streams (listpacks v1 and v2, consumer groups, PELs),
module aux records (refused, as Redis does without the module), functions.

Function libraries: the scripting family registers `FUNCTION_SAVERS` (fn(srv) -> iterable
of library code bytes) and `FUNCTION_LOADERS` (fn(srv, code), raising ValueError with a
message on failure). Without a loader, loaded library code is kept in
srv.rdb_function_code (a list) for whoever comes later.
"""
import errno
import bisect
import itertools
import math
import operator
import os
import re
import struct
import sys
import time

from . import loading, lzf
from .crc64 import crc64
from .encodings import (EncodingError, lp_decode, lp_build, lp_header_ok, zl_decode,
                        read_string_run, read_scored_run, read_string_pairs, ints_as_bytes,
                        LEN1, NUMSTART, enc_len, enc_string,
                        enc_strings, enc_ints_one_width,
                        intset_decode, intset_build, zipmap_decode, as_int, to_bytes)
from .. import REDIS_VERSION, children
from ..gcpolicy import without_collector
from ..db import idle_ms, lfu_decr_and_return, restored_clock
# a zset's index key is its score's 8-byte sort key then the member; the exact score is
# the dict's (the key does not tell -0 from 0)
from ..types.zset import member_of_key
from ..util import atoll

RDB_VERSION = 10

# object types
T_STRING = 0
T_LIST = 1
T_SET = 2
T_ZSET = 3
T_HASH = 4
T_ZSET_2 = 5
T_MODULE = 6
T_MODULE_2 = 7
T_HASH_ZIPMAP = 9
T_LIST_ZIPLIST = 10
T_SET_INTSET = 11
T_ZSET_ZIPLIST = 12
T_HASH_ZIPLIST = 13
T_LIST_QUICKLIST = 14
T_STREAM_LISTPACKS = 15
T_HASH_LISTPACK = 16
T_ZSET_LISTPACK = 17
T_LIST_QUICKLIST_2 = 18
T_STREAM_LISTPACKS_2 = 19

# opcodes
OP_FUNCTION2 = 245
OP_FUNCTION = 246
OP_MODULE_AUX = 247
OP_IDLE = 248
OP_FREQ = 249
OP_AUX = 250
OP_RESIZEDB = 251
OP_EXPIRETIME_MS = 252
OP_EXPIRETIME = 253
OP_SELECTDB = 254
OP_EOF = 255

QL_PLAIN = 1
QL_PACKED = 2

MASK64 = (1 << 64) - 1

FUNCTION_SAVERS = []     # fn(srv) -> iterable of library code (bytes)
FUNCTION_LOADERS = []    # fn(srv, code); raise ValueError(message) on failure
FUNCTION_CLEARERS = []   # fn(srv): drop every library before a dataset-replacing load

# Redis's defaults, for callers without a server configuration at hand
DEFAULT_CFG = {
    "hash-max-listpack-entries": 128, "hash-max-listpack-value": 64,
    "set-max-intset-entries": 512,
    "zset-max-listpack-entries": 128, "zset-max-listpack-value": 64,
    "list-max-listpack-size": -2, "rdbcompression": True, "rdbchecksum": True,
}


class RDBError(Exception):
    """Corrupt or truncated RDB data. `offset` is the byte position where it was found;
    `line` is the line of Redis 7.0.15's rdb.c whose rdbReportCorruptRDB reports the same
    problem (0: Redis reports nothing, e.g. a short read)."""

    def __init__(self, msg, offset=None, line=0):
        super().__init__(msg if offset is None else "%s (at offset %d)" % (msg, offset))
        self.msg = msg
        self.offset = offset
        self.line = line


class CorruptAccepted(RDBError):
    """Data that passes the checks Redis makes under the active sanitize-dump-payload mode
    (shallow: listpack/intset headers only) but is corrupt inside, so it cannot be
    decoded. Redis would store it (and may crash on it later); redislet refuses it.
    `crash`: when Redis itself would hit an assertion or panic while loading it, the
    log lines of that crash report (see crash_lines)."""

    def __init__(self, msg, offset=None, crash=None):
        super().__init__(msg, offset, 0)
        self.crash = crash


_pack_d = struct.Struct("<d").pack
_pack_q = struct.Struct("<q").pack
_unpack_d = struct.Struct("<d").unpack_from
_unpack_q = struct.Struct("<q").unpack_from
_unpack_i = struct.Struct("<i").unpack_from
_unpack_h = struct.Struct("<h").unpack_from
_unpack_BE32 = struct.Struct(">I").unpack_from
_unpack_BE64 = struct.Struct(">Q").unpack_from
_unpack_id = struct.Struct(">QQ").unpack_from
_pack_id = struct.Struct(">QQ").pack
_unpack_u32 = struct.Struct("<I").unpack_from


# ======================================================================================
# writing
# ======================================================================================
def _ql_limit(fill):
    """quicklist node limits: (max bytes, max entries) for list-max-listpack-size."""
    if fill < 0:
        idx = -fill - 1
        sizes = (4096, 8192, 16384, 32768, 65536)
        return (sizes[idx] if idx < 5 else 65536), 1 << 62
    return 8192, max(fill, 1)


def _lp_entry_size(s):
    n = len(s)
    if n <= 20:
        return 11   # upper bound for ints / short strings: close enough for node sizing
    if n < 64:
        return n + 2
    if n < 4096:
        return n + 4
    return n + 10


_ENTRY_SIZE = [_lp_entry_size(bytes(n)) for n in range(4096)]
PACKED_THRESHOLD = 1 << 30


def _packed_node(elements, compress):
    return b"\x02" + enc_string(lp_build(elements), compress)     # QL_PACKED


def _dump_list(lst, cfg, compress):
    """A quicklist 2: listpack nodes filled up to the node limits (sizes estimated by
    _lp_entry_size), plain nodes for elements of PACKED_THRESHOLD bytes or more."""
    maxbytes, maxcount = _ql_limit(cfg.get("list-max-listpack-size", -2))
    items = list(lst)
    lens = list(map(len, items))
    top = max(lens, default=0)
    if top < PACKED_THRESHOLD:
        # the running sum of the entry sizes: a node ends before the first entry that
        # would take it past maxbytes (found by bisection), or at maxcount entries
        cum = list(itertools.accumulate(map(_ENTRY_SIZE.__getitem__, lens) if top < 4096
                                        else map(_lp_entry_size, items)))
        limit = maxbytes - 7            # the listpack's header and end byte
        nodes = []
        s = 0
        base = 0
        n = len(items)
        while s < n:
            e = bisect.bisect_right(cum, base + limit, s)
            if e > s + maxcount:
                e = s + maxcount
            elif e == s:
                e = s + 1               # one entry alone past the limit
            nodes.append(_packed_node(items[s:e], compress))
            base = cum[e - 1]
            s = e
        return enc_len(len(nodes)) + b"".join(nodes)
    nodes = []
    cur = []
    size = 7
    for e in items:
        n = len(e)
        if n >= PACKED_THRESHOLD:
            if cur:
                nodes.append(_packed_node(cur, compress))
                cur = []
                size = 7
            nodes.append(enc_len(QL_PLAIN) + enc_string(e, compress))
            continue
        es = 11 if n <= 20 else n + 2 if n < 64 else n + 4 if n < 4096 else n + 10
        if cur and (size + es > maxbytes or len(cur) >= maxcount):
            nodes.append(_packed_node(cur, compress))
            cur = []
            size = 7
        cur.append(e)
        size += es
    if cur:
        nodes.append(_packed_node(cur, compress))
    return enc_len(len(nodes)) + b"".join(nodes)


def _dump_stream(s, compress):
    out = [enc_len(len(s.nodes))]
    for node in s.nodes:
        out.append(enc_string(_pack_id(node.master >> 64, node.master & MASK64), False))
        out.append(enc_string(lp_build(_stream_node_elements(node)), compress))
    last = s.last_id
    first = s.first_id
    md = s.max_deleted
    out.append(enc_len(s.length) + enc_len(last >> 64) + enc_len(last & MASK64)
               + enc_len(first >> 64) + enc_len(first & MASK64)
               + enc_len(md >> 64) + enc_len(md & MASK64) + enc_len(s.entries_added))
    groups = s.sorted_groups()
    out.append(enc_len(len(groups)))
    for name, g in groups:
        out.append(enc_string(name, compress))
        out.append(enc_len(g.last_id >> 64) + enc_len(g.last_id & MASK64)
                   + enc_len(g.entries_read & MASK64))
        out.append(enc_len(len(g.pel)))
        for idk, nack in g.pel.items():
            out.append(_pack_id(idk >> 64, idk & MASK64) + _pack_q(nack.delivery_time)
                       + enc_len(nack.delivery_count))
        consumers = g.sorted_consumers()
        out.append(enc_len(len(consumers)))
        for cons in consumers:
            out.append(enc_string(cons.name, compress) + _pack_q(cons.seen_time)
                       + enc_len(len(cons.pel)))
            for idk in cons.pel:
                out.append(_pack_id(idk >> 64, idk & MASK64))
    return b"".join(out)


_H63 = 1 << 63
_even = operator.itemgetter(slice(0, None, 2))


def _stream_node_elements(node):
    """The elements of a stream node's listpack: the master entry, then each entry as
    flags, ID deltas (signed 64-bit), its values (flag 2: the master fields) or its
    fields and values, and its lp-count."""
    mf = node.mfields
    nf = len(mf)
    master = node.master
    mms = master >> 64
    mseq = master & MASK64
    el = [node.live, node.deleted, nf]
    el.extend(mf)
    el.append(0)
    ids = node.ids
    entries = node.entries
    if None not in entries and all(map(mf.__eq__, map(_even, entries))):
        # every entry has the master fields (XADDs of one shape): column by column
        dms = [(((i >> 64) - mms + _H63) & MASK64) - _H63 for i in ids]
        dseq = [(((i & MASK64) - mseq + _H63) & MASK64) - _H63 for i in ids]
        values = list(zip(*entries))[1::2]
        el.extend(_chain(zip(itertools.repeat(2), dms, dseq, *values,
                             itertools.repeat(nf + 3))))
        return el
    blank = [b""] * nf
    for idk, fv in zip(ids, entries):
        dms = ((idk >> 64) - mms) & MASK64
        if dms >> 63:
            dms -= 1 << 64
        dseq = ((idk & MASK64) - mseq) & MASK64
        if dseq >> 63:
            dseq -= 1 << 64
        if fv is None:
            el.extend((3, dms, dseq))
            el.extend(blank)
            el.append(nf + 3)
        elif fv[0::2] == mf:
            el.extend((2, dms, dseq))
            el.extend(fv[1::2])
            el.append(nf + 3)
        else:
            k = len(fv) >> 1
            el.extend((0, dms, dseq, k))
            el.extend(fv)
            el.append(2 * k + 4)
    return el


def _dump_hash(value, cfg, compress):
    flat = _chain(value.items())        # field, value, field, value...
    if not value.ht:
        return b"\x10" + enc_string(lp_build(flat), compress)
    return b"\x04" + enc_len(len(value)) + enc_strings(flat, compress)


def _dump_set(value, cfg, compress):
    if not value.ht:
        return b"\x0b" + enc_string(intset_build([int(m) for m in value]), compress)
    members = list(value)
    body = enc_ints_one_width(members)
    if body is None:
        body = enc_strings(members, compress)
    return b"\x02" + enc_len(len(value)) + body


_SCORE_INT_MAX = 4611686018427387904.0      # d2string prints integers up to 2^62 as %d


def _zset_lp_elements(z):
    """member, score, member, score... in rank order, each score as zzlInsertAt stores
    it: d2string's text, which for an integral score (not -0) within 2^62 spells an int
    (so it is given as that int: the listpack stores it integer-encoded either way)."""
    el = []
    ap = el.append
    d = z.dict
    for m in map(member_of_key, z.order):
        score = d[m]
        ap(m)
        if (score.is_integer() and -_SCORE_INT_MAX <= score <= _SCORE_INT_MAX
                and (score or math.copysign(1.0, score) > 0)):
            ap(int(score))
        else:
            ap(_d2string(score))
    return el


def _dump_zset(value, cfg, compress):
    if value.listpack:
        return b"\x11" + enc_string(lp_build(_zset_lp_elements(value)), compress)
    # the skiplist is saved from its tail: member, then the score as a binary double
    members = list(map(member_of_key, reversed(value.order)))
    scores = map(_pack_d, map(value.dict.__getitem__, members))
    return (b"\x05" + enc_len(len(value))
            + enc_strings(members, compress, scores))


_DUMPERS = {}
_d2string = None
_chain = itertools.chain.from_iterable


def _init_types():
    global _d2string
    from ..commands.hashes import Hash
    from ..commands.sets import RSet
    from ..types.zset import ZSet, d2string
    from ..types.rlist import RList
    from ..types.stream import Stream
    _d2string = d2string
    _DUMPERS[bytes] = lambda v, cfg, compress: b"\x00" + enc_string(v, compress)
    _DUMPERS[RList] = lambda v, cfg, compress: b"\x12" + _dump_list(v, cfg, compress)
    _DUMPERS[Hash] = _dump_hash
    _DUMPERS[RSet] = _dump_set
    _DUMPERS[ZSet] = _dump_zset
    _DUMPERS[Stream] = lambda v, cfg, compress: b"\x13" + _dump_stream(v, compress)


def dump_value(value, cfg=None, compress=None):
    """The RDB type byte followed by the serialized object (no key)."""
    if cfg is None:
        cfg = DEFAULT_CFG
    if compress is None:
        compress = cfg.get("rdbcompression", True)
    fn = _DUMPERS.get(type(value))
    if fn is None:
        if not _DUMPERS:
            _init_types()
            fn = _DUMPERS.get(type(value))
        if fn is None:
            raise TypeError("cannot serialize %r" % type(value))
    return fn(value, cfg, compress)


def dump_payload(value, cfg=None):
    """DUMP's reply: object, RDB version (2 bytes LE), CRC64 (8 bytes LE)."""
    body = dump_value(value, cfg) + b"\x0a\x00"
    return body + crc64(0, body).to_bytes(8, "little")


def verify_payload(data, check_crc=True):
    """verifyDumpPayload: True when the footer's version and checksum are acceptable."""
    if len(data) < 10:
        return False
    ver = data[-10] | (data[-9] << 8)
    if ver > RDB_VERSION:
        return False
    if not check_crc:
        return True
    return crc64(0, memoryview(data)[:-8]) == int.from_bytes(data[-8:], "little")


def _aux(key, value, compress):
    return b"\xfa" + enc_string(key, compress) + enc_string(value, compress)


def used_memory():
    try:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    except Exception:   # pragma: no cover
        return 0


class _Out:
    """Buffered writer that keeps the running CRC64 (Redis's rio with update_cksum)."""
    __slots__ = ("f", "parts", "size", "crc", "checksum", "written")

    def __init__(self, f, checksum):
        self.f = f
        self.parts = []
        self.size = 0
        self.crc = 0
        self.checksum = checksum
        self.written = 0

    def write(self, b):
        self.parts.append(b)
        self.size += len(b)
        if self.size >= 4 << 20:
            self.flush()

    def flush(self):
        if not self.parts:
            return
        data = b"".join(self.parts)
        self.parts.clear()      # in place: the writer loop keeps an alias of the list
        self.size = 0
        if self.checksum:
            self.crc = crc64(self.crc, data)
        self.f.write(data)
        self.written += len(data)


def write_rdb(srv, f, aux_extra=None, aof_base=False, key_delay_us=None, exclude_data=False):
    """Write a complete RDB v10 stream of srv's dataset (and function libraries) to f.
    aux_extra: (name, value) pairs written among the AUX fields (replication: repl-id,
    repl-offset, repl-stream-db). exclude_data: the function libraries only (a replica's
    REPLCONF rdb-filter-only functions: SLAVE_REQ_RDB_EXCLUDE_DATA). Returns the number of
    keys written."""
    cfg = srv.config.values
    compress = cfg.get("rdbcompression", True)
    out = _Out(f, cfg.get("rdbchecksum", True))
    w = out.write
    w(b"REDIS%04d" % RDB_VERSION)
    w(_aux(b"redis-ver", REDIS_VERSION.encode(), compress))
    w(_aux(b"redis-bits", b"64", compress))
    w(_aux(b"ctime", b"%d" % int(time.time()), compress))
    w(_aux(b"used-mem", b"%d" % used_memory(), compress))
    extra = list(aux_extra.items()) if isinstance(aux_extra, dict) else list(aux_extra or ())
    for k, v in extra:
        if _b(k) == b"aof-base":
            aof_base = _b(v) not in (b"0", b"")
            continue
        w(_aux(_b(k), _b(v), compress))
    w(_aux(b"aof-base", b"1" if aof_base else b"0", compress))
    for saver in FUNCTION_SAVERS:
        for code in saver(srv):
            w(b"\xf5" + enc_string(code, compress))
    if not FUNCTION_SAVERS:
        for code in getattr(srv, "rdb_function_code", None) or ():
            w(b"\xf5" + enc_string(code, compress))
    if key_delay_us is None:
        key_delay_us = cfg.get("rdb-key-save-delay", 0)
    policy = cfg.get("maxmemory-policy", "noeviction")
    save_lru = "lru" in policy
    save_lfu = "lfu" in policy
    nkeys = 0
    L1 = LEN1
    reporter = child_reporter
    for db in () if exclude_data else srv.dbs:
        data = db.data
        if not data:
            continue
        expires = db.expires
        w(b"\xfe" + enc_len(db.id) + b"\xfb" + enc_len(len(data)) + enc_len(len(expires)))
        parts = out.parts
        for key, value in list(data.items()):
            if expires:
                when = expires.get(key)
                if when is not None:
                    w(b"\xfc" + _pack_q(when))
                    parts = out.parts
            if save_lru or save_lfu:
                w(_lru_opcode(srv, db, key, save_lfu))
                parts = out.parts
            if type(value) is bytes:
                # inlined enc_string for the common short string (no int, no LZF)
                n = len(key)
                if (11 < n <= 20 or (n > 20 and n < 64 and not compress)
                        or (0 < n <= 11 and key[0] not in NUMSTART)):
                    ek = L1[n] + key
                else:
                    ek = enc_string(key, compress)
                n = len(value)
                if (11 < n <= 20 or (n > 20 and n < 64 and not compress)
                        or (0 < n <= 11 and value[0] not in NUMSTART)):
                    rec = b"\x00" + ek + L1[n] + value
                else:
                    rec = b"\x00" + ek + enc_string(value, compress)
                parts.append(rec)
                out.size += len(rec)
                if out.size >= 4 << 20:
                    out.flush()
                    parts = out.parts
            else:
                body = dump_value(value, cfg, compress)
                w(body[:1] + enc_string(key, compress) + body[1:])
            nkeys += 1
            if key_delay_us:
                _delay(key_delay_us)
            if reporter is not None and not nkeys & 1023:
                reporter.progress(nkeys)
    w(b"\xff")
    out.flush()
    crc = out.crc if out.checksum else 0
    f.write(crc.to_bytes(8, "little"))
    return nkeys


def _lru_opcode(srv, db, key, lfu):
    if lfu:
        return b"\xf9" + bytes((lfu_decr_and_return(db, key),))
    now = srv.lru_clock
    return b"\xf8" + enc_len(idle_ms(db.access_clock(key, now), now) // 1000)


def _delay(us):
    """debugDelay: negative values are a number of microseconds per 1/-us keys."""
    if us > 0:
        time.sleep(us / 1e6)


def _b(x):
    if isinstance(x, bytes):
        return x
    if isinstance(x, int):
        return b"%d" % x
    return str(x).encode()


def save(srv, path, aux_extra=None):
    """rdbSave: write temp-<pid>.rdb in path's directory, fsync, rename over path, fsync
    the directory; logged as rdbSave logs. True on success."""
    d = os.path.dirname(path) or "."
    name = "temp-%d.rdb" % os.getpid()
    tmp = os.path.join(d, name)
    try:
        f = open(tmp, "wb")
    except OSError as e:
        srv.log("warning", "Failed opening the temp RDB file %s (in server root dir %s) for "
                "saving: %s" % (name, _cwd(), _strerror(e)))
        return False
    op = "rdbSaveRio"           # (what failed, for the log)
    try:
        try:
            write_rdb(srv, f, aux_extra)
            op = "fflush"
            f.flush()
            op = "fsync"
            os.fsync(f.fileno())
        finally:
            f.close()
        try:
            os.replace(tmp, path)
        except OSError as e:
            srv.log("warning", "Error moving temp DB file %s on the final destination %s (in "
                    "server root dir %s): %s" % (name, path, _cwd(), _strerror(e)))
            _unlink(tmp)
            return False
        op = "fsyncFileDir"
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        srv.log("warning", "Write error saving DB on disk(%s): %s" % (op, _strerror(e)))
        _unlink(tmp)
        return False
    except BaseException:
        _unlink(tmp)
        raise
    srv.log("notice", "DB saved on disk")
    return True


def _cwd():
    try:
        return os.getcwd()
    except OSError:          # (the directory was removed)
        return "unknown"


def _strerror(e):
    return os.strerror(e.errno or errno.EIO)


def _unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass


# ======================================================================================
# reading
# ======================================================================================
class Reader:
    """A cursor over an in-memory RDB stream (bytes)."""
    __slots__ = ("data", "pos", "end")

    def __init__(self, data, pos=0, end=None):
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    def fail(self, msg):
        raise RDBError(msg, self.pos)

    def byte(self):
        p = self.pos
        if p >= self.end:
            raise RDBError("Unexpected EOF reading RDB file", p)
        self.pos = p + 1
        return self.data[p]

    def read(self, n):
        p = self.pos
        e = p + n
        if e > self.end:
            raise RDBError("Unexpected EOF reading RDB file", p)
        self.pos = e
        return self.data[p:e]

    def length(self):
        d = self.data
        p = self.pos
        if p >= self.end:
            raise RDBError("Unexpected EOF reading RDB file", p)
        b = d[p]
        t = b >> 6
        if t == 0:
            self.pos = p + 1
            return b
        if t == 1:
            self.pos = p + 2
            if p + 2 > self.end:
                raise RDBError("Unexpected EOF reading RDB file", p)
            return ((b & 0x3F) << 8) | d[p + 1]
        if b == 0x80:
            if p + 5 > self.end:
                raise RDBError("Unexpected EOF reading RDB file", p)
            self.pos = p + 5
            return _unpack_BE32(d, p + 1)[0]
        if b == 0x81:
            if p + 9 > self.end:
                raise RDBError("Unexpected EOF reading RDB file", p)
            self.pos = p + 9
            return _unpack_BE64(d, p + 1)[0]
        raise RDBError("Unknown length encoding %d in rdbLoadLen()" % b, p)

    def string(self):
        """rdbGenericLoadStringObject: raw, integer-encoded or LZF-compressed string."""
        d = self.data
        p = self.pos
        end = self.end
        if p >= end:
            raise RDBError("Unexpected EOF reading RDB file", p)
        b = d[p]
        if b < 64:
            e = p + 1 + b
            if e > end:
                raise RDBError("Unexpected EOF reading RDB file", p)
            self.pos = e
            return d[p + 1:e]
        t = b >> 6
        if t == 1:
            if p + 2 > end:
                raise RDBError("Unexpected EOF reading RDB file", p)
            s = p + 2
            n = ((b & 0x3F) << 8) | d[p + 1]
        elif b == 0x80:
            if p + 5 > end:
                raise RDBError("Unexpected EOF reading RDB file", p)
            s = p + 5
            n = _unpack_BE32(d, p + 1)[0]
        elif b == 0x81:
            if p + 9 > end:
                raise RDBError("Unexpected EOF reading RDB file", p)
            s = p + 9
            n = _unpack_BE64(d, p + 1)[0]
        elif t == 3:
            enc = b & 0x3F
            if enc == 0:
                if p + 2 > end:
                    raise RDBError("Unexpected EOF reading RDB file", p)
                self.pos = p + 2
                v = d[p + 1]
                return b"%d" % (v - 256 if v > 127 else v)
            if enc == 1:
                if p + 3 > end:
                    raise RDBError("Unexpected EOF reading RDB file", p)
                self.pos = p + 3
                return b"%d" % _unpack_h(d, p + 1)[0]
            if enc == 2:
                if p + 5 > end:
                    raise RDBError("Unexpected EOF reading RDB file", p)
                self.pos = p + 5
                return b"%d" % _unpack_i(d, p + 1)[0]
            if enc == 3:
                self.pos = p + 1
                clen = self.length()
                ulen = self.length()
                start = self.pos
                comp = self.read(clen)
                try:
                    return lzf.decompress(comp, ulen)
                except lzf.LZFError:
                    raise RDBError("Invalid LZF compressed string", start) from None
            raise RDBError("Unknown RDB string encoding type %d" % enc, p)
        else:
            raise RDBError("Unknown length encoding %d in rdbLoadLen()" % b, p)
        e = s + n
        if e > end:
            raise RDBError("Unexpected EOF reading RDB file", p)
        self.pos = e
        return d[s:e]

    def double_str(self):
        """rdbLoadDoubleValue (ZSET v1 scores)."""
        n = self.byte()
        if n == 255:
            return -math.inf
        if n == 254:
            return math.inf
        if n == 253:
            return math.nan
        s = self.read(n)
        v = _scanf_double(s)        # sscanf("%lg"): a parsable prefix is enough
        if v is None:
            raise RDBError("Invalid double value", self.pos)
        return v

    def double_bin(self):
        p = self.pos
        if p + 8 > self.end:
            raise RDBError("Unexpected EOF reading RDB file", p)
        self.pos = p + 8
        return _unpack_d(self.data, p)[0]

    def ms_time(self):
        p = self.pos
        if p + 8 > self.end:
            raise RDBError("Unexpected EOF reading RDB file", p)
        self.pos = p + 8
        return _unpack_q(self.data, p)[0]

    def stream_id(self):
        p = self.pos
        if p + 16 > self.end:
            raise RDBError("Unexpected EOF reading RDB file", p)
        self.pos = p + 16
        ms, seq = _unpack_id(self.data, p)
        return (ms << 64) | seq


def _zset_from(items, listpack):
    from ..types.zset import ZSet
    return ZSet.from_pairs(items, listpack)


def _set_from_ints(vals, cfg):
    from ..commands.sets import RSet
    s = RSet(ints_as_bytes(vals))
    s.ht = len(s) > cfg["set-max-intset-entries"]
    return s


# -- rdbLoadObject's integrity checks ------------------------------------------------------
# Lines of rdb.c whose rdbReportCorruptRDB reports each problem (the log line "Internal
# error in RDB reading offset 0, function at rdb.c:LINE -> MESSAGE"), as the reference
# build (Debian's 7.0.15-1~deb12u10, whose security patches shift upstream's lines by one
# or two and add the "already has a consumer assigned" check) logs them.
L_DICT_OOM = 1785
L_SET_DUP_INTSET = 1809
L_SET_DUP = 1829
L_ZSET_NAN = 1882
L_ZSET_DUP = 1894
L_HASH_DUP_LP = 1951
L_HASH_DUP_CONVERT = 1969
L_HASH_DUP = 2019
L_QUICKLIST = 2048
L_QL_LISTPACK = 2071
L_QL_ZIPLIST = 2081
L_ZIPMAP = 2130
L_ZIPMAP_DUP = 2154
L_LIST_ZIPLIST = 2189
L_INTSET = 2214
L_ZSET_ZIPLIST = 2229
L_ZSET_LISTPACK = 2255
L_HASH_ZIPLIST = 2275
L_HASH_LISTPACK = 2301
L_STREAM_KEY = 2343
L_STREAM_LP = 2362
L_STREAM_EMPTY_LP = 2374
L_STREAM_DUP_NODE = 2386
L_STREAM_LENGTH = 2430
L_STREAM_DUP_CG = 2480
L_STREAM_DUP_PEL = 2516
L_STREAM_DUP_CONSUMER = 2543
L_STREAM_NO_NACK = 2573
L_STREAM_NACK_OWNED = 2583
L_STREAM_DUP_CPEL = 2592
L_STREAM_PEL_NO_CONSUMER = 2611

# What Redis hits when it walks a listpack entry that its shallow check let through.
ASSERT_LP_NEXT = ("assert", "listpack.c:1276", "lpValidateNext(lp, &p, lpbytes)")


def _corrupt(msg, pos, line):
    return RDBError(msg, pos, line)


def _as_strings(el):
    """The decoded elements el with the integer entries spelled as strings (el itself
    when there are none: a test at C speed)."""
    if int in set(map(type, el)):
        return [x if type(x) is bytes else b"%d" % x for x in el]
    return el


def _pairs_value(el, hsh, cfg):
    """A hash or zset from a decoded ziplist/listpack of field/value (member/score) pairs
    (no field repeats); None when empty (the key is skipped)."""
    if not el:
        return None
    if hsh:
        return _hash_from(el, cfg, len(el) // 2 > cfg["hash-max-listpack-entries"])
    from ..types.zset import ZSet
    members = _as_strings(el[0::2])
    scores = el[1::2]
    # integer entries (most scores) are exact as floats; strings go through strtod
    scores = list(map(float if set(map(type, scores)) == _INT_ONLY else _zset_score,
                      scores))
    return ZSet.from_dict(dict(zip(members, scores)),
                          len(members) <= cfg["zset-max-listpack-entries"])


def _hash_from(pairs_flat, cfg, ht):
    """A Hash of field, value, field, value... (already checked for duplicates)."""
    from ..commands.hashes import Hash
    strs = _as_strings(pairs_flat)
    h = Hash(zip(strs[0::2], strs[1::2]))
    h.ht = ht
    return h


def _pairs_checked(el):
    """ziplistPairsConvertAndValidateIntegrity / lpPairsValidateIntegrityAndDups's extra
    checks on decoded elements: an even count and no repeated field (element 0, 2...).
    Returns True when they hold."""
    if len(el) & 1:
        return False
    fields = el[0::2]
    return len(set(_as_strings(fields))) == len(fields)


def _zset_score(x):
    """zzlGetScore: an integer entry as is, a string through strtod (a prefix; nothing
    parsable is 0)."""
    if type(x) is not bytes:
        return float(x)
    # a plain decimal number (how d2string writes a score) means the same to float()
    # as to strtod: float() refuses everything else it reads differently (leading or
    # trailing junk, hex, NUL), except '_' separators and spaces, kept out here
    if x and x[-1] in _DIGITS and x[0] in _SCORE_START and len(x) < 127 and b"_" not in x:
        try:
            return float(x)
        except ValueError:
            pass
    return strtod_prefix(x[:127])


_DIGITS = frozenset(b"0123456789")
_SCORE_START = frozenset(b"+-.0123456789")


_STRTOD_PREFIX = re.compile(
    rb"[ \t\n\v\f\r]*([+-]?)(?:"
    rb"(?P<hex>0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?\d+)?)"
    rb"|(?P<dec>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    rb"|(?P<inf>[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)"
    rb"|(?P<nan>[nN][aA][nN](?:\([0-9A-Za-z_]*\))?))")


def strtod_prefix(b):
    """strtod(b, NULL) over a C string: the value of the longest parsable prefix, 0.0
    when there is none."""
    nul = b.find(b"\0")
    if nul >= 0:
        b = b[:nul]
    m = _STRTOD_PREFIX.match(b)
    if m is None:
        return 0.0
    neg = m.group(1) == b"-"
    if m.group("nan") is not None:
        v = math.nan
    elif m.group("inf") is not None:
        v = math.inf
    elif m.group("hex") is not None:
        body = m.group("hex").decode()[2:]
        if "p" not in body.lower():
            body += "p0"
        try:
            v = float.fromhex("0x" + body)
        except OverflowError:
            v = math.inf
    else:
        v = float(m.group("dec"))
    return -v if neg else v


def _scanf_double(s):
    """sscanf(buf, "%lg") of rdbLoadDoubleValue: None when nothing converts."""
    m = _STRTOD_PREFIX.match(s.split(b"\0", 1)[0])
    if m is None:
        return None
    return strtod_prefix(s)


class _Ctx:
    """The loading context of rdbLoadObject: deep sanitization or not, and the
    dump_payload_sanitizations counter to bump."""
    __slots__ = ("deep", "sanitizations")

    def __init__(self, deep):
        self.deep = deep
        self.sanitizations = 0


_SHALLOW = _Ctx(False)


def _read_strings(r, n):
    """n strings at the reader's position, each as Reader.string reads it: the common
    records in runs by encodings.read_string_run, any other one by Reader.string."""
    out = []
    while True:
        r.pos = read_string_run(r.data, r.pos, r.end, n - len(out), out)
        if len(out) == n:
            return out
        out.append(r.string())


def _zset_bulk(r, n):
    """The n member/score pairs of a ZSET_2 as a dict read in one go (short raw members
    inline), or None when a string cannot be read, a score is NaN or a member repeats
    (the caller then reads again with the checks, in Redis's order)."""
    members = []
    scores = []
    try:
        while True:
            r.pos = read_scored_run(r.data, r.pos, r.end, n - len(members), members,
                                    scores)
            if len(members) == n:
                break
            members.append(r.string())
            scores.append(r.double_bin())
    except RDBError:
        return None
    dct = dict(zip(members, scores))
    if len(dct) != n or any(map(math.isnan, scores)):
        return None
    return dct


def _bulk(r, n, cls, pairs=False):
    """A set (cls of n strings) or a hash (cls of n field/value pairs) read in one go,
    or None when a string cannot be read or repeats (the caller then reads again with
    the checks, in Redis's order)."""
    try:
        flat = _read_strings(r, 2 * n if pairs else n)
    except RDBError:
        return None
    v = cls(zip(flat[0::2], flat[1::2])) if pairs else cls(flat)
    return v if len(v) == n else None


def load_object(r, t, cfg, ctx=None):
    """rdbLoadObject: the value of type t at the reader's position, or None for an empty
    aggregate (which Redis skips when loading a file). ctx.deep: sanitize-dump-payload's
    deep integrity validation (Redis's checks of listpacks, intsets and streams; without
    it Redis checks their headers only). Raises RDBError for what Redis refuses (with the
    rdb.c line of its report), CorruptAccepted for what only a deep check finds."""
    if ctx is None:
        ctx = _SHALLOW
    deep = ctx.deep
    if t == T_STRING:
        return r.string()
    if t == T_HASH_LISTPACK or t == T_ZSET_LISTPACK:
        pos = r.pos
        buf = r.string()
        hsh = t == T_HASH_LISTPACK
        what, line = (("Hash listpack", L_HASH_LISTPACK) if hsh
                      else ("Zset listpack", L_ZSET_LISTPACK))
        if deep:
            ctx.sanitizations += 1
        if not lp_header_ok(buf):
            raise _corrupt("%s integrity check failed." % what, pos, line)
        try:
            el = lp_decode(buf)
            ok = _pairs_checked(el)
        except EncodingError:
            el = None
            ok = False
        if not ok:
            if deep:
                raise _corrupt("%s integrity check failed." % what, pos, line)
            # shallow: Redis keeps the listpack; its length comes from the header
            numele = buf[4] | (buf[5] << 8)
            maxe = cfg["hash-max-listpack-entries" if hsh else "zset-max-listpack-entries"]
            crash = None
            if numele == 65535 or (numele // 2 > maxe):
                # lpLength walks it, or the conversion to a dict does
                if el is None:
                    crash = ASSERT_LP_NEXT
                elif hsh and not len(el) & 1:
                    # hashTypeConvertListpack meets a repeated field
                    crash = ("panic", "Listpack corruption detected", "t_hash.c:477",
                             "listpack with dup elements dump", buf)
            raise CorruptAccepted("%s with corrupt entries (shallow check passed)" % what,
                                  pos, crash)
        return _pairs_value(el, hsh, cfg)
    if t == T_HASH_ZIPLIST or t == T_ZSET_ZIPLIST:
        pos = r.pos
        buf = r.string()
        hsh = t == T_HASH_ZIPLIST
        what, line = (("Hash ziplist", L_HASH_ZIPLIST) if hsh
                      else ("Zset ziplist", L_ZSET_ZIPLIST))
        try:
            el = zl_decode(buf)
            ok = _pairs_checked(el)
        except EncodingError:
            ok = False
        if not ok:
            raise _corrupt("%s integrity check failed." % what, pos, line)
        return _pairs_value(el, hsh, cfg)
    if t == T_HASH_ZIPMAP:
        pos = r.pos
        buf = r.string()
        try:
            el = zipmap_decode(buf)
        except EncodingError:
            raise _corrupt("Zipmap integrity check failed.", pos, L_ZIPMAP) from None
        seen = set()
        maxlen = 0
        for i in range(0, len(el), 2):
            f = el[i]
            if f in seen:
                raise _corrupt("Hash zipmap with dup elements, or big length (%u)" % len(f),
                               pos, L_ZIPMAP_DUP)
            seen.add(f)
            maxlen = max(maxlen, len(f), len(el[i + 1]))
        return _hash_from(el, cfg, len(el) // 2 > cfg["hash-max-listpack-entries"]
                          or maxlen > cfg["hash-max-listpack-value"])
    if t == T_LIST_QUICKLIST_2 or t == T_LIST_QUICKLIST:
        from ..types.rlist import RList
        n = r.length()
        if n == 0:
            return None
        out = RList()
        v2 = t == T_LIST_QUICKLIST_2
        for _ in range(n):
            container = QL_PACKED
            if v2:
                container = r.length()
                if container != QL_PACKED and container != QL_PLAIN:
                    raise _corrupt("Quicklist integrity check failed.", r.pos, L_QUICKLIST)
            pos = r.pos
            buf = r.string()
            if not buf:
                raise RDBError("Quicklist node empty", pos)
            if container == QL_PLAIN:
                out.append(buf)
                continue
            if v2:
                if deep:
                    ctx.sanitizations += 1
                if not lp_header_ok(buf):
                    raise _corrupt("Listpack integrity check failed.", pos, L_QL_LISTPACK)
                try:
                    el = lp_decode(buf)
                except EncodingError:
                    if deep:
                        raise _corrupt("Listpack integrity check failed.", pos,
                                       L_QL_LISTPACK) from None
                    raise CorruptAccepted("Quicklist listpack with corrupt entries (shallow "
                                          "check passed)", pos) from None
            else:
                try:
                    el = zl_decode(buf)
                except EncodingError:
                    raise _corrupt("Ziplist integrity check failed.", pos,
                                   L_QL_ZIPLIST) from None
            out.extend(_as_strings(el))
        return out if out else None
    if t == T_SET_INTSET:
        pos = r.pos
        buf = r.string()
        if deep:
            ctx.sanitizations += 1
        try:
            vals = intset_decode(buf, deep)
        except EncodingError:
            raise _corrupt("Intset integrity check failed.", pos, L_INTSET) from None
        if not deep:
            for i in range(1, len(vals)):
                if vals[i - 1] >= vals[i]:
                    raise CorruptAccepted("Intset not sorted or with duplicates (shallow "
                                          "check passed)", pos)
        return _set_from_ints(vals, cfg)
    if t == T_SET:
        from ..commands.sets import RSet, _needs_ht
        n = r.length()
        if n == 0:
            return None
        start = r.pos
        s = _bulk(r, n, RSet)
        if s is None:
            # a repeated or unreadable member: read again one by one, to report what
            # Redis reports first, where it does
            r.pos = start
            s = RSet()
            add = s.add
            maxe = min(cfg["set-max-intset-entries"], 1 << 30)
            intset = n <= maxe
            for _ in range(n):
                m = r.string()
                if m in s:
                    raise _corrupt("Duplicate set members detected", r.pos,
                                   L_SET_DUP_INTSET if intset else L_SET_DUP)
                if intset and as_int(m) is None:
                    intset = False
                add(m)
        s.ht = _needs_ht(s, cfg)
        return s
    if t == T_ZSET_2 or t == T_ZSET:
        n = r.length()
        if n == 0:
            return None
        v2 = t == T_ZSET_2
        start = r.pos
        d = _zset_bulk(r, n) if v2 else None
        if d is not None:
            lens = list(map(len, d))
            from ..types.zset import ZSet
            z = ZSet.from_dict(d, False)
            z.listpack = (n <= cfg["zset-max-listpack-entries"]
                          and max(lens) <= cfg["zset-max-listpack-value"]
                          and sum(lens) < (1 << 30))
            return z
        r.pos = start           # a repeated member, a NaN or a bad string: the checks
        items = []
        seen = set()
        maxlen = 0
        total = 0
        d = r.data
        end = r.end
        for _ in range(n):
            p = r.pos
            b = d[p] if p < end else 255
            if v2 and b < 64 and p + 9 + b <= end:
                # the common entry inline: a short raw member, then its binary score
                q = p + 1 + b
                m = d[p + 1:q]
                sc = _unpack_d(d, q)[0]
                r.pos = q + 8
            else:
                m = r.string()
                sc = r.double_bin() if v2 else r.double_str()
            if sc != sc:
                raise _corrupt("Zset with NAN score detected", r.pos, L_ZSET_NAN)
            ln = len(m)
            if ln > maxlen:
                maxlen = ln
            total += ln
            if m in seen:
                raise _corrupt("Duplicate zset fields detected", r.pos, L_ZSET_DUP)
            seen.add(m)
            items.append((m, sc))
        z = _zset_from(items, False)
        z.listpack = (n <= cfg["zset-max-listpack-entries"]
                      and maxlen <= cfg["zset-max-listpack-value"] and total < (1 << 30))
        return z
    if t == T_HASH:
        n = r.length()
        if n == 0:
            return None
        maxe = cfg["hash-max-listpack-entries"]
        maxv = cfg["hash-max-listpack-value"]
        ht = n > maxe
        from ..commands.hashes import Hash
        start = r.pos
        h = _bulk(r, n, Hash, pairs=True)
        if h is not None:
            # without repeated fields the checked loop below only decides the encoding
            h.ht = ht or (max(max(map(len, h)), max(map(len, h.values()))) > maxv
                          or sum(map(len, h)) + sum(map(len, h.values())) >= 1 << 30)
            return h
        r.pos = start           # a repeated field or a bad string: the checks below
        h = Hash()
        lp_dups = False           # shallow: Redis appends repeated fields to its listpack
        lp_size = 0
        lp_el = []
        for _ in range(n):
            f = r.string()
            v = r.string()
            if not ht:
                if f in h and deep:
                    raise _corrupt("Hash with dup elements", r.pos, L_HASH_DUP_LP)
                lp_size += len(f) + len(v)
                if len(f) > maxv or len(v) > maxv or lp_size >= (1 << 30):
                    if lp_dups:
                        # hashTypeConvert meets the repeated fields of its listpack
                        raise CorruptAccepted(
                            "Hash with repeated fields (shallow check passed)", r.pos,
                            ("panic", "Listpack corruption detected", "t_hash.c:477",
                             "listpack with dup elements dump", lp_build(lp_el)))
                    ht = True
                    if f in h:
                        raise _corrupt("Duplicate hash fields detected", r.pos,
                                       L_HASH_DUP_CONVERT)
                elif f in h:
                    lp_dups = True
                if not ht:
                    lp_el.append(f)
                    lp_el.append(v)
                h[f] = v
                continue
            if f in h:
                raise _corrupt("Duplicate hash fields detected", r.pos, L_HASH_DUP)
            h[f] = v
        if lp_dups:
            raise CorruptAccepted("Hash with repeated fields (shallow check passed)", r.pos)
        h.ht = ht
        return h
    if t == T_LIST:
        from ..types.rlist import RList
        n = r.length()
        if n == 0:
            return None
        return RList([r.string() for _ in range(n)])
    if t == T_LIST_ZIPLIST:
        from ..types.rlist import RList
        pos = r.pos
        buf = r.string()
        try:
            el = zl_decode(buf)
        except EncodingError:
            raise _corrupt("List ziplist integrity check failed.", pos,
                           L_LIST_ZIPLIST) from None
        if not el:
            return None
        return RList([x if type(x) is bytes else b"%d" % x for x in el])
    if t == T_STREAM_LISTPACKS_2 or t == T_STREAM_LISTPACKS:
        return _load_stream(r, t, ctx)
    if t == T_MODULE or t == T_MODULE_2:
        pos = r.pos
        mid = r.length()
        raise RDBError("The RDB file contains module data I can't load: no matching "
                       "module type '%s'" % module_type_name(mid), pos)
    raise RDBError("Unknown RDB encoding type %d" % t, r.pos)


_MODULE_CHARSET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def module_type_name(mid):
    """moduleTypeNameByID: the 9-character name in the upper 54 bits of a module ID."""
    out = []
    mid >>= 10
    for _ in range(9):
        out.append(_MODULE_CHARSET[mid & 63])
        mid >>= 6
    return "".join(reversed(out))


_EOF_INT = 12345678900000000 + 255   # what lpGetIntegerIfValid reads at the EOF byte


def stream_lp_valid(el):
    """streamValidateListpackIntegrity's deep walk over a stream node's decoded elements
    (the listpack itself already checked entry by entry): the master entry, then
    count + deleted entries, each with flags, ID, fields/values and an lp-count equal to
    its element count, and nothing after."""
    n = len(el)

    def integer(i):
        if i == n:
            return _EOF_INT
        x = el[i]
        if type(x) is bytes:
            return as_int(x)
        return x

    # 'p' is the current element, 'nxt' the next one (n = the EOF byte, None = past it);
    # each step is C's "p = next; if (!lpValidateNext(lp, &next, size)) return 0;"
    if n == 0:
        return False
    p = 0
    nxt = 1

    def step(p, nxt):
        if nxt is None:
            raise EncodingError("stream entry missing")
        return nxt, (None if nxt == n else nxt + 1)

    try:
        entry_count = integer(p)
        if entry_count is None:
            return False
        p, nxt = step(p, nxt)
        deleted = integer(p)
        if deleted is None:
            return False
        p, nxt = step(p, nxt)
        master_fields = integer(p)
        if master_fields is None:
            return False
        p, nxt = step(p, nxt)
        for _ in range(max(master_fields, 0)):
            p, nxt = step(p, nxt)
        zero = integer(p)
        if zero != 0:
            return False
        p, nxt = step(p, nxt)
        entry_count += deleted
        while entry_count != 0:
            entry_count -= 1
            if p is None:
                return False
            fields = master_fields
            extra = 3
            flags = integer(p)
            if flags is None:
                return False
            p, nxt = step(p, nxt)
            if integer(p) is None:
                return False
            p, nxt = step(p, nxt)
            if integer(p) is None:
                return False
            p, nxt = step(p, nxt)
            if not flags & 2:
                fields = integer(p)
                if fields is None:
                    return False
                p, nxt = step(p, nxt)
                for _ in range(max(fields, 0)):
                    p, nxt = step(p, nxt)
                extra += fields + 1
            for _ in range(max(fields, 0)):
                p, nxt = step(p, nxt)
            lp_count = integer(p)
            if lp_count is None or lp_count != fields + extra:
                return False
            p, nxt = step(p, nxt)
    except EncodingError:
        return False
    return nxt is None


def _stream_lp_plain(el):
    """True for a stream node as Redis writes it: every count an integer entry, the
    entries exactly filling the listpack. Everything it accepts, stream_lp_valid accepts
    (a quick walk for the common case); False means "ask stream_lp_valid"."""
    n = len(el)
    if n < 4:
        return False
    count, deleted, nf = el[0], el[1], el[2]
    if type(count) is not int or type(deleted) is not int or type(nf) is not int \
            or count < 0 or deleted < 0 or nf < 0:
        return False
    i = 3 + nf
    if i >= n or el[i] != 0 or type(el[i]) is not int:
        return False
    i += 1
    for _ in range(count + deleted):
        if i + 3 >= n:
            return False
        flags = el[i]
        if type(flags) is not int or type(el[i + 1]) is not int \
                or type(el[i + 2]) is not int:
            return False
        i += 3
        if flags & 2:
            i += nf                     # the values of the master fields
            want = nf + 3
        else:
            k = el[i]
            if type(k) is not int or k < 0:
                return False
            i += 1 + 2 * k              # its own fields and values
            want = 2 * k + 4
        if i >= n or el[i] != want or type(el[i]) is not int:
            return False
        i += 1
    return i == n


def _stream_node_uniform(el, mms, mseq):
    """(ids, entries) of a stream node whose entries all have the master entry's fields
    and none is deleted (a node filled by XADDs with the same fields), read column by
    column after the checks _stream_lp_plain makes; None for any other node."""
    n = len(el)
    if n < 4:
        return None
    count, deleted, nf = el[0], el[1], el[2]
    if (type(count) is not int or type(nf) is not int or type(deleted) is not int
            or deleted != 0 or count <= 0 or nf <= 0):
        return None
    b = 4 + nf
    stride = nf + 4                 # flags, ms-diff, seq-diff, the values, lp-count
    body = el[b:]
    if (len(body) != count * stride or el[b - 1] != 0 or type(el[b - 1]) is not int
            or body[0::stride].count(2) != count
            or body[stride - 1::stride].count(nf + 3) != count):
        return None
    dms = body[1::stride]
    dseq = body[2::stride]
    if set(map(type, dms)) != _INT_ONLY or set(map(type, dseq)) != _INT_ONLY:
        return None
    ids = [((mms + a) & MASK64) << 64 | ((mseq + s) & MASK64) for a, s in zip(dms, dseq)]
    # each entry: (field, value, field, value...), the master fields between the values
    cols = []
    for k in range(nf):
        f = el[3 + k]
        cols.append(itertools.repeat(f if type(f) is bytes else b"%d" % f))
        cols.append(_as_strings(body[3 + k::stride]))
    # tuples, as XADD stores them: the master fields then compare equal to an XADD's
    return ids, list(zip(*cols))


_INT_ONLY = {int}


def _lp_entry_ok(buf, p):
    from .encodings import lp_entry_end
    return lp_entry_end(buf, p) is not None


ASSERT_LP_NEXT_P = ("assert", "listpack.c:475", "p")
ASSERT_STREAM_INT = ("assert", "t_stream.c:281", "ret != 0")
ASSERT_STREAM_NUMFIELDS = ("assert", "t_stream.c:1196", "*numfields>=0")


class _Crash(Exception):
    def __init__(self, crash):
        super().__init__()
        self.crash = crash


def stream_first_walk(node_bufs):
    """streamGetEdgeID(first, skip tombstones) over stream node listpacks (in key order)
    whose headers alone were checked: None when it finds the first live entry (or runs
    out of nodes) without touching a corrupt entry, else the assertion Redis hits."""
    from .encodings import lp_decode_prefix
    for buf in node_bufs:
        el, complete = lp_decode_prefix(buf)
        k = len(el)

        def nxt(i):
            if i is None:
                raise _Crash(ASSERT_LP_NEXT_P)
            j = i + 1
            if j < k:
                return j
            if complete:
                return None
            raise _Crash(ASSERT_LP_NEXT)

        def integer(i):
            if i is None:
                raise _Crash(None)      # a NULL dereference: no assertion to report
            x = el[i]
            if type(x) is bytes:
                x = as_int(x)
                if x is None:
                    raise _Crash(ASSERT_STREAM_INT)
            return x

        try:
            if k == 0:
                if complete:
                    raise _Crash(None)
                raise _Crash(ASSERT_LP_NEXT)
            e = nxt(nxt(0))
            mf = integer(e) & MASK64
            e = nxt(e)
            for _ in range(min(mf, k + 1)):
                e = nxt(e)
            while True:
                e = nxt(e)
                if e is None:
                    break
                flags = integer(e)
                e = nxt(e)
                integer(e)
                e = nxt(e)
                integer(e)
                e = nxt(e)
                if flags & 2:
                    nf = mf if mf < (1 << 63) else mf - (1 << 64)
                else:
                    nf = integer(e)
                    e = nxt(e)
                if nf < 0:
                    raise _Crash(ASSERT_STREAM_NUMFIELDS)
                if not flags & 1:
                    return None
                for _ in range(min(nf if flags & 2 else 2 * nf, k + 1)):
                    e = nxt(e)
        except _Crash as c:
            return c.crash or ("unknown",)
    return None


def _load_stream(r, t, ctx):
    from ..types.stream import Stream, Group, Consumer, NACK
    deep = ctx.deep
    s = Stream()
    nlp = r.length()
    nodes = []
    raw_nodes = []
    masters = set()
    corrupt = None        # shallow: the first node whose entries Redis would not check
    for _ in range(nlp):
        pos = r.pos
        key = r.string()
        if len(key) != 16:
            raise _corrupt("Stream node key entry is not the size of a stream ID", pos,
                           L_STREAM_KEY)
        ms, seq = _unpack_id(key, 0)
        master = (ms << 64) | seq
        pos = r.pos
        buf = r.string()
        if deep:
            ctx.sanitizations += 1
        if not lp_header_ok(buf):
            raise _corrupt("Stream listpack integrity check failed.", pos, L_STREAM_LP)
        el = None
        parsed = None
        try:
            el = lp_decode(buf, check_count=False, strict_end=False)
            parsed = _stream_node_uniform(el, ms, seq)
            ok = parsed is not None or _stream_lp_plain(el) or stream_lp_valid(el)
        except EncodingError:
            ok = False
        if not ok:
            if deep:
                raise _corrupt("Stream listpack integrity check failed.", pos, L_STREAM_LP)
            if buf[6] != 0xFF and not _lp_entry_ok(buf, 6):
                # lpFirst asserts that the first entry is valid
                raise CorruptAccepted("Stream listpack with a corrupt first entry", pos,
                                      ASSERT_LP_NEXT)
        raw_nodes.append((master, buf))
        if buf[6] == 0xFF:
            raise _corrupt("Empty listpack inside stream", pos, L_STREAM_EMPTY_LP)
        if master in masters:
            raise _corrupt("Listpack re-added with existing key", pos, L_STREAM_DUP_NODE)
        masters.add(master)
        if not ok:
            if corrupt is None:
                corrupt = pos
            continue
        ids, entries = parsed or _parse_stream_node(el, ms, seq)
        if ids:
            nodes.append((master, ids, entries, len(buf)))
    nodes.sort(key=lambda x: x[0])      # the rax keeps its nodes in key order
    for master, ids, entries, lp_bytes in nodes:
        s.load_node(master, ids, entries, lp_bytes)
    s.length = r.length()
    last_ms = r.length()
    s.last_id = (last_ms << 64) | r.length()
    if t != T_STREAM_LISTPACKS:
        fms = r.length()
        s.first_id = (fms << 64) | r.length()
        dms = r.length()
        s.max_deleted = (dms << 64) | r.length()
        s.entries_added = r.length()
    else:
        s.max_deleted = 0
        s.entries_added = s.length
        if corrupt is not None:
            # streamGetEdgeID walks the entries to find the first live one
            raw_nodes.sort(key=lambda x: x[0])
            crash = stream_first_walk([b for _, b in raw_nodes])
            if crash is not None:
                raise CorruptAccepted("Stream listpack with corrupt entries", corrupt,
                                      None if crash[0] == "unknown" else crash)
        s.first_id = s.first_valid_id() if s.length else 0
    if s.length and not masters:
        raise _corrupt("Stream length inconsistent with rax entries", r.pos, L_STREAM_LENGTH)
    ngroups = r.length()
    for _ in range(ngroups):
        pos = r.pos
        name = r.string()
        gms = r.length()
        gid = (gms << 64) | r.length()
        if t != T_STREAM_LISTPACKS:
            er = r.length()
            if er == MASK64:
                er = -1
        else:
            er = s.estimate_distance(gid)
        if s.groups is None:
            s.groups = {}
        if name in s.groups:
            raise _corrupt("Duplicated consumer group name %s" % name.decode("latin-1"),
                           pos, L_STREAM_DUP_CG)
        g = s.groups[name] = Group(gid, er)
        npel = r.length()
        for _ in range(npel):
            idk = r.stream_id()
            nack = NACK(None, 0)
            nack.delivery_time = r.ms_time()
            nack.delivery_count = r.length()
            if idk in g.pel:
                raise _corrupt("Duplicated global PEL entry loading stream consumer group",
                               r.pos, L_STREAM_DUP_PEL)
            g.pel[idk] = nack
        ncons = r.length()
        for _ in range(ncons):
            cname = r.string()
            if cname in g.consumers:
                raise _corrupt("Duplicate stream consumer detected.", r.pos,
                               L_STREAM_DUP_CONSUMER)
            cons = Consumer(cname, 0)
            cons.seen_time = r.ms_time()
            g.consumers[cname] = cons
            n = r.length()
            for _ in range(n):
                idk = r.stream_id()
                nack = g.pel.get(idk)
                if nack is None:
                    raise _corrupt("Consumer entry not found in group global PEL", r.pos,
                                   L_STREAM_NO_NACK)
                if nack.consumer is not None:
                    # one entry claimed twice (by two consumers, or twice by one)
                    raise _corrupt("Stream consumer PEL entry already has a consumer "
                                   "assigned", r.pos, L_STREAM_NACK_OWNED)
                if idk in cons.pel:
                    raise _corrupt("Duplicated consumer PEL entry  loading a stream "
                                   "consumer group", r.pos, L_STREAM_DUP_CPEL)
                nack.consumer = cons
                cons.pel[idk] = nack
        for nack in g.pel.values():
            if nack.consumer is None:
                if deep:
                    raise _corrupt("Stream CG PEL entry without consumer", pos,
                                   L_STREAM_PEL_NO_CONSUMER)
                raise CorruptAccepted("Stream CG PEL entry without consumer", pos)
    if corrupt is not None:
        raise CorruptAccepted("Stream listpack with corrupt entries", corrupt)
    return s


def _parse_stream_node(el, mms, mseq):
    """The IDs and field/value lists of a stream node's elements (already validated by
    stream_lp_valid)."""
    nf = el[2]
    if type(nf) is bytes:
        nf = as_int(nf)
    mf = [to_bytes(x) for x in el[3:3 + nf]]
    i = 4 + nf
    n = len(el)
    ids = []
    entries = []
    while i < n:
        flags = el[i]
        if type(flags) is bytes:
            flags = as_int(flags)
        dms = el[i + 1]
        dseq = el[i + 2]
        if type(dms) is bytes:
            dms = as_int(dms)
        if type(dseq) is bytes:
            dseq = as_int(dseq)
        ms = (mms + dms) & MASK64
        seq = (mseq + dseq) & MASK64
        i += 3
        if flags & 2:
            vals = el[i:i + nf]
            i += nf
            fv = [None] * (2 * nf)
            fv[0::2] = mf
            fv[1::2] = [to_bytes(x) for x in vals]
            fv = tuple(fv)
        else:
            k = el[i]
            if type(k) is bytes:
                k = as_int(k)
            i += 1
            fv = tuple([to_bytes(x) for x in el[i:i + 2 * k]])
            i += 2 * k
        i += 1                  # lp-count
        ids.append((ms << 64) | seq)
        entries.append(None if flags & 1 else fv)
    return ids, entries


def load_value(data, cfg=None, deep=False, ctx=None):
    """The value of a serialized object (type byte + object, as dump_value produces);
    RDBError on malformed data (an empty aggregate is malformed here). deep: the deep
    integrity validation of sanitize-dump-payload (ctx: a _Ctx to count it in)."""
    if cfg is None:
        cfg = DEFAULT_CFG
    if ctx is None:
        ctx = _Ctx(deep)
    r = Reader(data)
    try:
        t = r.byte()
        v = load_object(r, t, cfg, ctx)
    except (IndexError, struct.error):
        raise RDBError("Unexpected EOF reading RDB file", r.pos) from None
    if v is None:
        raise RDBError("Empty keys are not allowed", r.pos)
    return v


def new_ctx(deep):
    return _Ctx(deep)


def sanitize_deep(srv, client=None):
    """rdbLoadObject's deep_integrity_validation: sanitize-dump-payload yes, or clients
    for a RESTORE from a client that is not the master (nor loading) and whose user lacks
    skip-sanitize-payload."""
    mode = srv.config.values.get("sanitize-dump-payload", "no")
    if mode == "yes" or mode == 1:
        return True
    if mode != "clients" and mode != 2:
        return False
    if srv.loading or client is None or "M" in getattr(client, "flags_extra", ""):
        return False
    acl = getattr(srv, "acl", None)
    if acl is not None:
        try:
            from ..acl import U_SKIP_SANITIZE
            u = acl.get_user(client.user)
            if u is not None and u.flags & U_SKIP_SANITIZE:
                return False
        except Exception:   # noqa: BLE001 - no ACL state: nothing to skip
            pass
    return True


def report_corrupt(srv, e, restore):
    """rdbReportError for an RDBError: in a RESTORE, the verbose "Internal error in RDB
    reading offset 0, function at rdb.c:LINE -> MESSAGE"; while loading a file, the
    warning. A CorruptAccepted whose data Redis would have crashed on logs that crash's
    lines (the assertion or panic) instead; redislet refuses the data and lives on."""
    if isinstance(e, CorruptAccepted):
        crash = e.crash
        if crash is not None:
            for line in crash_lines(crash):
                if line is None:
                    continue
                if isinstance(line, tuple):
                    srv.log_raw(line[0])
                else:
                    srv.log("warning", line)
            srv.log("warning", "Corrupt %s refused instead (redislet does not crash on "
                    "it): %s" % ("RESTORE payload" if restore else "RDB data", e.msg))
        else:
            srv.log("verbose" if restore else "warning",
                    "Corrupt %s refused: %s (Redis 7.0.15 checks only its header when "
                    "sanitize-dump-payload is not yes)"
                    % ("RESTORE payload" if restore else "RDB data", e.msg))
        return
    if not e.line:
        return
    msg = "Internal error in RDB reading offset 0, function at rdb.c:%d -> %s" % (e.line,
                                                                                 e.msg)
    srv.log("verbose" if restore else "warning", msg)


def crash_lines(crash):
    """The log lines of the crash Redis would report for a CorruptAccepted.crash: strings
    for serverLog lines, 1-tuples for raw text (serverLogHexDump's body)."""
    if crash[0] == "assert":
        return ["=== ASSERTION FAILED ===", "==> %s '%s' is not true" % (crash[1], crash[2])]
    _, msg, where, dump_descr, buf = crash
    out = []
    if dump_descr and buf is not None:
        out.append("%s (hexdump of %d bytes):" % (dump_descr, len(buf)))
        h = buf.hex()
        out.extend([(h[i:i + 64],) for i in range(0, len(h), 64)])
        out.append(("\n",))
    elif dump_descr:
        out.append("%s" % dump_descr)
    out.append("------------------------------------------------")
    out.append("!!! Software Failure. Press left mouse button to continue")
    out.append("Guru Meditation: %s #%s" % (msg, where))
    return out


class LoadResult:
    __slots__ = ("keys_loaded", "keys_expired", "empty_skipped", "consumed", "aux",
                 "rdb_version", "expired_keys", "rest")

    def __init__(self):
        self.keys_loaded = 0
        self.keys_expired = 0
        self.expired_keys = []       # (dbid, key): a restarted master propagates their DEL
        self.empty_skipped = 0
        self.consumed = 0
        self.aux = {}
        self.rdb_version = 0
        self.rest = b""


def load_rdb(srv, f, expire=None, log=True, allow_dup=False, flush=True,
             aof_preamble=False, keep_partial=False):
    """Read a complete RDB stream from f (a binary file object or bytes) and replace srv's
    dataset with it (flush=False: load on top of it; allow_dup: a loaded key replaces an
    existing one, as DEBUG RELOAD MERGE). Already expired keys are dropped unless the
    server is a replica or this is an AOF preamble (expire=None picks that). Raises
    RDBError (with the offset) on corrupt data, leaving the current dataset untouched,
    or with keep_partial the keys loaded before the error (rdbLoad into the live
    dataset, as DEBUG RELOAD does). The file position is left just after the RDB (AOF
    preamble). Returns a LoadResult."""
    if aof_preamble and expire is None:
        expire = False
    if isinstance(f, (bytes, bytearray, memoryview)):
        data = bytes(f)
        start = 0
    else:
        start = f.tell() if f.seekable() else 0
        data = f.read()
    partial = [] if keep_partial else None
    try:
        res = _parse_no_gc(srv, data, expire, log, allow_dup, flush, None, partial)
    except RDBError:
        if partial:
            install_dataset(srv, partial[0], flush)
        raise
    if not isinstance(f, (bytes, bytearray, memoryview)) and f.seekable():
        f.seek(start + res.consumed)
    srv.rdb_last_load_keys_loaded = res.keys_loaded
    srv.rdb_last_load_keys_expired = res.keys_expired
    srv.rdb_last_load_expired_keys = res.expired_keys
    return res


def load_stream(srv, source, log=True):
    """rdbLoadRio on a socket (a replica's diskless load): the RDB arrives in pieces
    through `source` (see _parse), parsed as it comes. Replaces srv's dataset only once
    it is complete; raises RDBError (a short read: .msg starts "Unexpected EOF")."""
    data = b""
    while len(data) < 9:
        more = source.more(data)
        if more is None:
            raise RDBError("Unexpected EOF reading RDB file", len(data))
        data = more
    res = _parse_no_gc(srv, data, None, log, False, True, source)
    srv.rdb_last_load_keys_loaded = res.keys_loaded
    srv.rdb_last_load_keys_expired = res.keys_expired
    srv.rdb_last_load_expired_keys = res.expired_keys
    return res


def _parse_no_gc(*args):
    """_parse with the cyclic garbage collector paused (about a fifth of a container
    load's time; gcpolicy.without_collector)."""
    return without_collector(lambda: _parse(*args))


def _parse(srv, data, expire, log, allow_dup, flush=True, source=None, partial=None):
    """source (streaming): data is only the first part of the RDB; when an entry runs past
    its end, source.more(tail) returns tail plus the bytes that arrived since (waiting
    for them), or None when the stream has ended, and the entry is parsed again from its
    start. The consumed prefix is dropped (`base` counts it, `crc` covers it).
    partial (a list): gets the dataset being built, for a caller that keeps what was
    loaded before an error."""
    cfg = srv.config.values
    res = LoadResult()
    if len(data) < 9:
        raise RDBError("Unexpected EOF reading RDB file", len(data))
    if data[:5] != b"REDIS":
        raise RDBError("Wrong signature trying to load DB from file", 0)
    try:
        ver = int(data[5:9])
    except ValueError:
        ver = -1
    if ver < 1 or ver > RDB_VERSION:
        raise RDBError("Can't handle RDB format version %d" % ver, 5)
    res.rdb_version = ver
    if expire is None:
        # iAmMaster(): a cluster replica knows its role from nodes.conf before it loads
        cl = getattr(srv, "cluster", None)
        expire = not srv.is_replica and (cl is None or cl.myself.is_master())
    r = Reader(data, 9)
    ndb = len(srv.dbs)
    if flush:
        new = [({}, {}) for _ in range(ndb)]
    else:
        new = [(dict(db.data), dict(db.expires)) for db in srv.dbs]
    if partial is not None:
        partial.append(new)
    data_d, exp_d = new[0]
    dbid = 0
    now = int(time.time() * 1000)
    expiretime = -1
    lru_idle = -1
    lfu_freq = -1
    functions = []
    pending_lru = []
    key_delay = cfg.get("key-load-delay", 0)
    # rdbLoadProgressCallback: each time the parse passes a multiple of
    # loading-process-events-interval-bytes, the progress INFO shows is updated and a load
    # run by a loading.py runner (or a replica's) hands the event loop back
    yield_fn = getattr(srv, "loading_yield", None)
    yield_every = cfg.get("loading-process-events-interval-bytes", 2097152) or 2097152
    next_yield = yield_every
    ctx = _Ctx(sanitize_deep(srv))
    reader_string = r.string
    end = r.end
    base = 0            # streaming: bytes of the RDB dropped before data[0]
    crc = 0             # streaming: crc64 of those bytes
    stored = None       # the checksum after the EOF opcode
    while True:
        p = start = r.pos
        try:
            if p >= r.end:
                raise RDBError("Unexpected EOF reading RDB file", p)
            t = data[p]
            if t == 0 and expiretime == lru_idle == lfu_freq == -1 and not key_delay:
                # a run of plain short strings first; the entry after it below, as usual
                p, count = read_string_pairs(data, p, min(end, next_yield), data_d)
                if count:
                    res.keys_loaded += count
                    start = p
                    if p >= end:
                        raise RDBError("Unexpected EOF reading RDB file", p)
                    t = data[p]
            r.pos = p + 1
            if t == 0:      # the common case first: a string key (short raw strings inline)
                p += 1
                b = data[p] if p < end else 255
                if b < 64:
                    q = p + 1 + b
                    b2 = data[q] if q < end else 255
                    if b2 < 64 and q + 1 + b2 <= end:
                        key = data[p + 1:q]
                        val = data[q + 1:q + 1 + b2]
                        r.pos = q + 1 + b2
                    else:
                        key = reader_string()
                        val = reader_string()
                else:
                    key = reader_string()
                    val = reader_string()
            elif t >= 245:
                if t == OP_EXPIRETIME_MS:
                    expiretime = r.ms_time()
                    continue
                if t == OP_EXPIRETIME:
                    expiretime = _unpack_i(r.read(4), 0)[0] * 1000
                    continue
                if t == OP_SELECTDB:
                    dbid = r.length()
                    if dbid >= ndb:
                        raise RDBError("FATAL: Data file was created with a Redis server "
                                       "configured to handle more than %d databases."
                                       % ndb, p)
                    data_d, exp_d = new[dbid]
                    continue
                if t == OP_RESIZEDB:
                    r.length()
                    r.length()
                    continue
                if t == OP_AUX:
                    k = reader_string()
                    v = reader_string()
                    res.aux[k] = v
                    if log:
                        _log_aux(srv, k, v)
                    if k.lower() == b"used-mem":
                        srv.loading_rdb_used_mem = atoll(v)
                    continue
                if t == OP_EOF:
                    if ver >= 5:
                        stored = r.read(8)
                    break
                if t == OP_FREQ:
                    lfu_freq = r.byte()
                    continue
                if t == OP_IDLE:
                    lru_idle = r.length()
                    continue
                if t == OP_MODULE_AUX:
                    mid = r.length()
                    raise RDBError("The RDB file contains AUX module data I can't load: no "
                                   "matching module '%s'" % module_type_name(mid), p)
                if t == OP_FUNCTION2:
                    functions.append(reader_string())
                    continue
                if t == OP_FUNCTION:
                    name = reader_string()
                    engine = reader_string()
                    if r.length():
                        reader_string()
                    blob = reader_string()
                    functions.append(b"#!%s name=%s\n%s" % (engine, name, blob))
                    continue
                raise RDBError("Unknown RDB encoding type %d" % t, p)
            else:
                key = reader_string()
                val = load_object(r, t, cfg, ctx)
                if val is None:
                    res.empty_skipped += 1
                    if log and res.empty_skipped <= 10:
                        srv.log("warning", "rdbLoadObject skipping empty key: %s"
                                % key.decode("utf-8", "replace"))
                    expiretime = lru_idle = lfu_freq = -1
                    continue
            if expiretime != -1:
                if expire and expiretime < now:
                    res.keys_expired += 1
                    res.expired_keys.append((dbid, key))
                    expiretime = lru_idle = lfu_freq = -1
                    continue
            if key in data_d:
                if not allow_dup:
                    raise RDBError("RDB has duplicated key '%s' in DB %d"
                                   % (key.decode("utf-8", "replace"), dbid), p)
                exp_d.pop(key, None)
            if expiretime != -1:
                exp_d[key] = expiretime
                expiretime = -1
            data_d[key] = val
            res.keys_loaded += 1
            if lru_idle != -1 or lfu_freq != -1:
                _set_lru(srv, pending_lru, dbid, key, lru_idle, lfu_freq)
                lru_idle = lfu_freq = -1
            if key_delay:
                _delay(key_delay)
            if r.pos >= next_yield:
                mark = (base + r.pos) // yield_every * yield_every - base
                next_yield = mark + yield_every
                srv.loading_loaded_bytes = base + _crossing_read(data, start, mark,
                                                                 yield_every)
                # (counted as Redis counts them then: without this key, whose read passed
                # the mark)
                srv.rdb_last_load_keys_loaded = res.keys_loaded - 1
                srv.rdb_last_load_keys_expired = res.keys_expired
                if yield_fn is not None:
                    yield_fn()
        except (RDBError, IndexError, struct.error) as e:
            if isinstance(e, RDBError):
                if source is None or not e.msg.startswith("Unexpected EOF"):
                    raise
            elif source is None:
                raise RDBError("Unexpected EOF reading RDB file", r.pos) from None
            more = source.more(data[start:])
            if more is None:
                raise RDBError("Unexpected EOF reading RDB file", base + r.pos) from None
            if start:
                crc = crc64(crc, memoryview(data)[:start])
            base += start
            next_yield -= start
            data = r.data = more
            r.pos = 0
            r.end = end = len(more)
    if stored is not None and cfg.get("rdbchecksum", True) and not getattr(
            srv, "skip_checksum_validation", False):
        cks = int.from_bytes(stored, "little")
        if cks == 0:
            if log:
                srv.log("warning", "RDB file was saved with checksum disabled: no "
                        "check performed.")
        else:
            expected = crc64(crc, memoryview(data)[:r.pos - 8])
            if cks != expected:
                if log:
                    srv.log("warning", "Wrong RDB checksum expected: (%x) but got "
                            "(%x). Aborting now." % (expected, cks))
                raise RDBError("RDB CRC error", base + r.pos - 8)
    res.consumed = r.pos
    if source is not None:
        res.rest = data[r.pos:]     # what followed the RDB (a diskless transfer's EOF mark)
    if ctx.sanitizations:
        srv.stat_dump_payload_sanitizations = (
            getattr(srv, "stat_dump_payload_sanitizations", 0) + ctx.sanitizations)
    install_dataset(srv, new, flush)
    if pending_lru:
        for dbid, key, word in pending_lru:
            srv.dbs[dbid].lru[key] = word
    _install_functions(srv, functions, flush)
    if log:
        if res.empty_skipped:
            srv.log("warning", "Done loading RDB, keys loaded: %d, keys expired: %d, empty "
                    "keys skipped: %d." % (res.keys_loaded, res.keys_expired,
                                           res.empty_skipped))
        else:
            srv.log("notice", "Done loading RDB, keys loaded: %d, keys expired: %d."
                    % (res.keys_loaded, res.keys_expired))
    return res


def _crossing_read(data, start, mark, every):
    """Where rdbLoadProgressCallback's read that passed `mark` began (the loaded bytes it
    reports), for an entry at `start` that ends past the mark: exact for a string key
    (the type byte, each part of a length and each chunk of `every` bytes of a body are
    reads of their own); the entry's start otherwise."""
    reads = [start]
    if data[start] == T_STRING:
        p = start + 1
        for _ in range(2):              # the key, then the value
            p = _string_reads(data, p, reads, every)
            if p is None:
                return start
    for s in reversed(reads):
        if s < mark:
            return s
    return start


def _string_reads(data, p, reads, every):
    """Append the read offsets of the string at p (rdbGenericLoadStringObject); returns
    the offset after it (None: not a string encoding)."""
    n, s, enc = _length_reads(data, p, reads)
    if enc:
        if n < 3:                       # RDB_ENC_INT8/16/32
            reads.append(s)
            return s + (1, 2, 4)[n]
        if n != 3:
            return None
        n, s, _ = _length_reads(data, s, reads)       # RDB_ENC_LZF: clen, then len
        s = _length_reads(data, s, reads)[1]
    reads.extend(range(s, s + n, every))    # rioRead's max_processing_chunk pieces
    return s + n


def _length_reads(data, p, reads):
    """rdbLoadLenByRef's reads at p: (length or encoding, offset after it, encoded?)."""
    b = data[p]
    reads.append(p)
    t = b >> 6
    if t == 0 or t == 3:
        return b & 0x3F, p + 1, t == 3
    reads.append(p + 1)                 # the rest of the length
    if t == 1:
        return ((b & 0x3F) << 8) | data[p + 1], p + 2, False
    if b == 0x80:
        return _unpack_BE32(data, p + 1)[0], p + 5, False
    return _unpack_BE64(data, p + 1)[0], p + 9, False


def _set_lru(srv, pending, dbid, key, lru_idle, lfu_freq):
    """objectSetLRUOrLFU, applied once the dataset is installed."""
    word = restored_clock(srv, lfu_freq, lru_idle)
    if word is not None:
        pending.append((dbid, key, word))


def install_dataset(srv, new, flush):
    """Make the parsed [(data, expires)] per database the server's dataset (flush=False:
    `new` started as copies of the old one, whose LRU clocks the keys keep). The loaded
    keys get no db.lru entry: they all have the clock of a new key, db.lru_base."""
    lru_new = srv.lru_new
    for db, (dd, ed) in zip(srv.dbs, new):
        if db.watched:
            db.touch_all_watched(None)
        lru = {}
        if not flush:
            access_clock = db.access_clock
            for k in db.data:
                if k in dd:
                    c = access_clock(k)
                    if c is not None:
                        lru[k] = c
        db.data = dd
        db.expires = ed
        db.lru = lru
        db.lru_base = lru_new
        db.expire_scan = None
        db.expire_cursor = 0
        db.replaced_data()


def _install_functions(srv, functions, flush=True):
    if flush:
        for clear in FUNCTION_CLEARERS:
            clear(srv)
    if FUNCTION_LOADERS:
        for code in functions:
            for loader in FUNCTION_LOADERS:
                try:
                    loader(srv, code)
                except ValueError as e:
                    raise RDBError("Failed loading library, %s" % e) from None
    elif flush:
        srv.rdb_function_code = list(functions)
    else:
        srv.rdb_function_code = (getattr(srv, "rdb_function_code", None) or []) + functions


def _log_aux(srv, k, v):
    kl = k.lower()
    text = v.decode("utf-8", "replace")
    if k[:1] == b"%":
        srv.log("notice", "RDB '%s': %s" % (k.decode("utf-8", "replace"), text))
    elif kl == b"redis-ver":
        srv.log("notice", "Loading RDB produced by version %s" % text)
    elif kl == b"ctime":
        try:
            age = max(0, int(time.time()) - int(v))
        except ValueError:
            age = 0
        srv.log("notice", "RDB age %d seconds" % age)
    elif kl == b"used-mem":
        srv.log("notice", "RDB memory usage when created %.2f Mb" % (atoll(v) / (1024 * 1024)))
    elif kl == b"aof-preamble":
        if v not in (b"0", b""):
            srv.log("notice", "RDB has an AOF tail")
    elif kl == b"aof-base":
        if v not in (b"0", b""):
            srv.log("notice", "RDB is base AOF")


def load(srv, path, **kw):
    """rdbLoad: load_rdb from the file at path, the server loading meanwhile (INFO's
    loading fields: its size is the total)."""
    with open(path, "rb") as f:
        try:
            size = os.fstat(f.fileno()).st_size
        except OSError:
            size = 0
        loading.start(srv, size)
        try:
            return load_rdb(srv, f, **kw)
        finally:
            loading.stop(srv)


# ======================================================================================
# BGSAVE: a forked child
# ======================================================================================
# -- child info (childinfo.c): a save child reports its progress and copy-on-write size --
_INFO_REC = struct.Struct("<iqqqd")   # type, keys, cow bytes, cow_updated (us), progress
CHILD_INFO_CURRENT = 0
CHILD_INFO_AOF_COW = 1
CHILD_INFO_RDB_COW = 2
CHILD_COW_DUTY_CYCLE = 100
child_reporter = None                 # the ChildReporter of this process (a save child)


def private_dirty():
    """zmalloc_get_private_dirty(-1): the Private_Dirty bytes of this process (its pages
    copied since the fork)."""
    for name in ("/proc/self/smaps_rollup", "/proc/self/smaps"):
        try:
            with open(name, "rb") as f:
                data = f.read()
        except OSError:
            continue
        total = 0
        for line in data.split(b"\n"):
            if line.startswith(b"Private_Dirty:"):
                total += int(line.split()[1]) * 1024
        return total
    return 0


def _now_us():
    return int(time.monotonic() * 1000000)


def child_age_s(updated_us):
    """current_cow_size_age: seconds since the child's last CoW reading."""
    return max(0, (_now_us() - updated_us) // 1000000)


class ChildReporter:
    """sendChildInfoGeneric: reports through a pipe, the current ones about once a second
    (CoW readings throttled to a 1/CHILD_COW_DUTY_CYCLE share of the time)."""

    def __init__(self, srv, fd, pname="RDB"):
        self.srv = srv
        self.fd = fd
        self.pname = pname
        self.last = time.monotonic()
        self.cow = self.peak = self.total = self.count = 0
        self.cow_updated = self.cost = 0

    def send(self, kind, keys):
        now = _now_us()
        if (kind != CHILD_INFO_CURRENT or not self.cow_updated
                or now - self.cow_updated > self.cost * CHILD_COW_DUTY_CYCLE):
            self.cow = private_dirty()
            self.cow_updated = _now_us()
            self.cost = self.cow_updated - now
            self.peak = max(self.peak, self.cow)
            self.total += self.cow
            self.count += 1
            final = kind != CHILD_INFO_CURRENT
            if self.cow or final:
                self.srv.log("notice" if final else "verbose",
                          "Fork CoW for %s: current %d MB, peak %d MB, average %d MB"
                          % (self.pname, self.cow >> 20, self.peak >> 20,
                             (self.total // self.count) >> 20))
        try:
            os.write(self.fd, _INFO_REC.pack(kind, keys, self.cow, self.cow_updated, -1.0))
        except OSError as e:    # the parent is gone (killed): no point going on
            self.srv.log("warning", "Child failed reporting info to parent, exiting. %s"
                      % os.strerror(e.errno or 0))
            os._exit(1)

    def progress(self, keys):
        now = time.monotonic()
        if now - self.last >= 1.0:
            self.last = now
            self.send(CHILD_INFO_CURRENT, keys)


def read_child_info(srv, fd):
    """receiveChildInfo: apply the complete reports waiting in the pipe."""
    buf = getattr(srv, "_child_info_buf", b"")
    while True:
        try:
            chunk = os.read(fd, 4096)
        except (BlockingIOError, InterruptedError):
            break
        except OSError:
            break
        if not chunk:
            break
        buf += chunk
    n = _INFO_REC.size
    while len(buf) >= n:
        kind, keys, cow, updated, _progress = _INFO_REC.unpack_from(buf)
        buf = buf[n:]
        srv.stat_current_cow_peak = max(srv.stat_current_cow_peak, cow)
        if kind == CHILD_INFO_CURRENT:
            srv.stat_current_cow_bytes = cow
            srv.stat_current_cow_updated = updated
            srv.stat_current_save_keys_processed = keys
        elif kind == CHILD_INFO_RDB_COW:
            srv.stat_rdb_cow_bytes = srv.stat_current_cow_peak
        elif kind == CHILD_INFO_AOF_COW:
            srv.stat_aof_cow_bytes = srv.stat_current_cow_peak
    srv._child_info_buf = buf


def child_started(srv):
    """The child info state of a new child (resetChildState's counterpart)."""
    srv.stat_current_cow_peak = srv.stat_current_cow_bytes = 0
    srv.stat_current_cow_updated = srv.stat_current_save_keys_processed = 0
    srv.stat_current_save_keys_total = sum(len(db.data) for db in srv.dbs)
    srv._child_info_buf = b""


def child_finished(srv):
    srv.stat_current_cow_peak = srv.stat_current_cow_bytes = 0
    srv.stat_current_cow_updated = srv.stat_current_save_keys_processed = 0
    srv.stat_current_save_keys_total = 0
    srv._child_info_buf = b""


def fork_save(srv, path, on_done, aux_extra=None):
    """rdbSaveBackground's fork: a child saves the dataset to path and exits; the parent
    polls it from the cron (srv.cron_hooks) and calls on_done(exitcode, bysignal) once it
    is reaped. Returns the child pid, or None when fork is unavailable (then the save ran
    synchronously and on_done was already called)."""
    if not hasattr(os, "fork"):
        on_done(0 if save(srv, path, aux_extra) else 1, 0)
        return None
    info_r, info_w = os.pipe()
    child_started(srv)
    pid = children.fork(srv)
    if pid == 0:   # child
        code = 1
        try:
            os.close(info_r)
            global child_reporter
            child_reporter = ChildReporter(srv, info_w)
            if save(srv, path, aux_extra):
                child_reporter.send(CHILD_INFO_RDB_COW, 0)
                code = 0
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            except Exception:    # noqa: BLE001 - the child exits whatever happens
                pass
            os._exit(code)
    os.close(info_w)
    os.set_blocking(info_r, False)
    job = _Child(pid, on_done)
    job.info_fd = info_r
    jobs = getattr(srv, "_fork_jobs", None)
    if jobs is None:
        jobs = srv._fork_jobs = []
        srv.cron_hooks.append(_reap)
    jobs.append(job)
    return pid


class _Child:
    __slots__ = ("pid", "on_done", "info_fd")

    def __init__(self, pid, on_done):
        self.pid = pid
        self.on_done = on_done
        self.info_fd = None

    def close_info(self, srv):
        if self.info_fd is not None:
            read_child_info(srv, self.info_fd)
            try:
                os.close(self.info_fd)
            except OSError:
                pass
            self.info_fd = None


def _reap(srv):
    """checkChildrenDone for the BGSAVE child (waitpid WNOHANG)."""
    jobs = srv._fork_jobs
    if not jobs:
        return
    for job in list(jobs):
        if job.info_fd is not None:
            read_child_info(srv, job.info_fd)
        status = children.poll(job.pid)
        if status is None:
            continue
        jobs.remove(job)
        job.close_info(srv)
        child_finished(srv)
        try:
            job.on_done(*status)
        except Exception as e:   # pragma: no cover
            srv.log("warning", "fork completion handler failed: %s" % e)


def reap_now(srv):
    """Reap finished children immediately (used before checking child state)."""
    if getattr(srv, "_fork_jobs", None):
        _reap(srv)
