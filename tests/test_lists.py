"""List commands: differential tests against real Redis (RESP2 and RESP3) for every argument
form, error and edge case, plus keyspace notifications and propagation (embedded server)."""
import pytest

import redislet
from conftest import Raw


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def b(request, both):
    if request.param == 3:
        both.resp3()
    return both


def run(b, *cmds):
    for cmd in cmds:
        b(*cmd)


def seed(b, key="l", items=("a", "b", "c", "d", "e")):
    b("DEL", key)
    b("RPUSH", key, *items)


# -- push ------------------------------------------------------------------------------
def test_push_variants(b):
    run(b, ("LPUSH", "l", "a"), ("LPUSH", "l", "b", "c", "d"), ("RPUSH", "l", "x", "y"),
        ("LRANGE", "l", "0", "-1"), ("LLEN", "l"), ("TYPE", "l"),
        ("OBJECT", "ENCODING", "l"),
        ("LPUSHX", "nokey", "a"), ("RPUSHX", "nokey", "a", "b"), ("EXISTS", "nokey"),
        ("LPUSHX", "l", "p", "q"), ("RPUSHX", "l", "r"), ("LRANGE", "l", "0", "-1"),
        ("RPUSH", "e", ""), ("LRANGE", "e", "0", "-1"),
        ("RPUSH", "n", "1", "-1", "12345678901234567890", "1.5", "01"),
        ("LRANGE", "n", "0", "-1"))


def test_push_errors(b):
    b("SET", "s", "v")
    for cmd in ("LPUSH", "RPUSH", "LPUSHX", "RPUSHX"):
        b(cmd, "s", "a")
        b(cmd, "l")
        b(cmd)
    b("HSET", "h", "f", "v")
    b("LPUSH", "h", "x")
    b("LPUSHX", "h", "x")


# -- pop -------------------------------------------------------------------------------
@pytest.mark.parametrize("cmd", ["LPOP", "RPOP"])
def test_pop_forms(b, cmd):
    seed(b)
    run(b, (cmd, "l"), (cmd, "l", "0"), (cmd, "l", "1"), (cmd, "l", "2"), (cmd, "l", "10"),
        ("EXISTS", "l"), (cmd, "l"), (cmd, "l", "0"), (cmd, "l", "3"),
        (cmd, "l", "-1"), (cmd, "l", "abc"), (cmd, "l", "1", "2"), (cmd, "l", "01"),
        (cmd, "l", "9223372036854775807"), (cmd, "l", "9223372036854775808"))
    seed(b)
    run(b, (cmd, "l", "5"), ("EXISTS", "l"))
    seed(b)
    run(b, (cmd, "l", "-1"), (cmd, "l", "x"), ("SET", "s", "v"), (cmd, "s"),
        (cmd, "s", "0"), (cmd, "s", "2"), (cmd, "s", "-1"))


def test_lmpop(b):
    seed(b, "l1", ("a", "b", "c", "d", "e", "f"))
    seed(b, "l2", ("1", "2"))
    run(b, ("LMPOP", "1", "l1", "LEFT"), ("LMPOP", "1", "l1", "RIGHT", "COUNT", "2"),
        ("LMPOP", "2", "nokey", "l2", "left", "count", "10"), ("EXISTS", "l2"),
        ("LMPOP", "2", "l1", "l1", "right", "COUNT", "1"),
        ("LMPOP", "2", "nokey", "nokey2", "LEFT"),
        ("LMPOP", "1", "nokey", "LEFT", "COUNT", "5"),
        ("LRANGE", "l1", "0", "-1"))


@pytest.mark.parametrize("args", [
    [], ["1"], ["1", "l"], ["0", "l", "LEFT"], ["a", "l", "LEFT"], ["-1", "l", "RIGHT"],
    ["1", "l", "bad"], ["1", "l", "LEFT", "bar"], ["1", "l", "RIGHT", "LEFT"],
    ["1", "l", "COUNT"], ["1", "l", "LEFT", "COUNT", "1", "COUNT", "2"],
    ["2", "l", "l2", "bad"], ["1", "l", "LEFT", "COUNT", "0"], ["1", "l", "LEFT", "COUNT", "a"],
    ["1", "l", "LEFT", "COUNT", "-1"], ["2", "l", "LEFT"], ["3", "l", "x", "LEFT"],
    ["9223372036854775807", "l", "LEFT"], ["9223372036854775808", "l", "LEFT"],
    ["1", "l", "LEFT", "COUNT"], ["1", "l", "LEFT", "count", "9223372036854775807"],
])
def test_lmpop_errors(b, args):
    seed(b)
    b("LMPOP", *args)
    b("BLMPOP", "0.01", *args)


def test_lmpop_wrongtype(b):
    run(b, ("SET", "s", "v"), ("LMPOP", "2", "s", "nokey", "LEFT"),
        ("LMPOP", "2", "nokey", "s", "LEFT", "COUNT", "1"), ("RPUSH", "l", "a"),
        ("LMPOP", "2", "l", "s", "LEFT"), ("LMPOP", "2", "s", "l", "LEFT"))


# -- read ------------------------------------------------------------------------------
def test_llen_lindex(b):
    seed(b)
    run(b, ("LLEN", "l"), ("LLEN", "nokey"), ("SET", "s", "v"), ("LLEN", "s"))
    for i in ("0", "1", "4", "5", "-1", "-5", "-6", "100", "-100", "abc", "1.5", "",
              "9223372036854775807", "-9223372036854775808", "9223372036854775808"):
        b("LINDEX", "l", i)
        b("LINDEX", "nokey", i)
        b("LINDEX", "s", i)


@pytest.mark.parametrize("rng", [
    ("0", "-1"), ("0", "0"), ("1", "3"), ("-3", "-1"), ("-100", "100"), ("3", "1"),
    ("5", "10"), ("-1", "-2"), ("0", "-6"), ("0", "-5"), ("4", "4"), ("-9223372036854775808",
    "9223372036854775807"), ("a", "1"), ("0", "b"), ("1.0", "2"), ("2", "-3"), ("-2", "2"),
])
def test_lrange(b, rng):
    seed(b)
    b("LRANGE", "l", *rng)
    b("LRANGE", "nokey", *rng)
    b("SET", "s", "v")
    b("LRANGE", "s", *rng)


def test_lrange_large(b):
    b("RPUSH", "big", *[str(i) for i in range(1000)])
    for rng in (("0", "99"), ("900", "-1"), ("-100", "-50"), ("400", "600"), ("0", "-1"),
                ("998", "2000"), ("-1000", "3")):
        b("LRANGE", "big", *rng)


@pytest.mark.parametrize("opts", [
    [], ["RANK", "1"], ["RANK", "2"], ["RANK", "-1"], ["RANK", "-2"], ["RANK", "0"],
    ["RANK", "10"], ["RANK", "-10"], ["RANK", "a"], ["COUNT", "0"], ["COUNT", "1"],
    ["COUNT", "2"], ["COUNT", "-1"], ["COUNT", "x"], ["RANK", "2", "COUNT", "0"],
    ["RANK", "-2", "COUNT", "2"], ["MAXLEN", "1"], ["MAXLEN", "3"], ["MAXLEN", "0"],
    ["MAXLEN", "-1"], ["MAXLEN", "z"], ["RANK", "-1", "MAXLEN", "2"],
    ["RANK", "-2", "COUNT", "0", "MAXLEN", "4"], ["COUNT", "0", "MAXLEN", "5"],
    ["RANK"], ["COUNT"], ["BAD", "1"], ["rank", "1", "count", "1", "maxlen", "1"],
    ["RANK", "-9223372036854775808"], ["RANK", "-9223372036854775808", "COUNT", "1"],
    ["RANK", "9223372036854775807"], ["RANK", "-9223372036854775807", "COUNT", "0"],
    ["COUNT", "9223372036854775807"], ["MAXLEN", "9223372036854775807"],
    ["RANK", "0", "COUNT", "-1"], ["COUNT", "-1", "RANK", "0"], ["RANK", "1", "RANK", "2"],
])
def test_lpos(b, opts):
    seed(b, "l", ("a", "b", "c", "a", "b", "a", "x", "a"))
    for ele in ("a", "b", "x", "nope"):
        b("LPOS", "l", ele, *opts)
    b("LPOS", "nokey", "a", *opts)
    b("SET", "s", "v")
    b("LPOS", "s", "a", *opts)


# -- in-place writes -------------------------------------------------------------------
def test_lset(b):
    seed(b)
    for idx in ("0", "-1", "4", "5", "-5", "-6", "abc", "2"):
        b("LSET", "l", idx, "new" + idx)
    run(b, ("LRANGE", "l", "0", "-1"), ("LSET", "nokey", "0", "x"), ("LSET", "nokey", "a", "x"),
        ("SET", "s", "v"), ("LSET", "s", "0", "x"), ("LSET", "s", "abc", "x"),
        ("LSET", "l", "0"))


def test_linsert(b):
    seed(b)
    run(b, ("LINSERT", "l", "BEFORE", "a", "x"), ("LINSERT", "l", "after", "e", "y"),
        ("LINSERT", "l", "AFTER", "c", "z"), ("LINSERT", "l", "before", "nope", "z"),
        ("LINSERT", "l", "middle", "a", "z"), ("LINSERT", "nokey", "BEFORE", "a", "z"),
        ("LINSERT", "nokey", "bad", "a", "z"), ("LRANGE", "l", "0", "-1"),
        ("SET", "s", "v"), ("LINSERT", "s", "BEFORE", "a", "z"),
        ("LINSERT", "s", "bad", "a", "z"), ("RPUSH", "d", "a", "a"),
        ("LINSERT", "d", "AFTER", "a", "b"), ("LRANGE", "d", "0", "-1"))


@pytest.mark.parametrize("count", ["0", "1", "2", "3", "-1", "-2", "-3", "100", "-100",
                                   "abc", "9223372036854775807", "-9223372036854775808"])
def test_lrem(b, count):
    seed(b, "l", ("a", "b", "a", "c", "a", "d", "a", "a", "e", "a", "a", "a", "a", "a"))
    run(b, ("LREM", "l", count, "a"), ("LRANGE", "l", "0", "-1"),
        ("LREM", "l", count, "nope"), ("LREM", "nokey", count, "a"),
        ("SET", "s", "v"), ("LREM", "s", count, "a"))
    seed(b, "one", ("a", "a"))
    run(b, ("LREM", "one", count, "a"), ("EXISTS", "one"))


def test_lrem_many(b):
    items = [("x" if i % 3 == 0 else str(i)) for i in range(300)]
    for count in ("20", "-20", "50", "-50", "0"):
        seed(b, "l", items)
        b("LREM", "l", count, "x")
        b("LRANGE", "l", "0", "-1")


@pytest.mark.parametrize("rng", [
    ("0", "-1"), ("1", "-1"), ("0", "0"), ("0", "2"), ("1", "3"), ("-2", "-1"), ("3", "1"),
    ("5", "10"), ("-100", "100"), ("0", "-6"), ("-1", "-1"), ("a", "1"), ("1", "b"),
    ("2", "2"), ("-9223372036854775808", "9223372036854775807"),
])
def test_ltrim(b, rng):
    seed(b)
    run(b, ("LTRIM", "l", *rng), ("LRANGE", "l", "0", "-1"), ("EXISTS", "l"),
        ("LTRIM", "nokey", *rng), ("SET", "s", "v"), ("LTRIM", "s", *rng))


def test_ltrim_large(b):
    for rng in (("0", "9"), ("10", "-10"), ("-5", "-1"), ("300", "700")):
        b("DEL", "big")
        b("RPUSH", "big", *[str(i) for i in range(1000)])
        b("LTRIM", "big", *rng)
        b("LRANGE", "big", "0", "-1")


# -- move ------------------------------------------------------------------------------
@pytest.mark.parametrize("wf", ["LEFT", "RIGHT", "left", "right"])
@pytest.mark.parametrize("wt", ["LEFT", "RIGHT"])
def test_lmove(b, wf, wt):
    seed(b, "src", ("a", "b", "c"))
    seed(b, "dst", ("x",))
    run(b, ("LMOVE", "src", "dst", wf, wt), ("LRANGE", "src", "0", "-1"),
        ("LRANGE", "dst", "0", "-1"), ("LMOVE", "src", "new", wf, wt),
        ("LMOVE", "src", "src", wf, wt), ("LRANGE", "src", "0", "-1"),
        ("LMOVE", "src", "dst", wf, wt), ("EXISTS", "src"),
        ("LMOVE", "nokey", "dst", wf, wt), ("LRANGE", "dst", "0", "-1"),
        ("LRANGE", "new", "0", "-1"))


def test_lmove_errors(b):
    seed(b, "src", ("a", "b"))
    run(b, ("SET", "s", "v"), ("LMOVE", "src", "dst", "UP", "LEFT"),
        ("LMOVE", "src", "dst", "LEFT", "DOWN"), ("LMOVE", "s", "dst", "LEFT", "LEFT"),
        ("LMOVE", "src", "s", "LEFT", "LEFT"), ("LMOVE", "nokey", "s", "LEFT", "LEFT"),
        ("LMOVE", "s", "s", "LEFT", "LEFT"), ("LRANGE", "src", "0", "-1"),
        ("LMOVE", "src", "dst"), ("RPOPLPUSH", "src", "dst"), ("RPOPLPUSH", "s", "dst"),
        ("RPOPLPUSH", "src", "s"), ("RPOPLPUSH", "nokey", "dst"), ("RPOPLPUSH", "nokey", "s"),
        ("RPOPLPUSH", "src", "src"), ("LRANGE", "src", "0", "-1"), ("RPOPLPUSH", "src"),
        ("RPOPLPUSH", "src", "dst"), ("EXISTS", "src"), ("LRANGE", "dst", "0", "-1"))


# -- arity and type of every command -------------------------------------------------------
@pytest.mark.parametrize("cmd", [
    ["LLEN"], ["LINDEX", "l"], ["LRANGE", "l", "0"], ["LSET", "l", "0"], ["LINSERT", "l", "a"],
    ["LREM", "l", "0"], ["LTRIM", "l", "0"], ["LPOS", "l"], ["LMOVE", "a", "b", "LEFT"],
    ["RPOPLPUSH", "a"], ["LPOP"], ["RPOP"], ["BLPOP", "l"], ["BRPOP"],
    ["BLMOVE", "a", "b", "x", "y"],
    ["BRPOPLPUSH", "a", "b"], ["BLMPOP", "0", "1"], ["LMPOP", "1", "l"],
    ["LLEN", "a", "b"], ["LINDEX", "l", "0", "1"],
])
def test_arity(b, cmd):
    b(*cmd)


def test_type_and_encoding(b):
    seed(b)
    run(b, ("TYPE", "l"), ("OBJECT", "ENCODING", "l"), ("RPUSH", "big", "x" * 10000),
        ("OBJECT", "ENCODING", "big"))


# -- effects ---------------------------------------------------------------------------
def _events(conn, n):
    out = []
    for _ in range(n):
        out.append(conn.read_reply())
    return out


def test_keyspace_notifications(server, real):
    """The events of every list command, byte for byte (both servers)."""
    script = [
        ("RPUSH", "l", "a", "b", "c", "d", "e", "f"), ("LPUSH", "l", "z"), ("LPUSHX", "l", "y"),
        ("RPUSHX", "l", "w"), ("LPUSHX", "none", "v"), ("LPOP", "l"), ("RPOP", "l", "2"),
        ("LSET", "l", "0", "q"), ("LINSERT", "l", "BEFORE", "q", "p"),
        ("LINSERT", "l", "BEFORE", "nope", "p"), ("LREM", "l", "0", "p"),
        ("LREM", "l", "0", "nope"), ("LTRIM", "l", "0", "3"), ("LTRIM", "l", "0", "-1"),
        ("LMOVE", "l", "m", "LEFT", "RIGHT"), ("RPOPLPUSH", "l", "m"),
        ("LMPOP", "2", "none", "l", "LEFT", "COUNT", "1"), ("BLPOP", "l", "0"),
        ("BLMPOP", "0", "1", "m", "RIGHT", "COUNT", "1"),
        ("BLMOVE", "m", "m", "LEFT", "RIGHT", "0"), ("BRPOPLPUSH", "m", "n", "0"),
        ("LTRIM", "n", "5", "3"), ("RPUSH", "r", "a"), ("LREM", "r", "1", "a"),
        ("RPUSH", "r", "a"), ("LPOP", "r"), ("RPUSH", "r", "a", "b"), ("RPOP", "r", "5"),
        ("PING",),
    ]
    results = []
    for port in (server.port, real.port):
        c = Raw(port)
        sub = Raw(port)
        c.cmd("FLUSHALL")
        c.cmd("CONFIG", "SET", "notify-keyspace-events", "KEA")
        sub.cmd("PSUBSCRIBE", "__key*__:*")
        for cmd in script:
            c.cmd(*cmd)
        sub.send(b"*1\r\n$4\r\nPING\r\n")
        events = []
        while True:
            r = sub.read_reply()
            if r.startswith(b"*2\r\n$4\r\npong") or r == b"+PONG\r\n":
                break
            events.append(r)
        c.cmd("CONFIG", "SET", "notify-keyspace-events", "")
        results.append(events)
        c.close()
        sub.close()
    assert len(results[1]) > 60
    assert results[0] == results[1]


def test_dirty_and_watch(both):
    """WATCH is invalidated by modifications, untouched by no-ops (both servers)."""
    for setup, cmd in [
        (("RPUSH", "l", "a"), ("LPUSH", "l", "b")),
        (("RPUSH", "l", "a"), ("LPOP", "l")),
        (("RPUSH", "l", "a"), ("LPOP", "l", "0")),
        (("RPUSH", "l", "a"), ("LREM", "l", "0", "nope")),
        (("RPUSH", "l", "a"), ("LTRIM", "l", "0", "-1")),
        (("RPUSH", "l", "a"), ("LINSERT", "l", "BEFORE", "nope", "x")),
        (("RPUSH", "l", "a"), ("LSET", "l", "0", "x")),
        (("RPUSH", "l", "a"), ("LMOVE", "l", "l", "LEFT", "LEFT")),
        (("RPUSH", "x", "a"), ("LMOVE", "x", "l", "LEFT", "LEFT")),
        (("RPUSH", "l", "a"), ("RPUSHX", "nokey", "a")),
        (("RPUSH", "l", "a"), ("LPOP", "nokey")),
    ]:
        w = Raw(both.a.sock.getpeername()[1]), Raw(both.b.sock.getpeername()[1])
        both("FLUSHALL")
        both(*setup)
        for conn in w:
            conn.cmd("WATCH", "l")
            conn.cmd("MULTI")
            conn.cmd("PING")
        both(*cmd)
        ra, rb = (conn.cmd("EXEC") for conn in w)
        assert ra == rb, (setup, cmd, ra, rb)
        for conn in w:
            conn.close()


def test_propagation_embedded():
    """What reaches AOF/replicas: pops with count as LPOP/RPOP key n, BLMOVE as LMOVE,
    BRPOPLPUSH as RPOPLPUSH, and no-ops not at all."""
    srv = redislet.Server()
    srv.start()
    try:
        log = []
        srv.server.propagate_targets.append(lambda dbid, argv: log.append(list(argv)))
        c = Raw(srv.port)
        c.cmd("RPUSH", "l", "a", "b", "c", "d", "e", "f", "g")
        c.cmd("LPUSHX", "nokey", "a")
        c.cmd("LPOP", "l")
        c.cmd("RPOP", "l", "2")
        c.cmd("LPOP", "l", "0")
        c.cmd("LPOP", "nokey")
        c.cmd("LMPOP", "2", "nokey", "l", "RIGHT", "COUNT", "1")
        c.cmd("LMPOP", "1", "l", "LEFT", "COUNT", "100")
        c.cmd("RPUSH", "l", "a", "b", "c", "d", "e")
        c.cmd("BLPOP", "nokey", "l", "0")
        c.cmd("BRPOP", "l", "0")
        c.cmd("BLMPOP", "0", "1", "l", "LEFT", "COUNT", "1")
        c.cmd("BLMOVE", "l", "m", "left", "RIGHT", "0")
        c.cmd("BRPOPLPUSH", "m", "l", "0")
        c.cmd("LREM", "l", "0", "nope")
        c.cmd("LINSERT", "l", "BEFORE", "nope", "x")
        c.cmd("LTRIM", "l", "0", "-1")
        c.cmd("LMOVE", "nokey", "l", "LEFT", "LEFT")
        assert log == [
            [b"RPUSH", b"l", b"a", b"b", b"c", b"d", b"e", b"f", b"g"],
            [b"LPOP", b"l"],
            [b"RPOP", b"l", b"2"],
            [b"RPOP", b"l", b"1"],
            [b"LPOP", b"l", b"3"],
            [b"RPUSH", b"l", b"a", b"b", b"c", b"d", b"e"],
            [b"LPOP", b"l"],
            [b"RPOP", b"l"],
            [b"LPOP", b"l", b"1"],
            [b"LMOVE", b"l", b"m", b"left", b"RIGHT"],
            [b"RPOPLPUSH", b"m", b"l"],
        ]
        c.close()
    finally:
        srv.stop()
