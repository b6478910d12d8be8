"""MEMORY USAGE / STATS / DOCTOR / MALLOC-STATS / PURGE / HELP.

MEMORY USAGE models Redis's jemalloc allocations: for deterministic layouts (strings,
listpacks, intsets, quicklists, small hash tables) the numbers equal Redis's exactly."""
import pytest

from conftest import parse_reply


def _setup(both):
    both("SET", "i", "12345")
    both("SET", "e", "hello")
    for n in (20, 44, 45, 100, 1000, 5000, 33000):
        both("SET", "s%d" % n, "x" * n)
    both("SET", "k" * 40, "v")
    both("SETBIT", "sb", "100", "1")
    both("RPUSH", "l1", "a", "b", "c")
    both("RPUSH", "l2", *[str(i) for i in range(1000)])
    both("RPUSH", "l3", *["x" * 100 for _ in range(1000)])
    both("SADD", "st1", "1", "2", "3")
    both("SADD", "st2", *[str(i * 100000) for i in range(100)])
    both("SADD", "st3", "a", "b", "c")
    both("SADD", "st4", *["m%d" % i for i in range(1000)])
    both("SADD", "st5", "-5", "70000", "3")
    both("SADD", "st6", "1", "99999999999")
    both("HSET", "h1", "a", "1", "b", "2")
    both("HSET", "h2", *sum([["f%d" % i, "v" * (i % 10)] for i in range(200)], []))
    both("ZADD", "z1", "1", "a", "2.5", "b", "-3", "c")
    both("XADD", "x1", "1-1", "a", "1")
    both("PFADD", "hll", "a", "b")


EXACT = ["i", "e", "s20", "s44", "s45", "s100", "s1000", "s5000", "s33000", "k" * 40, "sb",
         "l1", "l2", "l3", "st1", "st2", "st3", "st4", "st5", "st6", "h1", "z1", "x1", "hll"]


def test_usage_matches_redis(both):
    _setup(both)
    for k in EXACT:
        both("MEMORY", "USAGE", k)
        both("MEMORY", "USAGE", k, "SAMPLES", "0")
        both("MEMORY", "USAGE", k, "samples", "1")
    both("MEMORY", "USAGE", "nokey")
    both.resp3()
    both("MEMORY", "USAGE", "nokey")
    both("MEMORY", "USAGE", "i")


def test_usage_close_to_redis(both):
    """Sampled hash tables and skiplists: within 10% of Redis with SAMPLES 0."""
    both("HSET", "h", *sum([["f%d" % i, "v" * i] for i in range(200)], []))
    both("ZADD", "z", *sum([[str(i), "m%d" % i] for i in range(200)], []))
    for i in range(300):
        both("XADD", "x", "%d-1" % (i + 1), "f", "v%d" % i)
    for k in ("h", "z", "x"):
        a = int(both.a.cmd("MEMORY", "USAGE", k, "SAMPLES", "0")[1:-2])
        b = int(both.b.cmd("MEMORY", "USAGE", k, "SAMPLES", "0")[1:-2])
        assert abs(a - b) <= b * 0.1, (k, a, b)


@pytest.mark.parametrize("args", [
    ("USAGE",), ("USAGE", "k", "SAMPLES"), ("USAGE", "k", "SAMPLES", "-1"),
    ("USAGE", "k", "SAMPLES", "x"), ("USAGE", "k", "FOO"), ("USAGE", "k", "SAMPLES", "1", "x"),
    ("USAGE", "nokey", "SAMPLES", "x"), ("STATS", "x"), ("DOCTOR", "x"), ("PURGE", "x"),
    ("MALLOC-STATS", "x"), ("FOO",), ("HELP",), ("help", "x"), ("PURGE",),
])
def test_forms_and_errors(both, args):
    both("SET", "k", "v")
    both("MEMORY", *args)


def test_stats_shape(raw):
    c = raw()
    c.cmd("FLUSHALL")
    c.cmd("SET", "a", "1")
    c.cmd("SELECT", "3")
    c.cmd("SET", "b", "1")
    c.cmd("EXPIRE", "b", "100")
    c.cmd("SELECT", "0")
    rep, _ = parse_reply(c.cmd("MEMORY", "STATS"))
    keys = rep[0::2]
    assert keys == [b"peak.allocated", b"total.allocated", b"startup.allocated",
                    b"replication.backlog", b"clients.slaves", b"clients.normal",
                    b"cluster.links", b"aof.buffer", b"lua.caches", b"functions.caches",
                    b"db.0", b"db.3", b"overhead.total", b"keys.count",
                    b"keys.bytes-per-key", b"dataset.bytes", b"dataset.percentage",
                    b"peak.percentage", b"allocator.allocated", b"allocator.active",
                    b"allocator.resident", b"allocator-fragmentation.ratio",
                    b"allocator-fragmentation.bytes", b"allocator-rss.ratio",
                    b"allocator-rss.bytes", b"rss-overhead.ratio", b"rss-overhead.bytes",
                    b"fragmentation", b"fragmentation.bytes"]
    stats = dict(zip(rep[0::2], rep[1::2]))
    assert stats[b"keys.count"] == 2
    assert stats[b"db.3"][0::2] == [b"overhead.hashtable.main", b"overhead.hashtable.expires",
                                     b"overhead.hashtable.slot-to-keys"]
    assert stats[b"db.3"][3] > 0 and stats[b"db.0"][3] == 0
    assert stats[b"total.allocated"] > 0
    assert float(stats[b"peak.percentage"]) > 0
    c.cmd("HELLO", "3")
    rep3 = c.cmd("MEMORY", "STATS")
    assert rep3.startswith(b"%29\r\n")
    assert b"dataset.percentage\r\n," in rep3
    c.cmd("FLUSHALL")


def test_doctor_and_malloc_stats(raw):
    c = raw()
    d = c.cmd("MEMORY", "DOCTOR")
    assert b"Sam" in d and d.startswith(b"$")
    c.cmd("HELLO", "3")
    assert c.cmd("MEMORY", "DOCTOR").startswith(b"=")
    assert c.cmd("MEMORY", "MALLOC-STATS") == \
        b"$45\r\nStats not supported for the current allocator\r\n"
    assert c.cmd("MEMORY", "PURGE") == b"+OK\r\n"


def test_getkeys(both):
    both("COMMAND", "GETKEYS", "MEMORY", "USAGE", "key")
    for sub in ("usage", "stats", "doctor", "malloc-stats", "purge", "help"):
        both("COMMAND", "INFO", "memory|" + sub)
