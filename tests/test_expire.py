"""Expiry: TTL semantics (differential), lazy and active expiry, and what the expire-related
commands propagate (observed on an embedded server through srv.propagate_targets)."""
import time

import pytest
import redis

import redislet


@pytest.fixture(scope="module")
def emb():
    s = redislet.Server()
    s.start()
    log = []
    s.server.propagate_targets.append(lambda dbid, argv: log.append((dbid, list(argv))))
    s.log = log
    yield s
    s.stop()


@pytest.fixture
def prop(emb):
    """(client, propagation log) on the embedded server, both reset."""
    c = redis.Redis(port=emb.port)
    c.flushall()
    del emb.log[:]
    yield c, emb.log
    c.close()


def _argv(log):
    return [[a.decode() if isinstance(a, bytes) else a for a in argv] for _, argv in log]


def test_set_family_propagates_pxat(prop):
    c, log = prop
    now = int(time.time() * 1000)
    c.execute_command("SET", "k", "v", "EX", "100")
    c.execute_command("SET", "k", "v", "PX", "100000")
    c.execute_command("SET", "k", "v", "EXAT", str(now // 1000 + 100))
    c.execute_command("SET", "k", "v", "PXAT", str(now + 100000))
    c.execute_command("SETEX", "k", "100", "v")
    c.execute_command("PSETEX", "k", "100000", "v")
    out = _argv(log)
    assert len(out) == 6
    for argv in out:
        assert argv[:4] == ["SET", "k", "v", "PXAT"]
        assert abs(int(argv[4]) - now - 100000) < 2000
    assert out[2][4] == str((now // 1000 + 100) * 1000)
    assert out[3][4] == str(now + 100000)


def test_set_get_propagates_without_get(prop):
    c, log = prop
    c.execute_command("SET", "k", "v", "GET")
    c.execute_command("SET", "k", "w", "get", "XX", "GET")
    c.execute_command("SET", "k", "x", "NX", "GET")      # not set: nothing propagated
    c.execute_command("SET", "k", "y", "KEEPTTL")
    assert _argv(log) == [["SET", "k", "v"], ["SET", "k", "w", "XX"],
                          ["SET", "k", "y", "KEEPTTL"]]


def test_expire_family_propagates_pexpireat(prop):
    c, log = prop
    c.set("k", "v")
    del log[:]
    now = int(time.time() * 1000)
    c.execute_command("EXPIRE", "k", "100")
    c.execute_command("PEXPIRE", "k", "150000", "GT")
    c.execute_command("EXPIREAT", "k", str(now // 1000 + 200))
    c.execute_command("PEXPIREAT", "k", str(now + 300000))
    c.execute_command("EXPIRE", "k", "100", "NX")          # not applied
    c.execute_command("EXPIRE", "nokey", "100")
    out = _argv(log)
    assert [a[0] for a in out] == ["PEXPIREAT"] * 4
    assert abs(int(out[0][2]) - now - 100000) < 2000
    assert out[1][3] == "GT"
    assert out[2][2] == str((now // 1000 + 200) * 1000)
    assert out[3][2] == str(now + 300000)
    del log[:]
    c.execute_command("EXPIRE", "k", "-1")
    assert _argv(log) == [["DEL", "k"]]


def test_getex_getdel_getset_incrbyfloat_propagation(prop):
    c, log = prop
    c.set("k", "v")
    del log[:]
    c.execute_command("GETEX", "k")
    assert log == []
    c.execute_command("GETEX", "k", "EX", "100")
    c.execute_command("GETEX", "k", "PERSIST")
    c.execute_command("GETEX", "k", "PERSIST")           # no TTL: nothing
    c.execute_command("GETEX", "k", "PXAT", "1")         # in the past: deleted
    c.set("g", "1")
    c.execute_command("GETDEL", "g")
    c.execute_command("GETDEL", "g")
    c.execute_command("GETSET", "g", "2")
    c.execute_command("INCRBYFLOAT", "g", "1.5")
    out = _argv(log)
    assert out[0][0] == "PEXPIREAT" and out[0][1] == "k"
    assert out[1:] == [["PERSIST", "k"], ["DEL", "k"], ["SET", "g", "1"], ["DEL", "g"],
                       ["SET", "g", "2"], ["SET", "g", "3.5", "KEEPTTL"]]


def test_flush_and_lazy_expire_propagation(prop):
    c, log = prop
    c.execute_command("FLUSHALL")
    c.execute_command("FLUSHDB")
    c.execute_command("SET", "e", "v", "PX", "1")
    time.sleep(0.01)
    del log[:]
    assert c.get("e") is None
    c.execute_command("DEL", "nokey")
    assert _argv(log) in ([["DEL", "e"]], [])   # (active expiry may win the race)
    del log[:]
    c.execute_command("FLUSHALL", "ASYNC")
    assert _argv(log) == [["FLUSHALL", "ASYNC"]]


def test_flushall_dirty(emb, prop):
    c, log = prop
    c.mset({"a": 1, "b": 2, "c": 3})
    before = emb.server.dirty
    c.flushall()
    assert emb.server.dirty == before + 3


def test_rename_move_copy_swapdb_propagate_as_is(prop):
    c, log = prop
    c.set("a", "1")
    c.rename("a", "b")
    c.renamenx("b", "c")
    c.copy("c", "d")
    c.move("d", 1)
    c.swapdb(0, 1)
    c.persist("nokey")
    assert _argv(log) == [["SET", "a", "1"], ["RENAME", "a", "b"], ["RENAMENX", "b", "c"],
                          ["COPY", "c", "d"], ["MOVE", "d", "1"], ["SWAPDB", "0", "1"]]


# -- behaviour, differential -----------------------------------------------------------
def test_expire_basic(both):
    both("SET", "x", "foobar")
    both("EXPIRE", "x", "5")
    both("TTL", "x")
    both("EXPIRE", "x", "10")
    both("TTL", "x")
    both("EXPIRE", "x", "2")
    both("GET", "x")


def test_expire_precision(r):
    r.set("x", "somevalue")
    r.pexpire("x", 200)
    assert r.get("x") == b"somevalue"
    time.sleep(0.25)
    assert r.get("x") is None
    r.psetex("y", 100, "v")
    assert 0 < r.pttl("y") <= 100
    time.sleep(0.15)
    assert r.exists("y") == 0
    r.set("z", "v")
    r.pexpireat("z", int(time.time() * 1000) + 100)
    time.sleep(0.15)
    assert r.get("z") is None


def test_active_expiry(r):
    r.flushall()
    for i in range(20):
        r.psetex("k%d" % i, 50, "v")
    r.set("keep", "v")
    assert r.dbsize() == 21
    deadline = time.time() + 3
    while r.dbsize() > 1 and time.time() < deadline:
        time.sleep(0.05)
    assert r.dbsize() == 1


def test_lazy_expiry_with_active_disabled(raw):
    c = raw()
    c.cmd("FLUSHALL")
    c.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        c.cmd("PSETEX", "a", "10", "v")
        c.cmd("PSETEX", "b", "10", "v")
        c.cmd("SET", "c", "v")
        time.sleep(0.05)
        assert c.cmd("DBSIZE") == b":3\r\n"
        assert c.cmd("DEL", "a") == b":0\r\n"
        assert c.cmd("EXISTS", "b") == b":0\r\n"
        assert c.cmd("DBSIZE") == b":1\r\n"
    finally:
        c.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_expire_does_not_resurrect(both):
    both("DEL", "foo")
    both("SET", "foo", "bar")
    both("EXPIRE", "foo", "-1")
    both("EXISTS", "foo")
    both("SET", "foo", "bar")
    both("PEXPIREAT", "foo", "0")
    both("EXISTS", "foo")


def test_set_removes_ttl_keepttl_keeps(both):
    both("SET", "foo", "bar", "EX", "100")
    both("SET", "foo", "bar")
    both("TTL", "foo")
    both("SET", "foo", "bar", "EX", "100")
    both("SET", "foo", "bar2", "KEEPTTL")
    both("TTL", "foo")
    both("GETSET", "foo", "x")
    both("TTL", "foo")
    both("SET", "foo", "bar", "EX", "100")
    both("MSET", "foo", "y")
    both("TTL", "foo")
    both("SET", "foo", "1", "EX", "100")
    both("INCR", "foo")
    both("APPEND", "foo", "1")
    both("SETRANGE", "foo", "0", "9")
    both("TTL", "foo")


def test_expire_big_numbers(both):
    both("SET", "foo", "bar")
    both("EXPIRE", "foo", "9223370399119966")
    both("EXPIRE", "foo", "-9223372036854775808")
    both("PEXPIRE", "foo", "9223372036854770000")
    both("EXISTS", "foo")
    both("PEXPIREAT", "foo", "9223372036854770000")
    both("PEXPIRETIME", "foo")
    both("PEXPIREAT", "foo", "-9223372036854770000")
    both("EXISTS", "foo")
    both("SET", "foo", "bar", "EX", "10000000000000000")
    both("SET", "foo", "bar", "EX", "-9999999999999999")
    both("SET", "foo", "bar")
    both("GETEX", "foo", "EX", "10000000000000000")
    both("GETEX", "foo", "EX", "-9999999999999999")
    both("EXPIRE", "foo", "")


def test_ttl_rounding(both):
    both("SET", "k", "v")
    both("PEXPIRE", "k", "1499000")
    both("TTL", "k")
    both("PEXPIRE", "k", "1501000")
    both("TTL", "k")
