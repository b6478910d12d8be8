"""maxmemory eviction policies (evict.c): behavioural tests on a private redislet, and
differential ones (error texts, CONFIG) against real Redis."""
import glob
import os
import time

import pytest
import redis

from conftest import start_redislet


@pytest.fixture
def ev(tmp_path):
    s = start_redislet(tmp_path, "--appendonly", "yes")
    c = redis.Redis(host="127.0.0.1", port=s.port)
    yield c
    c.close()
    s.stop()


def used(c):
    return c.info("memory")["used_memory"]


def fill(c, n, prefix="k", ttl=None, value=b"x" * 20):
    p = c.pipeline(transaction=False)
    for i in range(n):
        if ttl is None:
            p.set("%s:%d" % (prefix, i), value)
        else:
            p.set("%s:%d" % (prefix, i), value, ex=ttl)
    p.execute()


def test_used_memory_is_the_measure(ev):
    m = ev.info("memory")
    assert m["used_memory"] < m["used_memory_rss"]       # the interpreter is not counted
    base = m["used_memory"]
    fill(ev, 2000)
    grown = used(ev)
    assert grown > base + 2000 * 100
    ev.flushall()
    m2 = ev.info("memory")                               # goes down with the keys
    # (the clients' memory, clientmem.py, is counted too and changes with their buffers)
    assert m2["used_memory"] - m2["mem_clients_normal"] == base - m["mem_clients_normal"]
    assert "mem_not_counted_for_evict" in m


@pytest.mark.parametrize("policy", ["allkeys-lru", "allkeys-lfu", "allkeys-random",
                                    "volatile-lru", "volatile-lfu", "volatile-random",
                                    "volatile-ttl"])
def test_limit_honoured(ev, policy):
    """unit/maxmemory's "is the memory limit honoured": keep adding keys past the limit."""
    ev.config_set("maxmemory-policy", policy)
    limit = used(ev) + 100 * 1024
    ev.config_set("maxmemory", limit)
    n = 0
    while used(ev) + 4096 <= limit:
        ev.set("key:%d" % n, "x", ex=10000)
        n += 1
    assert n > 10
    for i in range(n):
        ev.set("more:%d" % i, "x", ex=10000)
    assert used(ev) < limit + 4096
    assert ev.info("stats")["evicted_keys"] > 0
    # (the client's buffers count in used_memory too: its reply buffer shrinking while
    # the test runs, clientsCronResizeOutputBuffer, frees up to ~15k for more keys)
    assert 0 < ev.dbsize() <= n * 1.2 + 64


def test_maxmemory_1_evicts_everything(ev):
    fill(ev, 500)
    ev.config_set("maxmemory-policy", "allkeys-random")
    ev.config_set("maxmemory", 1)
    time.sleep(0.2)                  # CONFIG SET starts evicting from the event loop
    assert ev.dbsize() == 0
    assert ev.info("stats")["evicted_keys"] == 500
    with pytest.raises(redis.exceptions.ResponseError, match="command not allowed when used memory"):
        ev.set("a", "b")
    assert ev.get("a") is None       # reads still work


def test_volatile_never_touches_persistent_keys(ev):
    fill(ev, 300, "p")
    fill(ev, 300, "v", ttl=1000)
    for policy in ("volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"):
        ev.config_set("maxmemory-policy", policy)
        ev.config_set("maxmemory", 1)
        time.sleep(0.2)    # past the tenacity time limit eviction goes on from the loop
        with pytest.raises(redis.exceptions.ResponseError,
                           match="command not allowed when used memory > 'maxmemory'"):
            ev.set("x", "y")
        assert ev.dbsize() == 300
        assert len(ev.keys("p:*")) == 300
        ev.config_set("maxmemory", 0)
        fill(ev, 300, "v", ttl=1000)


def test_volatile_ttl_evicts_nearest_ttl_first(ev):
    fill(ev, 100, "soon", ttl=100)
    fill(ev, 100, "late", ttl=100000)
    ev.config_set("maxmemory-policy", "volatile-ttl")
    ev.config_set("maxmemory-samples", 10)
    ev.config_set("maxmemory", used(ev) - 50 * 300)     # about 50 keys too many
    ev.set("trigger", "x")
    evicted = ev.info("stats")["evicted_keys"]
    assert evicted > 20
    assert len(ev.keys("late:*")) == 100                  # the pool keeps the best
    assert len(ev.keys("soon:*")) == 100 - evicted


def test_lru_keeps_recently_used_keys(ev):
    fill(ev, 2000, "k")
    ev.config_set("maxmemory-policy", "allkeys-lru")
    hot = ["k:%d" % i for i in range(100)]
    time.sleep(1.1)
    for _ in range(3):
        ev.mget(hot)
    ev.config_set("maxmemory", used(ev))
    fill(ev, 1500, "new")                                 # evicts ~1500 keys
    assert ev.info("stats")["evicted_keys"] > 1000
    assert sum(ev.exists(k) for k in hot) >= 95


def test_lru_ranks_loaded_keys_by_the_load(ev):
    """Keys an RDB load put in have the clock of the load until touched (they have no
    entry of their own): untouched ones are older than keys read since."""
    fill(ev, 1900, "a")
    fill(ev, 100, "z")      # the hot keys: the pool ranks ties by name, these last
    ev.execute_command("DEBUG", "RELOAD")   # (no LRU policy yet: no idle records saved)
    ev.config_set("maxmemory-policy", "allkeys-lru")
    hot = ["z:%d" % i for i in range(100)]
    time.sleep(1.1)
    for k in hot:
        ev.get(k)
    assert ev.object("idletime", "a:500") >= 1 and ev.object("idletime", "z:5") == 0
    m = ev.info("memory")
    ev.config_set("maxmemory", int(m["used_memory"] - 0.3 * (m["used_memory"]
                                                             - m["used_memory_startup"])))
    ev.set("one", "more")           # evicts about 600 keys (going on in the cron's time)
    deadline = time.time() + 10
    while ev.dbsize() > 1500 and time.time() < deadline:
        time.sleep(0.05)
    assert ev.dbsize() <= 1500
    assert sum(ev.exists(k) for k in hot) >= 95


def test_lfu_keeps_hot_keys(ev):
    ev.config_set("maxmemory-policy", "allkeys-lfu")
    fill(ev, 2000, "k")
    hot = ["k:%d" % i for i in range(100)]
    for _ in range(30):
        ev.mget(hot)
    ev.config_set("maxmemory", used(ev))
    fill(ev, 1500, "new")
    assert ev.info("stats")["evicted_keys"] > 1000
    assert sum(ev.exists(k) for k in hot) >= 95


def test_evicted_event_and_aof_propagation(ev, tmp_path):
    ev.config_set("notify-keyspace-events", "Ee")
    ps = ev.pubsub()
    ps.psubscribe("__keyevent@*__:evicted")
    assert ps.get_message(timeout=1)["type"] == "psubscribe"
    ev.set("gone", "x")
    ev.config_set("maxmemory-policy", "allkeys-lru")
    ev.config_set("maxmemory", 1)
    time.sleep(0.2)
    msg = ps.get_message(timeout=2)
    assert msg["channel"] == b"__keyevent@0__:evicted" and msg["data"] == b"gone"
    ps.close()
    ev.config_set("maxmemory", 0)
    ev.config_set("lazyfree-lazy-eviction", "yes")
    ev.set("gone2", "x")
    ev.config_set("maxmemory", 1)
    time.sleep(0.2)
    ev.config_set("maxmemory", 0)
    aof = b"".join(open(f, "rb").read()
                   for f in sorted(glob.glob(os.path.join(str(tmp_path), "appendonlydir",
                                                          "*.incr.aof"))))
    assert b"$3\r\nDEL\r\n$4\r\ngone\r\n" in aof
    assert b"$6\r\nUNLINK\r\n$5\r\ngone2\r\n" in aof


def test_tracking_invalidation_on_eviction(ev):
    import socket
    port = ev.connection_pool.connection_kwargs["port"]
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        ev.set("cached", "v")
        s.sendall(b"HELLO 3\r\nCLIENT TRACKING on\r\nGET cached\r\n")
        buf = b""
        while not buf.endswith(b"+OK\r\n$1\r\nv\r\n"):
            buf += s.recv(65536)
        ev.config_set("maxmemory-policy", "allkeys-random")
        ev.config_set("maxmemory", 1)
        buf = b""
        while b"cached" not in buf:
            buf += s.recv(65536)
        assert buf == b">2\r\n$10\r\ninvalidate\r\n*1\r\n$6\r\ncached\r\n"
        ev.config_set("maxmemory", 0)
        assert ev.info("stats")["evicted_keys"] == 1
    finally:
        s.close()


def test_oom_error_matches_redis(both):
    """With nothing evictable the deny-oom commands fail as in Redis."""
    both("FLUSHALL")
    both("SET", "persistent", "1")
    try:
        both("CONFIG", "SET", "maxmemory-policy", "volatile-lru")
        both("CONFIG", "SET", "maxmemory", "1")
        both("SET", "b", "1")
        both("GET", "persistent")
        both("MULTI")
        both("SET", "x", "1")
        both("EXEC")
        both("CONFIG", "GET", "maxmemory-policy")
        both("CONFIG", "SET", "maxmemory-policy", "bogus")
        both("CONFIG", "SET", "maxmemory-eviction-tenacity", "101")
        both("CONFIG", "GET", "maxmemory-samples")
    finally:
        both("CONFIG", "SET", "maxmemory", "0")
        both("CONFIG", "SET", "maxmemory-policy", "noeviction")
    both("DEL", "persistent")
