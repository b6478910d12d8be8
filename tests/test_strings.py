"""String commands: differential tests against real Redis plus exact-bytes checks."""
import random
import time

import pytest


def test_get_set_basic(both):
    both("GET", "k")
    both("SET", "k", "v")
    both("GET", "k")
    both("SET", "k", "")
    both("GET", "k")
    both("HSET", "l", "f", "a")
    both("GET", "l")
    both("SET", "l", "x")
    both("TYPE", "l")
    both("SET", "k")
    both("GET")
    both("GET", "a", "b")


@pytest.mark.parametrize("args", [
    ["NX"], ["XX"], ["GET"], ["KEEPTTL"], ["EX", "10"], ["PX", "10000"],
    ["NX", "XX"], ["XX", "NX"], ["EX", "10", "PX", "100"], ["PX", "100", "EX", "10"],
    ["EX", "10", "KEEPTTL"], ["KEEPTTL", "EX", "10"], ["KEEPTTL", "PX", "1"],
    ["EXAT", "1", "PXAT", "1"], ["PXAT", "99999999999999", "EXAT", "1"],
    ["EX"], ["PX"], ["EXAT"], ["PXAT"], ["EX", "0"], ["EX", "-1"], ["PX", "0"],
    ["EX", "abc"], ["EX", "1.5"], ["EX", "9223372036854775807"],
    ["EX", "9223372036854775"], ["EX", "9223372036854776"],
    ["PX", "9223372036854775807"], ["EXAT", "9223372036854775807"],
    ["PXAT", "9223372036854775807"], ["EX", "-9223372036854775808"],
    ["PERSIST"], ["GET", "GET"], ["NX", "NX"], ["nx", "get"], ["xx", "get"],
    ["foo"], ["EX", "10", "NX"], ["KEEPTTL", "KEEPTTL"], ["get", "keepttl", "xx"],
])
def test_set_options_and_errors(both, args):
    both("SET", "k", "v", *args)
    both("GET", "k")
    both("SET", "k", "w", *args)
    both("GET", "k")
    both("TTL", "k")


def test_set_get_option(both):
    both("SET", "k", "v1", "GET")
    both("SET", "k", "v2", "GET")
    both("SET", "k", "v3", "NX", "GET")
    both("SET", "k2", "v3", "XX", "GET")
    both("GET", "k2")
    both("SET", "k2", "v3", "NX", "GET")
    both("GET", "k2")
    both("HSET", "l", "f", "a")
    both("SET", "l", "x", "GET")
    both("SET", "l", "x", "GET", "EX", "0")
    both("SET", "l", "x", "EX", "0", "GET")
    both("HGETALL", "l")
    both.resp3()
    both("SET", "n", "v", "GET")
    both("SET", "n", "w", "NX")
    both("SET", "n2", "w", "XX")


def test_set_expiry_values(both):
    for args in (["EX", "100"], ["PX", "100000"], ["EXAT", str(int(time.time()) + 100)],
                 ["PXAT", str(int(time.time() * 1000) + 100000)]):
        both("SET", "k", "v", *args)
        both("TTL", "k")
    both("SET", "k", "v", "KEEPTTL")
    both("TTL", "k")
    both("SET", "k", "v")
    both("TTL", "k")


def test_setnx_setex_psetex(both):
    both("SETNX", "k", "a")
    both("SETNX", "k", "b")
    both("GET", "k")
    both("SETEX", "k", "100", "v")
    both("TTL", "k")
    both("SETEX", "k", "0", "v")
    both("SETEX", "k", "-10", "v")
    both("SETEX", "k", "x", "v")
    both("SETEX", "k", "9223372036854775807", "v")
    both("PSETEX", "k", "100000", "v")
    both("TTL", "k")
    both("PSETEX", "k", "0", "v")
    both("PSETEX", "k", "9223372036854775807", "v")
    both("SETEX", "k", "10")
    both("GET", "k")


def test_getex(both):
    both("GETEX", "k")
    both("GETEX", "k", "EX", "abc")
    both("GETEX", "k", "FOO")
    both("SET", "k", "v")
    both("GETEX", "k")
    both("TTL", "k")
    both("GETEX", "k", "EX", "100")
    both("TTL", "k")
    both("GETEX", "k", "PERSIST")
    both("TTL", "k")
    both("GETEX", "k", "PX", "100000")
    both("TTL", "k")
    both("GETEX", "k", "EXAT", str(int(time.time()) + 200))
    both("TTL", "k")
    both("GETEX", "k", "PXAT", str(int(time.time() * 1000) + 300000))
    both("TTL", "k")
    for bad in (["EX", "0"], ["EX", "-1"], ["PX", "x"], ["EX", "9223372036854775807"],
                ["EX", "1", "PX", "1"], ["PERSIST", "EX", "1"], ["EX", "1", "PERSIST"],
                ["KEEPTTL"], ["NX"], ["GET"], ["EX"], ["PERSIST", "PERSIST"]):
        both("GETEX", "k", *bad)
    both("GETEX", "k", "EXAT", "1")
    both("EXISTS", "k")
    both("HSET", "l", "f", "a")
    both("GETEX", "l")
    both("GETEX", "l", "EX", "x")


def test_getdel_getset(both):
    both("GETDEL", "k")
    both("SET", "k", "v")
    both("GETDEL", "k")
    both("EXISTS", "k")
    both("GETSET", "k", "a")
    both("GETSET", "k", "b")
    both("GET", "k")
    both("SET", "k", "v", "EX", "100")
    both("GETSET", "k", "c")
    both("TTL", "k")
    both("HSET", "l", "f", "a")
    both("GETDEL", "l")
    both("GETSET", "l", "x")
    both.resp3()
    both("GETDEL", "nope")
    both("GETSET", "nope", "x")


def test_mget_mset_msetnx(both):
    both("MSET", "a", "1", "b", "2")
    both("MGET", "a", "b", "c")
    both("HSET", "l", "f", "x")
    both("MGET", "a", "l", "c")
    both("MSET", "a")
    both("MSET", "a", "1", "b")
    both("MSETNX", "a", "1", "b")
    both("MSETNX", "x", "1", "a", "2")
    both("MGET", "x", "a")
    both("MSETNX", "x2", "1", "y2", "2")
    both("MSETNX", "z", "1", "z", "2")
    both("GET", "z")
    both("MSETNX", "z", "1", "z", "2")
    both.resp3()
    both("MGET", "a", "nokey")


def test_mget_many_keys(both):
    """MGET's two paths (no key with a TTL: all at once; else key by key, expired keys
    reclaimed), with empty values, wrong types, repeats, and the hit/miss counters."""
    keys = ["k%d" % i for i in range(12)]
    both("MSET", *[x for i, k in enumerate(keys) for x in (k, "v" * (i % 3))])
    both("CONFIG", "RESETSTAT")
    both("MGET", *keys)
    both("MGET", *(keys + ["nokey"] + keys[:2]))
    both("RPUSH", "list", "x")
    both("MGET", *(["list"] + keys))
    both("PEXPIRE", "k3", "1")
    both("EXPIRE", "k4", "100")
    time.sleep(0.05)
    both("MGET", *keys)
    both("MGET", "k1", "k2")
    both("DBSIZE")
    both.resp3()
    both("MGET", *(keys + ["nokey"]))
    info = [dict(x.split(b":") for x in r.split(b"\r\n") if x.startswith(b"keyspace_"))
            for r in (both.a.cmd("INFO", "stats"), both.b.cmd("INFO", "stats"))]
    assert info[0] == info[1] and info[0][b"keyspace_hits"] != b"0"


def test_append_strlen(both):
    both("APPEND", "k", "hello")
    both("APPEND", "k", " world")
    both("GET", "k")
    both("STRLEN", "k")
    both("STRLEN", "nokey")
    both("APPEND", "k", "")
    both("HSET", "l", "f", "a")
    both("APPEND", "l", "x")
    both("STRLEN", "l")
    both("SET", "n", "123")
    both("OBJECT", "ENCODING", "n")
    both("APPEND", "n", "4")
    both("OBJECT", "ENCODING", "n")
    both("SET", "n", "123")
    both("APPEND", "n", "")
    both("OBJECT", "ENCODING", "n")
    both("APPEND", "new", "12")
    both("OBJECT", "ENCODING", "new")


def test_append_size_limit(both):
    both("CONFIG", "SET", "proto-max-bulk-len", str(1024 * 1024))
    try:
        both("SET", "k", "x" * (1024 * 1024 - 2))
        both("APPEND", "k", "ab")
        both("APPEND", "k", "c")
        both("STRLEN", "k")
        both("SETRANGE", "k2", str(1024 * 1024), "a")
        both("SETRANGE", "k2", str(1024 * 1024 - 1), "a")
        both("SETRANGE", "k", str(1024 * 1024 - 1), "ab")
        both("SETRANGE", "k", "9223372036854775807", "a")
    finally:
        both("CONFIG", "SET", "proto-max-bulk-len", str(512 * 1024 * 1024))


def test_getrange(both):
    both("SET", "k", "Hello World")
    for s, e in [(0, 4), (-3, -1), (0, -1), (10, 5), (-1, -5), (5, 100), (-100, 3),
                 (100, 200), (0, 0), (-1, -1), (-5, -3), (3, -100),
                 ("9223372036854775807", "9223372036854775807"),
                 ("-9223372036854775808", "9223372036854775807"), ("a", 1), (1, "b")]:
        both("GETRANGE", "k", s, e)
        both("SUBSTR", "k", s, e)
    both("GETRANGE", "nokey", 0, -1)
    both("GETRANGE", "nokey", "x", -1)
    both("SET", "e", "")
    both("GETRANGE", "e", 0, -1)
    both("SET", "n", "1234")
    both("GETRANGE", "n", 1, 2)
    both("HSET", "l", "f", "a")
    both("GETRANGE", "l", 0, 1)


def test_setrange(both):
    both("SETRANGE", "k", 0, "foo")
    both("GET", "k")
    both("SETRANGE", "k", 1, "")
    both("SETRANGE", "nk", 0, "")
    both("EXISTS", "nk")
    both("SETRANGE", "nk", 3, "ab")
    both("GET", "nk")
    both("SETRANGE", "k", 10, "bar")
    both("GET", "k")
    both("SETRANGE", "k", 1, "XY")
    both("GET", "k")
    both("SETRANGE", "k", -1, "a")
    both("SETRANGE", "k", "x", "a")
    both("SETRANGE", "k", "9223372036854775808", "a")
    both("SET", "n", "1234")
    both("SETRANGE", "n", 0, "")
    both("OBJECT", "ENCODING", "n")
    both("SETRANGE", "n", 0, "2")
    both("OBJECT", "ENCODING", "n")
    both("GET", "n")
    both("HSET", "l", "f", "a")
    both("SETRANGE", "l", 0, "a")
    both("SETRANGE", "l", 0, "")


def test_incr_decr(both):
    both("INCR", "n")
    both("INCRBY", "n", "10")
    both("DECR", "n")
    both("DECRBY", "n", "20")
    both("GET", "n")
    both("INCRBY", "n", "x")
    both("INCRBY", "n", "1.5")
    both("INCRBY", "n", " 1")
    both("INCRBY", "n", "+1")
    both("INCRBY", "n", "01")
    both("DECRBY", "n", "-9223372036854775808")
    both("SET", "n", "9223372036854775807")
    both("INCR", "n")
    both("DECR", "n")
    both("SET", "n", "-9223372036854775808")
    both("DECR", "n")
    both("INCRBY", "n", "9223372036854775807")
    both("SET", "n", " 1")
    both("INCR", "n")
    both("SET", "n", "1 ")
    both("INCR", "n")
    both("SET", "n", "abc")
    both("INCR", "n")
    both("SET", "n", "007")
    both("INCR", "n")
    both("SET", "n", "-0")
    both("INCR", "n")
    both("SET", "n", "17179869184")
    both("INCRBY", "n", "17179869184")
    both("DECRBY", "n", "17179869185")
    both("SET", "n", "")
    both("INCR", "n")
    both("HSET", "l", "f", "a")
    both("INCR", "l")
    both("DECRBY", "l", "x")
    both("SET", "n", "10", "EX", "100")
    both("INCR", "n")
    both("TTL", "n")


def test_incr_shared_refcount(both):
    both("SET", "foo", "-1")
    both("INCR", "foo")
    both("OBJECT", "REFCOUNT", "foo")
    both("SET", "foo", "9998")
    both("INCR", "foo")
    both("OBJECT", "REFCOUNT", "foo")
    both("INCR", "foo")
    both("OBJECT", "REFCOUNT", "foo")
    both("OBJECT", "ENCODING", "foo")


@pytest.mark.parametrize("start,inc", [
    (None, "1"), (None, "0.25"), ("1.5", "1.5"), ("17179869184", "1.5"), ("1", "-1.1"),
    ("10", "0.1"), ("0.1", "0.2"), ("3.0e3", "1"), ("1e3", "1e-3"), ("5.0e3", "200"),
    ("1", "1e400"), ("1", "inf"), ("1", "-inf"), ("1", "nan"), ("1", "x"), ("x", "1"),
    ("1", " 1"), ("1", "1 "), ("1", ""), ("1", "0x10"), ("1", "0x1p3"), ("1", "1e"),
    ("1", ".5"), ("1", "5."), ("1", "+5"), ("1", "1.7976931348623157e308"),
    ("1", "1e4000"), ("1", "1e-5000"), ("0", "-0"), ("-0.0", "0"), ("1", "-1"),
    ("123456789012345678", "0.5"), ("1", "0.000000000000000001"),
    ("1", "0.00000000000000001"), ("99999999999999999999", "1"),
    ("1.1", "2.2"), ("3.14159265358979323846", "0"), ("1", "1E2"), ("1", "infinity"),
    ("1", "1e-4950"), ("1.18e4932", "1e4932"), ("-5", "5"), ("0.1", "-0.1"),
    ("1", "1_0"), ("1", "0x"), ("1", "0x.8"), ("1", "-0x1.8p1"), ("1", "1e+2"),
    ("2", "1e-20"), ("1", "123456789.123456789"),
])
def test_incrbyfloat(both, start, inc):
    if start is not None:
        both("SET", "f", start)
    both("INCRBYFLOAT", "f", inc)
    both("GET", "f")


def test_incrbyfloat_random(both):
    rnd = random.Random(7)
    for _ in range(200):
        a = "%.*f" % (rnd.randint(0, 20), rnd.uniform(-1e6, 1e6))
        b = rnd.choice(["%.*g" % (rnd.randint(1, 20), rnd.uniform(-1e3, 1e3)),
                        "%de%d" % (rnd.randint(-99, 99), rnd.randint(-30, 30)),
                        "%.3f" % rnd.uniform(-10, 10)])
        both("SET", "f", a)
        both("INCRBYFLOAT", "f", b)
        both("INCRBYFLOAT", "f", b)


def test_incrbyfloat_wrongtype_and_encoding(both):
    both("HSET", "l", "f", "a")
    both("INCRBYFLOAT", "l", "1")
    both("INCRBYFLOAT", "f", "12")   # (1-byte results are interpreter singletons: not marked)
    both("OBJECT", "ENCODING", "f")
    both("SET", "f", "1", "EX", "100")
    both("INCRBYFLOAT", "f", "1.5")
    both("TTL", "f")


def test_lcs(both):
    a = "ohmytext"
    b = "mynewtext"
    both("MSET", "a", a, "b", b)
    both("LCS", "a", "b")
    both("LCS", "a", "b", "LEN")
    both("LCS", "a", "b", "IDX")
    both("LCS", "a", "b", "IDX", "WITHMATCHLEN")
    both("LCS", "a", "b", "IDX", "MINMATCHLEN", "4")
    both("LCS", "a", "b", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN")
    both("LCS", "a", "b", "IDX", "MINMATCHLEN", "-4", "WITHMATCHLEN")
    both("LCS", "a", "b", "LEN", "IDX")
    both("LCS", "a", "b", "MINMATCHLEN")
    both("LCS", "a", "b", "MINMATCHLEN", "x")
    both("LCS", "a", "b", "FOO")
    both("LCS", "a", "nokey")
    both("LCS", "nokey", "nokey2", "IDX")
    both("HSET", "l", "f", "x")
    both("LCS", "a", "l")
    both("LCS", "l", "a", "FOO")
    both.resp3()
    both("LCS", "a", "b", "IDX", "WITHMATCHLEN")
    both("LCS", "a", "b", "IDX", "MINMATCHLEN", "100")


def test_lcs_random(both):
    rnd = random.Random(3)
    for n in range(60):
        alpha = "ACGT"[:rnd.randint(1, 4)]
        a = "".join(rnd.choice(alpha) for _ in range(rnd.randint(0, 60)))
        b = "".join(rnd.choice(alpha) for _ in range(rnd.randint(0, 60)))
        both("MSET", "a", a, "b", b)
        both("LCS", "a", "b")
        both("LCS", "a", "b", "IDX", "WITHMATCHLEN")
        both("LCS", "a", "b", "LEN")


def test_lcs_big(both):
    rnd = random.Random(5)
    a = "".join(rnd.choice("ACGT") for _ in range(1500))
    b = "".join(rnd.choice("ACGT") for _ in range(1500))
    both("MSET", "a", a, "b", b)
    both("LCS", "a", "b", "IDX", "MINMATCHLEN", "5")
    both("LCS", "a", "b")


def test_object_encoding_strings(both):
    for v in ["1", "-1", "12345678901234567890", "9223372036854775807",
              "9223372036854775808", "01", " 1", "x" * 44, "x" * 45, "", "1.5",
              "-9223372036854775808", "10000", "9999"]:
        both("SET", "k", v)
        both("OBJECT", "ENCODING", "k")
        both("OBJECT", "REFCOUNT", "k")
    both("OBJECT", "ENCODING", "nokey")
    both("SETRANGE", "sr", 2, "ab")
    both("OBJECT", "ENCODING", "sr")
    both("COPY", "sr", "sr2")
    both("OBJECT", "ENCODING", "sr2")


def test_string_wrongtype(both):
    both("HSET", "l", "f", "a")
    for cmd in (["GET", "l"], ["STRLEN", "l"], ["SETNX", "l", "x"], ["GETSET", "l", "1"],
                ["INCR", "l"], ["DECR", "l"], ["INCRBY", "l", "1"], ["APPEND", "l", "x"],
                ["GETRANGE", "l", "0", "1"], ["SETRANGE", "l", "0", "x"], ["GETDEL", "l"],
                ["GETEX", "l"], ["SET", "l", "x", "GET"], ["INCRBYFLOAT", "l", "1"]):
        both(*cmd)


def test_strings_resp3_nulls(both):
    both.resp3()
    both("GET", "nokey")
    both("GETEX", "nokey")
    both("GETDEL", "nokey")
    both("MGET", "nokey", "x")
    both("SET", "k", "v", "NX")
    both("SET", "k", "v", "NX")
    both("SET", "k", "v", "XX", "GET")


def test_very_big_payload(r):
    big = b"x" * (1 << 20)
    r.set("big", big)
    assert r.get("big") == big
    assert r.strlen("big") == 1 << 20


def test_incr_fast_path_types(raw):
    c = raw()
    c.cmd("DEL", "n")
    assert c.cmd("INCR", "n") == b":1\r\n"
    assert c.cmd("INCRBY", "n", "-5") == b":-4\r\n"
    assert c.cmd("GET", "n") == b"$2\r\n-4\r\n"
    assert c.cmd("DECRBY", "n", "-9223372036854775808") == \
        b"-ERR decrement would overflow\r\n"


def test_encoding_marks_purged_when_unreferenced():
    from redislet.commands import strings as S
    saved = dict(S._ENC)
    try:
        S._ENC.clear()
        keep = {}
        for i in range(600):
            v = bytes(bytearray(b"val%05d" % i))
            S.mark_raw(v)
            if i % 2:
                keep[i] = v
        del v
        S._enc_purged[0] = 0
        S._purge_encodings(None)
        assert len(S._ENC) == 300
        assert all(S.string_encoding(v) == b"raw" for v in keep.values())
        assert S.string_encoding(b"12") == b"int"
        assert S.string_encoding(b"x" * 44) == b"embstr"
        assert S.string_encoding(b"x" * 45) == b"raw"
    finally:
        S._ENC.clear()
        S._ENC.update(saved)


def test_long_double_helpers():
    from redislet.longdouble import parse_long_double as p, format_long_double as f
    from redislet.longdouble import round_ld
    assert f(round_ld(p(b"0.1") + p(b"0.2"))) == b"0.3"
    assert f(round_ld(p(b"10.5") + p(b"0.1"))) == b"10.6"
    assert p(b"nan") is None and p(b" 1") is None and p(b"1e") is None
    assert p(b"inf") == float("inf")
