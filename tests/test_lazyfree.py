"""Lazy freeing (redislet/lazyfree.py): UNLINK, FLUSHDB/FLUSHALL ASYNC and the
lazyfree-lazy-* directives take big values out of the keyspace at once and free them a
piece at a time. The counts INFO reports (lazyfree_pending_objects, lazyfreed_objects)
are compared with redis-server's."""
import time

import pytest
import redis

from conftest import Raw, start_real_redis, start_redislet


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    a = start_redislet(tmp_path_factory.mktemp("lazy-redislet"))
    b = start_real_redis(tmp_path_factory.mktemp("lazy-redis"))
    yield redis.Redis(port=a.port, protocol=2), redis.Redis(port=b.port, protocol=2)
    a.stop()
    b.stop()


def _settled(r):
    """lazyfreed_objects once nothing is pending (Redis frees in a thread, redislet
    between loop passes: both finish soon)."""
    deadline = time.time() + 10
    while r.info("memory")["lazyfree_pending_objects"] and time.time() < deadline:
        time.sleep(0.01)
    assert r.info("memory")["lazyfree_pending_objects"] == 0
    return r.info("memory")["lazyfreed_objects"]


def _both(pair, fn):
    out = []
    for r in pair:
        r.flushall()
        _settled(r)
        r.config_resetstat()
        fn(r)
        out.append(_settled(r))
    return out


def _big(r, key="big", n=5000):
    r.sadd(key, *range(n))
    r.hset(key + "h", mapping={b"f%d" % i: i for i in range(n)})
    r.zadd(key + "z", {b"m%d" % i: i for i in range(n)})
    r.rpush(key + "l", *(b"x" * 200 for _ in range(n)))   # about 120 quicklist nodes


def test_unlink_counts_big_values_like_redis(pair):
    def run(r):
        _big(r)
        r.sadd("small", 1, 2, 3)
        r.set("str", "v")
        assert r.unlink("big", "bigh", "bigz", "bigl", "small", "str", "missing") == 6
        assert r.dbsize() == 0
    assert _both(pair, run) == [4, 4]


def test_del_follows_lazyfree_lazy_user_del(pair):
    def run(r):
        r.config_set("lazyfree-lazy-user-del", "yes")
        try:
            _big(r)
            assert r.delete("big", "bigz") == 2
        finally:
            r.config_set("lazyfree-lazy-user-del", "no")
        assert r.delete("bigh", "bigl") == 2       # synchronous: not counted
    assert _both(pair, run) == [2, 2]


def test_flush_async_counts_keys_like_redis(pair):
    def run(r):
        _big(r)
        r.mset({"k%d" % i: i for i in range(300)})
        r.select(3)
        r.set("other", "1")
        r.select(0)
        r.execute_command("FLUSHDB", "ASYNC")      # 304 keys in db 0
        assert r.dbsize() == 0
        r.set("k1", "new")
        r.execute_command("FLUSHALL", "ASYNC")     # k1 and db 3's key
        r.set("k2", "v")
        r.execute_command("FLUSHALL", "SYNC")      # not counted
        r.config_set("lazyfree-lazy-user-flush", "yes")
        try:
            r.set("k3", "v")
            r.execute_command("FLUSHALL")           # counted
        finally:
            r.config_set("lazyfree-lazy-user-flush", "no")
    assert _both(pair, run) == [307, 307]


def test_expired_big_key_follows_lazyfree_lazy_expire(pair):
    def run(r):
        r.config_set("lazyfree-lazy-expire", "yes")
        try:
            _big(r)
            r.pexpire("big", 1)
            time.sleep(0.05)
            assert r.exists("big") == 0              # expired on access
        finally:
            r.config_set("lazyfree-lazy-expire", "no")
    assert _both(pair, run) == [1, 1]


def test_stream_with_groups_like_redis(pair):
    """unit/lazyfree's two stream cases."""
    def run(r):
        r.config_set("stream-node-max-entries", 5)
        for j in range(1000):
            r.xadd("stream", {"foo": j})
        r.xgroup_create("stream", "g", id="0")
        r.xreadgroup("g", "alice", {"stream": ">"}, count=300)
        r.unlink("stream")
        r.xadd("s", {"a": "b"})
        r.xgroup_create("s", "bla", id="$")
        r.xgroup_destroy("s", "bla")
        r.unlink("s")
        r.config_set("stream-node-max-entries", 100)
    assert _both(pair, run) == [1, 1]


def test_unlinked_value_is_freed_after_the_reply(pair):
    """The reply and the next commands of the same read come before the freeing: a
    pipelined INFO still sees the value pending, and the key's name is free at once."""
    r = pair[0]
    r.flushall()
    _settled(r)
    r.sadd("huge", *range(200000))
    c = Raw(r.connection_pool.connection_kwargs["port"])
    try:
        c.send(b"UNLINK huge\r\nINFO memory\r\nSADD huge x\r\nSMEMBERS huge\r\n")
        assert c.read_reply() == b":1\r\n"
        info = c.read_reply()
        assert b"lazyfree_pending_objects:1\r\n" in info
        assert c.read_reply() == b":1\r\n"
        assert c.read_reply() == b"*1\r\n$1\r\nx\r\n"
    finally:
        c.close()
    assert _settled(r) >= 1
    assert r.smembers("huge") == {b"x"}


@pytest.mark.parametrize("load", ["disabled", "on-empty-db"])
def test_replica_lazy_flush_like_redis(tmp_path, load):
    """A full sync empties the replica's old data first: in the background under
    replica-lazy-flush (counted as its keys, as emptyData's async path counts them)."""
    counts = []
    for kind, start in (("redislet", start_redislet), ("redis", start_real_redis)):
        d = tmp_path / kind
        d.mkdir()
        (d / "m").mkdir()
        (d / "r").mkdir()
        m = start(d / "m", "--repl-diskless-sync-delay", "0")
        r = start(d / "r", "--replica-lazy-flush", "yes", "--repl-diskless-load", load)
        try:
            mc, rc = redis.Redis(port=m.port), redis.Redis(port=r.port)
            mc.set("from-master", "1")
            rc.mset({"old%d" % i: i for i in range(250)})
            rc.sadd("oldset", *range(100))
            rc.replicaof("127.0.0.1", m.port)
            deadline = time.time() + 15
            while rc.get("from-master") != b"1" and time.time() < deadline:
                time.sleep(0.05)
            assert rc.get("from-master") == b"1" and rc.dbsize() == 1
            counts.append(_settled(rc))
        finally:
            r.stop()
            m.stop()
    assert counts == [251, 251]


def test_values_built_from_an_unlinked_key_stay_whole(pair):
    """A torn-down value was nobody else's: every command that builds one key's value
    from another's made its own, so unlinking the source leaves them whole."""
    r = pair[0]
    r.flushall()
    _settled(r)
    n = 3000
    r.sadd("s", *range(n))
    r.hset("h", mapping={b"f%d" % i: i for i in range(n)})
    r.zadd("z", {b"m%d" % i: i for i in range(n)})
    r.rpush("l", *(b"x" * 200 for _ in range(n)))
    r.sunionstore("s1", "s")
    r.sinterstore("s2", "s")
    r.sdiffstore("s3", "s")
    r.zunionstore("z1", ["z"])
    r.zinterstore("z2", ["z"])
    r.zrangestore("z3", "z", 0, -1)
    r.copy("s", "s4")
    r.copy("h", "h1")
    r.copy("z", "z4")
    r.copy("l", "l1")
    r.sort("l", store="l2", alpha=True)
    r.execute_command("RESTORE", "h2", 0, r.dump("h"))
    r.rename("h", "h3")
    assert r.unlink("s", "z", "l", "h3") == 4
    _settled(r)
    assert [r.scard(k) for k in ("s1", "s2", "s3", "s4")] == [n] * 4
    assert [r.zcard(k) for k in ("z1", "z2", "z3", "z4")] == [n] * 4
    assert [r.llen(k) for k in ("l1", "l2")] == [n] * 2
    assert [r.hlen(k) for k in ("h1", "h2")] == [n] * 2
