"""Stream commands without consumer groups: XADD, XRANGE, XREVRANGE, XLEN, XDEL, XTRIM,
XSETID, XREAD (blocking too), XINFO STREAM. Mostly differential against real Redis (RESP2
and RESP3), plus propagation observed on an embedded server."""
import time

import pytest
import redis

import redislet
from conftest import Raw


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def b(request, both):
    if request.param == 3:
        both.resp3()
    yield both
    both.a.cmd("CONFIG", "SET", "stream-node-max-entries", "100")
    both.b.cmd("CONFIG", "SET", "stream-node-max-entries", "100")
    both.a.cmd("CONFIG", "SET", "stream-node-max-bytes", "4096")
    both.b.cmd("CONFIG", "SET", "stream-node-max-bytes", "4096")


def run(b, *cmds):
    for cmd in cmds:
        b(*cmd)


def fill(b, key="s", n=5, start=1):
    for i in range(start, start + n):
        b("XADD", key, "%d-0" % i, "f", "v%d" % i)


def both_cfg(b, name, value):
    b("CONFIG", "SET", name, str(value))


# -- XADD ---------------------------------------------------------------------------------
def test_xadd_explicit_ids_and_errors(b):
    b("XADD", "s", "1-1", "a", "1")
    b("XADD", "s", "1-1", "a", "1")            # equal
    b("XADD", "s", "1-0", "a", "1")            # smaller
    b("XADD", "s", "1", "a", "2")              # 1-0 smaller
    b("XADD", "s", "2", "a", "2")              # seq 0
    b("XADD", "s", "2-*", "a", "3")            # 2-1
    b("XADD", "s", "1-*", "a", "3")            # smaller
    b("XADD", "s", "5-*", "a", "3")            # 5-0
    b("XADD", "s", "0-0", "a", "b")
    b("XADD", "new", "0-0", "a", "b")
    b("EXISTS", "new")
    b("XADD", "new", "0-*", "a", "b")          # 0-1
    b("XADD", "s", "-", "a", "b")
    b("XADD", "s", "+", "a", "b")
    b("XRANGE", "s", "-", "+")
    b("XLEN", "s")


@pytest.mark.parametrize("bad", ["abc", "1-x", "1-2-3", "-1", "1--2", "", "-5-0", "1-",
                                 "18446744073709551616", "1-18446744073709551616", "*-1",
                                 "1-**", "x-*", "1 - 2", "0x10", "1.5", "(1"])
def test_xadd_invalid_ids(b, bad):
    b("XADD", "s", bad, "a", "b")
    b("EXISTS", "s")


@pytest.mark.parametrize("odd", [" 5", "+5", "007", "-0", " -5", "5-+7", "9-007",
                                 "18446744073709551615-0", "00-*", "-0-*"])
def test_xadd_strtoull_forms(b, odd):
    b("XADD", "s", odd, "a", "b")
    b("XRANGE", "s", "-", "+")


def test_xadd_wrong_args(b):
    b("XADD", "s", "*", "a")
    b("XADD", "s", "*", "a", "b", "c")
    b("XADD", "s", "MAXLEN", "5")
    b("XADD", "s", "NOMKSTREAM", "*")
    b("XADD", "s", "1-1", "a")
    b("XADD", "s", "0-0", "a")                  # arity is checked before 0-0
    b("XADD", "s", "MAXLEN", "5", "*", "a")
    b("EXISTS", "s")


def test_xadd_seq_overflow_and_exhausted(b):
    b("XADD", "s", "1-18446744073709551615", "a", "b")
    b("XADD", "s", "1-*", "c", "d")
    b("XADD", "s", "2-*", "c", "d")
    b("XADD", "t", "18446744073709551615-18446744073709551615", "a", "b")
    b("XADD", "t", "*", "c", "d")
    b("XADD", "t", "18446744073709551615-*", "c", "d")
    b("XADD", "t", "NOMKSTREAM", "*", "c", "d")


def test_xadd_nomkstream(b):
    b("XADD", "s", "NOMKSTREAM", "*", "a", "b")
    b("XADD", "s", "nomkstream", "1-1", "a", "b")
    b("EXISTS", "s")
    b("XADD", "s", "1-1", "a", "b")
    b("XADD", "s", "NOMKSTREAM", "2-1", "a", "b")
    b("XADD", "s", "NOMKSTREAM", "MAXLEN", "1", "3-1", "a", "b")
    b("XRANGE", "s", "-", "+")


def test_xadd_wrongtype(b):
    b("SET", "k", "v")
    b("XADD", "k", "*", "a", "b")
    b("XADD", "k", "NOMKSTREAM", "*", "a", "b")
    b("XLEN", "k")
    b("XRANGE", "k", "-", "+")
    b("XDEL", "k", "1-1")
    b("XTRIM", "k", "MAXLEN", "1")
    b("XSETID", "k", "1-1")
    b("XREAD", "STREAMS", "k", "0")
    b("XINFO", "STREAM", "k")
    b("TYPE", "k")


@pytest.mark.parametrize("opts", [
    ["MAXLEN", "-1"], ["MAXLEN", "x"], ["MAXLEN", "~", "-1"], ["MAXLEN", "=", "x"],
    ["MINID", "x"], ["MINID", "-"], ["MINID", "+"], ["MAXLEN", "1", "MINID", "1"],
    ["MINID", "1", "MAXLEN", "1"], ["MAXLEN", "1", "MAXLEN", "1"],
    ["LIMIT", "10"], ["LIMIT", "0"], ["LIMIT", "-1"], ["LIMIT", "x"],
    ["MAXLEN", "1", "LIMIT", "10"], ["MAXLEN", "=", "1", "LIMIT", "10"],
    ["MAXLEN", "~", "1", "LIMIT", "10"], ["MINID", "~", "1", "LIMIT", "x"],
    ["maxlen", "~", "2", "limit", "0"], ["BOGUS"], ["MAXLEN"], ["MAXLEN", "~"],
    ["MAXLEN", "~", "~"],
])
def test_xadd_trim_option_errors(b, opts):
    fill(b, n=3)
    b("XADD", "s", *opts, "10-1", "a", "b")
    b("XRANGE", "s", "-", "+")


def test_xadd_maxlen_exact(b):
    for i in range(1, 30):
        b("XADD", "s", "MAXLEN", "5", "%d-0" % i, "f", str(i))
    b("XLEN", "s")
    b("XRANGE", "s", "-", "+")
    b("XADD", "s", "MAXLEN", "=", "2", "*-0" if False else "100-0", "f", "x")
    b("XRANGE", "s", "-", "+")
    b("XADD", "t", "MAXLEN", "0", "1-1", "a", "b")
    b("XLEN", "t")
    b("EXISTS", "t")


@pytest.mark.parametrize("node", [100, 10, 7, 1, 0])
def test_xadd_maxlen_approx_node_granularity(b, node):
    both_cfg(b, "stream-node-max-entries", node)
    for i in range(1, 400):
        b("XADD", "s", "MAXLEN", "~", "55", "%d-0" % i, "f", str(i))
        if i % 37 == 0:
            b("XLEN", "s")
    b("XLEN", "s")
    b("XRANGE", "s", "-", "+", "COUNT", "3")
    b("XINFO", "STREAM", "s")


@pytest.mark.parametrize("node", [100, 10, 3])
def test_xadd_minid_approx_and_limit(b, node):
    both_cfg(b, "stream-node-max-entries", node)
    for i in range(1, 200):
        b("XADD", "s", "MINID", "~", str(max(1, i - 40)), "%d-0" % i, "f", str(i))
    b("XLEN", "s")
    for i in range(200, 260):
        b("XADD", "s", "MINID", "~", str(i - 10), "LIMIT", "7", "%d-0" % i, "f", str(i))
    b("XLEN", "s")
    b("XINFO", "STREAM", "s")


def test_xadd_node_max_bytes(b):
    both_cfg(b, "stream-node-max-bytes", 300)
    for i in range(1, 120):
        b("XADD", "s", "MAXLEN", "~", "30", "%d-0" % i, "field%d" % (i % 3), "x" * (i % 70))
    b("XLEN", "s")
    b("XINFO", "STREAM", "s")
    both_cfg(b, "stream-node-max-bytes", 4096)
    for i in range(120, 300):
        b("XADD", "s", "MAXLEN", "~", "50", "%d-%d" % (i, i * 1000), "a", "y" * (i * 7),
          "b", str(i * 1000003), "c", str(-i))
    b("XLEN", "s")
    b("XINFO", "STREAM", "s")


def test_xadd_big_values_nodes(b):
    for i in range(1, 20):
        b("XADD", "s", "%d-0" % i, "f", "z" * 3000)
    b("XINFO", "STREAM", "s")
    b("XTRIM", "s", "MAXLEN", "~", "5")
    b("XLEN", "s")


def test_xadd_fields_differ_from_master(b):
    for i in range(1, 150):
        if i % 4:
            b("XADD", "s", "MAXLEN", "~", "60", "%d-0" % i, "item", str(i))
        else:
            b("XADD", "s", "MAXLEN", "~", "60", "%d-0" % i, "item", str(i), "other", "foo")
    b("XLEN", "s")
    b("XRANGE", "s", "-", "+", "COUNT", "5")


# -- XADD key * (the plain form's short path) ---------------------------------------------
# Behind a last ID in the future, an auto ID is last + 1 on both servers: the short path can
# be compared byte for byte, node layout included (XINFO, approximate trims).
FUTURE = 99999999999999


@pytest.mark.parametrize("node", [100, 7, 1])
def test_xadd_auto_id_after_future_id(b, node):
    both_cfg(b, "stream-node-max-entries", node)
    b("XADD", "s", "%d-5" % FUTURE, "f", "v")
    values = ["v", "12", "-3", "x" * 70, "", "0", "1.5", "y" * 5000, "123456789012345"]
    for i in range(60):
        if i % 11 == 10:
            b("XADD", "s", "*", "f", values[i % len(values)], "g", str(i))
        elif i % 13 == 12:
            b("XADD", "s", "*", "other", values[i % len(values)])
        else:
            b("XADD", "s", "*", "f", values[i % len(values)])
    b("XLEN", "s")
    b("XINFO", "STREAM", "s")
    b("XINFO", "STREAM", "s", "FULL", "COUNT", "3")
    b("XTRIM", "s", "MAXLEN", "~", "20")
    b("XRANGE", "s", "-", "+", "COUNT", "4")
    b("XINFO", "STREAM", "s")


def test_xadd_auto_id_seq_carry_and_exhaustion(b):
    b("XADD", "s", "%d-18446744073709551614" % FUTURE, "f", "v")
    b("XADD", "s", "*", "f", "v")              # ...-18446744073709551615
    b("XADD", "s", "*", "f", "v")              # the next millisecond, seq 0
    b("XADD", "s", "*", "f", "v")
    b("XINFO", "STREAM", "s", "FULL")
    b("XADD", "t", "18446744073709551615-18446744073709551615", "a", "b")
    b("XADD", "t", "*", "c", "d")
    b("XADD", "t", "*", "c")
    b("XADD", "t", "*", "c", "d", "e")


def test_xadd_auto_id_node_limits_follow_config_set(b):
    """The node limits are cached for XADD: CONFIG SET must reach them."""
    b("XADD", "s", "%d-0" % FUTURE, "f", "v")
    for limits in [("stream-node-max-entries", 3), ("stream-node-max-entries", 5),
                   ("stream-node-max-bytes", 1), ("stream-node-max-bytes", 0),
                   ("stream-node-max-entries", 0), ("stream-node-max-bytes", 120),
                   ("stream-node-max-entries", 100), ("stream-node-max-bytes", 4096)]:
        both_cfg(b, *limits)
        for _ in range(9):
            b("XADD", "s", "*", "f", "value")
        b("XINFO", "STREAM", "s")
    b("XTRIM", "s", "MAXLEN", "~", "10")
    b("XLEN", "s")
    b("CONFIG", "SET", "stream-node-max-entries", "7", "stream-node-max-bytes", "bad")
    b("CONFIG", "GET", "stream-node-max-entries")
    for _ in range(9):
        b("XADD", "s", "*", "f", "value")
    b("XINFO", "STREAM", "s")


def test_xadd_auto_id_pipelined_star_arguments(both):
    """A pipeline of XADD key * ...: the '*' argument right after its CRLF looks like an
    array header; arguments holding '*' or CRLF '*' must be read as they are."""
    both("XADD", "s", "%d-0" % FUTURE, "f", "v")

    def enc(*args):
        return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)

    cmds = [enc(b"XADD", b"s", b"*", b"f", b"v")] * 20
    cmds += [enc(b"XADD", b"s", b"*", b"*", b"*"), enc(b"XADD", b"s", b"*", b"a\r\n*b", b"**"),
             enc(b"XADD", b"s", b"*", b"\r\n*", b"x\r\n*1\r\n$1\r\n")]
    cmds += [enc(b"XADD", b"s", b"MAXLEN", b"~", b"5", b"*", b"f", b"v")] * 3
    cmds += [enc(b"XRANGE", b"s", b"-", b"+")]
    data = b"".join(cmds)
    ra, rb = both.send_raw(data)
    assert ra == rb
    both("XINFO", "STREAM", "s", "FULL")


# -- XRANGE / XREVRANGE / XLEN ------------------------------------------------------------
def test_xrange_forms(b):
    ids = ["0-1", "0-18446744073709551615", "1-0", "42-0", "42-42",
           "18446744073709551615-18446744073709551614",
           "18446744073709551615-18446744073709551615"]
    for i in ids:
        b("XADD", "v", i, "foo", "bar")
    for s, e in [("-", "+"), ("(0-1", "+"), ("-", "(18446744073709551615-18446744073709551615"),
                 ("(0-1", "(1-0"), ("(1-0", "(42-42"), ("42", "42"), ("0", "0"),
                 ("1", "42-0"), ("(42", "+"), ("-", "(42"), ("+", "-"), ("42-42", "42-41"),
                 ("(-", "+"), ("-", "(+"), ("(18446744073709551615-18446744073709551615", "+"),
                 ("-", "(0-0"), ("(", "+"), ("-", "("), ("((1", "+"), ("x", "+"),
                 ("-", "y"), ("0-0", "(0"), ("18446744073709551615", "+")]:
        b("XRANGE", "v", s, e)
        b("XREVRANGE", "v", e, s)
    b("XRANGE", "v", "-", "+", "COUNT", "2")
    b("XRANGE", "v", "-", "+", "COUNT", "0")
    b("XRANGE", "v", "-", "+", "COUNT", "-5")
    b("XRANGE", "v", "-", "+", "COUNT", "x")
    b("XRANGE", "v", "-", "+", "COUNT")
    b("XRANGE", "v", "-", "+", "LIMIT", "1")
    b("XRANGE", "v", "-", "+", "COUNT", "1", "COUNT", "3")
    b("XREVRANGE", "v", "+", "-", "COUNT", "3")
    b("XREVRANGE", "v", "+", "-", "COUNT", "0")
    b("XRANGE", "nokey", "-", "+")
    b("XRANGE", "nokey", "-", "+", "COUNT", "0")
    b("XRANGE", "nokey", "x", "+")
    b("XREVRANGE", "nokey", "+", "-")
    b("XLEN", "v")
    b("XLEN", "nokey")


def test_xrange_many_nodes_and_counts(b):
    both_cfg(b, "stream-node-max-entries", 7)
    for i in range(1, 120):
        b("XADD", "s", "%d-%d" % (i // 3, i % 3), "k", str(i))
    for s, e, n in [("-", "+", 10), ("5", "20", 0), ("(5-1", "(30-2", 4), ("13-1", "13-1", 0),
                    ("0", "0-5", 0), ("39", "+", 0), ("100", "+", 0)]:
        if n:
            b("XRANGE", "s", s, e, "COUNT", str(n))
            b("XREVRANGE", "s", e, s, "COUNT", str(n))
        else:
            b("XRANGE", "s", s, e)
            b("XREVRANGE", "s", e, s)
    for i in range(2, 120, 5):
        b("XDEL", "s", "%d-%d" % (i // 3, i % 3))
    b("XRANGE", "s", "-", "+")
    b("XREVRANGE", "s", "+", "-", "COUNT", "17")
    b("XINFO", "STREAM", "s")


def test_xrange_counts_across_tombstones(b):
    """Nodes with and without tombstones, each direction, counts ending inside, at the
    edge of and past a node."""
    both_cfg(b, "stream-node-max-entries", 4)
    for i in range(1, 41):
        b("XADD", "s", "%d-%d" % (i // 2, i % 2), "f", "v%d" % i)
    for i in (3, 9, 10, 11, 12, 21, 40):
        b("XDEL", "s", "%d-%d" % (i // 2, i % 2))
    for s, e in [("-", "+"), ("2-0", "+"), ("(2-0", "15"), ("5-1", "5-1"), ("6", "6"),
                 ("-", "0-1"), ("20-0", "+"), ("(19-1", "+")]:
        for n in (1, 2, 3, 4, 5, 7, 8, 13, 100):
            b("XRANGE", "s", s, e, "COUNT", str(n))
            b("XREVRANGE", "s", e, s, "COUNT", str(n))
        b("XRANGE", "s", s, e)
        b("XREVRANGE", "s", e, s)
    b("XREAD", "COUNT", "6", "STREAMS", "s", "4-0")
    b("XREAD", "STREAMS", "s", "0")


# -- XDEL ---------------------------------------------------------------------------------
def test_xdel(b):
    fill(b, n=5)
    b("XDEL", "s", "2-0")
    b("XDEL", "s", "2-0", "9-9")
    b("XDEL", "s", "1", "3-0", "3-0")
    b("XDEL", "s", "x")
    b("XDEL", "s", "4-0", "x")                 # all-or-nothing parse
    b("XRANGE", "s", "-", "+")
    b("XDEL", "s", "-")
    b("XDEL", "nokey", "1-1")
    b("XDEL", "nokey", "x")
    b("XINFO", "STREAM", "s")
    b("XDEL", "s", "4-0", "5-0")
    b("XLEN", "s")
    b("EXISTS", "s")
    b("XINFO", "STREAM", "s")
    b("XADD", "s", "6-0", "a", "b")
    b("XINFO", "STREAM", "s")


def test_xdel_node_removal(b):
    both_cfg(b, "stream-node-max-entries", 4)
    fill(b, n=20)
    for i in (1, 2, 3, 4, 6, 10, 11, 12, 20):
        b("XDEL", "s", "%d-0" % i)
        b("XINFO", "STREAM", "s")
    b("XADD", "s", "21-0", "f", "v")
    b("XADD", "s", "22-0", "f", "v")
    b("XINFO", "STREAM", "s")
    b("XTRIM", "s", "MAXLEN", "~", "5")
    b("XINFO", "STREAM", "s")


# -- XTRIM --------------------------------------------------------------------------------
@pytest.mark.parametrize("opts", [
    ["MAXLEN", "3"], ["MAXLEN", "=", "3"], ["MAXLEN", "~", "3"], ["MAXLEN", "0"],
    ["MAXLEN", "100"], ["MINID", "3"], ["MINID", "=", "3-0"], ["MINID", "~", "3"],
    ["MINID", "0"], ["MINID", "100"], ["MAXLEN", "~", "0", "LIMIT", "1"],
    ["MAXLEN", "~", "0", "LIMIT", "0"], ["MINID", "~", "100", "LIMIT", "2"],
    ["LIMIT", "1"], [], ["NOMKSTREAM"], ["MAXLEN", "1", "x"], ["MAXLEN", "1", "*"],
    ["MAXLEN", "1", "LIMIT", "1"], ["MINID", "5", "LIMIT", "0"], ["maxlen", "2"],
])
def test_xtrim_forms(b, opts):
    fill(b, n=10)
    b("XTRIM", "s", *opts)
    b("XRANGE", "s", "-", "+")
    b("XTRIM", "nokey", *opts)


@pytest.mark.parametrize("node", [10, 3, 1])
def test_xtrim_approx_nodes(b, node):
    both_cfg(b, "stream-node-max-entries", node)
    fill(b, n=100)
    b("XTRIM", "s", "MAXLEN", "~", "85")
    b("XLEN", "s")
    b("XTRIM", "s", "MAXLEN", "~", "40", "LIMIT", "20")
    b("XLEN", "s")
    b("XTRIM", "s", "MINID", "~", "70")
    b("XLEN", "s")
    b("XTRIM", "s", "MINID", "72")
    b("XINFO", "STREAM", "s")


def test_xtrim_minid_with_tombstones(b):
    both_cfg(b, "stream-node-max-entries", 5)
    fill(b, n=12)
    b("XDEL", "s", "10-0")
    b("XTRIM", "s", "MINID", "10-1")     # node left with only the tombstone 10-0 (empty)
    b("XINFO", "STREAM", "s")
    b("XRANGE", "s", "-", "+")
    b("XADD", "s", "13-0", "f", "v")
    b("XINFO", "STREAM", "s")
    b("XDEL", "s", "11-0", "12-0", "13-0")
    b("XINFO", "STREAM", "s")


# -- XSETID -------------------------------------------------------------------------------
def test_xsetid(b):
    b("XSETID", "s", "1-1")
    fill(b, n=3)
    b("XSETID", "s", "2-0")
    b("XSETID", "s", "3-0")
    b("XSETID", "s", "3")
    b("XSETID", "s", "10-5")
    b("XADD", "s", "10-5", "a", "b")
    b("XADD", "s", "*-1" if False else "10-6", "a", "b")
    b("XSETID", "s", "x")
    b("XSETID", "s", "-")
    b("XSETID", "s", "20-0", "ENTRIESADDED", "-1")
    b("XSETID", "s", "20-0", "ENTRIESADDED", "x")
    b("XSETID", "s", "20-0", "ENTRIESADDED", "2")
    b("XSETID", "s", "20-0", "ENTRIESADDED", "100", "MAXDELETEDID", "30-0")
    b("XSETID", "s", "20-0", "ENTRIESADDED", "100", "MAXDELETEDID", "x")
    b("XSETID", "s", "20-0", "ENTRIESADDED", "100", "MAXDELETEDID", "15-0")
    b("XSETID", "s", "20-0", "ENTRIESADDED")
    b("XSETID", "s", "20-0", "0")
    b("XSETID", "s", "20-0", "BOGUS", "1")
    b("XINFO", "STREAM", "s")
    b("XSETID", "s", "20-0", "MAXDELETEDID", "0-0")
    b("XINFO", "STREAM", "s")
    b("XDEL", "s", "1-0", "2-0", "3-0", "10-5", "10-6")
    b("XSETID", "s", "5-0")
    b("XSETID", "s", "5-0", "ENTRIESADDED", "0")
    b("XINFO", "STREAM", "s")


def test_xinfo_stream_recorded_ids(b):
    fill(b, n=5)
    b("XINFO", "STREAM", "s", "FULL")
    b("XDEL", "s", "2-0")
    b("XINFO", "STREAM", "s", "FULL")
    b("XDEL", "s", "1-0")
    b("XINFO", "STREAM", "s", "FULL")
    b("XTRIM", "s", "MAXLEN", "=", "2")
    b("XINFO", "STREAM", "s", "FULL")
    b("XINFO", "STREAM", "s", "FULL", "COUNT", "1")
    b("XINFO", "STREAM", "s", "FULL", "COUNT", "0")
    b("XINFO", "STREAM", "s", "FULL", "COUNT", "-3")
    b("XINFO", "STREAM", "s", "FULL", "COUNT", "x")
    b("XINFO", "STREAM", "s", "FULL", "COUNT")
    b("XINFO", "STREAM", "s", "FULL", "LIMIT", "1")
    b("XINFO", "STREAM", "s", "PARTIAL")
    b("XINFO", "STREAM", "nokey")
    b("XINFO", "STREAM", "nokey", "BAD")
    b("XINFO", "STREAM")
    b("XINFO", "HELP")
    b("XINFO", "HELP", "x")
    b("XINFO", "BOGUS", "s")
    b("XINFO", "GROUPS", "s")
    b("XADD", "e", "MAXLEN", "0", "1-1", "a", "b")
    b("XINFO", "STREAM", "e")
    b("XINFO", "STREAM", "e", "FULL")


def test_rax_nodes_many(b):
    both_cfg(b, "stream-node-max-entries", 2)
    for i in range(1, 300):
        b("XADD", "s", "%d-%d" % (i * 7919 % 100003 + i * 100003, i % 5), "f", "v")
    b("XINFO", "STREAM", "s")
    for i in range(1, 300, 3):
        b("XDEL", "s", "%d-%d" % (i * 7919 % 100003 + i * 100003, i % 5))
    b("XINFO", "STREAM", "s")


# -- XREAD (non blocking) -----------------------------------------------------------------
def test_xread_forms(b):
    fill(b, "s1", n=5)
    fill(b, "s2", n=3, start=10)
    b("XREAD", "STREAMS", "s1", "0")
    b("XREAD", "COUNT", "2", "STREAMS", "s1", "s2", "0", "0")
    b("XREAD", "COUNT", "2", "STREAMS", "nokey", "s2", "0", "10-0")
    b("XREAD", "STREAMS", "s1", "s2", "$", "$")
    b("XREAD", "STREAMS", "s1", "s2", "5", "12")
    b("XREAD", "STREAMS", "nokey", "0")
    b("XREAD", "COUNT", "0", "STREAMS", "s1", "3")
    b("XREAD", "COUNT", "-1", "STREAMS", "s1", "3")
    b("XREAD", "count", "1", "count", "2", "streams", "s1", "0")
    b("XREAD", "STREAMS", "s1", "s1", "0", "3")
    b("XREAD", "STREAMS", "s1", "-")
    b("XREAD", "STREAMS", "s1", "+")
    b("XREAD", "STREAMS", "s1", ">")
    b("XREAD", "STREAMS", "s1", "x")
    b("XREAD", "STREAMS", "s1")
    b("XREAD", "STREAMS", "s1", "s2", "0")
    b("XREAD", "COUNT", "x", "STREAMS", "s1", "0")
    b("XREAD", "BLOCK", "x", "STREAMS", "s1", "0")
    b("XREAD", "BLOCK", "-1", "STREAMS", "s1", "0")
    b("XREAD", "BLOCK", "1.5", "STREAMS", "s1", "0")
    b("XREAD", "BLOCK", "100", "STREAMS", "s1", "0")
    b("XREAD", "GROUP", "g", "c", "STREAMS", "s1", "0")
    b("XREAD", "GROUP", "g", "STREAMS", "s1", "0")
    b("XREAD", "NOACK", "STREAMS", "s1", "0")
    b("XREAD", "COUNT", "1", "s1", "0")
    b("XREAD", "STREAMS", "s1", "18446744073709551615-18446744073709551615")
    b("XREAD", "STREAMS", "s1", "18446744073709551615")
    b("XREAD", "BOGUS", "STREAMS", "s1", "0")
    b("XREAD", "COUNT", "1", "BLOCK")


def test_xread_tombstone_top(b):
    b("XADD", "s", "666", "f", "v")
    b("XADD", "s", "667", "f2", "v2")
    b("XDEL", "s", "667")
    b("XREAD", "STREAMS", "s", "666")
    b("XREAD", "STREAMS", "s", "665")


def test_xread_in_multi_block(b):
    b("MULTI")
    b("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    b("XREAD", "BLOCK", "10", "STREAMS", "s", "0")
    b("EXEC")


# -- blocking XREAD -----------------------------------------------------------------------
@pytest.fixture
def pair(server, real):
    """Factory of connection pairs (redislet, redis) for multi-client differential tests."""
    made = []

    class Pair:
        def __init__(self):
            self.a = Raw(server.port)
            self.b = Raw(real.port)
            made.append(self)

        def send(self, *args):
            from conftest import encode_command
            data = encode_command(args)
            self.a.send(data)
            self.b.send(data)

        def read(self):
            ra, rb = self.a.read_reply(), self.b.read_reply()
            assert ra == rb, "redislet %r != redis %r" % (ra, rb)
            return ra

        def __call__(self, *args):
            ra, rb = self.a.cmd(*args), self.b.cmd(*args)
            assert ra == rb, "%r: redislet %r != redis %r" % (args, ra, rb)
            return ra

    yield Pair
    for p in made:
        p.a.close()
        p.b.close()


def wait_blocked(p, n):
    for _ in range(200):
        ra = p.a.cmd("INFO", "clients")
        rb = p.b.cmd("INFO", "clients")
        if b"blocked_clients:%d\r" % n in ra and b"blocked_clients:%d\r" % n in rb:
            return
        time.sleep(0.01)
    raise AssertionError("clients did not block")


@pytest.mark.parametrize("proto", [2, 3])
def test_blocking_xread_served_by_xadd(pair, proto):
    w, rd = pair(), pair()
    w("FLUSHALL")
    if proto == 3:
        rd.a.cmd("HELLO", "3")
        rd.b.cmd("HELLO", "3")
    w("XADD", "s2", "1-0", "old", "x")
    rd.send("XREAD", "BLOCK", "0", "STREAMS", "s1", "s2", "$", "$")
    wait_blocked(w, 1)
    w("XADD", "s2", "2-0", "new", "y")
    rd.read()
    rd.send("XREAD", "BLOCK", "0", "STREAMS", "s1", "s2", "$", "$")
    wait_blocked(w, 1)
    w("XADD", "s1", "5-0", "a", "b")
    rd.read()
    rd.send("XREAD", "BLOCK", "10", "STREAMS", "s1", "$")
    rd.read()                                     # timeout: null array
    rd.send("XREAD", "BLOCK", "0", "COUNT", "2", "STREAMS", "s1", "0")
    rd.read()                                     # served at once


def test_blocking_xread_fairness_and_multi(pair):
    w, r1, r2, r3 = pair(), pair(), pair(), pair()
    w("FLUSHALL")
    r1.send("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    r2.send("XREAD", "BLOCK", "0", "STREAMS", "s", "s", "s", "$", "$", "$")
    r3.send("XREAD", "BLOCK", "0", "STREAMS", "s", "0-5")
    wait_blocked(w, 3)
    w("MULTI")
    w("XADD", "s", "1-0", "f", "one")
    w("XADD", "s", "2-0", "f", "two")
    w("EXEC")
    r1.read()
    r2.read()
    r3.read()


def test_blocking_xread_not_woken_by_delete_or_other_type(pair):
    w, rd = pair(), pair()
    w("FLUSHALL")
    rd.send("XREAD", "BLOCK", "0", "STREAMS", "s1", "$")
    wait_blocked(w, 1)
    w("MULTI")
    w("XADD", "s1", "1-0", "old", "x")
    w("DEL", "s1")
    w("SET", "s1", "str")
    w("EXEC")
    w("DEL", "s1")
    w("XADD", "s1", "2-0", "new", "y")
    rd.read()


def test_blocking_xread_ran_dry(pair):
    w, rd = pair(), pair()
    w("FLUSHALL")
    w("XADD", "s", "666", "key", "value")
    w("XDEL", "s", "666")
    rd.send("XREAD", "BLOCK", "10", "STREAMS", "s", "665")
    rd.read()
    rd.send("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    wait_blocked(w, 1)
    w("XADD", "s", "667", "key", "value")
    rd.read()


def test_blocking_xread_edge_id(pair):
    w, rd = pair(), pair()
    w("FLUSHALL")
    w("XADD", "s", "1-1", "a", "b")
    rd.send("XREAD", "BLOCK", "0", "STREAMS", "s", "1-18446744073709551615")
    wait_blocked(w, 1)
    w("XADD", "s", "1-18446744073709551615", "c", "d")
    w("XADD", "s", "2-1", "e", "f")
    rd.read()


# -- propagation ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def emb():
    s = redislet.Server()
    s.start()
    log = []
    s.server.propagate_targets.append(lambda dbid, argv: log.append([bytes(a) for a in argv]))
    s.log = log
    yield s
    s.stop()


@pytest.fixture
def prop(emb):
    c = redis.Redis(port=emb.port)
    c.flushall()
    c.config_set("stream-node-max-entries", 100)
    del emb.log[:]
    yield c, emb.log
    c.close()


def test_xadd_propagates_concrete_id(prop):
    c, log = prop
    rid = c.execute_command("XADD", "s", "*", "a", "1")
    c.execute_command("XADD", "t", "5-1", "a", "2")
    c.execute_command("XADD", "t", "7-*", "a", "3")
    c.execute_command("XADD", "s", "MAXLEN", "10", "*", "a", "4")
    assert log[0] == [b"XADD", b"s", rid, b"a", b"1"]
    assert log[1] == [b"XADD", b"t", b"5-1", b"a", b"2"]
    assert log[2] == [b"XADD", b"t", b"7-0", b"a", b"3"]
    assert log[3][:4] == [b"XADD", b"s", b"MAXLEN", b"10"] and log[3][4] != b"*"
    del log[:]
    with pytest.raises(redis.ResponseError):
        c.execute_command("XADD", "s", "1-1", "a", "b")   # error: nothing propagated
    c.execute_command("XADD", "nokey", "NOMKSTREAM", "*", "a", "b")
    assert log == []


def test_approx_trim_propagates_exact(prop):
    c, log = prop
    c.config_set("stream-node-max-entries", 10)
    for i in range(1, 101):
        c.execute_command("XADD", "s", "%d-0" % i, "f", "v")
    del log[:]
    c.execute_command("XADD", "s", "MAXLEN", "~", "55", "LIMIT", "30", "101-0", "f", "v")
    assert c.xlen("s") == 71
    assert log == [[b"XADD", b"s", b"MAXLEN", b"=", b"71", b"LIMIT", b"30", b"101-0",
                    b"f", b"v"]]
    del log[:]
    c.execute_command("XTRIM", "s", "MINID", "~", "45")
    assert log == [[b"XTRIM", b"s", b"MINID", b"=", b"41-0"]]
    del log[:]
    c.execute_command("XTRIM", "s", "MAXLEN", "~", "60")     # nothing trimmed
    c.execute_command("XTRIM", "s", "MAXLEN", "=", "1000")
    assert log == []
    c.execute_command("XTRIM", "s", "MAXLEN", "40")
    assert log == [[b"XTRIM", b"s", b"MAXLEN", b"40"]]
    del log[:]
    c.execute_command("XADD", "t", "MAXLEN", "~", "0", "*", "f", "v")
    assert log[0][2:5] == [b"MAXLEN", b"=", b"0"]
    c.execute_command("XADD", "u", "MINID", "~", "0", "3-0", "f", "v")
    assert log[1] == [b"XADD", b"u", b"MINID", b"=", b"3-0", b"3-0", b"f", b"v"]


def test_xdel_xsetid_propagate(prop):
    c, log = prop
    c.execute_command("XADD", "s", "1-0", "f", "v")
    del log[:]
    assert c.execute_command("XDEL", "s", "1-0", "2-0") == 1
    assert c.execute_command("XDEL", "s", "1-0") == 0
    c.execute_command("XSETID", "s", "5-0")
    assert log == [[b"XDEL", b"s", b"1-0", b"2-0"], [b"XSETID", b"s", b"5-0"]]


def test_keyspace_notifications(emb):
    c = redis.Redis(port=emb.port)
    c.flushall()
    c.config_set("notify-keyspace-events", "KEA")
    p = c.pubsub()
    p.psubscribe("__keyevent@0__:*")
    p.get_message(timeout=1)
    c.execute_command("XADD", "s", "1-0", "f", "v")
    c.execute_command("XADD", "s", "MAXLEN", "1", "2-0", "f", "v")
    c.execute_command("XDEL", "s", "2-0")
    c.execute_command("XADD", "s", "3-0", "f", "v")
    c.execute_command("XTRIM", "s", "MAXLEN", "0")
    c.execute_command("XSETID", "s", "9-0")
    c.execute_command("XGROUP", "CREATE", "s", "g", "$")
    c.execute_command("XGROUP", "SETID", "s", "g", "0")
    c.execute_command("XGROUP", "CREATECONSUMER", "s", "g", "c")
    c.execute_command("XGROUP", "DELCONSUMER", "s", "g", "c")
    c.execute_command("XGROUP", "DESTROY", "s", "g")
    events = []
    for _ in range(40):
        m = p.get_message(timeout=0.2)
        if m is None:
            break
        if m["type"] == "pmessage":
            events.append(m["channel"].split(b":", 1)[1])
    c.config_set("notify-keyspace-events", "")
    p.close()
    c.close()
    assert [e for e in events if e.startswith(b"x")] == [
        b"xadd", b"xadd", b"xtrim", b"xdel", b"xadd", b"xtrim", b"xsetid", b"xgroup-create",
        b"xgroup-setid", b"xgroup-createconsumer", b"xgroup-delconsumer", b"xgroup-destroy"]


def test_type_and_object_encoding(b):
    b("XADD", "s", "1-0", "f", "v")
    b("TYPE", "s")
    b("OBJECT", "ENCODING", "s")
