"""HyperLogLog: PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST. The stored bytes (GET) must
be identical to Redis's for the same inputs, sparse and dense, corrupted or not."""
import random

import pytest


def _elements(rnd, n):
    return [str(rnd.random()).encode() for _ in range(n)]


def test_basics(both):
    both("PFADD", "h")
    both("GET", "h")
    both("EXISTS", "h")
    both("PFCOUNT", "h")
    both("GET", "h")
    both("PFADD", "h")
    both("PFADD", "h", "a", "b", "c")
    both("PFADD", "h", "a", "b", "c")
    both("PFADD", "h", "")
    both("GET", "h")
    both("PFCOUNT", "h")
    both("GET", "h")                 # cached cardinality written in the header
    both("PFCOUNT", "h")
    both("OBJECT", "ENCODING", "h")
    both("PFDEBUG", "ENCODING", "h")
    both("PFDEBUG", "DECODE", "h")
    both("PFCOUNT", "nokey")
    both("PFCOUNT", "nokey", "nokey2")
    both("EXISTS", "nokey")


@pytest.mark.parametrize("seed", range(6))
def test_sparse_dense_bytes_identical(both, seed):
    rnd = random.Random(seed)
    n = rnd.choice([10, 200, 700, 1500, 3000])
    els = _elements(rnd, n)
    for i in range(0, n, 97):
        both("PFADD", "x", *els[i:i + 97])
        if i % 3 == 0:
            both("PFCOUNT", "x")
    both("GET", "x")
    both("PFCOUNT", "x")
    both("PFDEBUG", "ENCODING", "x")
    both("PFADD", "y", *els[: n // 2], "extra1", "extra2")
    both("PFCOUNT", "x", "y")
    both("PFCOUNT", "y", "x", "nokey")
    both("PFMERGE", "m", "x", "y")
    both("GET", "m")
    both("PFCOUNT", "m")
    both("PFMERGE", "y", "x")
    both("GET", "y")
    both("PFMERGE", "e", "nokey")
    both("GET", "e")
    both("PFMERGE", "e2")
    both("GET", "e2")


def test_binary_and_long_elements(both):
    rnd = random.Random(9)
    els = [bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 40))) for _ in range(300)]
    els.append(b"x" * 5000)
    both("PFADD", "b", *els)
    both("GET", "b")
    both("PFCOUNT", "b")


def test_sparse_max_bytes(both):
    rnd = random.Random(4)
    try:
        for limit in ("0", "100", "500"):
            both("CONFIG", "SET", "hll-sparse-max-bytes", limit)
            both("DEL", "h")
            for _ in range(5):
                both("PFADD", "h", *_elements(rnd, 30))
                both("GET", "h")
                both("PFDEBUG", "ENCODING", "h")
    finally:
        both("CONFIG", "SET", "hll-sparse-max-bytes", "3000")


def test_dense_promotion_by_large_register(both):
    # an element with a long run of zeros (count > 32) forces dense encoding
    both("PFADD", "h", *["%d" % i for i in range(2000)])
    both("GET", "h")
    both("PFDEBUG", "ENCODING", "h")


def test_pfdebug(both):
    both("PFADD", "h", "a", "b", "c")
    both("PFDEBUG", "DECODE", "h")
    both("PFDEBUG", "GETREG", "h")
    both("PFDEBUG", "ENCODING", "h")
    both("GET", "h")
    both("PFDEBUG", "TODENSE", "h")
    both("PFDEBUG", "TODENSE", "h")
    both("PFDEBUG", "DECODE", "h")
    both("PFADD", "s", "a")
    both("PFDEBUG", "TODENSE", "s")
    both("GET", "s")
    both("PFDEBUG", "FOO", "h")
    both("PFDEBUG", "FOO", "nokey")
    both("PFDEBUG", "GETREG", "nokey")
    both("SET", "str", "hello")
    both("PFDEBUG", "GETREG", "str")
    both("LPUSH", "l", "x")
    both("PFDEBUG", "ENCODING", "l")
    both("PFDEBUG", "GETREG")
    both.resp3()
    both("PFDEBUG", "GETREG", "h")


def test_errors(both):
    both("SET", "foo", "bar")
    both("PFADD", "foo", "1")
    both("PFCOUNT", "foo")
    both("PFMERGE", "bar", "foo")
    both("PFMERGE", "foo", "nokey")
    both("PFCOUNT", "nokey", "foo")
    both("SET", "num", "1234567890123456789")
    both("PFCOUNT", "num")
    both("LPUSH", "l", "a")
    both("PFADD", "l", "1")
    both("PFCOUNT", "l")
    both("PFCOUNT", "l", "nokey")
    both("PFMERGE", "l", "nokey")
    both("PFMERGE", "x", "l")
    both("PFADD")
    both("PFCOUNT")
    both("PFMERGE")
    both("EXISTS", "bar", "x")


def test_corrupted(both):
    both("PFADD", "hll", "a", "b", "c")
    both("APPEND", "hll", "hello")
    both("PFCOUNT", "hll")
    both("PFCOUNT", "hll", "nokey")
    both("PFADD", "hll", "zz", "yy")
    both("GET", "hll")
    both("DEL", "hll")
    both("PFADD", "hll", "a", "b", "c")
    both("SETRANGE", "hll", "0", "0123")
    both("PFCOUNT", "hll")
    both("DEL", "hll")
    both("PFADD", "hll", "a", "b", "c")
    both("SETRANGE", "hll", "4", "x")
    both("PFCOUNT", "hll")
    both("DEL", "hll")
    both("PFADD", "hll", "a", "b", "c")
    both("SETRANGE", "hll", "4", b"\x00")
    both("PFCOUNT", "hll")
    both("SET", "short", "HYLL")
    both("PFCOUNT", "short")


def test_corruption_fuzz(both):
    rnd = random.Random(21)
    for _ in range(60):
        both("DEL", "x", "y")
        both("PFADD", "x", *_elements(rnd, rnd.randrange(0, 2500)))
        for _ in range(5):
            n = int(both("STRLEN", "x")[1:-2])
            both("SETRANGE", "x", str(rnd.randrange(n)), bytes([rnd.randrange(256)]))
            if rnd.random() < 0.5:
                break
        both("PFCOUNT", "x")
        both("PFCOUNT", "x", "nokey")
        both("PFADD", "x", *_elements(rnd, rnd.randrange(0, 40)))
        both("GET", "x")
        both("PFMERGE", "y", "x")
        both("GET", "y")
        both("PFDEBUG", "DECODE", "x")
        both("PFDEBUG", "TODENSE", "x")
        both("GET", "x")


def test_cache_invalidation(raw):
    c = raw()
    c.cmd("FLUSHALL")
    c.cmd("PFADD", "hll", "a", "b", "c")
    c.cmd("PFCOUNT", "hll")
    v = c.cmd("GETRANGE", "hll", "15", "15")
    assert v == b"$1\r\n\x00\r\n"
    c.cmd("PFADD", "hll", "a", "b", "c")
    assert c.cmd("GETRANGE", "hll", "15", "15") == b"$1\r\n\x00\r\n"
    c.cmd("PFADD", "hll", "1", "2", "3")
    assert c.cmd("GETRANGE", "hll", "15", "15") == b"$1\r\n\x80\r\n"


def _dirty(conn):
    for line in conn.cmd("INFO", "persistence").decode().split("\r\n"):
        if line.startswith("rdb_changes_since_last_save:"):
            return int(line.split(":")[1])


def test_dirty_counting(raw):
    c = raw()
    c.cmd("FLUSHALL")
    d = _dirty(c)
    c.cmd("PFADD", "h", "a", "b", "c")      # created + 3 registers
    assert _dirty(c) == d + 4
    c.cmd("PFADD", "h", "a")
    assert _dirty(c) == d + 4
    c.cmd("PFCOUNT", "h")                   # caches the cardinality: a change
    assert _dirty(c) == d + 5
    c.cmd("PFCOUNT", "h")
    assert _dirty(c) == d + 5
    c.cmd("PFMERGE", "h2", "h")
    assert _dirty(c) == d + 6
    c.cmd("PFDEBUG", "TODENSE", "h")
    assert _dirty(c) == d + 7


def test_selftest(raw):
    c = raw()
    assert c.cmd("PFSELFTEST") == b"+OK\r\n"
    assert c.cmd("PFSELFTEST", "x").startswith(b"-ERR wrong number of arguments")


def test_redis_py(r):
    assert r.pfadd("hll", "a", "b", "c") == 1
    assert r.pfcount("hll") == 3
    r.pfadd("hll2", "c", "d")
    assert r.pfcount("hll", "hll2") == 4
    assert r.pfmerge("m", "hll", "hll2")
    assert r.pfcount("m") == 4
