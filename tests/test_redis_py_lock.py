"""redis-py's Lua-based helpers against redislet: Lock (acquire / extend / reacquire /
release under thread contention) and Script / register_script (EVALSHA with the
NOSCRIPT fallback)."""
import threading
import time

import pytest
import redis
from redis.exceptions import LockError, LockNotOwnedError, NoScriptError


@pytest.fixture
def rc(server):
    c = redis.Redis(port=server.port)
    c.flushall()
    c.script_flush()
    yield c
    c.close()


def test_lock_contention(server, rc):
    n_threads, rounds = 6, 15
    inside = []
    errors = []
    counter = {"v": 0}

    def worker():
        c = redis.Redis(port=server.port)
        try:
            for _ in range(rounds):
                lock = c.lock("res", timeout=5, blocking_timeout=10, sleep=0.001)
                assert lock.acquire()
                try:
                    inside.append(1)
                    if len(inside) != 1:
                        errors.append("two holders")
                    v = counter["v"]
                    time.sleep(0.0005)
                    counter["v"] = v + 1
                    assert lock.owned()
                    assert lock.extend(1)
                    assert lock.reacquire()
                    inside.pop()
                finally:
                    lock.release()
        except Exception as e:       # pragma: no cover - reported below
            errors.append(repr(e))
        finally:
            c.close()

    threads = [threading.Thread(target=worker) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert counter["v"] == n_threads * rounds
    assert rc.exists("res") == 0


def test_lock_semantics(rc):
    lock = rc.lock("l1", timeout=10)
    assert lock.acquire(blocking=False)
    other = rc.lock("l1", timeout=10)
    assert not other.acquire(blocking=False)
    assert lock.locked() and lock.owned() and not other.owned()
    assert 9000 <= rc.pttl("l1") <= 10000
    assert lock.extend(5)
    assert 14000 <= rc.pttl("l1") <= 15000
    assert lock.extend(2, replace_ttl=True)
    assert rc.pttl("l1") <= 2000
    assert lock.reacquire()
    assert 9000 <= rc.pttl("l1") <= 10000
    # a lock object whose token is not the stored one: the scripts refuse it
    stale = rc.lock("l1", timeout=10)
    stale.local.token = b"not-the-owner"
    with pytest.raises(LockNotOwnedError):
        stale.release()
    stale.local.token = b"not-the-owner"      # (release() forgets the token)
    with pytest.raises(LockNotOwnedError):
        stale.extend(1)
    with pytest.raises(LockNotOwnedError):
        stale.reacquire()
    lock.release()
    with pytest.raises(LockError):
        lock.release()
    assert not lock.locked()
    assert other.acquire(blocking=False)
    other.release()


def test_lock_expires(rc):
    lock = rc.lock("l2", timeout=0.05)
    assert lock.acquire(blocking=False)
    time.sleep(0.1)
    assert rc.lock("l2", timeout=1).acquire(blocking=False)
    with pytest.raises(LockNotOwnedError):
        lock.release()


def test_register_script(rc):
    script = rc.register_script("return redis.call('incrby', KEYS[1], ARGV[1])")
    assert script(keys=["cnt"], args=[5]) == 5
    assert script(keys=["cnt"], args=[2]) == 7
    rc.script_flush()               # EVALSHA gets NOSCRIPT, the helper loads it again
    assert script(keys=["cnt"], args=[1]) == 8
    assert rc.script_exists(script.sha) == [True]
    with pytest.raises(NoScriptError):
        rc.evalsha("0" * 40, 0)
    pipe = rc.pipeline()
    script(keys=["cnt"], args=[10], client=pipe)
    pipe.get("cnt")
    assert pipe.execute() == [18, b"18"]
    sha = rc.script_load("return {KEYS[1], ARGV[1]}")
    assert rc.evalsha(sha, 1, "k", "a") == [b"k", b"a"]
    assert rc.eval("return redis.call('get', KEYS[1])", 1, "cnt") == b"18"
