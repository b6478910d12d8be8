"""RESTORE of corrupt payloads: one test per class of corruption that Redis 7.0.15's
rdbLoadObject refuses (ziplist/listpack/zipmap/intset integrity, duplicate records, stream
consumer/PEL consistency...), each payload sent to redislet and to a real redis-server with
the same sanitize-dump-payload setting, replies compared byte for byte; the log line Redis
writes for the refusal ("... integrity check failed" etc., verbose) is checked in
redislet's log too. Payloads come from Redis's tests/integration/corrupt-dump.tcl (with a
valid CRC here) or are built by hand."""
import os
import re
import struct
import time

import pytest

from conftest import Raw, start_real_redis, start_redislet
from redislet.persistence.crc64 import crc64



def payload(body, version=10):
    """A DUMP payload: object, RDB version, CRC64 (so no checksum skipping is needed)."""
    b = body + struct.pack("<H", version)
    return b + crc64(0, b).to_bytes(8, "little")


def from_suite(p):
    """A payload of corrupt-dump.tcl with its CRC recomputed (some tests skip the check)."""
    return payload(p[:-10], p[-10] | (p[-9] << 8))


class Pair:
    def __init__(self, tmp):
        os.makedirs(os.path.join(tmp, "a"), exist_ok=True)
        os.makedirs(os.path.join(tmp, "b"), exist_ok=True)
        args = ("--loglevel", "verbose", "--logfile", "server.log.txt")
        self.srv_a = start_redislet(os.path.join(tmp, "a"), *args)
        self.srv_b = start_real_redis(os.path.join(tmp, "b"), *args)
        self.log_a = os.path.join(tmp, "a", "server.log.txt")
        self.log_b = os.path.join(tmp, "b", "server.log.txt")
        self.a = Raw(self.srv_a.port)
        self.b = Raw(self.srv_b.port)

    def both(self, *args):
        ra = self.a.cmd(*args)
        rb = self.b.cmd(*args)
        assert ra == rb, "%r: redislet %r != redis %r" % (args[:3], ra, rb)
        return ra

    def log_mark(self):
        return [os.path.getsize(p) if os.path.exists(p) else 0 for p in (self.log_a,
                                                                          self.log_b)]

    def log_since(self, mark):
        out = []
        for p, m in zip((self.log_a, self.log_b), mark):
            with open(p, "rb") as f:
                f.seek(m)
                out.append(f.read().decode("utf-8", "replace"))
        return out

    def stop(self):
        self.a.close()
        self.b.close()
        self.srv_a.stop()
        self.srv_b.stop()


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    p = Pair(str(tmp_path_factory.mktemp("corrupt")))
    yield p
    p.stop()


def restore_both(pair, data, sanitize, expect_log=None, key="key"):
    """RESTORE data on both servers with sanitize-dump-payload set; the replies must be
    the same. expect_log: a text Redis logs for the refusal, which redislet must log
    too (both logs are checked)."""
    pair.both("CONFIG", "SET", "sanitize-dump-payload", sanitize)
    pair.both("DEL", key)
    mark = pair.log_mark()
    reply = pair.both("RESTORE", key, "0", data)
    if expect_log is not None:
        # "Internal error in RDB reading offset 0, function at rdb.c:LINE -> MESSAGE":
        # the same message, and the same rdb.c line as the real server's build
        deadline = time.time() + 5
        while True:
            la, lb = pair.log_since(mark)
            if expect_log in lb and expect_log in la:
                m = re.search(r"rdb\.c:(\d+) -> " + re.escape(expect_log), lb)
                if m and not os.environ.get('CD_NOLINES'):
                    assert m.group(0) in la, (m.group(0), la)
                break
            if time.time() > deadline:
                assert expect_log in lb, "real Redis did not log %r: %r" % (expect_log, lb)
                assert expect_log in la, "redislet did not log %r: %r" % (expect_log, la)
            time.sleep(0.05)
    pair.both("PING")
    return reply


BAD = b"-ERR Bad data format\r\n"
OK = b"+OK\r\n"


# -- ziplists (always validated deeply: Redis 7 converts them on load) -----------------------
ZL_HASH_BAD_ENTRY_LEN = (b"\x0D\x1B\x1B\x00\x00\x00\x16\x00\x00\x00\x04\x00\x00\x02\x61\x00"
                         b"\x04\x02\x62\x00\x04\x14\x63\x00\x04\x02\x64\x00\xFF\x09\x00"
                         b"\xD9\x10\x54\x92\x15\xF5\x5F\x52")
ZL_HASH_BAD_ZLBYTES = (b"\x0D\x1B\x25\x00\x00\x00\x16\x00\x00\x00\x04\x00\x00\x02\x61\x00"
                       b"\x04\x02\x62\x00\x04\x02\x63\x00\x04\x02\x64\x00\xFF\x09\x00"
                       b"\xB7\xF7\x6E\x9F\x43\x43\x14\xC6")
ZL_HASH_DUP = (b"\x0D\x1B\x1B\x00\x00\x00\x16\x00\x00\x00\x04\x00\x00\x02\x61\x00\x04\x02"
               b"\x62\x00\x04\x02\x61\x00\x04\x02\x64\x00\xFF\x09\x00\xA1\x98\x36\x78\xCC"
               b"\x8E\x93\x2E")
QL_ZL_BIG_PREVLEN = (b"\x0E\x01\x13\x13\x00\x00\x00\x0E\x00\x00\x00\x02\x00\x00\x02\x61\x00"
                     b"\x0E\x02\x62\x00\xFF\x09\x00\x49\x97\x30\xB2\x0D\xA1\xED\xAA")
QL_ZL_WRONG_COUNT = (b"\x0E\x01\x13\x13\x00\x00\x00\x0E\x00\x00\x00\x03\x00\x00\x02\x61\x00"
                     b"\x04\x02\x62\x00\xFF\x09\x00\x4D\xE2\x0A\x2F\x08\x25\xDF\x91")
QL_ZL_TAIL_EXTRA_FF = (b"\x0E\x01\x11\x11\x00\x00\x00\x0A\x00\x00\x00\x01\x00\x00\xF6\xFF"
                       b"\xB0\x6C\x9C\xFF\x09\x00\x9C\x37\x47\x49\x4D\xDE\x94\xF5")
ZSET_ZL_BAD_TAIL = (b"\x0C\x19\x19\x00\x00\x00\x02\x00\x00\x00\x06\x00\x00\xF1\x02\xF1\x02"
                    b"\x02\x5F\x31\x04\xF2\x02\xF3\x02\xF3\xFF\x09\x00\x4D\x72\x7B\x97\xCD"
                    b"\x9A\x70\xC1")
LIST_ZL_3080 = (b"\x0A\x80\x00\x00\x00\x10\x41\x41\x41\x41\x41\x41\x41\x41\x02\x00\x00\x80"
                b"\x41\x41\x41\x41\x07\x00\x39\x5B\x49\xE0\xC1\xC6\xDD\x76")


@pytest.mark.parametrize("sanitize", ["no", "yes"])
@pytest.mark.parametrize("data,log", [
    (ZL_HASH_BAD_ENTRY_LEN, "Hash ziplist integrity check failed."),
    (ZL_HASH_BAD_ZLBYTES, "Hash ziplist integrity check failed."),
    (ZL_HASH_DUP, "Hash ziplist integrity check failed."),
    (QL_ZL_BIG_PREVLEN, "Ziplist integrity check failed."),
    (QL_ZL_WRONG_COUNT, "Ziplist integrity check failed."),
    (QL_ZL_TAIL_EXTRA_FF, "Ziplist integrity check failed."),
    (ZSET_ZL_BAD_TAIL, "Zset ziplist integrity check failed."),
    (LIST_ZL_3080, "List ziplist integrity check failed."),
], ids=["hash-entry-len", "hash-zlbytes", "hash-dup", "ql-prevlen", "ql-count",
        "ql-tail-ff", "zset-tail", "list-3080"])
def test_ziplist_corruption(pair, data, log, sanitize):
    assert restore_both(pair, from_suite(data), sanitize, log) == BAD


# -- listpacks: the header always, the entries under sanitize-dump-payload yes ----------------
def lp(entries_bytes, count, total=None):
    body = entries_bytes + b"\xff"
    n = len(body) + 6 if total is None else total
    return struct.pack("<IH", n, count) + body


def rdb_str(s):
    assert len(s) < 16384
    if len(s) < 64:
        return bytes((len(s),)) + s
    return bytes((0x40 | (len(s) >> 8), len(s) & 0xFF)) + s


LP_AB = b"\x81a\x02\x81b\x02"           # "a", "b"
LP_AD = b"\x81a\x02\x81d\x02"


@pytest.mark.parametrize("sanitize", ["no", "yes"])
def test_listpack_bad_header(pair, sanitize):
    bad = lp(LP_AB, 2, total=99)
    assert restore_both(pair, payload(b"\x10" + rdb_str(bad)), sanitize,
                        "Hash listpack integrity check failed.") == BAD
    assert restore_both(pair, payload(b"\x11" + rdb_str(bad)), sanitize,
                        "Zset listpack integrity check failed.") == BAD
    assert restore_both(pair, payload(b"\x12\x01\x02" + rdb_str(bad)), sanitize,
                        "Listpack integrity check failed.") == BAD


def test_listpack_entries_deep(pair):
    # a wrong back-length, a wrong count, a repeated field, an odd element count
    bad_backlen = lp(b"\x81a\x03\x81b\x02", 2)
    wrong_count = lp(LP_AB, 3)
    dup = lp(LP_AB + LP_AD, 4)
    odd = lp(LP_AB + b"\x81c\x02", 3)
    for data in (bad_backlen, wrong_count, dup, odd):
        assert restore_both(pair, payload(b"\x10" + rdb_str(data)), "yes",
                            "Hash listpack integrity check failed.") == BAD
    assert restore_both(pair, payload(b"\x12\x01\x02" + rdb_str(wrong_count)), "yes",
                        "Listpack integrity check failed.") == BAD
    # the same listpacks, well formed, are accepted
    assert restore_both(pair, payload(b"\x10" + rdb_str(lp(LP_AB, 2))), "yes") == OK
    pair.both("HGETALL", "key")
    assert restore_both(pair, payload(b"\x12\x01\x02" + rdb_str(lp(LP_AB, 2))), "yes") == OK
    pair.both("LRANGE", "key", "0", "-1")


def test_quicklist_container_and_empty(pair):
    assert restore_both(pair, payload(b"\x12\x01\x03" + rdb_str(lp(LP_AB, 2))), "no",
                        "Quicklist integrity check failed.") == BAD
    # quicklist encoded_len is 0, and a quicklist whose only ziplist is empty
    assert restore_both(pair, payload(b"\x12\x01\x01\x00"), "no") == BAD
    empty_zl = b"\x0B\x00\x00\x00\x0A\x00\x00\x00\x00\x00\xFF"
    assert restore_both(pair, payload(b"\x0E\x01" + rdb_str(empty_zl), 9), "no") == BAD


# -- zipmap, intset ------------------------------------------------------------------------
@pytest.mark.parametrize("sanitize", ["no", "yes"])
def test_zipmap(pair, sanitize):
    assert restore_both(pair, payload(b"\x09\x02\x00\xFF", 9), sanitize,
                        "Zipmap integrity check failed.") == BAD
    # a repeated field
    zm = b"\x02\x01a\x01\x00x\x01a\x01\x00y\xFF"
    assert restore_both(pair, payload(b"\x09" + rdb_str(zm), 9), sanitize,
                        "Hash zipmap with dup elements") == BAD
    good = b"\x02\x01a\x01\x00x\x01b\x01\x00y\xFF"
    assert restore_both(pair, payload(b"\x09" + rdb_str(good), 9), sanitize) == OK
    pair.both("HGETALL", "key")


def intset(vals, enc=2, count=None):
    fmt = {2: "h", 4: "i", 8: "q"}[enc]
    n = len(vals) if count is None else count
    return struct.pack("<II", enc, n) + struct.pack("<%d%s" % (len(vals), fmt), *vals)


@pytest.mark.parametrize("sanitize", ["no", "yes"])
def test_intset_header(pair, sanitize):
    bad_enc = struct.pack("<II", 3, 2) + b"\x01\x00\x00\x02\x00\x00"
    for data in (intset([]), bad_enc, intset([1, 2], count=3)):
        assert restore_both(pair, payload(b"\x0B" + rdb_str(data)), sanitize,
                            "Intset integrity check failed.") == BAD


def test_intset_order_deep(pair):
    for vals in ([2, 1], [1, 1]):
        assert restore_both(pair, payload(b"\x0B" + rdb_str(intset(vals))), "yes",
                            "Intset integrity check failed.") == BAD
    assert restore_both(pair, payload(b"\x0B" + rdb_str(intset([1, 5]))), "yes") == OK


# -- duplicates in plain encodings ---------------------------------------------------------
def test_hash_duplicate_records(pair):
    data = payload(b"\x04\x02\x01a\x01b\x01a\x01d", 9)
    assert restore_both(pair, data, "yes", "Hash with dup elements") == BAD
    # in the hash table part (more entries than hash-max-listpack-entries): always refused
    pair.both("CONFIG", "SET", "hash-max-listpack-entries", "1")
    try:
        assert restore_both(pair, data, "no",
                            "Duplicate hash fields detected") == BAD
    finally:
        pair.both("CONFIG", "SET", "hash-max-listpack-entries", "128")
    # a long value converts it while loading: the repeat meets the dict
    long_dup = payload(b"\x04\x02\x01a\x01b\x01a" + rdb_str(b"x" * 100))
    assert restore_both(pair, long_dup, "no",
                        "Duplicate hash fields detected") == BAD


@pytest.mark.parametrize("sanitize", ["no", "yes"])
def test_set_and_zset_duplicates(pair, sanitize):
    assert restore_both(pair, payload(b"\x02\x02\x01a\x01a"), sanitize,
                        "Duplicate set members detected") == BAD
    assert restore_both(pair, payload(b"\x02\x02\xc0\x01\xc0\x01"), sanitize,
                        "Duplicate set members detected") == BAD
    dbl = struct.pack("<d", 1.0)
    assert restore_both(pair, payload(b"\x05\x02\x01a" + dbl + b"\x01a" + dbl), sanitize,
                        "Duplicate zset fields detected") == BAD
    nan = struct.pack("<d", float("nan"))
    assert restore_both(pair, payload(b"\x05\x01\x01a" + nan), sanitize,
                        "Zset with NAN score detected") == BAD


# -- streams --------------------------------------------------------------------------------
STREAM_DUP_CONSUMERS = (b"\x0F\x00\x00\x00\x00\x01\x07\x6D\x79\x67\x72\x6F\x75\x70\x00\x00"
                        b"\x00\x02\x04\x6E\x61\x6D\x65\x2A\x4C\xAA\x9A\x7D\x01\x00\x00\x00"
                        b"\x04\x6E\x61\x6D\x65\x2B\x4C\xAA\x9A\x7D\x01\x00\x00\x00\x0A\x00"
                        b"\xCC\xED\x8C\xA7\x62\xEE\xC7\xC8")


def stream_payload(groups):
    """An empty stream (no nodes, length 0) of type 19 with the given consumer groups:
    [(name, [(id, dtime, dcount)], [(cname, [ids])])]."""
    out = [b"\x13\x00", b"\x00\x00\x00\x00\x00\x00\x00\x00", bytes((len(groups),))]
    for name, pel, consumers in groups:
        out.append(rdb_str(name) + b"\x00\x00\x00" + bytes((len(pel),)))
        for idk, dtime, dcount in pel:
            out.append(struct.pack(">QQ", 0, idk) + struct.pack("<q", dtime)
                       + bytes((dcount,)))
        out.append(bytes((len(consumers),)))
        for cname, ids in consumers:
            out.append(rdb_str(cname) + struct.pack("<q", 1) + bytes((len(ids),)))
            out.extend(struct.pack(">QQ", 0, i) for i in ids)
    return payload(b"".join(out))


@pytest.mark.parametrize("sanitize", ["no", "yes"])
def test_stream_groups_consistency(pair, sanitize):
    assert restore_both(pair, from_suite(STREAM_DUP_CONSUMERS), sanitize,
                        "Duplicate stream consumer detected.") == BAD
    dup_group = stream_payload([(b"g", [], []), (b"g", [], [])])
    assert restore_both(pair, dup_group, sanitize,
                        "Duplicated consumer group name g") == BAD
    dup_pel = stream_payload([(b"g", [(1, 5, 1), (1, 5, 1)], [])])
    assert restore_both(pair, dup_pel, sanitize, "Duplicated global PEL") == BAD
    not_in_pel = stream_payload([(b"g", [(1, 5, 1)], [(b"c", [2])])])
    assert restore_both(pair, not_in_pel, sanitize,
                        "Consumer entry not found in group global PEL") == BAD
    dup_cpel = stream_payload([(b"g", [(1, 5, 1)], [(b"c", [1, 1])])])
    assert restore_both(pair, dup_cpel, sanitize,
                        "Stream consumer PEL entry already has a consumer assigned") == BAD
    two_owners = stream_payload([(b"g", [(1, 5, 1)], [(b"c", [1]), (b"d", [1])])])
    assert restore_both(pair, two_owners, sanitize,
                        "Stream consumer PEL entry already has a consumer assigned") == BAD
    good = stream_payload([(b"g", [(1, 5, 1)], [(b"c", [1])])])
    assert restore_both(pair, good, sanitize) == OK
    pair.both("XINFO", "GROUPS", "key")


def test_stream_pel_without_consumer_deep(pair):
    orphan = stream_payload([(b"g", [(1, 5, 1)], [(b"c", [])])])
    assert restore_both(pair, orphan, "yes",
                        "Stream CG PEL entry without consumer") == BAD


STREAM_BAD_LP_COUNT = (
    b"\x0F\x01\x10\x00\x00\x01\x73\xDE\xDF\x7D\x9B\x00\x00\x00\x00\x00\x00\x00\x00\x40\x42"
    b"\x42\x00\x00\x00\x18\x00\x03\x01\x00\x01\x02\x01\x84\x69\x74\x65\x6D\x05\x85\x76\x61"
    b"\x6C\x75\x65\x06\x00\x01\x02\x01\x00\x01\x00\x01\x01\x01\x00\x01\x56\x01\x02\x01\x22"
    b"\x01\x00\x01\x01\x01\x82\x5F\x31\x03\x05\x01\x02\x01\x2C\x01\x00\x01\x01\x01\x02\x01"
    b"\x05\x01\xFF\x03\x81\x00\x00\x01\x73\xDE\xDF\x7D\xC7\x00\x01\x07\x6D\x79\x67\x72\x6F"
    b"\x75\x70\x81\x00\x00\x01\x73\xDE\xDF\x7D\x9B\x00\x01\x00\x00\x01\x73\xDE\xDF\x7D\x9B"
    b"\x00\x00\x00\x00\x00\x00\x00\x00\xF9\x7D\xDF\xDE\x73\x01\x00\x00\x01\x01\x05\x41\x6C"
    b"\x69\x63\x65\xEB\x7D\xDF\xDE\x73\x01\x00\x00\x01\x00\x00\x01\x73\xDE\xDF\x7D\x9B\x00"
    b"\x00\x00\x00\x00\x00\x00\x00\x09\x00\xB2\xA8\xA7\x5F\x1B\x61\x72\xD5")


def test_stream_listpack_deep(pair):
    assert restore_both(pair, from_suite(STREAM_BAD_LP_COUNT), "yes",
                        "Stream listpack integrity check failed.") == BAD


@pytest.mark.parametrize("sanitize", ["no", "yes"])
def test_stream_node_key_and_header(pair, sanitize):
    node = lp(b"\x01\x01\x00\x01\x00\x01\x00\x01", 4)   # count 1, deleted 0, 0 fields, 0
    short_key = payload(b"\x13\x01" + rdb_str(b"\x00" * 15) + rdb_str(node)
                        + b"\x00" * 8)
    assert restore_both(pair, short_key, sanitize,
                        "Stream node key entry is not the size of a stream "
                        "ID") == BAD
    bad_header = payload(b"\x13\x01" + rdb_str(b"\x00" * 16)
                         + rdb_str(lp(b"\x01\x01", 1, total=50)) + b"\x00" * 8)
    assert restore_both(pair, bad_header, sanitize,
                        "Stream listpack integrity check failed.") == BAD
    empty = payload(b"\x13\x01" + rdb_str(b"\x00" * 16) + rdb_str(lp(b"", 0))
                    + b"\x00" * 8)
    assert restore_both(pair, empty, sanitize,
                        "Empty listpack inside stream" if sanitize == "no"
                        else "Stream listpack integrity check failed.") == BAD
    no_nodes = payload(b"\x13\x00\x01" + b"\x00" * 7)
    assert restore_both(pair, no_nodes, sanitize,
                        "Stream length inconsistent with rax entries") == BAD


# -- what real Redis writes is accepted under deep sanitization -----------------------------
def test_real_payloads_pass_deep_validation(pair):
    b = pair.b
    b.cmd("FLUSHALL")
    b.cmd("RPUSH", "l", "a", "1", "-2", "x" * 100, "y" * 5000)
    b.cmd("SADD", "si", "1", "2", "70000", "-5")
    b.cmd("HSET", "h", "f", "v", "n", "10", "big", "z" * 70)
    b.cmd("HSET", "hs", "f", "v", "n", "-123456789012")
    b.cmd("ZADD", "z", "1", "a", "2.5", "b", "-inf", "c", "1e300", "d")
    for i in range(20):
        b.cmd("XADD", "x", "*", "f", "v%d" % i, "g", str(i))
    b.cmd("XADD", "x", "*", "other", "fields")
    b.cmd("XDEL", "x", b.cmd("XADD", "x", "*", "f", "gone")[5:-2].split(b"\r\n")[-1])
    b.cmd("XGROUP", "CREATE", "x", "g", "0")
    b.cmd("XREADGROUP", "GROUP", "g", "c1", "COUNT", "3", "STREAMS", "x", ">")
    b.cmd("XREADGROUP", "GROUP", "g", "c2", "COUNT", "2", "STREAMS", "x", ">")
    for k in ("l", "si", "h", "hs", "z", "x"):
        raw = b.cmd("DUMP", k)
        data = raw[raw.index(b"\r\n") + 2:-2]
        assert restore_both(pair, data, "yes", key="r_" + k) == OK
    pair.both("LRANGE", "r_l", "0", "-1")
    pair.both("HGET", "r_h", "big")
    pair.both("ZRANGE", "r_z", "0", "-1", "WITHSCORES")
    pair.both("XRANGE", "r_x", "-", "+")
    pair.both("XPENDING", "r_x", "g")
    counts = [re.search(rb"dump_payload_sanitizations:(\d+)", c.cmd("INFO", "stats")).group(1)
              for c in (pair.a, pair.b)]
    assert counts[0] == counts[1]


def test_sanitize_clients_mode(pair):
    # clients: deep for normal clients; a user with skip-sanitize-payload gets the header
    # check only (a listpack with a wrong count is then refused by redislet for what it is,
    # see test_unsanitized_corruption_is_refused)
    wrong_count = payload(b"\x10" + rdb_str(lp(LP_AB, 3)))
    assert restore_both(pair, wrong_count, "clients",
                        "Hash listpack integrity check failed.") == BAD


def test_unsanitized_corruption_is_refused(pair):
    """Where Redis checks only a header (sanitize-dump-payload no) and stores a corrupt
    listpack (it asserts on a later command), redislet refuses the payload: the one place
    where the replies differ on purpose."""
    corrupt_entries = payload(b"\x10" + rdb_str(lp(b"\x81a\x03\x81b\x02", 2)))
    pair.a.cmd("CONFIG", "SET", "sanitize-dump-payload", "no")
    pair.b.cmd("CONFIG", "SET", "sanitize-dump-payload", "no")
    pair.a.cmd("DEL", "unsanitized")
    pair.b.cmd("DEL", "unsanitized")
    assert pair.b.cmd("RESTORE", "unsanitized", "0", corrupt_entries) == OK
    pair.b.cmd("DEL", "unsanitized")       # never touch it: Redis would crash on it
    assert pair.a.cmd("RESTORE", "unsanitized", "0", corrupt_entries) == BAD
