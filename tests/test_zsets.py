"""Sorted set commands: differential tests against real Redis (RESP2 and RESP3), plus
blocking, propagation-free behaviours and internal ZSet checks."""
import random
import time

import pytest

from conftest import Raw


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def b(request, both):
    if request.param == 3:
        both.resp3()
    return both


def run(b, *cmds):
    for cmd in cmds:
        b(*cmd)


def seed(b, key="z", n=0):
    b("ZADD", key, "1", "a", "2", "b", "3", "c", "4", "d", "5", "e")


# -- ZADD / ZINCRBY -------------------------------------------------------------------
def test_zadd_basic(b):
    b("ZADD", "z", "1", "a")
    b("ZADD", "z", "2", "a", "3", "b")
    b("ZADD", "z", "1.5", "c", "-inf", "d", "+inf", "e", "inf", "f", "-0", "g", "0", "h")
    b("ZRANGE", "z", "0", "-1", "WITHSCORES")
    b("ZSCORE", "z", "a")
    b("ZSCORE", "z", "g")
    b("ZSCORE", "z", "nope")
    b("ZSCORE", "nokey", "a")
    b("ZCARD", "z")
    b("ZCARD", "nokey")
    b("TYPE", "z")
    b("OBJECT", "ENCODING", "z")


@pytest.mark.parametrize("opts", [
    [], ["NX"], ["XX"], ["CH"], ["GT"], ["LT"], ["NX", "CH"], ["XX", "CH"], ["GT", "CH"],
    ["LT", "CH"], ["XX", "GT"], ["XX", "LT", "CH"], ["NX", "XX"], ["NX", "GT"],
    ["NX", "LT"], ["GT", "LT"], ["INCR"], ["INCR", "NX"], ["INCR", "XX"], ["INCR", "GT"],
    ["INCR", "LT"], ["incr", "ch"], ["nx", "xx", "gt"], ["ch", "ch"],
])
def test_zadd_options(b, opts):
    b("ZADD", "z", "10", "a", "20", "b")
    b("ZADD", "z", *opts, "15", "a")
    b("ZADD", "z", *opts, "25", "b", "5", "c")
    b("ZADD", "z", *opts, "30", "new")
    b("ZADD", "new", *opts, "1", "x")
    b("ZRANGE", "z", "0", "-1", "WITHSCORES")
    b("EXISTS", "new")


@pytest.mark.parametrize("args", [
    ["z"], ["z", "1"], ["z", "1", "a", "2"], ["z", "abc", "a"], ["z", "nan", "a"],
    ["z", "1", "a", "x", "b"], ["z", "NX"], ["z", "NX", "1"], ["z", "INCR", "1", "a", "2", "b"],
    ["z", " 1", "a"], ["z", "1 ", "a"], ["z", "1e400", "a"], ["z", "1e-400", "a"],
    ["z", "0x10", "a"], ["z", "1_0", "a"], ["z", "", "a"], ["z", "+inf", "a"],
    ["z", "Infinity", "a"], ["z", "-INF", "a"], ["z", "1.", "a"], [".5", "a"],
    ["z", ".5", "a"], ["z", "5e", "a"], ["z", "1e5", "a"], ["z", "0e-999", "a"],
    ["z", "4.9e-324", "a"], ["z", "1e-320", "a"], ["z", "0x1p-2000", "a"], ["z", "0x1.8p1", "a"],
    ["z", "-0x10", "a"], ["z", "infinit", "a"], ["z", "1\x00", "a"],
])
def test_zadd_parse(b, args):
    b("ZADD", *args)
    b("ZRANGE", "z", "0", "-1", "WITHSCORES")


def test_zadd_incr_and_nan(b):
    b("ZADD", "z", "INCR", "1", "a")
    b("ZADD", "z", "INCR", "2.5", "a")
    b("ZADD", "z", "INCR", "inf", "a")
    b("ZADD", "z", "INCR", "-inf", "a")
    b("ZSCORE", "z", "a")
    b("ZADD", "z", "INCR", "GT", "-1", "a")
    b("ZADD", "z", "INCR", "XX", "1", "nope")
    b("ZADD", "nokey", "XX", "INCR", "1", "a")
    b("ZADD", "nokey", "XX", "1", "a")
    b("ZINCRBY", "z", "1", "b")
    b("ZINCRBY", "z", "0.1", "b")
    b("ZINCRBY", "z", "0.2", "b")
    b("ZINCRBY", "z", "abc", "b")
    b("ZINCRBY", "z", "nan", "b")
    b("ZINCRBY", "z", "inf", "c")
    b("ZINCRBY", "z", "-inf", "c")
    b("ZINCRBY", "z", "1", "b", "extra")
    b("ZRANGE", "z", "0", "-1", "WITHSCORES")


def test_wrongtype(b):
    b("SET", "s", "x")
    for cmd in (["ZADD", "s", "1", "a"], ["ZINCRBY", "s", "1", "a"], ["ZREM", "s", "a"],
                ["ZCARD", "s"], ["ZSCORE", "s", "a"], ["ZMSCORE", "s", "a"],
                ["ZRANK", "s", "a"], ["ZREVRANK", "s", "a"], ["ZCOUNT", "s", "0", "1"],
                ["ZLEXCOUNT", "s", "-", "+"], ["ZRANGE", "s", "0", "1"],
                ["ZRANGE", "s", "(", "1", "BYSCORE"], ["ZRANGESTORE", "d", "s", "0", "1"],
                ["ZRANGEBYLEX", "s", "-", "+"], ["ZREMRANGEBYRANK", "s", "0", "1"],
                ["ZREMRANGEBYSCORE", "s", "0", "1"], ["ZREMRANGEBYLEX", "s", "-", "+"],
                ["ZPOPMIN", "s"], ["ZPOPMAX", "s", "2"], ["BZPOPMIN", "s", "0"],
                ["ZMPOP", "1", "s", "MIN"], ["BZMPOP", "0", "1", "s", "MIN"],
                ["ZRANDMEMBER", "s"], ["ZRANDMEMBER", "s", "2"], ["ZUNION", "1", "s"],
                ["ZINTERSTORE", "d", "1", "s"], ["ZDIFF", "1", "s"], ["ZINTERCARD", "1", "s"],
                ["ZSCAN", "s", "0"], ["ZREVRANGEBYSCORE", "s", "1", "0"]):
        b(*cmd)


# -- ZREM / ZREMRANGE ----------------------------------------------------------------------
def test_zrem(b):
    seed(b)
    b("ZREM", "z", "a", "x", "a")
    b("ZREM", "z", "b", "c")
    b("ZREM", "nokey", "a")
    b("ZREM", "z", "d", "e", "f")
    b("EXISTS", "z")


@pytest.mark.parametrize("rng", [
    ("0", "-1"), ("1", "2"), ("-2", "-1"), ("10", "-1"), ("0", "-10"), ("0", "10"),
    ("3", "1"), ("-100", "100"), ("a", "1"), ("1", "1.5"),
])
def test_zremrangebyrank(b, rng):
    seed(b)
    b("ZREMRANGEBYRANK", "z", *rng)
    b("ZRANGE", "z", "0", "-1")
    b("EXISTS", "z")


@pytest.mark.parametrize("rng", [
    ("2", "4"), ("(2", "4"), ("2", "(4"), ("(2", "(4"), ("-inf", "+inf"), ("5", "10"),
    ("4", "2"), ("-inf", "3"), ("3", "+inf"), ("(", "("), ("", ""), ("abc", "1"),
    ("nan", "1"), ("1", "(nan"), (" 2", "4"), ("2 ", "4"), ("(inf", "+inf"), ("-inf", "(-inf"),
])
def test_zremrangebyscore(b, rng):
    seed(b)
    b("ZREMRANGEBYSCORE", "z", *rng)
    b("ZRANGE", "z", "0", "-1")
    b("ZCOUNT", "z", *rng)


@pytest.mark.parametrize("rng", [
    ("-", "+"), ("[b", "[d"), ("(b", "(d"), ("[b", "(d"), ("+", "-"), ("-", "-"), ("+", "+"),
    ("[a", "[a"), ("(a", "[a"), ("b", "d"), ("[", "+"), ("-x", "+"), ("[c", "[b"),
    ("(", "("), ("[", "["), ("-", "[c"), ("[c", "+"),
])
def test_zremrangebylex(b, rng):
    b("ZADD", "z", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e", "0", "")
    b("ZLEXCOUNT", "z", *rng)
    b("ZRANGEBYLEX", "z", *rng)
    b("ZREVRANGEBYLEX", "z", rng[1], rng[0])
    b("ZREMRANGEBYLEX", "z", *rng)
    b("ZRANGE", "z", "0", "-1")


def test_lex_mixed_scores(b):
    b("ZADD", "z", "1", "a", "0", "b", "2", "c", "0", "d", "1", "e")
    for rng in (("-", "+"), ("[b", "[d"), ("(a", "+"), ("-", "(d"), ("[c", "[e")):
        b("ZRANGEBYLEX", "z", *rng)
        b("ZLEXCOUNT", "z", *rng)
        b("ZREVRANGEBYLEX", "z", rng[1], rng[0])


# -- ranks / ranges ------------------------------------------------------------------------
def test_rank_and_scores(b):
    seed(b)
    for m in ("a", "c", "e", "x"):
        b("ZRANK", "z", m)
        b("ZREVRANK", "z", m)
    b("ZRANK", "nokey", "a")
    b("ZMSCORE", "z", "a", "x", "e")
    b("ZMSCORE", "nokey", "a", "b")
    b("ZMSCORE", "z")


@pytest.mark.parametrize("args", [
    ["0", "-1"], ["0", "-1", "WITHSCORES"], ["1", "3"], ["-3", "-1"], ["3", "1"],
    ["0", "100"], ["-100", "-4"], ["5", "10"], ["0", "-1", "REV"], ["0", "1", "REV", "WITHSCORES"],
    ["0", "-1", "LIMIT", "0", "1"], ["(1", "3", "BYSCORE"], ["-inf", "+inf", "BYSCORE", "WITHSCORES"],
    ["3", "1", "BYSCORE", "REV"], ["1", "3", "BYSCORE", "REV"],
    ["-inf", "+inf", "BYSCORE", "LIMIT", "1", "2"], ["-inf", "+inf", "BYSCORE", "LIMIT", "1", "-1"],
    ["-inf", "+inf", "BYSCORE", "LIMIT", "-1", "2"], ["-inf", "+inf", "BYSCORE", "LIMIT", "10", "2"],
    ["-inf", "+inf", "BYSCORE", "LIMIT", "0", "0"], ["+inf", "-inf", "BYSCORE", "REV", "LIMIT", "1", "2"],
    ["[b", "[d", "BYLEX"], ["-", "+", "BYLEX", "LIMIT", "1", "2"], ["+", "-", "BYLEX", "REV"],
    ["[d", "[b", "BYLEX", "REV", "LIMIT", "1", "5"], ["-", "+", "BYLEX", "WITHSCORES"],
    ["0", "1", "BYSCORE", "BYLEX"], ["0", "1", "BYLEX"], ["a", "b", "BYSCORE"], ["a", "1"],
    ["0", "1", "LIMIT", "1"], ["0", "1", "LIMIT", "a", "1"], ["0", "1", "REV", "REV"],
    ["0", "1", "foo"], ["(1", "(5", "byscore", "withscores", "limit", "1", "1"],
    ["-", "+", "BYLEX", "LIMIT", "-1", "1"], ["-inf", "+inf", "BYSCORE", "LIMIT", "0", "1", "LIMIT", "1", "1"],
])
def test_zrange_forms(b, args):
    b("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e")
    b("ZRANGE", "z", *args)
    b("ZRANGESTORE", "dst", "z", *args)
    b("ZRANGE", "dst", "0", "-1", "WITHSCORES")
    b("ZRANGE", "nokey", *args)


def test_legacy_ranges(b):
    b("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "5", "f")
    run(b, ("ZREVRANGE", "z", "0", "-1"), ("ZREVRANGE", "z", "1", "2", "WITHSCORES"),
        ("ZREVRANGE", "z", "0", "1", "BYSCORE"), ("ZREVRANGE", "z", "0", "1", "LIMIT", "0", "1"),
        ("ZRANGEBYSCORE", "z", "2", "4"), ("ZRANGEBYSCORE", "z", "2", "4", "WITHSCORES"),
        ("ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "2", "3"),
        ("ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "2"),
        ("ZRANGEBYSCORE", "z", "-inf", "+inf", "REV"),
        ("ZRANGEBYSCORE", "z", "-inf", "+inf", "BYLEX"),
        ("ZREVRANGEBYSCORE", "z", "4", "2"), ("ZREVRANGEBYSCORE", "z", "+inf", "-inf", "WITHSCORES", "LIMIT", "1", "2"),
        ("ZREVRANGEBYSCORE", "z", "2", "4"), ("ZREVRANGEBYSCORE", "z", "(5", "(1"),
        ("ZRANGEBYLEX", "z", "-", "+", "WITHSCORES"), ("ZRANGEBYLEX", "z", "-", "+", "LIMIT", "0", "2"),
        ("ZREVRANGEBYLEX", "z", "+", "-", "LIMIT", "1", "2"),
        ("ZRANGEBYSCORE", "z", "5", "5"), ("ZRANGEBYSCORE", "z", "(5", "5"),
        ("ZRANGEBYSCORE", "z", "5", "(5"), ("ZCOUNT", "z", "5", "5"), ("ZCOUNT", "z", "(1", "(5"),
        ("ZRANGE", "z", "0"), ("ZRANGEBYSCORE", "z", "0"))


def test_zrangestore_edge(b):
    b("ZADD", "z", "1", "a", "2", "b")
    b("SET", "dst", "x")
    b("EXPIRE", "dst", "100")
    b("ZRANGESTORE", "dst", "z", "0", "-1")
    b("TTL", "dst")
    b("TYPE", "dst")
    b("ZRANGESTORE", "dst", "z", "5", "10")
    b("EXISTS", "dst")
    b("ZRANGESTORE", "dst", "z", "0", "-1", "WITHSCORES")
    b("ZRANGESTORE", "dst", "nokey", "0", "-1")
    b("ZRANGESTORE", "z", "z", "0", "0")
    b("ZRANGE", "z", "0", "-1", "WITHSCORES")


# -- set operations --------------------------------------------------------------------
@pytest.mark.parametrize("cmd", ["ZUNION", "ZINTER", "ZDIFF"])
@pytest.mark.parametrize("opts", [
    [], ["WITHSCORES"], ["WEIGHTS", "2", "3"], ["WEIGHTS", "2", "3", "WITHSCORES"],
    ["AGGREGATE", "MIN", "WITHSCORES"], ["AGGREGATE", "max", "WITHSCORES"],
    ["AGGREGATE", "SUM", "WEIGHTS", "1", "-1", "WITHSCORES"], ["WEIGHTS", "1"],
    ["WEIGHTS", "1", "x"], ["AGGREGATE", "avg"], ["AGGREGATE"], ["WITHSCORES", "WITHSCORES"],
    ["WEIGHTS", "inf", "-inf", "WITHSCORES"], ["foo"], ["LIMIT", "1"],
])
def test_zsetops(b, cmd, opts):
    b("ZADD", "z1", "1", "a", "2", "b", "3", "c", "inf", "i")
    b("ZADD", "z2", "10", "b", "20", "c", "30", "d", "-inf", "i")
    b("SADD", "s1", "a", "d", "x")
    b(cmd, "2", "z1", "z2", *opts)
    b(cmd, "2", "z1", "s1", *opts)
    b(cmd, "2", "z1", "nokey", *opts)
    b(cmd + "STORE", "dst", "2", "z1", "z2", *opts)
    b("ZRANGE", "dst", "0", "-1", "WITHSCORES")
    b(cmd + "STORE", "dst", "2", "s1", "z2", *opts)
    b("ZRANGE", "dst", "0", "-1", "WITHSCORES")


def test_zsetop_errors(b):
    b("ZADD", "z1", "1", "a")
    run(b, ("ZUNION", "0", "z1"), ("ZUNION", "-1", "z1"), ("ZUNION", "x", "z1"),
        ("ZUNION", "3", "z1"), ("ZUNIONSTORE", "d", "0", "z1"), ("ZINTERSTORE", "d", "2", "z1"),
        ("ZDIFFSTORE", "d", "1", "z1", "WEIGHTS", "1"), ("ZINTERCARD", "0", "z1"),
        ("ZINTERCARD", "1", "z1", "LIMIT", "-1"), ("ZINTERCARD", "1", "z1", "LIMIT", "x"),
        ("ZINTERCARD", "1", "z1", "WITHSCORES"), ("ZUNIONSTORE", "d", "1", "z1", "WITHSCORES"),
        ("ZUNION", "1", "z1", "WEIGHTS", "nan"))


def test_zintercard(b):
    b("ZADD", "z1", "1", "a", "2", "b", "3", "c", "4", "d")
    b("ZADD", "z2", "1", "b", "2", "c", "3", "d", "4", "e")
    b("SADD", "s", "c", "d", "q")
    run(b, ("ZINTERCARD", "2", "z1", "z2"), ("ZINTERCARD", "2", "z1", "z2", "LIMIT", "0"),
        ("ZINTERCARD", "2", "z1", "z2", "LIMIT", "2"), ("ZINTERCARD", "3", "z1", "z2", "s"),
        ("ZINTERCARD", "2", "z1", "nokey"), ("ZINTERCARD", "1", "z1"),
        ("ZINTERCARD", "2", "z1", "z1"))


def test_zsetops_same_key_and_store_over_source(b):
    b("ZADD", "z", "1", "a", "2", "b")
    run(b, ("ZINTER", "2", "z", "z", "WITHSCORES"), ("ZDIFF", "2", "z", "z"),
        ("ZUNION", "2", "z", "z", "WITHSCORES"), ("ZUNIONSTORE", "z", "2", "z", "z"),
        ("ZRANGE", "z", "0", "-1", "WITHSCORES"), ("ZDIFFSTORE", "z", "2", "z", "z"),
        ("EXISTS", "z"))


# -- pops --------------------------------------------------------------------------------
def test_zpop(b):
    seed(b)
    run(b, ("ZPOPMIN", "z"), ("ZPOPMAX", "z"), ("ZPOPMIN", "z", "2"), ("ZPOPMIN", "z", "0"),
        ("ZPOPMAX", "z", "10"), ("EXISTS", "z"), ("ZPOPMIN", "z"), ("ZPOPMIN", "z", "1"),
        ("ZPOPMIN", "z", "-1"), ("ZPOPMIN", "z", "x"), ("ZPOPMIN", "z", "1", "2"),
        ("ZPOPMAX", "nokey", "0"))


def test_zmpop(b):
    seed(b)
    b("ZADD", "y", "7", "x")
    run(b, ("ZMPOP", "1", "z", "MIN"), ("ZMPOP", "2", "nokey", "z", "max", "COUNT", "2"),
        ("ZMPOP", "2", "nokey", "nokey2", "MIN"), ("ZMPOP", "1", "z", "MIN", "COUNT", "10"),
        ("ZMPOP", "2", "z", "y", "MAX"), ("ZMPOP", "0", "z", "MIN"), ("ZMPOP", "-1", "z", "MIN"),
        ("ZMPOP", "x", "z", "MIN"), ("ZMPOP", "1", "z"), ("ZMPOP", "1", "z", "MID"),
        ("ZMPOP", "1", "z", "MIN", "COUNT"), ("ZMPOP", "1", "z", "MIN", "COUNT", "0"),
        ("ZMPOP", "1", "z", "MIN", "COUNT", "1", "COUNT", "1"), ("ZMPOP", "3", "z", "MIN"),
        ("ZMPOP", "1", "z", "MIN", "foo"))


def test_bzpop_immediate_and_errors(b):
    seed(b)
    run(b, ("BZPOPMIN", "nokey", "z", "0"), ("BZPOPMAX", "z", "0.1"),
        ("BZPOPMIN", "z", "-1"), ("BZPOPMIN", "z", "abc"), ("BZPOPMIN", "z", "inf"),
        ("BZMPOP", "0", "1", "z", "MIN"), ("BZMPOP", "0", "2", "nokey", "z", "MAX", "COUNT", "5"),
        ("BZMPOP", "x", "1", "z", "MIN"), ("BZMPOP", "0", "0", "z", "MIN"),
        ("BZMPOP", "-1", "1", "z", "MIN"), ("BZMPOP", "0.01", "1", "nokey", "MIN"),
        ("BZPOPMIN", "nokey", "0.01"), ("MULTI",), ("BZPOPMIN", "nokey", "0"),
        ("BZMPOP", "0", "1", "nokey", "MIN"), ("EXEC",))


# -- ZRANDMEMBER / ZSCAN ---------------------------------------------------------------
def test_zrandmember_shapes(b):
    b("ZADD", "z", "1", "a")
    run(b, ("ZRANDMEMBER", "z"), ("ZRANDMEMBER", "z", "1"), ("ZRANDMEMBER", "z", "5"),
        ("ZRANDMEMBER", "z", "-3"), ("ZRANDMEMBER", "z", "-2", "WITHSCORES"),
        ("ZRANDMEMBER", "z", "2", "WITHSCORES"), ("ZRANDMEMBER", "z", "0"),
        ("ZRANDMEMBER", "nokey"), ("ZRANDMEMBER", "nokey", "3"),
        ("ZRANDMEMBER", "z", "x"), ("ZRANDMEMBER", "z", "1", "foo"),
        ("ZRANDMEMBER", "z", "1", "WITHSCORES", "x"),
        ("ZRANDMEMBER", "z", "-9223372036854770000", "WITHSCORES"),
        ("ZRANDMEMBER", "z", "-9223372036854775808", "WITHSCORES"),
        ("ZRANDMEMBER", "z", "-9223372036854775808"),
        ("ZRANDMEMBER", "nokey", "-9223372036854775808", "WITHSCORES"))


def test_zrandmember_distinct(r):
    members = [str(i).encode() for i in range(200)]
    r.zadd("z", {m: i for i, m in enumerate(members)})
    for count in (5, 80, 150, 199, 200, 300):
        got = r.zrandmember("z", count)
        assert len(got) == min(count, 200)
        assert len(set(got)) == len(got)
        assert set(got) <= set(members)
    got = r.zrandmember("z", -500)
    assert len(got) == 500


def test_zscan_listpack(b):
    b("ZADD", "z", "1", "a", "2.5", "b", "-0", "c", "1e20", "d", "inf", "e", "123456789012", "f")
    run(b, ("ZSCAN", "z", "0"), ("ZSCAN", "z", "0", "MATCH", "a*"),
        ("ZSCAN", "z", "0", "COUNT", "1"), ("ZSCAN", "z", "0", "COUNT", "0"),
        ("ZSCAN", "z", "x"), ("ZSCAN", "nokey", "0"), ("ZSCAN", "z", "0", "FOO"),
        ("ZSCAN", "nokey", "0", "FOO"), ("ZSCAN", "z", "0", "TYPE", "zset"))


def test_zscan_skiplist(r):
    members = {b"m%d" % i: i * 1.5 for i in range(1000)}
    r.zadd("z", members)
    assert r.object("encoding", "z") == b"skiplist"
    seen = {}
    cursor = 0
    calls = 0
    while True:
        cursor, part = r.zscan("z", cursor, count=100)
        seen.update(part)
        calls += 1
        if cursor == 0:
            break
    assert seen == members
    assert calls > 3


# -- encodings --------------------------------------------------------------------------
def test_encoding_conversions(b):
    b("CONFIG", "SET", "zset-max-listpack-entries", "4")
    b("CONFIG", "SET", "zset-max-listpack-value", "8")
    try:
        run(b, ("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"), ("OBJECT", "ENCODING", "z"),
            ("ZADD", "z", "5", "e"), ("OBJECT", "ENCODING", "z"), ("ZREM", "z", "a", "b", "c"),
            ("OBJECT", "ENCODING", "z"), ("ZADD", "y", "1", "aaaaaaaaaa"), ("OBJECT", "ENCODING", "y"),
            ("ZADD", "x", "1", "a"), ("ZADD", "x", "1", "bbbbbbbbbb"), ("OBJECT", "ENCODING", "x"),
            ("ZUNIONSTORE", "u", "1", "z"), ("OBJECT", "ENCODING", "u"),
            ("ZUNIONSTORE", "u", "1", "y"), ("OBJECT", "ENCODING", "u"),
            ("ZADD", "big", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "6", "f"),
            ("ZRANGESTORE", "rs", "big", "0", "3"), ("OBJECT", "ENCODING", "rs"),
            ("ZRANGESTORE", "rs", "big", "0", "4"), ("OBJECT", "ENCODING", "rs"),
            ("ZRANGESTORE", "rs", "big", "-inf", "4", "BYSCORE"), ("OBJECT", "ENCODING", "rs"),
            ("ZSCAN", "rs", "0"), ("ZINTERSTORE", "i", "2", "big", "big"), ("OBJECT", "ENCODING", "i"))
        b("CONFIG", "SET", "zset-max-listpack-entries", "0")
        run(b, ("ZADD", "w", "1", "a"), ("OBJECT", "ENCODING", "w"))
    finally:
        b("CONFIG", "SET", "zset-max-listpack-entries", "128")
        b("CONFIG", "SET", "zset-max-listpack-value", "64")


# -- random differential ------------------------------------------------------------------
def test_random_ops_differential(both):
    rnd = random.Random(1234)
    members = [b"m%d" % i for i in range(30)] + [b"", b"A", b"\xff", b"m1\x00"]
    scores = ["0", "-0", "1", "1.5", "-2.25", "3", "inf", "-inf", "1e10", "0.1", "7"]
    for _ in range(400):
        op = rnd.randrange(12)
        m = rnd.choice(members)
        s = rnd.choice(scores)
        if op < 4:
            both("ZADD", "z", s, m, rnd.choice(scores), rnd.choice(members))
        elif op == 4:
            both("ZINCRBY", "z", s, m)
        elif op == 5:
            both("ZREM", "z", m)
        elif op == 6:
            both("ZRANGE", "z", "0", "-1", "WITHSCORES")
        elif op == 7:
            both("ZRANGEBYSCORE", "z", s, rnd.choice(scores), "WITHSCORES")
        elif op == 8:
            both("ZRANK", "z", m)
            both("ZREVRANK", "z", m)
        elif op == 9:
            both("ZCOUNT", "z", "(" + s, rnd.choice(scores))
        elif op == 10:
            both("ZREVRANGEBYSCORE", "z", s, "(" + rnd.choice(scores), "LIMIT", "1", "3")
        else:
            both("ZREMRANGEBYRANK", "z", str(rnd.randrange(-5, 5)), str(rnd.randrange(-5, 5)))
    both("ZRANGE", "z", "0", "-1", "WITHSCORES")


def test_big_zset_differential(both):
    args = []
    for i in range(300):
        args += [str((i * 7919) % 101), "e%d" % i]
    both("ZADD", "z", *args)
    both("OBJECT", "ENCODING", "z")
    run(both, ("ZRANGE", "z", "100", "140", "WITHSCORES"), ("ZREVRANGE", "z", "3", "9"),
        ("ZRANGEBYSCORE", "z", "(10", "20", "LIMIT", "5", "7"), ("ZCOUNT", "z", "5", "50"),
        ("ZRANK", "z", "e77"), ("ZREVRANK", "z", "e77"), ("ZREMRANGEBYSCORE", "z", "3", "(7"),
        ("ZREMRANGEBYRANK", "z", "10", "20"), ("ZCARD", "z"), ("ZPOPMAX", "z", "3"),
        ("ZRANGE", "z", "0", "-1", "WITHSCORES"))


# -- ordering edges (the index sorts byte keys: score prefix + member) ---------------------
_EDGE_PAIRS = [
    ("0", "z0"), ("-0", "zneg0"), ("0", ""), ("-0", "a"), ("0", "a\x00"), ("-0", "\xff"),
    ("inf", "pinf"), ("+inf", "pinf2"), ("-inf", "ninf"), ("-inf", ""), ("-inf", "\x00"),
    ("5", "p"), ("5", "pp"), ("5", "p\x00"), ("5", "ppp"), ("5", "q"), ("5.0", "P"),
    ("1.7976931348623157e308", "max"), ("-1.7976931348623157e308", "nmax"),
    ("4.9406564584124654e-324", "tiny"), ("-4.9406564584124654e-324", "ntiny"),
    ("2.2250738585072014e-308", "norm"), ("-2.2250738585072014e-308", "nnorm"),
    ("1e-300", "small"), ("-1e-300", "nsmall"), ("9007199254740993", "big53"),
    ("1e15", "e15"), ("-1e15", "ne15"), ("0.1", "tenth"), ("-0.1", "ntenth"),
    ("-5", "m5"), ("-5", "m5a"), ("-5", "m"), ("-5.000000000000001", "m5lo"),
    ("4.999999999999999", "p5lo"), ("5.000000000000001", "p5hi"),
]
_EDGE_RANGES = [
    ("-0", "0"), ("(0", "+inf"), ("(-0", "+inf"), ("-inf", "(0"), ("-inf", "(-0"),
    ("(-4.9406564584124654e-324", "(4.9406564584124654e-324"), ("-inf", "-inf"),
    ("+inf", "+inf"), ("(-inf", "(inf"), ("5", "5"), ("(5", "+inf"), ("-inf", "(5"),
    ("-5", "-5"), ("(-5", "(5"), ("1e-310", "1e308"), ("-1e308", "-1e-310"), ("0", "-0"),
]


@pytest.mark.parametrize("encoding", ["listpack", "skiplist"])
def test_ordering_edges(b, encoding):
    if encoding == "skiplist":
        b("CONFIG", "SET", "zset-max-listpack-entries", "0")
    try:
        for s, m in _EDGE_PAIRS:
            b("ZADD", "z", s, m)
        flat = [x for s, m in _EDGE_PAIRS for x in (s, m)]
        b("ZADD", "multi", *flat)
        b("OBJECT", "ENCODING", "z")
        for key in ("z", "multi"):
            b("ZRANGE", key, "0", "-1", "WITHSCORES")
            b("ZREVRANGE", key, "0", "-1", "WITHSCORES")
        for s, m in _EDGE_PAIRS:
            b("ZRANK", "z", m)
            b("ZREVRANK", "z", m)
            b("ZSCORE", "z", m)
        for lo, hi in _EDGE_RANGES:
            b("ZRANGEBYSCORE", "z", lo, hi, "WITHSCORES")
            b("ZREVRANGEBYSCORE", "z", hi, lo, "WITHSCORES")
            b("ZCOUNT", "z", lo, hi)
            b("ZRANGE", "z", lo, hi, "BYSCORE", "LIMIT", "1", "2")
        b("ZMSCORE", "z", "z0", "zneg0", "a", "nope")
        b("ZRANDMEMBER", "z", "100", "WITHSCORES")
        if encoding == "listpack":
            b("ZSCAN", "z", "0")
        # real Redis's payload restored on both (a listpack DUMP itself is LZF-compressed:
        # compared below only for the skiplist, whose short strings are stored raw)
        raw = b.b.cmd("DUMP", "z")
        payload = raw[raw.index(b"\r\n") + 2:-2]
        b("RESTORE", "restored", "0", payload)
        b("ZRANGE", "restored", "0", "-1", "WITHSCORES")
        b("OBJECT", "ENCODING", "restored")
        b("ZSCORE", "restored", "zneg0")
        b("SORT", "z", "BY", "nosort", "LIMIT", "2", "5")
        b("SORT", "z", "BY", "nosort", "DESC", "LIMIT", "1", "4")
        b("OBJECT", "ENCODING", "z")     # SORT BY nosort LIMIT converts it to a skiplist
        b("DUMP", "z")
        b("COPY", "z", "copied")
        b("ZRANGE", "copied", "0", "-1", "WITHSCORES")
        b("ZRANGESTORE", "dst", "z", "-0", "0", "BYSCORE")
        b("ZRANGE", "dst", "0", "-1", "WITHSCORES")
        b("ZUNIONSTORE", "u", "2", "z", "multi", "AGGREGATE", "MIN")
        b("ZRANGE", "u", "0", "-1", "WITHSCORES")
        b("ZUNION", "2", "z", "multi", "WEIGHTS", "-1", "1", "WITHSCORES")
        b("ZINTER", "2", "z", "multi", "WEIGHTS", "0", "-0", "WITHSCORES")
        b("ZDIFF", "2", "z", "dst", "WITHSCORES")
        # -0 vs 0 updates are no-ops (equal scores); moves across zero
        b("ZADD", "z", "0", "zneg0")
        b("ZADD", "z", "-0", "z0")
        b("ZADD", "z", "CH", "0", "a", "-0", "a\x00")
        b("ZINCRBY", "z", "-0", "z0")
        b("ZINCRBY", "z", "0", "zneg0")
        b("ZINCRBY", "z", "-0", "newneg0")
        b("ZINCRBY", "z", "-5", "p")
        b("ZINCRBY", "z", "5", "m5")
        b("ZINCRBY", "z", "inf", "tiny")
        b("ZADD", "z", "-0", "tenth")
        b("ZADD", "z", "0", "ntenth")
        for m in ("z0", "zneg0", "a", "a\x00", "newneg0", "p", "m5", "tenth", "ntenth"):
            b("ZSCORE", "z", m)
            b("ZRANK", "z", m)
        b("ZRANGE", "z", "0", "-1", "WITHSCORES")
        b("ZREMRANGEBYSCORE", "z", "(-0", "(4.9406564584124654e-324")
        b("ZREMRANGEBYSCORE", "z", "-0", "-0")
        b("ZPOPMIN", "z", "3")
        b("ZPOPMAX", "z", "3")
        b("ZMPOP", "1", "z", "MIN", "COUNT", "2")
        b("ZRANGE", "z", "0", "-1", "WITHSCORES")
    finally:
        b("CONFIG", "SET", "zset-max-listpack-entries", "128")


@pytest.mark.parametrize("encoding", ["listpack", "skiplist"])
def test_lex_prefix_members(b, encoding):
    if encoding == "skiplist":
        b("CONFIG", "SET", "zset-max-listpack-entries", "0")
    try:
        members = ["", "a", "a\x00", "aa", "aaa", "ab", "b", "\x7f", "\x80", "\xff", "\xff\xff"]
        for score in ("0", "-0"):
            key = "lex" + score
            for i, m in enumerate(members):
                # alternate -0 and 0 within one set: they tie, so members order them
                b("ZADD", key, score if i % 2 else "0", m)
            b("ZRANGE", key, "0", "-1", "WITHSCORES")
            for lo, hi in (("-", "+"), ("[a", "[aa"), ("(a", "(aa"), ("[a\x00", "+"),
                           ("(a\x00", "[b"), ("-", "(a"), ("[", "(\x80"), ("(", "+"),
                           ("[\xff", "+"), ("(\xff", "+"), ("[aa", "[a"), ("[b", "[b")):
                b("ZRANGEBYLEX", key, lo, hi)
                b("ZREVRANGEBYLEX", key, hi, lo)
                b("ZLEXCOUNT", key, lo, hi)
                b("ZRANGE", key, lo, hi, "BYLEX", "LIMIT", "1", "3")
            b("ZREMRANGEBYLEX", key, "(a", "[ab")
            b("ZRANGE", key, "0", "-1")
    finally:
        b("CONFIG", "SET", "zset-max-listpack-entries", "128")


def test_score_key_order_unit():
    """score_key sorts like Redis's score order, -0 ties with 0, and every user of the
    index sees (score, member) with the exact score."""
    import math
    import struct
    from redislet.types.zset import ZSet, score_key
    rnd = random.Random(7)
    vals = [0.0, -0.0, math.inf, -math.inf, 5e-324, -5e-324, 1.0, -1.0, 1.7976931348623157e308,
            -1.7976931348623157e308, 2.2250738585072014e-308, -2.2250738585072014e-308]
    vals += [struct.unpack(">d", struct.pack(">Q", rnd.getrandbits(64)))[0] for _ in range(3000)]
    vals = [v for v in vals if v == v]
    vals += [rnd.uniform(-10, 10) for _ in range(1000)]
    by_key = sorted(vals, key=score_key)
    assert by_key == sorted(vals)
    assert score_key(0.0) == score_key(-0.0)
    for x, y in zip(by_key, by_key[1:]):
        assert (score_key(x) < score_key(y)) == (x < y)
    z = ZSet(False)
    items = [(rnd.choice([0.0, -0.0, 1.5, -1.5, math.inf]), bytes([rnd.randrange(3)]) * rnd.randrange(4)
              + b"%d" % i) for i in range(200)]
    for s, m in items:
        z.insert(m, s)
    want = sorted(items, key=lambda t: (t[0], t[1]))
    got = z.range(0, len(z))
    assert got == want
    assert [math.copysign(1, s) for s, _ in got] == [math.copysign(1, s) for s, _ in want]
    assert [(m, s) for s, m in want] == z.items()
    for i, (s, m) in enumerate(want):
        assert z.rank(m) == i
        assert z.at(i) == (s, m)


# -- blocking ------------------------------------------------------------------------------
def test_bzpopmin_blocks_and_is_served(server, raw):
    c1 = raw()
    c1.cmd("DEL", "bz", "bz2")
    w = Raw(server.port)
    w.send(b"*4\r\n$8\r\nBZPOPMIN\r\n$3\r\nbz2\r\n$2\r\nbz\r\n$1\r\n0\r\n")
    time.sleep(0.1)
    w2 = Raw(server.port)
    w2.send(b"*3\r\n$8\r\nBZPOPMAX\r\n$2\r\nbz\r\n$1\r\n0\r\n")
    time.sleep(0.1)
    assert c1.cmd("ZADD", "bz", "1", "a", "2", "b", "3", "c") == b":3\r\n"
    assert w.read_reply() == b"*3\r\n$2\r\nbz\r\n$1\r\na\r\n$1\r\n1\r\n"
    assert w2.read_reply() == b"*3\r\n$2\r\nbz\r\n$1\r\nc\r\n$1\r\n3\r\n"
    assert c1.cmd("ZRANGE", "bz", "0", "-1") == b"*1\r\n$1\r\nb\r\n"
    # BZMPOP served with COUNT, RESP3 shape
    w.cmd("HELLO", "3")
    w.send(b"*7\r\n$6\r\nBZMPOP\r\n$1\r\n0\r\n$1\r\n1\r\n$2\r\nbq\r\n$3\r\nMAX\r\n"
           b"$5\r\nCOUNT\r\n$1\r\n5\r\n")
    time.sleep(0.1)
    c1.cmd("ZADD", "bq", "1", "x", "2", "y")
    assert w.read_reply() == (b"*2\r\n$2\r\nbq\r\n*2\r\n*2\r\n$1\r\ny\r\n,2\r\n"
                              b"*2\r\n$1\r\nx\r\n,1\r\n")
    assert c1.cmd("EXISTS", "bq") == b":0\r\n"
    # timeout
    t0 = time.time()
    assert w2.cmd("BZPOPMIN", "nothere", "0.05") == b"*-1\r\n"
    assert time.time() - t0 < 2
    w.close()
    w2.close()


def test_bzpop_wrong_type_then_zset(server, raw):
    c1 = raw()
    c1.cmd("DEL", "bk")
    w = Raw(server.port)
    w.send(b"*3\r\n$8\r\nBZPOPMIN\r\n$2\r\nbk\r\n$1\r\n0\r\n")
    time.sleep(0.1)
    c1.cmd("SET", "bk", "x")           # wrong type: the client stays blocked
    c1.cmd("DEL", "bk")
    c1.cmd("ZADD", "bk", "5", "m")
    assert w.read_reply() == b"*3\r\n$2\r\nbk\r\n$1\r\nm\r\n$1\r\n5\r\n"
    w.close()


# -- unit tests of the type ----------------------------------------------------------------
def test_str2d_unit():
    from redislet.types.zset import str2d, parse_score_range, d2string
    assert str2d(b"1.5") == 1.5
    assert str2d(b"0x10") == 16.0
    assert str2d(b"1e400") is None
    assert str2d(b"inf") == float("inf")
    assert str2d(b"-Infinity") == float("-inf")
    assert str2d(b"nan") is None
    assert str2d(b" 1") is None
    assert str2d(b"1e-400") is None
    assert str2d(b"0e-400") == 0.0
    assert parse_score_range(b"", b"(") == (0.0, False, 0.0, True)
    assert parse_score_range(b"1e400", b" 2") == (float("inf"), False, 2.0, False)
    assert parse_score_range(b"  ", b"1") is None
    assert d2string(1e20) == b"1e+20"
    assert d2string(4611686018427387904.0) == b"4611686018427387904"
    assert d2string(-0.0) == b"-0"


def test_zadd_keyspace_events(server, raw):
    sub = raw()
    c = raw()
    c.cmd("CONFIG", "SET", "notify-keyspace-events", "KEA")
    try:
        sub.cmd("PSUBSCRIBE", "__keyevent@0__:*")
        c.cmd("DEL", "ev", "ev2")
        c.cmd("ZADD", "ev", "1", "a", "2", "b")
        c.cmd("ZINCRBY", "ev", "1", "a")
        c.cmd("ZADD", "ev", "NX", "1", "a")          # no change: no event
        c.cmd("ZREM", "ev", "a")
        c.cmd("ZUNIONSTORE", "ev2", "1", "ev")
        c.cmd("ZPOPMIN", "ev")
        events = []
        for _ in range(6):
            parts = sub.read_reply().split(b"\r\n")
            events.append((parts[6].split(b":", 1)[1], parts[8]))
        assert events == [(b"zadd", b"ev"), (b"zincr", b"ev"), (b"zrem", b"ev"),
                          (b"zunionstore", b"ev2"), (b"zpopmin", b"ev"), (b"del", b"ev")]
    finally:
        c.cmd("CONFIG", "SET", "notify-keyspace-events", "")


def test_propagation_embedded():
    """What reaches AOF/replicas (srv.propagate): pops as ZPOPMIN/ZPOPMAX, GEOADD as ZADD."""
    import redislet
    srv = redislet.Server()
    srv.start()
    try:
        log = []
        srv.server.propagate_targets.append(lambda dbid, argv: log.append(list(argv)))
        c = Raw(srv.port)
        c.cmd("ZADD", "z", "1", "a", "2", "b", "3", "c")
        c.cmd("ZADD", "z", "XX", "1", "nope")          # no effect: not propagated
        c.cmd("ZMPOP", "2", "nokey", "z", "MAX", "COUNT", "5")
        c.cmd("ZMPOP", "1", "z", "MIN")                # nothing left: not propagated
        c.cmd("ZADD", "z", "1", "a", "2", "b")
        c.cmd("BZPOPMIN", "z", "0")
        c.cmd("BZMPOP", "0", "1", "z", "MAX", "COUNT", "3")
        w = Raw(srv.port)
        w.send(b"*3\r\n$8\r\nBZPOPMAX\r\n$1\r\nq\r\n$1\r\n0\r\n")
        time.sleep(0.1)
        c.cmd("ZADD", "q", "5", "x", "6", "y")
        assert w.read_reply() == b"*3\r\n$1\r\nq\r\n$1\r\ny\r\n$1\r\n6\r\n"
        c.cmd("GEOADD", "g", "CH", "13.361389", "38.115556", "Palermo")
        c.cmd("GEOADD", "g", "NX", "13.361389", "38.115556", "Palermo")
        c.cmd("ZPOPMIN", "nokey")
        assert log == [
            [b"ZADD", b"z", b"1", b"a", b"2", b"b", b"3", b"c"],
            [b"ZPOPMAX", b"z", b"3"],
            [b"ZADD", b"z", b"1", b"a", b"2", b"b"],
            [b"ZPOPMIN", b"z"],
            [b"ZPOPMAX", b"z", b"1"],
            [b"ZADD", b"q", b"5", b"x", b"6", b"y"],
            [b"ZPOPMAX", b"q"],
            [b"zadd", b"g", b"CH", b"3479099956230698", b"Palermo"],
        ]
        w.close()
        c.close()
    finally:
        srv.stop()
