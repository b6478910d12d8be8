"""MIGRATE: redislet and real Redis as sources and as targets, compared reply by reply."""
import time

import pytest

from conftest import Raw, start_real_redis, start_redislet


@pytest.fixture(scope="module")
def targets(tmp_path_factory):
    t1 = start_redislet(tmp_path_factory.mktemp("migrate-target-redislet"))
    try:
        t2 = start_real_redis(tmp_path_factory.mktemp("migrate-target-redis"))
    except BaseException:
        t1.stop()
        raise
    yield {"redislet": t1, "redis": t2}
    t1.stop()
    t2.stop()


@pytest.fixture(params=["redislet", "redis"])
def target(request, targets):
    t = targets[request.param]
    conn = Raw(t.port)
    conn.cmd("FLUSHALL")
    conn.port = t.port
    yield conn
    conn.cmd("CONFIG", "SET", "requirepass", "")
    conn.cmd("ACL", "DELUSER", "mu")
    conn.close()


def dump_state(conn, db=0):
    conn.cmd("SELECT", str(db))
    out = {}
    for key in sorted(_keys(conn.cmd("KEYS", "*"))):
        ttl = int(conn.cmd("PTTL", key)[1:-2])
        out[key] = (conn.cmd("DUMP", key), ttl > 0)
    conn.cmd("SELECT", "0")
    return out


def _keys(reply):
    parts = reply.split(b"\r\n")
    return [parts[i] for i in range(2, len(parts), 2)]


def run_both(both, target, setup, *args, db=0):
    """Run setup + MIGRATE args on redislet and on Redis as sources (the target flushed
    before each); compare replies, the sources' remaining keys and the target's keys."""
    results = []
    for side in (both.a, both.b):
        side.cmd("FLUSHALL")
        target.cmd("FLUSHALL")
        for cmd in setup:
            side.cmd(*cmd)
        reply = side.cmd("MIGRATE", "127.0.0.1", str(target.port), *args)
        results.append((reply, dump_state(side), dump_state(target, db)))
    assert results[0] == results[1]
    return results[0]


SETUP = [("SET", "a", "1"), ("RPUSH", "l", "x", "y"), ("HSET", "h", "f", "v"),
         ("ZADD", "z", "1", "m"), ("SADD", "s", "1", "2"), ("PEXPIRE", "l", "100000")]


def test_single_key(both, target):
    reply, src, dst = run_both(both, target, SETUP, "a", "0", "1000")
    assert reply == b"+OK\r\n"
    assert b"a" not in src and b"a" in dst


def test_nokey(both, target):
    reply, src, dst = run_both(both, target, SETUP, "missing", "0", "1000")
    assert reply == b"+NOKEY\r\n"
    assert dst == {}


def test_keys_form_with_ttl(both, target):
    reply, src, dst = run_both(both, target, SETUP, "", "0", "1000",
                               "KEYS", "l", "h", "nokey", "z", "s")
    assert reply == b"+OK\r\n"
    assert sorted(dst) == [b"h", b"l", b"s", b"z"]
    assert dst[b"l"][1] is True
    assert sorted(src) == [b"a"]


def test_copy_keeps_source(both, target):
    reply, src, dst = run_both(both, target, SETUP, "", "0", "1000", "COPY", "KEYS", "a", "h")
    assert reply == b"+OK\r\n"
    assert b"a" in src and b"a" in dst and b"h" in dst


def test_busykey_and_replace(both, target):
    for side in (both.a, both.b):
        side.cmd("FLUSHALL")
        side.cmd("SET", "a", "new")
        target.cmd("FLUSHALL")
        target.cmd("SET", "a", "old")
        r1 = side.cmd("MIGRATE", "127.0.0.1", str(target.port), "a", "0", "1000")
        assert r1 == (b"-ERR Target instance replied with error: BUSYKEY Target key name "
                      b"already exists.\r\n")
        assert side.cmd("EXISTS", "a") == b":1\r\n"
        r2 = side.cmd("MIGRATE", "127.0.0.1", str(target.port), "a", "0", "1000",
                      "REPLACE")
        assert r2 == b"+OK\r\n"
        assert target.cmd("GET", "a") == b"$3\r\nnew\r\n"
        assert side.cmd("EXISTS", "a") == b":0\r\n"


def test_other_db(both, target):
    reply, src, dst = run_both(both, target, SETUP, "", "5", "1000", "KEYS", "a", "s", db=5)
    assert reply == b"+OK\r\n"
    assert sorted(dst) == [b"a", b"s"]
    assert dump_state(target, 0) == {}


def test_bad_db(both, target):
    reply, src, dst = run_both(both, target, SETUP, "a", "99", "1000")
    assert reply == b"-ERR Target instance replied with error: ERR DB index is out of range\r\n"
    assert b"a" in src


def test_auth_forms(both, target):
    target.cmd("ACL", "SETUSER", "mu", "on", ">mp", "~*", "+@all")
    reply, src, dst = run_both(both, target, SETUP, "a", "0", "1000", "AUTH2", "mu", "mp")
    assert reply == b"+OK\r\n" and b"a" in dst
    reply, src, dst = run_both(both, target, SETUP, "a", "0", "1000", "AUTH2", "mu", "no")
    assert reply.startswith(b"-ERR Target instance replied with error: WRONGPASS")
    reply, src, dst = run_both(both, target, SETUP, "a", "0", "1000", "AUTH", "pw")
    assert reply.startswith(b"-ERR Target instance replied with error: ERR AUTH <password>")
    assert target.cmd("CONFIG", "SET", "requirepass", "pw") == b"+OK\r\n"
    reply, src, dst = run_both(both, target, SETUP, "", "0", "1000", "REPLACE", "AUTH",
                               "pw", "KEYS", "a", "h")
    assert reply == b"+OK\r\n" and sorted(dst) == [b"a", b"h"]


def test_errors(both, target):
    p = str(target.port)
    both("CONFIG", "RESETSTAT")
    both("SET", "a", "1")
    both("MIGRATE", "127.0.0.1", p, "a", "0", "1000", "KEYS", "b")
    both("MIGRATE", "127.0.0.1", p, "a", "0", "1000", "foo")
    both("MIGRATE", "127.0.0.1", p, "a", "0", "1000", "AUTH")
    both("MIGRATE", "127.0.0.1", p, "a", "0", "1000", "AUTH2", "u")
    both("MIGRATE", "127.0.0.1", p, "a", "0", "x")
    both("MIGRATE", "127.0.0.1", p, "a", "x", "1000")
    both("MIGRATE", "127.0.0.1", p, "a", "0", "1000", "foo", "KEYS", "b")
    both("MIGRATE", "127.0.0.1", p, "", "0", "1000", "KEYS")
    both("MIGRATE", "127.0.0.1", p, "", "0", "1000")
    both("MIGRATE", "127.0.0.1", p, "a", "0")
    both("MIGRATE", "127.0.0.1", "-1", "a", "0", "100")
    both("MIGRATE", "127.0.0.1", "1", "a", "0", "100")
    both("MIGRATE", "127.0.0.1", "abc", "a", "0", "100")
    both("MIGRATE", "nonexistent.invalid", "1", "a", "0", "100")
    both("EXISTS", "a")
    both("INFO", "errorstats")


def test_getkeys(both):
    for args in (["h", "p", "k", "0", "0"], ["h", "p", "", "0", "0", "KEYS", "a", "b"],
                 ["h", "p", "", "0", "0", "AUTH", "keys", "KEYS", "a"],
                 ["h", "p", "", "0", "0"], ["h", "p", "k", "0", "0", "KEYS", "a"],
                 ["h", "p", "", "0", "0", "KEYS"], ["h", "p", "", "0", "0", "KEYS", "a"],
                 ["h", "p", "", "0", "0", "COPY", "AUTH2", "u", "p", "KEYS", "a", "b"],
                 ["h", "p", "k", "0"]):
        both("COMMAND", "GETKEYS", "MIGRATE", *args)
        both("COMMAND", "GETKEYSANDFLAGS", "MIGRATE", *args)


def test_propagates_del_and_notifies(server, target, raw):
    c = raw()
    c.cmd("FLUSHALL")
    c.cmd("CONFIG", "SET", "notify-keyspace-events", "KEA")
    sub = raw()
    sub.cmd("PSUBSCRIBE", "__keyevent@0__:del")
    c.cmd("SET", "a", "1")
    c.cmd("SET", "b", "2")
    mon = raw()
    mon.cmd("MONITOR")
    assert c.cmd("MIGRATE", "127.0.0.1", str(target.port), "", "0", "1000",
                 "AUTH2", "user", "secret", "KEYS", "a", "b") .startswith(b"-ERR Target")
    # the failed AUTH does not stop the RESTOREs (the default user needs no password)
    assert c.cmd("MIGRATE", "127.0.0.1", str(target.port), "", "0", "1000",
                 "REPLACE", "KEYS", "a", "b") == b"+OK\r\n"
    mon.sock.settimeout(2)
    got = b""
    while b"KEYS" not in got or got.count(b"MIGRATE") < 2:
        got += mon.sock.recv(65536)
    assert b'"AUTH2" "(redacted)" "(redacted)"' in got
    assert b"secret" not in got and b"user" not in got
    sub.sock.settimeout(2)
    got = b""
    while got.count(b"pmessage") < 2:
        got += sub.sock.recv(65536)
    assert b"$1\r\na\r\n" in got and b"$1\r\nb\r\n" in got
    c.cmd("CONFIG", "SET", "notify-keyspace-events", "")


def test_slowlog_redacts(server, target, raw):
    c = raw()
    c.cmd("CONFIG", "SET", "slowlog-log-slower-than", "0")
    c.cmd("SLOWLOG", "RESET")
    c.cmd("SET", "a", "1")
    c.cmd("MIGRATE", "127.0.0.1", str(target.port), "a", "0", "1000", "AUTH", "pw1")
    log = c.cmd("SLOWLOG", "GET", "10")
    c.cmd("CONFIG", "SET", "slowlog-log-slower-than", "10000")
    assert b"pw1" not in log and b"(redacted)" in log


def test_cached_socket(server, target, raw):
    c = raw()
    c.cmd("SET", "a", "1")
    assert c.cmd("MIGRATE", "127.0.0.1", str(target.port), "a", "0", "1000",
                 "REPLACE") == b"+OK\r\n"
    info = c.cmd("INFO", "stats")
    assert int(info.split(b"migrate_cached_sockets:")[1].split(b"\r\n")[0]) >= 1
    # the cached connection is reused (no SELECT needed), and survives a target restart
    # of its client by a retry
    target.cmd("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")
    c.cmd("SET", "a", "2")
    assert c.cmd("MIGRATE", "127.0.0.1", str(target.port), "a", "0", "1000",
                 "REPLACE") == b"+OK\r\n"
    assert target.cmd("GET", "a") == b"$1\r\n2\r\n"


def test_timeout_reading(server, raw, tmp_path):
    import socket
    import threading
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(1)
    port = lst.getsockname()[1]
    conns = []
    threading.Thread(target=lambda: conns.append(lst.accept()), daemon=True).start()
    c = raw()
    c.cmd("SET", "a", "1")
    t0 = time.time()
    assert c.cmd("MIGRATE", "127.0.0.1", str(port), "a", "0", "200") == \
        b"-IOERR error or timeout reading to target instance\r\n"
    assert time.time() - t0 < 2
    assert c.cmd("EXISTS", "a") == b":1\r\n"
    for s, _ in conns:
        s.close()
    lst.close()
