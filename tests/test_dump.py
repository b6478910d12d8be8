"""DUMP / RESTORE: payloads moving both ways between redislet and real Redis 7.0, options
and error texts compared byte for byte with real Redis."""
import time

import pytest

from conftest import parse_reply


def setup_all(conn):
    """The same keys of every type/encoding on one raw connection."""
    cmds = [
        ("SET", "s:raw", "hello"), ("SET", "s:int", "123"), ("SET", "s:big", "9" * 19),
        ("SET", "s:lzf", "abc" * 50), ("SET", "s:empty", ""),
        ("RPUSH", "l", "a", "1", "-2", "x" * 100), ("SADD", "si", "1", "2", "70000"),
        ("SADD", "ss", "a", "b"), ("HSET", "h", "f", "v", "n", "10"),
        ("ZADD", "z", "1", "a", "2.5", "b", "-inf", "c"),
        ("XADD", "x", "1-1", "f", "v"), ("XADD", "x", "1-2", "f", "w"),
        ("XGROUP", "CREATE", "x", "g", "0"), ("XREADGROUP", "GROUP", "g", "c", "STREAMS", "x", ">"),
    ]
    for c in cmds:
        conn.cmd(*c)
    for i in range(200):
        conn.cmd("HSET", "hbig", "f%d" % i, "v")
        conn.cmd("ZADD", "zbig", i, "m%d" % i)
        conn.cmd("SADD", "sbig", "m%d" % i)


KEYS = ["s:raw", "s:int", "s:big", "s:lzf", "s:empty", "l", "si", "ss", "h", "z", "x",
        "hbig", "zbig", "sbig"]


def bulk_of(reply):
    v, _ = parse_reply(reply)
    return v


def read_back(conn, key):
    t = conn.cmd("TYPE", key)
    enc = conn.cmd("OBJECT", "ENCODING", key)
    if t == b"+string\r\n":
        v = conn.cmd("GET", key)
    elif t == b"+list\r\n":
        v = conn.cmd("LRANGE", key, 0, -1)
    elif t == b"+set\r\n":
        v = sorted(bulk_of(conn.cmd("SMEMBERS", key)))
    elif t == b"+hash\r\n":
        v = sorted(bulk_of(conn.cmd("HGETALL", key)))
    elif t == b"+zset\r\n":
        v = conn.cmd("ZRANGE", key, 0, -1, "WITHSCORES")
    else:
        v = conn.cmd("XINFO", "STREAM", key, "FULL")
    return t, enc, v


@pytest.mark.parametrize("direction", ["real_to_ours", "ours_to_real"])
def test_payloads_cross(both, direction):
    src, dst = (both.b, both.a) if direction == "real_to_ours" else (both.a, both.b)
    setup_all(src)
    for key in KEYS:
        payload = bulk_of(src.cmd("DUMP", key))
        assert dst.cmd("RESTORE", key, 0, payload) == b"+OK\r\n", key
        assert read_back(dst, key) == read_back(src, key), key


def test_identical_payloads_for_compact_encodings(both):
    """Where no LZF compression is involved, the payload bytes equal Redis's."""
    for c in (both.a, both.b):
        c.cmd("SET", "s", "12345")
        c.cmd("SET", "t", "short")
        c.cmd("RPUSH", "l", "a", "b", "3")
        c.cmd("SADD", "si", "1", "2", "3")
        c.cmd("HSET", "h", "a", "1")
        c.cmd("ZADD", "z", "1", "a", "2", "b")
        c.cmd("SADD", "ss", "x")
    for key in ("s", "t", "l", "si", "h", "z", "ss"):
        both("DUMP", key)


def test_dump_missing(both):
    both("DUMP", "nokey")
    both.resp3()
    both("DUMP", "nokey")


def test_restore_errors(both):
    both("SET", "k", "v")
    good = bulk_of(both("DUMP", "k"))
    both("RESTORE", "k", "0", good)                          # BUSYKEY
    both("RESTORE", "k2", "-1", good)                        # negative ttl
    both("RESTORE", "k2", "abc", good)                       # not an integer
    both("RESTORE", "k2", "0", good[:-1] + b"\x00")          # checksum
    both("RESTORE", "k2", "0", b"short")
    both("RESTORE", "k2", "0", good, "BADOPT")
    both("RESTORE", "k2", "0", good, "IDLETIME", "-1")
    both("RESTORE", "k2", "0", good, "FREQ", "300")
    both("RESTORE", "k2", "0", good, "IDLETIME", "10", "FREQ", "5")
    both("RESTORE", "k2", "0", good, "IDLETIME")
    both("RESTORE", "k2", "0", good, "FREQ", "x")
    bad_version = good[:-10] + b"\x0b\x00" + good[-8:]
    both("RESTORE", "k2", "0", bad_version)
    both("EXISTS", "k2")


def test_restore_bad_data_format(both):
    from redislet.persistence.crc64 import crc64
    body = b"\x12\x01\x02\x05abcde\x0a\x00"
    payload = body + crc64(0, body).to_bytes(8, "little")
    both("RESTORE", "bad", "0", payload)
    body = b"\x04\x00\x0a\x00"      # empty hash
    payload = body + crc64(0, body).to_bytes(8, "little")
    both("RESTORE", "bad", "0", payload)


def test_restore_options(both):
    both("SET", "k", "v")
    good = bulk_of(both("DUMP", "k"))
    both("RESTORE", "k", "0", good, "REPLACE")
    both("RESTORE", "t1", "100000", good)
    ttl_a = int(both.a.cmd("PTTL", "t1")[1:-2])
    ttl_b = int(both.b.cmd("PTTL", "t1")[1:-2])
    assert 99000 < ttl_a <= 100000 and 99000 < ttl_b <= 100000
    when = int(time.time() * 1000) + 500000
    both("RESTORE", "t2", str(when), good, "ABSTTL")
    assert abs(int(both.a.cmd("PEXPIRETIME", "t2")[1:-2]) - when) == 0
    both("RESTORE", "t3", "1", good, "ABSTTL")               # already expired: OK, no key
    both("EXISTS", "t3")
    both("RESTORE", "k", "1", good, "ABSTTL", "REPLACE")     # deletes the old key
    both("EXISTS", "k")
    both("RESTORE", "i", "0", good, "IDLETIME", "1000")
    both("OBJECT", "IDLETIME", "i")
    both("RESTORE", "i", "0", good, "REPLACE", "IDLETIME", "50", "ABSTTL")
    both("OBJECT", "IDLETIME", "i")


def test_restore_freq_lfu(both):
    both("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
    try:
        both("SET", "k", "v")
        good = bulk_of(both("DUMP", "k"))
        both("RESTORE", "f", "0", good, "FREQ", "100")
        both("OBJECT", "FREQ", "f")
    finally:
        both("CONFIG", "SET", "maxmemory-policy", "noeviction")


def test_restore_propagates_absttl(server, raw):
    conn = raw()
    mon = raw()
    conn.cmd("FLUSHALL")
    conn.cmd("SET", "k", "v")
    payload = bulk_of(conn.cmd("DUMP", "k"))
    mon.send(b"MONITOR\r\n")
    mon.sock.recv(100)
    conn.cmd("RESTORE", "k2", "5000", payload)
    time.sleep(0.05)
    got = mon.sock.recv(4096)
    assert b'"RESTORE" "k2" "5000"' in got


def test_dump_lzf_value_roundtrip(both):
    big = "abcdefgh" * 2000 + "xyz" * 100
    both("SET", "big", big)
    pa = bulk_of(both.a.cmd("DUMP", "big"))
    pb = bulk_of(both.b.cmd("DUMP", "big"))
    assert len(pa) < len(big) and len(pb) < len(big)
    both.a.cmd("RESTORE", "fromreal", 0, pb)
    both.b.cmd("RESTORE", "fromours", 0, pa)
    assert both.a.cmd("GET", "fromreal") == both.b.cmd("GET", "fromours") == \
        both.a.cmd("GET", "big")


@pytest.mark.skipif(__import__("redislet.persistence.lzf", fromlist=["_c"])._c is None,
                    reason="python-lzf (the `fast` extra) is not installed")
def test_compressed_payloads_are_redis_bytes(both):
    """With python-lzf (liblzf, built as Redis builds it), compressed strings and the
    listpacks of lists, hashes and zsets serialize to the very bytes redis-server's do."""
    both("RPUSH", "l", *[b"item:7:%d" % j for j in range(100)])
    both("HSET", "h", *[x for j in range(30) for x in (b"field:%d" % j, b"value:%d" % j)])
    both("ZADD", "z", *[x for j in range(30) for x in (b"%r" % (j * 1.5), b"m:%d" % j)])
    both("SET", "s", "abc" * 100 + "abd" * 50)
    for key in ("l", "h", "z", "s"):
        pa, pb = both.a.cmd("DUMP", key), both.b.cmd("DUMP", key)
        assert bulk_of(pa).find(b"\xc3") in (1, 3), key     # an LZF string
        assert pa == pb, key


def test_restore_lzf_string_with_a_huge_length(both):
    """A DUMP payload whose LZF string announces more bytes than its data can expand to
    (up to 1 TiB) is refused as Redis refuses it, and the server goes on (python-lzf would
    malloc the announced size unchecked)."""
    from redislet.persistence.crc64 import crc64
    from redislet.persistence.rdb import enc_len
    for ulen in (1 << 40, 100 * 1000 * 1000, 50):
        comp = b"\x01ab\xe0\xff\x00"          # a literal "ab", then a 264-byte copy
        body = b"\x00\xc3" + enc_len(len(comp)) + enc_len(ulen) + comp + b"\x0a\x00"
        payload = body + crc64(0, body).to_bytes(8, "little")
        both("RESTORE", "k%d" % ulen, "0", payload)
    both("PING")
