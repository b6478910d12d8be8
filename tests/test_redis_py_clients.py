"""redis-py's client-side features against redislet, as applications use them: MULTI/EXEC
pipelines, the WATCH optimistic-locking retry loop and the transaction() helper, PubSub
(subscribe / psubscribe, get_message, listen, run_in_thread, unsubscribe) and redis.asyncio
PubSub. RESP2 and RESP3 where the protocol matters. (Lock: tests/test_redis_py_lock.py.)"""
import asyncio
import threading
import time

import pytest
import redis
import redis.asyncio as aredis
from redis.exceptions import ExecAbortError, ResponseError, WatchError

WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value"


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def proto(request):
    return request.param


@pytest.fixture
def clients(server, proto):
    """A factory of redis-py clients (same protocol) on a flushed server."""
    made = []

    def make(**kw):
        c = redis.Redis(port=server.port, protocol=proto, **kw)
        made.append(c)
        return c
    make(decode_responses=False).flushall()
    yield make
    for c in made:
        c.close()


# --- MULTI/EXEC pipelines ------------------------------------------------------------

def test_transaction_pipeline_results(clients):
    r = clients()
    with r.pipeline(transaction=True) as pipe:
        pipe.set("a", "1").incr("a").incrby("a", 10).get("a")
        pipe.rpush("l", "x", "y", "z").lrange("l", 0, -1)
        pipe.hset("h", mapping={"f": "v"}).hgetall("h")
        pipe.sadd("s", "m").smembers("s").exists("a", "nokey")
        assert len(pipe) == 11
        res = pipe.execute()
    assert res == [True, 2, 12, b"12", 3, [b"x", b"y", b"z"], 1, {b"f": b"v"}, 1, {b"m"}, 1]
    # the pipeline is reset after execute and reusable
    assert len(pipe) == 0
    assert r.get("a") == b"12"


def test_transaction_runtime_error_in_place(clients):
    r = clients()
    pipe = r.pipeline(transaction=True)
    pipe.set("k", "v").lpush("k", "x").append("k", "w").get("k")
    res = pipe.execute(raise_on_error=False)
    assert res[0] is True
    assert isinstance(res[1], ResponseError)
    assert str(res[1]) == WRONGTYPE
    assert res[2:] == [2, b"vw"]
    # with raise_on_error (the default) the first error is raised; the other commands
    # ran anyway, as EXEC does not roll back
    pipe.set("k", "v").incr("k").set("k2", "done")
    with pytest.raises(ResponseError) as ei:
        pipe.execute()
    assert str(ei.value) == ("Command # 2 (INCRBY k 1) of pipeline caused error: "
                             "value is not an integer or out of range")
    assert r.get("k2") == b"done"


def test_transaction_queue_error_aborts(clients):
    r = clients()
    r.set("k", "old")
    pipe = r.pipeline(transaction=True)
    pipe.set("k", "new")
    pipe.execute_command("NOSUCHCMD", "x")
    pipe.set("k2", "v")
    # EXEC answers EXECABORT; redis-py raises the queuing error of the bad command
    with pytest.raises(ResponseError) as ei:
        pipe.execute()
    assert str(ei.value) == ("Command # 2 (NOSUCHCMD x) of pipeline caused error: "
                             "unknown command 'NOSUCHCMD', with args beginning with: 'x' ")
    assert r.mget("k", "k2") == [b"old", None]
    # wrong arity is a queuing error too
    pipe.set("k", "new").execute_command("GET").set("k2", "v")
    with pytest.raises(ResponseError) as ei:
        pipe.execute()
    assert str(ei.value) == ("Command # 2 (GET) of pipeline caused error: "
                             "wrong number of arguments for 'get' command")
    assert r.mget("k", "k2") == [b"old", None]
    # the connection is usable afterwards (no MULTI left open)
    assert pipe.set("k", "again").get("k").execute() == [True, b"again"]


def test_non_transaction_pipeline(clients):
    r = clients()
    pipe = r.pipeline(transaction=False)
    for i in range(50):
        pipe.set("n%d" % i, i)
    pipe.mget("n0", "n49", "missing").lpush("n0", "x").get("n1")
    res = pipe.execute(raise_on_error=False)
    assert res[:50] == [True] * 50
    assert res[50] == [b"0", b"49", None]
    assert isinstance(res[51], ResponseError) and str(res[51]).endswith(WRONGTYPE)
    assert res[52] == b"1"


def test_transaction_with_decode_responses(clients):
    r = clients(decode_responses=True)
    res = r.pipeline().zadd("z", {"a": 1.5, "b": 2}).zrange("z", 0, -1, withscores=True) \
        .zscore("z", "a").execute()
    # redis-py post-processes WITHSCORES into tuples for RESP2 and keeps RESP3's pairs
    pairs = [("a", 1.5), ("b", 2.0)] if r.get_connection_kwargs()["protocol"] == 2 \
        else [["a", 1.5], ["b", 2.0]]
    assert res == [2, pairs, 1.5]


# --- WATCH / optimistic locking ------------------------------------------------------

def incr_with_watch(r, key, before_multi=None, max_attempts=50):
    """The documented redis-py WATCH retry loop; returns (new value, attempts)."""
    attempts = 0
    with r.pipeline() as pipe:
        while attempts < max_attempts:
            attempts += 1
            try:
                pipe.watch(key)
                cur = int(pipe.get(key) or 0)        # immediate mode while watching
                if before_multi:
                    before_multi(attempts)
                pipe.multi()
                pipe.set(key, cur + 1)
                pipe.execute()
                return cur + 1, attempts
            except WatchError:
                continue
    raise AssertionError("no success after %d attempts" % max_attempts)


def test_watch_retry_with_concurrent_modifier(clients):
    r, other = clients(), clients()
    r.set("counter", 10)
    go, done = threading.Event(), threading.Event()

    def modifier():
        go.wait(5)
        other.incrby("counter", 100)
        done.set()
    t = threading.Thread(target=modifier)
    t.start()

    def hook(attempt):
        if attempt == 1:       # let the other thread change the key between WATCH and EXEC
            go.set()
            assert done.wait(5)
    value, attempts = incr_with_watch(r, "counter", hook)
    t.join(5)
    assert attempts == 2
    assert value == 111
    assert r.get("counter") == b"111"


def test_watch_loop_threads_contend(server, proto):
    n_threads, rounds = 4, 40
    totals = []

    def worker():
        c = redis.Redis(port=server.port, protocol=proto)
        try:
            tries = 0
            for _ in range(rounds):
                tries += incr_with_watch(c, "shared", max_attempts=1000)[1]
            totals.append(tries)
        finally:
            c.close()
    c = redis.Redis(port=server.port, protocol=proto)
    c.delete("shared")
    threads = [threading.Thread(target=worker) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(totals) == n_threads
    # no lost update despite the contention; each success took at least one attempt
    assert c.get("shared") == str(n_threads * rounds).encode()
    assert sum(totals) >= n_threads * rounds
    c.close()


def test_watch_unmodified_and_unwatch(clients):
    r, other = clients(), clients()
    r.set("k", "1")
    with r.pipeline() as pipe:
        pipe.watch("k", "other")
        assert pipe.get("k") == b"1"
        pipe.multi()
        pipe.set("k", "2")
        assert pipe.execute() == [True]
        # explicit UNWATCH (reset) drops the watch: a later change does not fail EXEC
        pipe.watch("k")
        pipe.unwatch()
        other.set("k", "3")
        pipe.multi()
        pipe.get("k")
        assert pipe.execute() == [b"3"]
        # a watched key that gets deleted / expires counts as modified
        pipe.watch("k")
        other.delete("k")
        pipe.multi()
        pipe.set("k", "x")
        with pytest.raises(WatchError):
            pipe.execute()
    assert r.get("k") is None


def test_transaction_helper(clients):
    r, other = clients(), clients()
    r.set("a", 5)
    r.set("b", 7)
    calls = []

    def swap(pipe):
        calls.append(1)
        a, b = pipe.mget("a", "b")
        if len(calls) == 1:
            other.set("b", 70)       # concurrent change: the first EXEC fails
        pipe.multi()
        pipe.set("a", b)
        pipe.set("b", a)
    res = r.transaction(swap, "a", "b")
    assert res == [True, True]
    assert len(calls) == 2
    assert r.mget("a", "b") == [b"70", b"5"]
    # value_from_callable returns the function's result instead of EXEC's
    got = r.transaction(lambda pipe: int(pipe.get("a")) * 2, "a", value_from_callable=True)
    assert got == 140


# --- PubSub ------------------------------------------------------------------------------

def msg(kind, channel, data, pattern=None):
    return {"type": kind, "pattern": pattern, "channel": channel, "data": data}


def test_subscribe_get_message_and_unsubscribe(clients):
    r, pub = clients(), clients()
    p = r.pubsub()
    try:
        p.subscribe("news", "sport")
        assert p.get_message(timeout=2) == msg("subscribe", b"news", 1)
        assert p.get_message(timeout=2) == msg("subscribe", b"sport", 2)
        assert p.get_message(timeout=0.05) is None
        assert pub.pubsub_numsub("news", "sport", "none") == [(b"news", 1), (b"sport", 1),
                                                               (b"none", 0)]
        assert pub.publish("news", "hello") == 1
        assert pub.publish("sport", b"\x00bin\xff") == 1
        assert pub.publish("nobody", "x") == 0
        assert p.get_message(timeout=2) == msg("message", b"news", b"hello")
        assert p.get_message(timeout=2) == msg("message", b"sport", b"\x00bin\xff")
        p.unsubscribe("news")
        assert p.get_message(timeout=2) == msg("unsubscribe", b"news", 1)
        assert pub.publish("news", "lost") == 0
        assert pub.publish("sport", "kept") == 1
        assert p.get_message(timeout=2) == msg("message", b"sport", b"kept")
        p.unsubscribe()
        assert p.get_message(timeout=2) == msg("unsubscribe", b"sport", 0)
        assert not p.subscribed
        assert pub.pubsub_channels() == []
    finally:
        p.close()


def test_psubscribe_pattern_messages(clients):
    r, pub = clients(), clients()
    p = r.pubsub(ignore_subscribe_messages=True)
    try:
        p.psubscribe("news.*", "n?ws.art")
        p.subscribe("news.art")
        # subscribe confirmations are consumed silently
        for _ in range(3):
            assert p.get_message(timeout=0.5) is None
        assert pub.pubsub_numpat() == 2
        assert pub.publish("news.art", "m1") == 3
        got = [p.get_message(timeout=2) for _ in range(3)]
        assert sorted(got, key=repr) == sorted([
            msg("pmessage", b"news.art", b"m1", b"news.*"),
            msg("pmessage", b"news.art", b"m1", b"n?ws.art"),
            msg("message", b"news.art", b"m1"),
        ], key=repr)
        assert pub.publish("news.tech", "m2") == 1
        assert p.get_message(timeout=2) == msg("pmessage", b"news.tech", b"m2", b"news.*")
        p.punsubscribe("news.*")
        assert p.get_message(timeout=0.5) is None       # punsubscribe confirmation ignored
        assert pub.publish("news.tech", "m3") == 0
        assert pub.pubsub_numpat() == 1
    finally:
        p.close()


def test_subscribe_with_handlers_and_decode(clients):
    r, pub = clients(decode_responses=True), clients()
    seen = []
    p = r.pubsub(ignore_subscribe_messages=True)
    try:
        p.subscribe(**{"h1": seen.append})
        p.psubscribe(**{"hp*": seen.append})
        p.get_message(timeout=0.5)
        p.get_message(timeout=0.5)
        assert pub.publish("h1", "x") == 1
        assert pub.publish("hp9", "y") == 1
        # messages with a handler are passed to it, get_message returns None
        deadline = time.time() + 3
        while len(seen) < 2 and time.time() < deadline:
            assert p.get_message(timeout=0.5) is None
        assert seen == [msg("message", "h1", "x"), msg("pmessage", "hp9", "y", "hp*")]
    finally:
        p.close()


def test_listen_with_publisher_thread(clients, server):
    r = clients()
    p = r.pubsub()
    p.subscribe("feed")
    assert p.get_message(timeout=2) == msg("subscribe", b"feed", 1)
    n = 200

    def publisher(proto=r.get_connection_kwargs().get("protocol")):
        c = redis.Redis(port=server.port, protocol=proto)
        try:
            for i in range(n):
                assert c.publish("feed", "m%d" % i) == 1
            c.publish("feed", "stop")
        finally:
            c.close()
    t = threading.Thread(target=publisher)
    t.start()
    got = []
    try:
        for m in p.listen():
            assert m["type"] == "message" and m["channel"] == b"feed"
            if m["data"] == b"stop":
                break
            got.append(m["data"])
            assert len(got) <= n
    finally:
        t.join(10)
        p.close()
    assert got == [b"m%d" % i for i in range(n)]


def test_run_in_thread(clients):
    r, pub = clients(), clients()
    received = []
    enough = threading.Event()

    def handler(m):
        received.append((m["type"], m["channel"], m["pattern"], m["data"]))
        if len(received) == 4:
            enough.set()
    p = r.pubsub()
    p.subscribe(**{"jobs": handler})
    p.psubscribe(**{"ev:*": handler})
    worker = p.run_in_thread(sleep_time=0.01, daemon=True)
    try:
        deadline = time.time() + 3
        while pub.pubsub_numsub("jobs")[0][1] != 1 or pub.pubsub_numpat() != 1:
            assert time.time() < deadline
            time.sleep(0.01)
        for i in range(2):
            assert pub.publish("jobs", "j%d" % i) == 1
            assert pub.publish("ev:%d" % i, "e%d" % i) == 1
        assert enough.wait(5)
    finally:
        worker.stop()
        worker.join(5)
    assert not worker.is_alive()
    assert received == [
        ("message", b"jobs", None, b"j0"), ("pmessage", b"ev:0", b"ev:*", b"e0"),
        ("message", b"jobs", None, b"j1"), ("pmessage", b"ev:1", b"ev:*", b"e1"),
    ]
    # stop() closed the PubSub: the server forgot the subscriptions
    deadline = time.time() + 3
    while pub.pubsub_numsub("jobs") != [(b"jobs", 0)]:
        assert time.time() < deadline
        time.sleep(0.01)


def test_ping_while_subscribed(clients):
    """PING on a subscribed connection: RESP2 answers the [pong, arg] push, RESP3 a plain
    +PONG / bulk; redis-py turns both into a 'pong' message."""
    r = clients()
    p = r.pubsub()
    try:
        p.subscribe("c3")
        assert p.get_message(timeout=2) == msg("subscribe", b"c3", 1)
        p.ping()
        assert p.get_message(timeout=2) == msg("pong", None, b"")
        p.ping("hi")
        assert p.get_message(timeout=2) == msg("pong", None, b"hi")
    finally:
        p.close()


def test_asyncio_pubsub(server, proto):
    async def main():
        r = aredis.Redis(port=server.port, protocol=proto)
        pub = aredis.Redis(port=server.port, protocol=proto)
        p = r.pubsub()
        try:
            await p.subscribe("achan")
            await p.psubscribe("ap*")
            assert await p.get_message(timeout=2) == msg("subscribe", b"achan", 1)
            assert await p.get_message(timeout=2) == msg("psubscribe", b"ap*", 2)
            assert await pub.publish("achan", "hi") == 1
            assert await pub.publish("apx", "pat") == 1
            assert await p.get_message(ignore_subscribe_messages=True, timeout=2) == \
                msg("message", b"achan", b"hi")
            assert await p.get_message(timeout=2) == msg("pmessage", b"apx", b"pat", b"ap*")
            assert await p.get_message(timeout=0.05) is None

            # a publisher task running concurrently with a listen() consumer
            async def producer():
                for i in range(20):
                    await pub.publish("achan", "n%d" % i)
                await pub.publish("achan", "end")
            task = asyncio.create_task(producer())
            got = []
            async for m in p.listen():
                if m["data"] == b"end":
                    break
                got.append(m["data"])
            await task
            assert got == [b"n%d" % i for i in range(20)]

            await p.unsubscribe("achan")
            await p.punsubscribe()
            assert await p.get_message(timeout=2) == msg("unsubscribe", b"achan", 1)
            assert await p.get_message(timeout=2) == msg("punsubscribe", b"ap*", 0)
            assert await pub.publish("achan", "gone") == 0

            # asyncio MULTI/EXEC pipeline too
            async with pub.pipeline(transaction=True) as pipe:
                res = await pipe.set("ak", "1").incr("ak").get("ak").execute()
            assert res == [True, 2, b"2"]
        finally:
            await p.aclose()
            await r.aclose()
            await pub.aclose()
    asyncio.run(asyncio.wait_for(main(), 20))
