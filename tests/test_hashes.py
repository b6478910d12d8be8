"""Hash commands: differential tests against real Redis 7.0.15 (RESP2 and RESP3),
encodings, HINCRBYFLOAT's long double arithmetic, HRANDFIELD/HSCAN, notifications and
propagation."""
import pytest

from conftest import Raw


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def b(request, both):
    if request.param == 3:
        both.resp3()
    yield both
    both("CONFIG", "SET", "hash-max-listpack-entries", "128")
    both("CONFIG", "SET", "hash-max-listpack-value", "64")
    both.close()


def run(b, *cmds):
    for cmd in cmds:
        b(*cmd)


def parse(buf, pos=0):
    """(value, next position) of the RESP2/RESP3 reply at pos (enough for these tests)."""
    nl = buf.index(b"\r\n", pos)
    t, line, after = buf[pos:pos + 1], buf[pos + 1:nl], nl + 2
    if t in b"$=":
        n = int(line)
        return (None, after) if n < 0 else (buf[after:after + n], after + n + 2)
    if t in b"*~%>":
        n = int(line)
        if n < 0:
            return None, after
        n *= 2 if t == b"%" else 1
        out = []
        for _ in range(n):
            v, after = parse(buf, after)
            out.append(v)
        return out, after
    return buf[pos:after], after


def unordered(b, *args, pairs=False):
    """Run on both servers; the replies must hold the same elements (or field/value pairs,
    also nested RESP3 pairs) in any order: hash-table order differs between servers."""
    ra, rb = b.a.cmd(*args), b.b.cmd(*args)
    assert ra[:1] == rb[:1], (args, ra, rb)
    va, vb = parse(ra)[0], parse(rb)[0]

    def norm(v):
        if not isinstance(v, list):
            return v
        if pairs and v and not isinstance(v[0], list):
            v = [tuple(v[i:i + 2]) for i in range(0, len(v), 2)]
        return sorted(tuple(x) if isinstance(x, list) else x for x in v)
    assert norm(va) == norm(vb), (args, ra, rb)
    return ra


def seed(b, key="h"):
    b("HSET", key, "a", "1", "b", "2", "c", "3", "d", "hello")


# -- HSET / HMSET / HSETNX ------------------------------------------------------------
def test_hset_forms(b):
    run(b, ("HSET", "h", "a", "1"), ("HSET", "h", "a", "2"), ("HSET", "h", "b", "1", "c", "2"),
        ("HSET", "h", "x", "1", "x", "2", "a", "3"), ("HGETALL", "h"), ("HLEN", "h"),
        ("HSET", "h", "a"), ("HSET", "h", "a", "1", "b"), ("HSET", "h"), ("HMSET", "h", "z"),
        ("HMSET", "h", "z", "1", "q"), ("HMSET", "h", "z", "1", "q", "2"), ("HGETALL", "h"),
        ("HSET", "h", "", ""), ("HGET", "h", ""), ("HSET", "h2", "f\x00g", "v\r\nw"),
        ("HGETALL", "h2"))


def test_hsetnx(b):
    run(b, ("HSETNX", "h", "a", "1"), ("HSETNX", "h", "a", "2"), ("HGET", "h", "a"),
        ("HSETNX", "h", "b", "x" * 100), ("OBJECT", "ENCODING", "h"),
        ("HSETNX", "h"), ("HSETNX", "h", "a", "1", "2"))
    unordered(b, "HGETALL", "h", pairs=True)


def test_reads(b):
    seed(b)
    run(b, ("HGET", "h", "a"), ("HGET", "h", "zz"), ("HGET", "nokey", "a"),
        ("HMGET", "h", "a", "zz", "d"), ("HMGET", "nokey", "a", "b"), ("HMGET", "h"),
        ("HLEN", "h"), ("HLEN", "nokey"), ("HSTRLEN", "h", "d"), ("HSTRLEN", "h", "zz"),
        ("HSTRLEN", "nokey", "a"), ("HEXISTS", "h", "a"), ("HEXISTS", "h", "zz"),
        ("HEXISTS", "nokey", "a"), ("HKEYS", "h"), ("HVALS", "h"), ("HGETALL", "h"),
        ("HKEYS", "nokey"), ("HVALS", "nokey"), ("HGETALL", "nokey"))


def test_listpack_order_follows_writes(b):
    seed(b)
    run(b, ("HDEL", "h", "b"), ("HSET", "h", "b", "9"), ("HSET", "h", "a", "0"),
        ("HGETALL", "h"), ("HKEYS", "h"), ("HVALS", "h"))


def test_hdel(b):
    seed(b)
    run(b, ("HDEL", "h", "a", "a", "zz"), ("HDEL", "h", "zz"), ("HDEL", "nokey", "a"),
        ("HDEL", "h", "b", "c", "d", "e"), ("EXISTS", "h"), ("HDEL", "h"))


def test_wrongtype(b):
    b("SET", "s", "x")
    for cmd in (("HSET", "s", "a", "1"), ("HMSET", "s", "a", "1"), ("HSETNX", "s", "a", "1"),
                ("HGET", "s", "a"), ("HMGET", "s", "a"), ("HDEL", "s", "a"), ("HLEN", "s"),
                ("HSTRLEN", "s", "a"), ("HEXISTS", "s", "a"), ("HKEYS", "s"), ("HVALS", "s"),
                ("HGETALL", "s"), ("HINCRBY", "s", "a", "1"), ("HINCRBYFLOAT", "s", "a", "1"),
                ("HRANDFIELD", "s"), ("HRANDFIELD", "s", "2"),
                ("HRANDFIELD", "s", "2", "WITHVALUES"), ("HSCAN", "s", "0")):
        b(*cmd)
    # argument errors come before the type check where Redis checks them first
    run(b, ("HINCRBY", "s", "a", "x"), ("HINCRBYFLOAT", "s", "a", "x"),
        ("HRANDFIELD", "s", "x"), ("HSCAN", "s", "x"), ("HSET", "s", "a"))


# -- HINCRBY / HINCRBYFLOAT -----------------------------------------------------------
def test_hincrby(b):
    run(b, ("HINCRBY", "h", "a", "5"), ("HINCRBY", "h", "a", "-7"), ("HGET", "h", "a"),
        ("HINCRBY", "h", "a", "x"), ("HINCRBY", "h", "a", "1.5"), ("HINCRBY", "h", "a", " 1"),
        ("HINCRBY", "h", "a", "99999999999999999999"), ("HINCRBY", "nokey", "a", "x"),
        ("EXISTS", "nokey"),
        ("HSET", "h", "big", "9223372036854775806"), ("HINCRBY", "h", "big", "1"),
        ("HINCRBY", "h", "big", "1"), ("HGET", "h", "big"),
        ("HSET", "h", "neg", "-9223372036854775807"), ("HINCRBY", "h", "neg", "-1"),
        ("HINCRBY", "h", "neg", "-1"),
        ("HSET", "h", "s", " 1"), ("HINCRBY", "h", "s", "1"),
        ("HSET", "h", "z", "01"), ("HINCRBY", "h", "z", "1"),
        ("HSET", "h", "f", "1.0"), ("HINCRBY", "h", "f", "1"), ("HGETALL", "h"))


FLOATS = ["1.5", "10.5", "0.1", "1e4000", "-0.0", "0x1p-3", "1e-4951", "1e-4950", "1e5000",
          "inf", "-inf", "nan", "NaN", " 1", "1 ", ".5", "5.", "1e", "3.0e3", "1.1", "-1.1",
          "0.0000000000000000001", "1e17", "1.23456789012345678901", "123456789012345678",
          "9223372036854775807", "2.5e-18", "3.814697265625e-06", "7.62939453125e-06",
          "0x10", "0X1P4", "+5", "infinity", "1.5e-17", "5e-18", "1.5e-18",
          "0.000000000000000005", "0.000000000000000015", "0.000000000000000025",
          "1.18973149535723176502e+4932", "1.18973149535723176508e+4932", "1.2e4932",
          "3.6e-4951", "3.7e-4951", "1e-4940", "00012", "1_0", "0x", "0x.8", "e5", "1e+5",
          "-.5e-1", "", "-", "+", ".", "1..2", "1e5.5", "0x1p", "0x1.8p1", "1e-17", "-1e-18"]


def test_hincrbyfloat_values(b):
    for v in FLOATS:
        b("HDEL", "h", "f")
        b("HINCRBYFLOAT", "h", "f", v)
        b("HGET", "h", "f")


@pytest.mark.parametrize("stored", ["1.5", "abc", "1e4000", "inf", "-inf", "1 ", "0x10",
                                    "1e4932", "-1e4932", "5", "", "nan"])
def test_hincrbyfloat_on_stored(b, stored):
    b("HSET", "h", "g", stored)
    run(b, ("HINCRBYFLOAT", "h", "g", "1.1"), ("HINCRBYFLOAT", "h", "g", "1e4932"),
        ("HINCRBYFLOAT", "h", "g", "-1e4932"), ("HGET", "h", "g"), ("OBJECT", "ENCODING", "h"))


def test_hincrbyfloat_accumulates(b):
    for inc in ("0.1", "0.2", "-0.3", "1e-10", "3.3333333333333333", "1e18", "-1e18"):
        b("HINCRBYFLOAT", "h", "x", inc)
    b("HGET", "h", "x")


# -- encodings --------------------------------------------------------------------------
def test_encoding_by_entries(b):
    b("CONFIG", "SET", "hash-max-listpack-entries", "4")
    run(b, ("HSET", "h", "a", "1", "b", "2", "c", "3", "d", "4"), ("OBJECT", "ENCODING", "h"),
        ("HSET", "h", "e", "5"), ("OBJECT", "ENCODING", "h"), ("HDEL", "h", "a", "b", "c"),
        ("OBJECT", "ENCODING", "h"),
        ("HSET", "h2", "a", "1", "b", "2", "c", "3", "d", "4", "e", "5"),
        ("OBJECT", "ENCODING", "h2"))


def test_encoding_by_value_length(b):
    b("CONFIG", "SET", "hash-max-listpack-value", "8")
    run(b, ("HSET", "h", "a", "12345678"), ("OBJECT", "ENCODING", "h"),
        ("HSET", "h", "b", "123456789"), ("OBJECT", "ENCODING", "h"),
        ("HSET", "h2", "123456789", "1"), ("OBJECT", "ENCODING", "h2"),
        ("HINCRBYFLOAT", "h3", "f", "1e10"), ("OBJECT", "ENCODING", "h3"),
        ("HINCRBYFLOAT", "h3", "f", "1e20"), ("OBJECT", "ENCODING", "h3"),
        ("HSETNX", "h4", "f", "x" * 9), ("OBJECT", "ENCODING", "h4"),
        ("HSET", "h5", "a", "1"), ("HINCRBY", "h5", "a", "1000000000"),
        ("OBJECT", "ENCODING", "h5"))


def test_zero_entries_config(b):
    b("CONFIG", "SET", "hash-max-listpack-entries", "0")
    run(b, ("HSET", "h", "a", "1"), ("OBJECT", "ENCODING", "h"))


# -- HRANDFIELD -------------------------------------------------------------------------
def test_hrandfield_errors_and_fixed_shapes(b):
    seed(b)
    run(b, ("HRANDFIELD", "nokey"), ("HRANDFIELD", "nokey", "5"),
        ("HRANDFIELD", "nokey", "-5", "WITHVALUES"), ("HRANDFIELD", "h", "0"),
        ("HRANDFIELD", "h", "0", "withvalues"), ("HRANDFIELD", "h", "4"),
        ("HRANDFIELD", "h", "100"), ("HRANDFIELD", "h", "100", "withvalues"),
        ("HRANDFIELD", "h", "-9223372036854775808"),
        ("HRANDFIELD", "h", "-9223372036854775808", "withvalues"),
        ("HRANDFIELD", "h", "9223372036854775807", "withvalues"),
        ("HRANDFIELD", "h", "-9223372036854770000", "withvalues"),
        ("HRANDFIELD", "h", "4611686018427387904", "withvalues"),
        ("HRANDFIELD", "h", "4611686018427387903", "withvalues"),
        ("HRANDFIELD", "h", "-4611686018427387904", "withvalues"),
        ("HRANDFIELD", "h", "9223372036854775807"),
        ("HRANDFIELD", "h", "9223372036854775808"),
        ("HRANDFIELD", "h", "1", "withvalue"), ("HRANDFIELD", "h", "1", "withvalues", "x"),
        ("HRANDFIELD", "h", "x"), ("HRANDFIELD", "h", "x", "y"),
        ("HRANDFIELD", "h", "1.5"))


@pytest.mark.parametrize("size", [5, 300])
def test_hrandfield_semantics(r, size):
    r.hset("h", mapping={b"f%d" % i: b"v%d" % i for i in range(size)})
    full = r.hgetall("h")
    for _ in range(20):
        assert r.hrandfield("h") in full
    for count in (1, 2, size // 3, size // 2, size - 1, size, size + 5):
        res = r.hrandfield("h", count)
        assert len(res) == min(count, size) and len(set(res)) == len(res)
        assert set(res) <= set(full)
        res = r.hrandfield("h", count, withvalues=True)
        if r.get_connection_kwargs().get("protocol") == 3:
            pairs = [tuple(p) for p in res]
        else:
            pairs = list(zip(res[::2], res[1::2]))
        assert len(pairs) == min(count, size)
        assert all(full[f] == v for f, v in pairs)
    res = r.hrandfield("h", -50)
    assert len(res) == 50 and set(res) <= set(full)
    if size == 5:
        assert len(set(res)) <= 5
    res = r.hrandfield("h", -7, withvalues=True)
    if r.get_connection_kwargs().get("protocol") == 3:
        assert len(res) == 7 and all(full[f] == v for f, v in res)
    else:
        assert len(res) == 14


def test_hrandfield_resp3_pairs(raw):
    c = raw()
    c.cmd("HELLO", "3")
    c.cmd("DEL", "h")
    c.cmd("HSET", "h", "a", "1")
    assert c.cmd("HRANDFIELD", "h", "1", "WITHVALUES") == b"*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"
    assert c.cmd("HRANDFIELD", "h", "-2", "WITHVALUES") == b"*2\r\n" + \
        b"*2\r\n$1\r\na\r\n$1\r\n1\r\n" * 2
    assert c.cmd("HRANDFIELD", "h", "-2") == b"*2\r\n$1\r\na\r\n$1\r\na\r\n"
    assert c.cmd("HRANDFIELD", "nokey") == b"_\r\n"
    assert c.cmd("HRANDFIELD", "nokey", "1") == b"*0\r\n"


# -- HSCAN ------------------------------------------------------------------------------
def test_hscan_listpack(b):
    seed(b)
    b("HSET", "h", "bb", "x")
    run(b, ("HSCAN", "h", "0"), ("HSCAN", "h", "0", "MATCH", "b*"),
        ("HSCAN", "h", "0", "MATCH", "*", "COUNT", "1"), ("HSCAN", "h", "123"),
        ("HSCAN", "h", "0", "COUNT", "0"), ("HSCAN", "h", "0", "COUNT", "x"),
        ("HSCAN", "h", "0", "MATCH"), ("HSCAN", "h", "0", "TYPE", "string"),
        ("HSCAN", "h", "x"), ("HSCAN", "h", "-1"), ("HSCAN", "h", ""), ("HSCAN", "h", "+1"),
        ("HSCAN", "h", " 1"), ("HSCAN", "h", "18446744073709551616"),
        ("HSCAN", "h", "18446744073709551615"), ("HSCAN", "nokey", "0", "COUNT", "0"),
        ("HSCAN", "nokey", "x"), ("HSCAN", "h", "0", "match", "zz*"))


def test_hscan_hashtable_iteration(r):
    data = {b"field:%d" % i: b"%d" % i for i in range(1000)}
    r.hset("big", mapping=data)
    assert r.object("encoding", "big") == b"hashtable"
    got = {}
    cursor = 0
    calls = 0
    while True:
        cursor, part = r.hscan("big", cursor, count=50)
        got.update(part)
        calls += 1
        if cursor == 0:
            break
    assert got == data and calls > 5
    cursor, part = r.hscan("big", 0, match="field:99*", count=2000)
    assert cursor == 0 and part == {k: v for k, v in data.items() if k.startswith(b"field:99")}


# -- notifications and propagation ------------------------------------------------------
def test_notifications(server, real):
    from test_notify import Notify
    n = Notify(server.port, real.port)
    try:
        msgs = n.run("KEAn", ("HSET", "h", "a", "1", "b", "2"), ("HSETNX", "h", "a", "1"),
                     ("HSETNX", "h", "c", "1"), ("HMSET", "h", "d", "1"),
                     ("HINCRBY", "h", "a", "1"), ("HINCRBYFLOAT", "h", "a", "1.5"),
                     ("HDEL", "h", "zz"), ("HDEL", "h", "a"), ("HDEL", "h", "b", "c", "d"),
                     ("HINCRBY", "h", "x", "1"), ("HINCRBY", "h", "x", "y"))
        assert (b"__keyevent@0__:hincrbyfloat", b"h") in msgs
        assert msgs[-6:] == [(b"__keyspace@0__:h", b"del"), (b"__keyevent@0__:del", b"h"),
                             (b"__keyspace@0__:h", b"new"), (b"__keyevent@0__:new", b"h"),
                             (b"__keyspace@0__:h", b"hincrby"),
                             (b"__keyevent@0__:hincrby", b"h")]
    finally:
        n.close()


@pytest.fixture(scope="module")
def emb():
    import redislet
    srv = redislet.Server()
    srv.start()
    log = []
    srv.server.propagate_targets.append(lambda dbid, argv: log.append(list(argv)))
    yield srv, log
    srv.stop()


def test_propagation(emb):
    srv, log = emb
    c = Raw(srv.port)
    try:
        log.clear()
        c.cmd("HSET", "h", "a", "1")
        c.cmd("HSET", "h", "a", "1")
        c.cmd("HINCRBYFLOAT", "h", "a", "0.5")
        c.cmd("HINCRBYFLOAT", "h", "f", "1e3")
        c.cmd("HINCRBY", "h", "i", "3")
        c.cmd("HSETNX", "h", "a", "x")
        c.cmd("HDEL", "h", "zz")
        c.cmd("HDEL", "h", "i")
        c.cmd("HGET", "h", "a")
        cmds = [a for a in log if a[0].upper() not in (b"SELECT", b"MULTI", b"EXEC")]
        assert cmds == [[b"HSET", b"h", b"a", b"1"], [b"HSET", b"h", b"a", b"1"],
                        [b"HSET", b"h", b"a", b"1.5"], [b"HSET", b"h", b"f", b"1000"],
                        [b"HINCRBY", b"h", b"i", b"3"], [b"HDEL", b"h", b"i"]]
    finally:
        c.close()


def test_dirty_and_copy(emb):
    srv, _ = emb
    c = Raw(srv.port)
    try:
        c.cmd("DEL", "h", "h2", "h3")
        d0 = srv.server.dirty
        c.cmd("HSET", "h", "a", "1", "b", "2", "a", "3")
        assert srv.server.dirty - d0 == 3
        c.cmd("CONFIG", "SET", "hash-max-listpack-entries", "1")
        c.cmd("COPY", "h", "h2")      # COPY keeps the encoding (hashTypeDup)
        assert c.cmd("OBJECT", "ENCODING", "h2") == b"$8\r\nlistpack\r\n"
        c.cmd("HSET", "h2", "z", "9")
        assert c.cmd("OBJECT", "ENCODING", "h2") == b"$9\r\nhashtable\r\n"
        assert c.cmd("HLEN", "h") == b":2\r\n"
        c.cmd("CONFIG", "SET", "hash-max-listpack-entries", "128")
        c.cmd("COPY", "h2", "h3")
        assert c.cmd("OBJECT", "ENCODING", "h3") == b"$9\r\nhashtable\r\n"
    finally:
        c.cmd("CONFIG", "SET", "hash-max-listpack-entries", "128")
        c.close()
