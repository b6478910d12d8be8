"""Stream consumer groups: XGROUP, XREADGROUP (blocking too), XACK, XPENDING, XCLAIM,
XAUTOCLAIM, XINFO GROUPS / CONSUMERS / STREAM FULL. Differential against real Redis; replies
holding clock readings (idle times, delivery and seen times) are compared with those fields
masked. Propagation is observed on an embedded server."""
import time

import pytest
import redis

import redislet
from conftest import Raw, encode_command


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def b(request, both):
    if request.param == 3:
        both.resp3()
    yield both
    for conn in (both.a, both.b):
        conn.cmd("CONFIG", "SET", "stream-node-max-entries", "100")


# -- a small RESP reader to compare replies with clock fields masked ----------------------
def parse(buf, pos=0):
    nl = buf.index(b"\r\n", pos)
    t, line, after = buf[pos:pos + 1], buf[pos + 1:nl], nl + 2
    if t in (b"+", b"-", b"(", b","):
        return (t, line), after
    if t == b":":
        return int(line), after
    if t == b"_":
        return None, after
    if t == b"#":
        return line == b"t", after
    if t in (b"$", b"="):
        n = int(line)
        if n < 0:
            return None, after
        return buf[after:after + n], after + n + 2
    n = int(line)
    if n < 0:
        return None, after
    if t == b"%":
        n *= 2
    out = []
    p = after
    for _ in range(n):
        v, p = parse(buf, p)
        out.append(v)
    return (t, out), p


def masked(reply, keys=(b"idle", b"seen-time")):
    """Parse and replace the values of clock-dependent map fields / PEL times by 'T'."""
    v, _ = parse(reply)
    return _mask(v, keys)


def _mask(v, keys):
    if isinstance(v, tuple) and isinstance(v[1], list):
        items = [_mask(x, keys) for x in v[1]]
        for i in range(0, len(items) - 1):
            if isinstance(items[i], bytes) and items[i] in keys:
                items[i + 1] = "T"
        return (v[0], items)
    return v


def bm(b, *args, keys=(b"idle", b"seen-time")):
    """Differential call comparing masked replies."""
    ra, rb = b.a.cmd(*args), b.b.cmd(*args)
    assert masked(ra, keys) == masked(rb, keys), "%r: %r != %r" % (args, ra, rb)
    return ra


def b_pending_ext(b, *args):
    """XPENDING extended form: element [2] (idle ms) of each entry masked."""
    ra, rb = b.a.cmd(*args), b.b.cmd(*args)
    va, vb = parse(ra)[0], parse(rb)[0]

    def m(v):
        if isinstance(v, tuple) and isinstance(v[1], list):
            return [x[1][:2] + ["T"] + x[1][3:] if isinstance(x, tuple) else x for x in v[1]]
        return v
    assert m(va) == m(vb), "%r: %r != %r" % (args, ra, rb)
    return ra


def _strip(v):
    """Mask the PEL delivery times ([id, consumer, time, count] / [id, time, count])."""
    if isinstance(v, tuple) and isinstance(v[1], list):
        items = [_strip(x) for x in v[1]]
        if v[0] == b"*" and len(items) in (3, 4) and isinstance(items[0], bytes) \
                and b"-" in items[0] and all(isinstance(x, (int, bytes)) for x in items):
            items[-2] = "T"
        return (v[0], items)
    return v


def b_full(b, key, *args):
    """XINFO STREAM key FULL ... compared with clock readings masked."""
    ra = b.a.cmd("XINFO", "STREAM", key, *args)
    rb = b.b.cmd("XINFO", "STREAM", key, *args)
    assert _strip(masked(ra)) == _strip(masked(rb)), "%r != %r" % (ra, rb)


def fill(b, key="s", n=5, start=1):
    for i in range(start, start + n):
        b("XADD", key, "%d-0" % i, "f", "v%d" % i)


# -- XGROUP -------------------------------------------------------------------------------
def test_xgroup_create_and_errors(b):
    b("XGROUP", "CREATE", "s", "g", "$")
    b("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    b("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")          # BUSYGROUP
    b("XGROUP", "CREATE", "s", "g2", "0", "ENTRIESREAD", "-2")
    b("XGROUP", "CREATE", "s", "g2", "0", "ENTRIESREAD", "x")
    b("XGROUP", "CREATE", "s", "g2", "0", "ENTRIESREAD")
    b("XGROUP", "CREATE", "s", "g2", "0", "BOGUS")
    b("XGROUP", "CREATE", "s", "g2", "x")
    b("XGROUP", "CREATE", "s", "g2", "-")
    b("XGROUP", "CREATE", "s", "g2", "+")
    b("XGROUP", "CREATE", "s", "g2", "5", "ENTRIESREAD", "3")
    b("XGROUP", "CREATE", "s", "g3", "5", "MKSTREAM", "ENTRIESREAD", "3", "MKSTREAM")
    b("XGROUP", "CREATE", "s", "g4", "5", "MKSTREAM", "MKSTREAM", "MKSTREAM")
    b("XGROUP", "CREATE", "s", "g5", "5", "ENTRIESREAD", "-1", "MKSTREAM")
    b("XGROUP", "CREATE", "new", "g", "0")
    b("XGROUP", "CREATE", "new", "g", "x", "MKSTREAM")
    b("EXISTS", "new")
    b("XGROUP", "CREATE", "new", "g", "7-7", "MKSTREAM")
    b("XGROUP", "CREATE", "s")
    b("XGROUP", "create", "s", "g")
    b("SET", "str", "v")
    b("XGROUP", "CREATE", "str", "g", "$")
    b("XGROUP", "CREATE", "str", "g", "$", "MKSTREAM")
    b("XINFO", "GROUPS", "s")
    b("XINFO", "GROUPS", "new")
    b("XINFO", "GROUPS", "nokey")
    b("XINFO", "GROUPS", "str")


def test_xgroup_other_subcommands(b):
    fill(b)
    b("XGROUP", "CREATE", "s", "g", "0")
    b("XGROUP", "SETID", "s", "g", "3")
    b("XGROUP", "SETID", "s", "g", "$", "ENTRIESREAD", "5")
    b("XGROUP", "SETID", "s", "g", "-")
    b("XGROUP", "SETID", "s", "g", "+")
    b("XGROUP", "SETID", "s", "g", "x")
    b("XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD")
    b("XGROUP", "SETID", "s", "g", "0", "MKSTREAM")
    b("XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD", "-7")
    b("XGROUP", "SETID", "s", "nog", "0")
    b("XGROUP", "SETID", "nokey", "g", "0")
    b("XINFO", "GROUPS", "s")
    b("XGROUP", "CREATECONSUMER", "s", "g", "alice")
    b("XGROUP", "CREATECONSUMER", "s", "g", "alice")
    b("XGROUP", "CREATECONSUMER", "s", "nog", "alice")
    b("XGROUP", "CREATECONSUMER", "nokey", "g", "alice")
    b("XGROUP", "CREATECONSUMER", "s", "g")
    b("XGROUP", "DELCONSUMER", "s", "g", "bob")
    b("XGROUP", "DELCONSUMER", "s", "nog", "bob")
    b("XGROUP", "SETID", "s", "g", "0")
    b("XREADGROUP", "GROUP", "g", "bob", "COUNT", "2", "STREAMS", "s", ">")
    b("XGROUP", "DELCONSUMER", "s", "g", "bob")
    b("XPENDING", "s", "g")
    b("XGROUP", "DESTROY", "s", "g")
    b("XGROUP", "DESTROY", "s", "g")
    b("XGROUP", "DESTROY", "nokey", "g")
    b("XGROUP", "DESTROY", "s")
    b("XGROUP", "HELP")
    b("XGROUP", "HELP", "x")
    b("XGROUP", "BOGUS", "s", "g")
    b("XGROUP")
    b("XINFO", "GROUPS", "s")


# -- XREADGROUP ---------------------------------------------------------------------------
def test_xreadgroup_basic_flow(b):
    fill(b, n=4)
    b("XGROUP", "CREATE", "s", "g", "0")
    b("XREADGROUP", "GROUP", "g", "alice", "COUNT", "1", "STREAMS", "s", ">")
    b("XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">")
    b("XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">")
    b("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0")
    b("XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", "0")
    b("XREADGROUP", "GROUP", "g", "bob", "COUNT", "2", "STREAMS", "s", "2-0")
    b("XREADGROUP", "GROUP", "g", "carol", "STREAMS", "s", "0")
    b("XREADGROUP", "GROUP", "g", "carol", "BLOCK", "100", "STREAMS", "s", "0")
    b("XPENDING", "s", "g")
    b("XDEL", "s", "3-0")
    b("XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", "0")
    b("XACK", "s", "g", "2-0", "3-0", "4-0")
    b("XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", "0")
    b("XPENDING", "s", "g")
    b("XINFO", "GROUPS", "s")
    bm(b, "XINFO", "CONSUMERS", "s", "g")


def test_xreadgroup_errors(b):
    fill(b, n=2)
    b("XGROUP", "CREATE", "s", "g", "0")
    b("XREADGROUP", "STREAMS", "s", ">")
    b("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "$")
    b("XREADGROUP", "GROUP", "nog", "c", "STREAMS", "s", ">")
    b("XREADGROUP", "GROUP", "g", "c", "STREAMS", "nokey", ">")
    b("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "nokey", ">", ">")
    b("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "x")
    b("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "-")
    b("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s")
    b("XREADGROUP", "GROUP", "g", "c", "COUNT", "x", "STREAMS", "s", ">")
    b("XREADGROUP", "GROUP", "g", "c", "BLOCK", "-1", "STREAMS", "s", ">")
    b("XREADGROUP", "GROUP", "g", "STREAMS", "s", ">")
    b("XREADGROUP", "GROUP", "g", "c", "NOACK", "BOGUS", "STREAMS", "s", ">")
    b("SET", "str", "v")
    b("XREADGROUP", "GROUP", "g", "c", "STREAMS", "str", ">")
    b("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "str", ">", ">")
    b("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">", "x")
    b("XINFO", "GROUPS", "s")


def test_xreadgroup_noack_and_multi_streams(b):
    fill(b, "a", n=3)
    fill(b, "b2", n=3, start=10)
    b("XGROUP", "CREATE", "a", "g", "0")
    b("XGROUP", "CREATE", "b2", "g", "$")
    b("XREADGROUP", "GROUP", "g", "c", "NOACK", "COUNT", "2", "STREAMS", "a", "b2", ">", ">")
    b("XADD", "b2", "20-0", "x", "y")
    b("XREADGROUP", "GROUP", "g", "c", "STREAMS", "a", "b2", ">", ">")
    b("XREADGROUP", "GROUP", "g", "c", "STREAMS", "a", "b2", "0", ">")
    b("XREADGROUP", "GROUP", "g", "c", "STREAMS", "a", "b2", ">", ">")
    b("XPENDING", "a", "g")
    b("XPENDING", "b2", "g")
    b("XINFO", "GROUPS", "a")
    b("XINFO", "GROUPS", "b2")


def test_pel_reassignment_after_setid(b):
    fill(b, n=3)
    b("XGROUP", "CREATE", "s", "g", "0")
    b("XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", ">")
    b("XGROUP", "SETID", "s", "g", "0")
    b("XREADGROUP", "GROUP", "g", "c2", "COUNT", "2", "STREAMS", "s", ">")
    b("XPENDING", "s", "g")
    b_pending_ext(b, "XPENDING", "s", "g", "-", "+", "10")
    b("XREADGROUP", "GROUP", "g", "c1", "STREAMS", "s", "0")


# -- lag and read counters ----------------------------------------------------------------
def test_lag_and_entries_read(b):
    b("XGROUP", "CREATE", "x", "g1", "0", "MKSTREAM")
    b("XINFO", "GROUPS", "x")
    b("XADD", "x", "1-0", "data", "a")
    b("XDEL", "x", "1-0")
    b("XINFO", "GROUPS", "x")
    b("DEL", "x")
    for i in range(1, 6):
        b("XADD", "x", "%d-0" % i, "data", str(i))
    b("XGROUP", "CREATE", "x", "g1", "0")
    b("XGROUP", "CREATE", "x", "g2", "0")
    b("XGROUP", "CREATE", "x", "g3", "$")
    b("XGROUP", "CREATE", "x", "g4", "3-0")
    b("XGROUP", "CREATE", "x", "g5", "1-0", "ENTRIESREAD", "1")
    b("XINFO", "GROUPS", "x")
    b("XREADGROUP", "GROUP", "g1", "c", "COUNT", "1", "STREAMS", "x", ">")
    b("XINFO", "GROUPS", "x")
    b("XREADGROUP", "GROUP", "g1", "c", "COUNT", "10", "STREAMS", "x", ">")
    b("XINFO", "GROUPS", "x")
    b("XADD", "x", "6-0", "data", "f")
    b("XINFO", "GROUPS", "x")
    b("XDEL", "x", "3-0")
    b("XINFO", "GROUPS", "x")
    b("XREADGROUP", "GROUP", "g2", "c", "COUNT", "1", "STREAMS", "x", ">")
    b("XINFO", "GROUPS", "x")
    b("XREADGROUP", "GROUP", "g2", "c", "COUNT", "1", "STREAMS", "x", ">")
    b("XINFO", "GROUPS", "x")
    b("XREADGROUP", "GROUP", "g2", "c", "COUNT", "10", "STREAMS", "x", ">")
    b("XINFO", "GROUPS", "x")
    b("XTRIM", "x", "MINID", "=", "3-0")
    b("XINFO", "GROUPS", "x")
    b("XTRIM", "x", "MINID", "=", "5-0")
    b("XINFO", "GROUPS", "x")
    b("XSETID", "x", "10-0", "ENTRIESADDED", "20", "MAXDELETEDID", "9-0")
    b("XINFO", "GROUPS", "x")
    b("XGROUP", "SETID", "x", "g3", "10-0")
    b("XINFO", "GROUPS", "x")
    b_full(b, "x", "FULL")


# -- XACK / XPENDING ----------------------------------------------------------------------
def test_xack(b):
    fill(b, n=5)
    b("XGROUP", "CREATE", "s", "g", "0")
    b("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
    b("XACK", "s", "g", "1-0")
    b("XACK", "s", "g", "1-0")
    b("XACK", "s", "g", "2-0", "3", "9-9")
    b("XACK", "s", "g", "4-0", "x")
    b("XACK", "s", "g", "-")
    b("XACK", "s", "nog", "x")
    b("XACK", "nokey", "g", "x")
    b("SET", "str", "v")
    b("XACK", "str", "g", "1-0")
    b("XPENDING", "s", "g")


def test_xpending_forms(b):
    fill(b, n=6)
    b("XGROUP", "CREATE", "s", "g", "0")
    b("XPENDING", "s", "g")
    b("XREADGROUP", "GROUP", "g", "zed", "COUNT", "2", "STREAMS", "s", ">")
    b("XREADGROUP", "GROUP", "g", "amy", "COUNT", "3", "STREAMS", "s", ">")
    b("XGROUP", "CREATECONSUMER", "s", "g", "idle")
    b("XPENDING", "s", "g")
    for args in (["-", "+", "10"], ["-", "+", "2"], ["(1-0", "+", "10"],
                 ["-", "(5-0", "10"], ["(1", "(3", "10"], ["2", "4", "10", "amy"],
                 ["-", "+", "10", "nobody"], ["-", "+", "0"], ["-", "+", "-1"],
                 ["+", "-", "10"], ["-", "+", "10", "zed", "extra", "more"],
                 ["IDLE", "0", "-", "+", "10"], ["IDLE", "0", "-", "+", "10", "amy"],
                 ["IDLE", "100000", "-", "+", "10"]):
        b_pending_ext(b, "XPENDING", "s", "g", *args)
    for args in (["-", "+"], ["-"], ["-", "+", "x"], ["x", "+", "10"], ["-", "y", "10"],
                 ["(-", "+", "10"], ["(18446744073709551615-18446744073709551615", "+", "1"],
                 ["-", "(0-0", "1"], ["IDLE", "x", "-", "+", "10"], ["IDLE", "5", "-", "+"],
                 ["IDLE", "5", "-"], ["-", "+", "1", "c", "d", "e", "f"]):
        b("XPENDING", "s", "g", *args)
    b("XPENDING", "s", "nog")
    b("XPENDING", "nokey", "g")
    b("XPENDING", "nokey", "g", "x", "+", "10")
    b("SET", "str", "v")
    b("XPENDING", "str", "g")


# -- XCLAIM -------------------------------------------------------------------------------
def test_xclaim_forms(b):
    fill(b, n=6)
    b("XGROUP", "CREATE", "s", "g", "0")
    b("XREADGROUP", "GROUP", "g", "alice", "COUNT", "4", "STREAMS", "s", ">")
    b("XCLAIM", "s", "g", "bob", "0", "1-0")
    b("XCLAIM", "s", "g", "bob", "0", "1-0", "2-0", "JUSTID")
    b("XCLAIM", "s", "g", "bob", "10000000", "3-0")
    b("XCLAIM", "s", "g", "bob", "-5", "3-0", "RETRYCOUNT", "9")
    b("XCLAIM", "s", "g", "bob", "0", "5-0")                     # not pending
    b("XCLAIM", "s", "g", "bob", "0", "5-0", "6-0", "FORCE", "JUSTID")
    b("XCLAIM", "s", "g", "bob", "0", "7-0", "FORCE")            # no such entry
    b("XCLAIM", "s", "g", "carl", "0", "5-0", "IDLE", "10000000000000")
    b("XCLAIM", "s", "g", "carl", "0", "5-0", "TIME", "-1", "JUSTID")
    b("XCLAIM", "s", "g", "carl", "0", "5-0", "LASTID", "100-0", "JUSTID")
    b("XINFO", "GROUPS", "s")
    b("XPENDING", "s", "g")
    for args in (["x", "1-0"], ["0", "1-0", "IDLE", "x"], ["0", "1-0", "TIME", "x"],
                 ["0", "1-0", "RETRYCOUNT", "x"], ["0", "1-0", "LASTID", "x"],
                 ["0", "1-0", "BOGUS"], ["0", "1-0", "IDLE"], ["0", "1-0", "x", "2-0"],
                 ["0", "FORCE"], ["0", "JUSTID", "1-0"]):
        b("XCLAIM", "s", "g", "bob", *args)
    b("XCLAIM", "s", "nog", "bob", "x", "1-0")
    b("XCLAIM", "nokey", "g", "bob", "0", "1-0")
    b("SET", "str", "v")
    b("XCLAIM", "str", "g", "bob", "0", "1-0")
    b("XPENDING", "s", "g")


def test_xclaim_deleted_and_trimmed(b):
    fill(b, n=3)
    b("XGROUP", "CREATE", "s", "g", "0")
    b("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">")
    b("XDEL", "s", "2-0")
    b("XCLAIM", "s", "g", "bob", "0", "1-0", "2-0", "3-0")
    b("XPENDING", "s", "g")
    b("XTRIM", "s", "MAXLEN", "0")
    b("XCLAIM", "s", "g", "bob", "0", "1-0", "3-0")
    b("XPENDING", "s", "g")


# -- XAUTOCLAIM ---------------------------------------------------------------------------
def test_xautoclaim_forms(b):
    fill(b, n=8)
    b("XGROUP", "CREATE", "s", "g", "0")
    b("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">")
    b("XAUTOCLAIM", "s", "g", "bob", "0", "0-0", "COUNT", "2")
    b("XAUTOCLAIM", "s", "g", "bob", "0", "(2-0", "COUNT", "2", "JUSTID")
    b("XAUTOCLAIM", "s", "g", "bob", "100000000", "0", "COUNT", "2")
    b("XDEL", "s", "5-0", "6-0")
    b("XAUTOCLAIM", "s", "g", "carl", "0", "5-0", "COUNT", "1")
    b("XAUTOCLAIM", "s", "g", "carl", "0", "6-0", "COUNT", "1")
    b("XAUTOCLAIM", "s", "g", "carl", "0", "0")
    b("XAUTOCLAIM", "s", "g", "carl", "0", "9")
    b("XPENDING", "s", "g")
    for args in (["x", "0"], ["0", "x"], ["0", "(-"], ["0", "0", "COUNT", "0"],
                 ["0", "0", "COUNT", "-1"], ["0", "0", "COUNT", "x"],
                 ["0", "0", "COUNT", "8070450532247928833"], ["0", "0", "COUNT"],
                 ["0", "0", "BOGUS"], ["-1", "0", "JUSTID", "justid"],
                 ["0", "(18446744073709551615-18446744073709551615"]):
        b("XAUTOCLAIM", "s", "g", "dan", *args)
    b("XAUTOCLAIM", "s", "nog", "dan", "0", "0")
    b("XAUTOCLAIM", "nokey", "g", "dan", "0", "0")
    b("XAUTOCLAIM", "nokey", "g", "dan", "x", "0")
    b("XPENDING", "s", "g")


def test_xautoclaim_deleted_with_count(b):
    fill(b, n=3)
    b("XGROUP", "CREATE", "s", "g", "0")
    b("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">")
    b("XDEL", "s", "1-0")
    b("XDEL", "s", "2-0")
    b("XAUTOCLAIM", "s", "g", "bob", "0", "0-0", "COUNT", "1")
    b("XAUTOCLAIM", "s", "g", "bob", "0", "2-0", "COUNT", "1")
    b("XAUTOCLAIM", "s", "g", "bob", "0", "3-0", "COUNT", "1")
    b("XPENDING", "s", "g")


def test_xautoclaim_attempts_limit(b):
    fill(b, n=30)
    b("XGROUP", "CREATE", "s", "g", "0")
    b("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">")
    b("XCLAIM", "s", "g", "alice", "0", "25-0", "IDLE", "0")
    b("XAUTOCLAIM", "s", "g", "bob", "3600000", "0", "COUNT", "1")   # 10 attempts, none idle


def test_xinfo_full_and_consumers(b):
    for i, f in enumerate(["a", "b", "c", "e", "f"]):
        b("XADD", "x", str(100 + i), f, "1")
    b("XGROUP", "CREATE", "x", "g1", "0")
    b("XGROUP", "CREATE", "x", "g2", "0")
    b("XREADGROUP", "GROUP", "g1", "Alice", "COUNT", "1", "STREAMS", "x", ">")
    b("XREADGROUP", "GROUP", "g1", "Bob", "COUNT", "1", "STREAMS", "x", ">")
    b("XREADGROUP", "GROUP", "g1", "Bob", "NOACK", "COUNT", "1", "STREAMS", "x", ">")
    b("XREADGROUP", "GROUP", "g2", "Charlie", "COUNT", "4", "STREAMS", "x", ">")
    b("XDEL", "x", "103")
    for args in (["FULL"], ["FULL", "COUNT", "1"], ["FULL", "COUNT", "0"]):
        b_full(b, "x", *args)
    b("XINFO", "STREAM", "x")
    bm(b, "XINFO", "CONSUMERS", "x", "g1")
    b("XINFO", "CONSUMERS", "x", "nog")
    b("XINFO", "CONSUMERS", "nokey", "g1")
    b("XINFO", "CONSUMERS", "x")


# -- blocking XREADGROUP ------------------------------------------------------------------
@pytest.fixture
def pair(server, real):
    made = []

    class Pair:
        def __init__(self):
            self.a = Raw(server.port)
            self.b = Raw(real.port)
            made.append(self)

        def send(self, *args):
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


def test_blocking_xreadgroup_served(pair):
    w, r1, r2 = pair(), pair(), pair()
    w("FLUSHALL")
    w("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    r1.send("XREADGROUP", "GROUP", "g", "c1", "BLOCK", "0", "STREAMS", "s", ">")
    r2.send("XREADGROUP", "GROUP", "g", "c2", "BLOCK", "0", "COUNT", "1", "STREAMS", "s", ">")
    wait_blocked(w, 2)
    w("MULTI")
    w("XADD", "s", "1-0", "f", "v1")
    w("XADD", "s", "2-0", "f", "v2")
    w("EXEC")
    r1.read()
    w("XINFO", "GROUPS", "s")      # c2 still blocked: c1 consumed everything
    assert b"blocked_clients:1\r" in w.a.cmd("INFO", "clients")
    w("XADD", "s", "3-0", "f", "v3")
    r2.read()
    w("XPENDING", "s", "g")
    r1.a.cmd("HELLO", "3")
    r1.b.cmd("HELLO", "3")
    r1.send("XREADGROUP", "GROUP", "g", "c3", "BLOCK", "0", "NOACK", "STREAMS", "s", ">")
    wait_blocked(w, 1)
    w("XADD", "s", "4-0", "f", "v4")
    r1.read()
    w("XINFO", "GROUPS", "s")
    w("XPENDING", "s", "g")


@pytest.mark.parametrize("how", ["del", "set", "multi", "flushall", "destroy", "rename_nogroup",
                                 "rename_data", "unlink", "flushdb"])
def test_blocking_xreadgroup_unblocked(pair, how):
    w, rd = pair(), pair()
    w("FLUSHALL")
    w("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    rd.send("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(w, 1)
    if how == "del":
        w("DEL", "s")
    elif how == "unlink":
        w("UNLINK", "s")
    elif how == "set":
        w("SET", "s", "x")
    elif how == "multi":
        w("MULTI")
        w("DEL", "s")
        w("SADD", "s", "e")
        w("EXEC")
    elif how == "flushall":
        w("FLUSHALL")
    elif how == "flushdb":
        w("FLUSHDB")
    elif how == "destroy":
        w("XGROUP", "DESTROY", "s", "g")
    elif how == "rename_nogroup":
        w("XADD", "s2", "100", "f1", "v1")
        w("RENAME", "s2", "s")
    elif how == "rename_data":
        w("XGROUP", "CREATE", "s2", "g", "$", "MKSTREAM")
        w("XADD", "s2", "100", "f1", "v1")
        w("RENAME", "s2", "s")
    rd.read()


def test_blocking_xread_key_deleted_stays_blocked(pair):
    w, rd = pair(), pair()
    w("FLUSHALL")
    w("XADD", "s", "1-0", "f", "v")
    rd.send("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    wait_blocked(w, 1)
    w("DEL", "s")
    w("SET", "s", "x")
    w("DEL", "s")
    w("XADD", "s", "2-0", "f", "v")
    rd.read()


def test_blocking_xreadgroup_ignores_block_for_history(pair):
    w, rd = pair(), pair()
    w("FLUSHALL")
    w("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    w("XADD", "s", "1-0", "f", "v")
    rd("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", "0")
    rd("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    rd("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", "0")
    rd.send("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">")
    wait_blocked(w, 1)
    w("XADD", "s", "2-0", "f", "v")
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
    del emb.log[:]
    yield c, emb.log
    c.close()


def _claim_shape(argv):
    """XCLAIM key group consumer 0 id TIME <t> RETRYCOUNT n FORCE JUSTID LASTID id."""
    assert argv[0] == b"XCLAIM" and argv[4] == b"0" and argv[6] == b"TIME"
    assert argv[8:13] == [b"RETRYCOUNT", argv[9], b"FORCE", b"JUSTID", b"LASTID"]
    return argv[1], argv[2], argv[3], argv[5], argv[9], argv[13]


def test_xreadgroup_propagation(prop):
    c, log = prop
    for i in range(1, 4):
        c.execute_command("XADD", "s", "%d-0" % i, "f", "v")
    c.execute_command("XGROUP", "CREATE", "s", "g", "0")
    del log[:]
    c.execute_command("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">")
    assert log[0] == [b"MULTI"] and log[-1] == [b"EXEC"]
    assert [_claim_shape(a) for a in log[1:-1]] == [
        (b"s", b"g", b"alice", b"1-0", b"1", b"1-0"),
        (b"s", b"g", b"alice", b"2-0", b"1", b"2-0"),
        (b"s", b"g", b"alice", b"3-0", b"1", b"3-0")]
    del log[:]
    c.execute_command("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0")   # history
    c.execute_command("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">")   # nothing
    assert log == []
    c.execute_command("XADD", "s", "4-0", "f", "v")
    c.execute_command("XADD", "s", "5-0", "f", "v")
    del log[:]
    c.execute_command("XREADGROUP", "GROUP", "g", "bob", "NOACK", "STREAMS", "s", ">")
    assert log == [[b"MULTI"], [b"XGROUP", b"CREATECONSUMER", b"s", b"g", b"bob"],
                   [b"XGROUP", b"SETID", b"s", b"g", b"5-0", b"ENTRIESREAD", b"5"],
                   [b"EXEC"]]
    del log[:]
    c.execute_command("XREADGROUP", "GROUP", "g", "carl", "NOACK", "STREAMS", "s", "0")
    assert log == [[b"XGROUP", b"CREATECONSUMER", b"s", b"g", b"carl"]]


def test_xclaim_xautoclaim_propagation(prop):
    c, log = prop
    for i in range(1, 4):
        c.execute_command("XADD", "s", "%d-0" % i, "f", "v")
    c.execute_command("XGROUP", "CREATE", "s", "g", "0")
    c.execute_command("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">")
    c.execute_command("XDEL", "s", "2-0")
    del log[:]
    c.execute_command("XCLAIM", "s", "g", "bob", "0", "1", "2-0", "RETRYCOUNT", "7")
    assert log[0] == [b"MULTI"] and log[-1] == [b"EXEC"]
    assert [_claim_shape(a) for a in log[1:-1]] == [
        (b"s", b"g", b"bob", b"1", b"7", b"3-0"),
        (b"s", b"g", b"alice", b"2-0", b"1", b"3-0")]
    del log[:]
    c.execute_command("XCLAIM", "s", "g", "bob", "0", "9-0", "LASTID", "10-0")
    assert log == [[b"XGROUP", b"SETID", b"s", b"g", b"10-0", b"ENTRIESREAD", b"3"]]
    del log[:]
    c.execute_command("XCLAIM", "s", "g", "bob", "0", "9-0")
    assert log == []
    assert c.xautoclaim("s", "g", "carl", 0, "0", justid=True) == [b"1-0", b"3-0"]
    assert log[0] == [b"MULTI"] and log[-1] == [b"EXEC"]
    assert [_claim_shape(a) for a in log[1:-1]] == [
        (b"s", b"g", b"carl", b"1-0", b"7", b"10-0"),
        (b"s", b"g", b"carl", b"3-0", b"1", b"10-0")]


def test_blocked_xreadgroup_propagation(prop, emb):
    c, log = prop
    c.execute_command("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    rd = Raw(emb.port)
    rd.send(encode_command(["XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "NOACK",
                            "STREAMS", "s", ">"]))
    for _ in range(100):
        if emb.server.blocked_clients:
            break
        time.sleep(0.01)
    del log[:]
    c.execute_command("XADD", "s", "7-0", "f", "v")
    reply = rd.read_reply()
    assert reply.startswith(b"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n")
    assert log == [[b"XADD", b"s", b"7-0", b"f", b"v"], [b"MULTI"],
                   [b"XGROUP", b"CREATECONSUMER", b"s", b"g", b"c"],
                   [b"XGROUP", b"SETID", b"s", b"g", b"7-0", b"ENTRIESREAD", b"1"],
                   [b"EXEC"]]
    rd.close()


def test_rewrite_commands_roundtrip(prop, emb):
    """Stream.rewrite_commands (for AOF rewrite) rebuilds an equal stream."""
    c, log = prop
    for i in range(1, 6):
        c.execute_command("XADD", "s", "%d-0" % i, "f", str(i))
    c.execute_command("XDEL", "s", "5-0")
    c.execute_command("XGROUP", "CREATE", "s", "g", "0")
    c.execute_command("XREADGROUP", "GROUP", "g", "a", "COUNT", "2", "STREAMS", "s", ">")
    c.execute_command("XGROUP", "CREATECONSUMER", "s", "g", "empty")
    s = emb.server.dbs[0].data[b"s"]
    cmds = list(s.rewrite_commands(b"t"))
    for argv in cmds:
        c.execute_command(*argv)
    a = c.xinfo_stream("s")
    bb = c.xinfo_stream("t")
    for k in ("length", "last-generated-id", "max-deleted-entry-id", "entries-added",
              "recorded-first-entry-id", "first-entry", "last-entry"):
        assert a[k] == bb[k], k
    assert c.xinfo_groups("s") == c.xinfo_groups("t")
    assert c.xpending("s", "g") == c.xpending("t", "g")


def test_copy_keeps_everything(b):
    for i in range(1, 8):
        b("XADD", "s", "%d-0" % i, "f", str(i))
    b("XDEL", "s", "3-0")
    b("XGROUP", "CREATE", "s", "g", "0")
    b("XREADGROUP", "GROUP", "g", "a", "COUNT", "2", "STREAMS", "s", ">")
    b("XGROUP", "CREATECONSUMER", "s", "g", "empty")
    b("COPY", "s", "t")
    b_full(b, "t", "FULL")
    b("XINFO", "STREAM", "t")
    b("XADD", "t", "9-0", "x", "y")
    b("XACK", "t", "g", "1-0")
    b("XPENDING", "s", "g")
    b("XPENDING", "t", "g")
    b("XLEN", "s")


@pytest.mark.parametrize("other", [None, "list", "stream"])
def test_xreadgroup_blocked_across_swapdb(server, real, other):
    """SWAPDB takes the stream away from a client blocked in XREADGROUP: it is woken with
    the 'no longer exists' error (scanDatabaseForDeletedStreams); a stream swapped in
    serves it."""
    outs = []
    for port in (server.port, real.port):
        r = Raw(port)
        r.cmd("SELECT", "4")
        r.cmd("FLUSHDB")
        if other == "list":
            r.cmd("LPUSH", "mystream", "e1")
        elif other == "stream":
            r.cmd("XADD", "mystream", "1-1", "a", "b")
        r.cmd("SELECT", "9")
        r.cmd("DEL", "mystream")
        r.cmd("XADD", "mystream", "666", "f", "v")
        r.cmd("XGROUP", "CREATE", "mystream", "mygroup", "$")
        if other == "stream":
            r.cmd("SELECT", "4")
            r.cmd("XGROUP", "CREATE", "mystream", "mygroup", "0")
            r.cmd("SELECT", "9")
        rd = Raw(port)
        rd.cmd("SELECT", "9")
        rd.send(encode_command(["XREADGROUP", "GROUP", "mygroup", "Alice", "BLOCK", "0",
                                "STREAMS", "mystream", ">"]))
        time.sleep(0.1)
        out = [r.cmd("SWAPDB", "4", "9")]
        rd.sock.settimeout(5)
        out.append(rd.read_reply())
        outs.append(out)
        r.cmd("FLUSHALL")
        rd.close()
        r.close()
    assert outs[0] == outs[1]
