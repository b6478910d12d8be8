"""SORT and SORT_RO, differential against real Redis: orderings (numeric with ties,
ALPHA, BY patterns and hash fields, ties under LIMIT), GET, STORE, BY nosort on lists,
sets and sorted sets, errors, COMMAND GETKEYS."""
import random

import pytest

LIST = ["3", "1", "2", "10", "1.5", "-1", "0x10", " 7", "inf", "-inf", "1e308", "007"]


@pytest.fixture
def data(both):
    both("RPUSH", "l", *LIST)
    for i, x in enumerate(LIST):
        both("SET", "w_" + x, str(random.Random(i).random()))
        both("HSET", "h_" + x, "f", str(i % 3), "g", "v%d" % i)
    return both


@pytest.mark.parametrize("args", [
    (), ("DESC",), ("ASC",), ("ALPHA",), ("ALPHA", "DESC"), ("desc", "asc"),
    ("LIMIT", "1", "3"), ("LIMIT", "-5", "2"), ("LIMIT", "0", "0"), ("LIMIT", "20", "5"),
    ("LIMIT", "2", "-1"), ("LIMIT", "3", "-7"), ("LIMIT", "0", "100"),
    ("LIMIT", "x", "1"), ("LIMIT", "1", "y"), ("LIMIT", "1"), ("LIMIT",),
    ("BY", "nosort"), ("BY", "nosort", "DESC"), ("BY", "nosort", "LIMIT", "2", "3"),
    ("BY", "nosort", "DESC", "LIMIT", "2", "3"), ("BY", "nosort", "DESC", "LIMIT", "2", "300"),
    ("BY", "nosort", "LIMIT", "-3", "2"), ("BY",), ("FOO",), ("GET",), ("STORE",),
    ("GET", "#"), ("GET", "w_*", "GET", "#"), ("GET", "nostar"), ("GET", "h_*->g"),
    ("GET", "h_*->"), ("GET", "h_*->nofield"), ("GET", "w_*->f"),
    ("BY", "w_*"), ("BY", "w_*", "DESC"), ("BY", "h_*->f"), ("BY", "h_*->f", "DESC"),
    ("BY", "w_*", "ALPHA"), ("BY", "w_*", "ALPHA", "LIMIT", "1", "3"),
    ("BY", "h_*->f", "ALPHA"), ("BY", "h_*->f", "ALPHA", "DESC"),
    ("BY", "h_*->f", "ALPHA", "LIMIT", "2", "4"),
    ("BY", "h_*->f", "ALPHA", "DESC", "LIMIT", "2", "4"),
    ("BY", "missing_*"), ("BY", "missing_*", "ALPHA"), ("BY", "missing_*", "LIMIT", "1", "2"),
    ("BY", "w_*", "GET", "h_*->f", "GET", "#", "GET", "nokey"),
    ("BY", "nosort", "BY", "w_*"), ("BY", "w_*", "BY", "nosort"),
    ("BY", "h_*->f", "ALPHA", "STORE", "dst"),
])
def test_sort_list(data, args):
    data("SORT", "l", *args)
    data("SORT_RO", "l", *args)
    data.resp3()
    data("SORT", "l", *args)


@pytest.mark.parametrize("args", [
    (), ("ALPHA",), ("DESC", "LIMIT", "1", "2"), ("GET", "#", "GET", "w_*"),
    ("BY", "w_*", "GET", "h_*->g", "GET", "nokey_*"), ("BY", "nosort"),
    ("BY", "nosort", "DESC", "LIMIT", "1", "3"), ("ALPHA", "LIMIT", "10", "10"),
])
def test_sort_store(data, args):
    data("SORT", "l", *args, "STORE", "dst")
    data("LRANGE", "dst", "0", "-1")
    data("TYPE", "dst")
    data("OBJECT", "ENCODING", "dst")


def test_store_edge_cases(both):
    both("SORT", "nokey", "STORE", "dst")
    both("EXISTS", "dst")
    both("RPUSH", "foo", "bar")
    both("SORT", "foo", "ALPHA", "LIMIT", "10", "10", "STORE", "zap")
    both("EXISTS", "zap")
    both("SORT", "emptylist", "STORE", "foo")     # an empty result deletes the target
    both("EXISTS", "foo")
    both("SET", "dst", "str")
    both("EXPIRE", "dst", "100")
    both("RPUSH", "l", "2", "1")
    both("SORT", "l", "STORE", "dst")
    both("TTL", "dst")
    both("LRANGE", "dst", "0", "-1")
    both("SORT", "l", "STORE", "a", "STORE", "b")
    both("EXISTS", "a", "b")
    both("SORT", "l", "STORE", "l")
    both("LRANGE", "l", "0", "-1")
    both("SORT_RO", "l", "STORE", "x")


def test_sets(both):
    both("SADD", "s", "5", "3", "1", "20", "-4")
    for args in [(), ("DESC",), ("ALPHA",), ("BY", "nosort"), ("BY", "nosort", "LIMIT", "1", "2"),
                 ("LIMIT", "1", "2")]:
        both("SORT", "s", *args)
    both("SORT", "s", "BY", "nosort", "STORE", "d")    # forced ALPHA sort with STORE
    both("LRANGE", "d", "0", "-1")
    both("SADD", "s2", "b", "a", "c", "abc", "aa")
    both("SORT", "s2", "ALPHA")
    both("SORT", "s2", "ALPHA", "DESC", "LIMIT", "1", "3")
    both("SORT", "s2")
    both("SORT", "s2", "BY", "_", "STORE", "d")
    both("LRANGE", "d", "0", "-1")
    both("SADD", "myset", "1", "2", "3", "4", "not-a-double")
    both("SORT", "myset")


def test_zsets(both):
    both("ZADD", "z", "1", "a", "5", "b", "2", "c", "10", "d", "3", "e")
    both("OBJECT", "ENCODING", "z")
    both("SORT", "z", "ALPHA", "DESC")
    both("OBJECT", "ENCODING", "z")        # SORT converts it to a skiplist
    for args in [("BY", "nosort"), ("BY", "nosort", "DESC"), ("BY", "nosort", "LIMIT", "1", "2"),
                 ("BY", "nosort", "DESC", "LIMIT", "1", "2"), ("BY", "nosort", "LIMIT", "5", "10"),
                 ("BY", "nosort", "LIMIT", "-10", "100"), ("BY", "nosort", "DESC", "LIMIT", "0", "1"),
                 ("BY", "nosort", "DESC", "LIMIT", "4", "5"), ("ALPHA",), ("ALPHA", "LIMIT", "1", "1"),
                 ("BY", "nosort", "GET", "#", "GET", "w_*"), ("BY", "nosort", "STORE", "d")]:
        both("SORT", "z", *args)
    both("LRANGE", "d", "0", "-1")
    both("SORT", "z")


def test_numeric_ties_and_floats(both):
    both("SADD", "myset", *"a b c d e f g h i l m n o p q r s t u v z aa aaa azz".split())
    both("MSET", *sum([["score:" + x, "100"] for x in "a b c aa z".split()], []))
    both("SORT", "myset", "BY", "score:*")
    both("SORT", "myset", "BY", "score:*", "DESC")
    both("SORT", "myset", "BY", "score:*", "LIMIT", "3", "5")
    floats = ["1.1", "5.10", "3.10", "7.44", "2.1", "5.75", "6.12", "0.25", "1.15", "-0", "0",
              "+3", "1e2", ".5", "5.", "0x1p3", "0X1.8", "infinity", "-INF", "", "\t4"]
    both("RPUSH", "fl", *floats)
    both("SORT", "fl")
    both("SORT", "fl", "DESC")
    both("MSET", "score:1", "10", "score:2", "20", "score:3", "30", "score:4", "not-a-double")
    both("SADD", "nums", "1", "2", "3", "4")
    both("SORT", "nums", "BY", "score:*")
    both("SORT", "nums", "BY", "score:*", "STORE", "x")
    both("EXISTS", "x")


def test_plain_numbers(both):
    """Decimal numbers (the common input, converted at C speed): equal doubles tie by
    their bytes, in both directions, with LIMIT, in lists and big sets."""
    nums = ["1", "1.0", "01", "-0", "0", "-0.0", "00", "12345678901234567890",
            "12345678901234567891", "-12345678901234567890", "0.1", "0.10000000000000000001",
            "99999999999999999999.99999999999999999999", "-7", "-7.5", "3", "2.999999999999999999"]
    both("RPUSH", "pl", *nums)
    for args in ((), ("DESC",), ("LIMIT", "2", "5"), ("DESC", "LIMIT", "0", "4")):
        both("SORT", "pl", *args)
    both("SADD", "big", *[str(i * 7919 % 1000 - 500) for i in range(1000)])
    both("SORT", "big", "LIMIT", "0", "20")
    both("SORT", "big", "DESC", "LIMIT", "10", "20")


@pytest.mark.parametrize("vals", [
    ("1", "x"), ("1", "1e"), ("1", " "), ("nan",), ("-nan",), ("1e310",), ("-1e310",),
    ("0x1p1024",), ("1_000",), ("+-5",), ("0x",), ("1e-400",), ("1e-310",),
    ("0x1p-1074", "1"), ("1\x00abc", "0"),
])
def test_conversion(both, vals):
    # out-of-range cases leave errno set in Redis (a sticky bug): each case runs last
    both("RPUSH", "f", *vals)
    both("SORT", "f")


def test_alpha_by_ties_with_limit(both):
    rnd = random.Random(3)
    for _ in range(8):
        both("DEL", "l")
        n = rnd.randrange(1, 90)
        els = ["e%d" % i for i in range(n)]
        rnd.shuffle(els)
        both("RPUSH", "l", *els)
        for e in els:
            if rnd.random() < 0.8:
                both("SET", "w_" + e, str(rnd.randrange(4)))
            else:
                both("DEL", "w_" + e)
        for _ in range(4):
            s, c = str(rnd.randrange(-2, n + 2)), str(rnd.randrange(-2, n + 2))
            both("SORT", "l", "BY", "w_*", "ALPHA", "LIMIT", s, c)
            both("SORT", "l", "BY", "w_*", "ALPHA", "DESC", "LIMIT", s, c)
            both("SORT", "l", "BY", "w_*", "LIMIT", s, c)
        both("SORT", "l", "BY", "w_*", "ALPHA")
        both("SORT", "l", "BY", "w_*", "ALPHA", "DESC")


def test_binary_elements(both):
    both("RPUSH", "b", b"a\x00c", b"a\x00b", b"\xff", b"a", b"")
    both("SORT", "b", "ALPHA")
    both("SORT", "b", "ALPHA", "STORE", "d")
    both("LRANGE", "d", "0", "-1")
    both("SET", b"w_a\x00c", "1")
    both("SORT", "b", "BY", "w_*", "GET", "w_*")
    both("SORT", "b", "BY", "w_*\x00x", "GET", "#\x00y")


def test_errors_and_types(both):
    both("SET", "str", "x")
    both("SORT", "str")
    both("SORT", "str", "FOO")        # options are parsed before the key is looked up
    both("HSET", "h", "a", "1")
    both("SORT", "h")
    both("SORT", "nokey")
    both("SORT", "nokey", "BY", "nosort", "DESC", "LIMIT", "0", "5")
    both("SORT")
    both("SORT_RO")
    both("RPUSH", "L", "2", "1", "0")
    both("SORT_RO", "L", "BY", "a", "LIMIT", "2", "9223372036854775807")
    both("SORT_RO", "L", "BY", "a", "LIMIT", "2", "2147483647")
    both("SORT_RO", "L", "LIMIT", "9223372036854775807", "1")
    both("SORT_RO", "L", "LIMIT", "-9223372036854775808", "1")


def test_getkeys(both):
    both("COMMAND", "GETKEYS", "SORT", "abc", "STORE", "def")
    both("COMMAND", "GETKEYS", "SORT", "abc", "store", "invalid", "store", "stillbad",
         "store", "def")
    both("COMMAND", "GETKEYS", "SORT", "abc")
    both("COMMAND", "GETKEYS", "SORT", "abc", "LIMIT", "store", "x", "GET", "store")
    both("COMMAND", "GETKEYS", "SORT", "abc", "BY", "store", "STORE")
    both("COMMAND", "GETKEYS", "SORT_RO", "abc", "STORE", "x")
    both("COMMAND", "INFO", "SORT", "SORT_RO")
    both("COMMAND", "GETKEYSANDFLAGS", "SORT", "k1", "STORE", "k2")
    both("COMMAND", "GETKEYSANDFLAGS", "SORT", "k1", "LIMIT", "0", "1")
    both("COMMAND", "GETKEYSANDFLAGS", "SORT_RO", "k1", "BY", "x")


def test_keyspace_stats_and_notifications(raw):
    c = raw()
    c.cmd("FLUSHALL")
    c.cmd("RPUSH", "l", "b", "a")
    c.cmd("CONFIG", "SET", "notify-keyspace-events", "Elg")
    try:
        sub = raw()
        sub.cmd("SUBSCRIBE", "__keyevent@0__:sortstore", "__keyevent@0__:del")
        sub.read_reply()   # the second subscription confirmation
        assert c.cmd("SORT", "l", "ALPHA", "STORE", "dst") == b":2\r\n"
        msg = sub.read_reply()
        assert msg.endswith(b"$3\r\ndst\r\n") and b"sortstore" in msg
        assert c.cmd("SORT", "nokey", "STORE", "dst") == b":0\r\n"
        msg = sub.read_reply()
        assert msg.endswith(b"$3\r\ndst\r\n") and b":del" in msg
    finally:
        c.cmd("CONFIG", "SET", "notify-keyspace-events", "")


def test_big_sets_by_key(both):
    rnd = random.Random(1)
    for cmd, n in (("LPUSH", 1000), ("SADD", 1000)):
        both("DEL", "tosort")
        vals = rnd.sample(range(10 ** 6), n)
        for i in range(n):
            both(cmd, "tosort", str(i))
        both("MSET", *sum([["weight_%d" % i, str(vals[i])] for i in range(n)], []))
        both("SORT", "tosort", "BY", "weight_*")
        both("SORT", "tosort", "BY", "weight_*", "LIMIT", "5", "5")
        both("SORT", "tosort", "LIMIT", "0", "10")


def test_acl_restricted_patterns(both):
    both("ACL", "SETUSER", "sortuser", "on", ">pw", "~l*", "+@all")
    try:
        both("RPUSH", "l", "1", "2")
        both("AUTH", "sortuser", "pw")
        both("SORT", "l")
        both("SORT", "l", "BY", "w_*")
        both("SORT", "l", "GET", "w_*")
        both("SORT", "l", "BY", "nosort", "GET", "#")
        both("SORT", "l", "BY", "nosort")
    finally:
        both.a.cmd("ACL", "DELUSER", "sortuser")
        both.b.cmd("ACL", "DELUSER", "sortuser")
