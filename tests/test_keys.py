"""Generic key commands: differential tests against real Redis plus SCAN guarantees."""
import random
import time
from itertools import islice

import pytest

from redislet import scan as scanmod


def _sorted_array(reply):
    """Sort the elements of a flat RESP array of bulks (order is unspecified)."""
    assert reply.startswith(b"*")
    head, _, rest = reply.partition(b"\r\n")
    items = []
    while rest:
        ln, _, rest = rest.partition(b"\r\n")
        n = int(ln[1:])
        items.append(rest[:n])
        rest = rest[n + 2:]
    return head, sorted(items)


def test_del_unlink_exists(both):
    both("MSET", "a", "1", "b", "2", "c", "3")
    both("DEL", "a", "b", "x")
    both("EXISTS", "a", "c", "c", "x")
    both("UNLINK", "c", "c")
    both("EXISTS", "c")
    both("DEL")
    both("EXISTS")
    both("SET", "e", "")
    both("EXISTS", "e")


def test_type(both):
    both("SET", "s", "v")
    both("HSET", "h", "f", "v")
    both("TYPE", "s")
    both("TYPE", "h")
    both("TYPE", "nokey")
    both.resp3()
    both("TYPE", "s")
    both("TYPE", "nokey")


def test_keys(both):
    for k in ["key_x", "key_y", "key_z", "foo_a", "foo_b", "foo_c", "a*b", "a?b", "[x]", ""]:
        both("SET", k, "v")
    for pat in ["foo*", "*", "key_?", "key_[xy]", "key_[^x]*", "a\\*b", "nomatch", "",
                "[", "*_*", "?", "a[*]b", "\\[x\\]", "**", "***", "*?", "?*", "*x*"]:
        assert _sorted_array(both.a.cmd("KEYS", pat)) == _sorted_array(both.b.cmd("KEYS", pat))


def test_dbsize_randomkey(both):
    both("DBSIZE")
    both("RANDOMKEY")
    both("SET", "only", "1")
    both("RANDOMKEY")
    both("DBSIZE")
    both.resp3()
    both("DEL", "only")
    both("RANDOMKEY")


def test_rename(both):
    both("SET", "a", "1")
    both("RENAME", "a", "b")
    both("GET", "b")
    both("EXISTS", "a")
    both("RENAME", "nokey", "x")
    both("RENAMENX", "nokey", "x")
    both("RENAME", "b", "b")
    both("RENAMENX", "b", "b")
    both("RENAME", "nokey", "nokey")
    both("SET", "c", "2")
    both("RENAMENX", "b", "c")
    both("RENAMENX", "b", "d")
    both("MGET", "b", "c", "d")
    both("SET", "t", "v", "EX", "100")
    both("RENAME", "t", "t2")
    both("TTL", "t2")
    both("SET", "t3", "x")
    both("RENAME", "t3", "t2")
    both("TTL", "t2")
    both("HSET", "h", "f", "v")
    both("RENAME", "h", "c")
    both("TYPE", "c")


def test_move(both):
    both("SELECT", "9")
    both("SET", "k", "v")
    both("MOVE", "k", "9")
    both("MOVE", "k", "10")
    both("MOVE", "k", "16")
    both("MOVE", "k", "-1")
    both("MOVE", "k", "x")
    both("MOVE", "k", "4294967296")
    both("EXISTS", "k")
    both("SELECT", "10")
    both("GET", "k")
    both("SET", "k", "other")
    both("MOVE", "k", "9")
    both("SELECT", "9")
    both("SET", "t", "v", "PX", "100000")
    both("MOVE", "t", "11")
    both("MOVE", "nokey", "11")
    both("SELECT", "11")
    both("EXISTS", "t")
    both("FLUSHALL")


def test_copy(both):
    both("SET", "a", "1")
    both("COPY", "a", "b")
    both("GET", "b")
    both("COPY", "a", "b")
    both("COPY", "a", "b", "REPLACE")
    both("COPY", "a", "a")
    both("COPY", "a", "a", "DB", "0")
    both("COPY", "nokey", "x")
    both("COPY", "a", "x", "DB", "3")
    both("COPY", "a", "x", "DB", "16")
    both("COPY", "a", "x", "DB", "-1")
    both("COPY", "a", "x", "DB", "y")
    both("COPY", "a", "x", "DB")
    both("COPY", "a", "x", "FOO")
    both("COPY", "a", "x", "REPLACE", "REPLACE")
    both("SELECT", "3")
    both("GET", "x")
    both("SELECT", "0")
    both("SET", "t", "v", "EX", "100")
    both("COPY", "t", "t2")
    both("TTL", "t2")
    both("HSET", "h", "f", "v", "g", "w")
    both("COPY", "h", "h2")
    both("HSET", "h2", "f", "changed")
    both("HGET", "h", "f")
    both("HGET", "h2", "f")
    both("COPY", "h", "a", "REPLACE")
    both("TYPE", "a")
    both("FLUSHALL")


def test_swapdb(both):
    both("SET", "k", "db0")
    both("SELECT", "1")
    both("SET", "k", "db1")
    both("SET", "only1", "x")
    both("SWAPDB", "0", "1")
    both("GET", "k")
    both("DBSIZE")
    both("SELECT", "0")
    both("GET", "k")
    both("DBSIZE")
    both("SWAPDB", "0", "0")
    both("SWAPDB", "0", "16")
    both("SWAPDB", "-1", "0")
    both("SWAPDB", "x", "0")
    both("SWAPDB", "0", "x")
    both("SWAPDB", "99999999999", "0")
    both("FLUSHALL")


def test_flush(both):
    both("SET", "a", "1")
    both("FLUSHDB")
    both("DBSIZE")
    both("SET", "a", "1")
    both("FLUSHDB", "ASYNC")
    both("FLUSHDB", "SYNC")
    both("FLUSHDB", "sync")
    both("FLUSHDB", "FOO")
    both("FLUSHDB", "SYNC", "ASYNC")
    both("FLUSHALL", "FOO")
    both("FLUSHALL", "ASYNC")
    both("FLUSHALL", "SYNC", "x")
    both("SELECT", "5")
    both("SET", "a", "1")
    both("FLUSHALL")
    both("DBSIZE")


def test_touch(both):
    both("MSET", "a", "1", "b", "2")
    both("TOUCH", "a", "b", "c", "a")
    both("TOUCH")


def test_ttl_family(both):
    both("SET", "k", "v")
    for cmd in ("TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"):
        both(cmd, "k")
        both(cmd, "nokey")
    both("PEXPIREAT", "k", "99999999999999")
    for cmd in ("EXPIRETIME", "PEXPIRETIME", "TTL"):
        both(cmd, "k")
    both("PEXPIREAT", "k", "99999999999499")
    both("EXPIRETIME", "k")
    both("PEXPIREAT", "k", "99999999999500")
    both("EXPIRETIME", "k")
    both("PERSIST", "k")
    both("PERSIST", "k")
    both("PERSIST", "nokey")
    both("TTL", "k")


@pytest.mark.parametrize("cmd", ["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"])
def test_expire_errors(both, cmd):
    both("SET", "k", "v")
    for args in (["abc"], [""], ["1.5"], ["100", "FOO"], ["100", "NX", "XX"],
                 ["100", "GT", "LT"], ["100", "NX", "GT"], ["100", "nx", "lt"],
                 ["100", "XX", "GT", "LT"], ["9223372036854775807"],
                 ["9223372036854775"], ["9223372036854776"], ["-9223372036854775808"],
                 ["-9223372036854775"], ["-9223372036854776"], ["100", "nx", "nx"],
                 ["9223372036854775806"]):
        both(cmd, "k", *args)
        both("EXISTS", "k")
        both("SET", "k", "v")
    both(cmd, "k")
    both(cmd, "nokey", "100")
    both(cmd, "nokey", "abc")
    both(cmd, "nokey", "100", "FOO")


def test_expire_options(both):
    both("SET", "k", "v")
    both("EXPIRE", "k", "100", "XX")
    both("EXPIRE", "k", "100", "GT")
    both("EXPIRE", "k", "100", "LT")
    both("TTL", "k")
    both("EXPIRE", "k", "100", "NX")
    both("EXPIRE", "k", "200", "NX")
    both("EXPIRE", "k", "200", "XX")
    both("TTL", "k")
    both("EXPIRE", "k", "100", "GT")
    both("EXPIRE", "k", "300", "GT")
    both("EXPIRE", "k", "400", "LT")
    both("EXPIRE", "k", "50", "LT")
    both("EXPIRE", "k", "60", "LT", "XX")
    both("TTL", "k")
    both("PERSIST", "k")
    both("EXPIRE", "k", "-5", "LT")
    both("EXISTS", "k")
    both("SET", "k", "v")
    both("EXPIRE", "k", "-5", "LT", "XX")
    both("EXISTS", "k")
    both("EXPIRE", "k", "0")
    both("EXISTS", "k")
    both("SET", "k", "v")
    both("PEXPIREAT", "k", "1")
    both("EXISTS", "k")
    both("SET", "k", "v")
    both("EXPIREAT", "k", str(int(time.time()) + 100))
    both("TTL", "k")


def test_object(both):
    both("SET", "k", "v")
    both("OBJECT", "ENCODING", "k")
    both("OBJECT", "REFCOUNT", "k")
    both("OBJECT", "IDLETIME", "k")
    both("OBJECT", "FREQ", "k")
    both("OBJECT", "ENCODING", "nokey")
    both("OBJECT", "IDLETIME", "nokey")
    both("OBJECT", "FREQ", "nokey")
    both("OBJECT", "HELP")
    both("OBJECT", "FOO", "k")
    both("OBJECT", "ENCODING")
    both("OBJECT", "ENCODING", "k", "x")
    both("OBJECT")
    both.resp3()
    both("OBJECT", "ENCODING", "nokey")
    both("OBJECT", "HELP")


def test_object_lfu(both):
    both("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
    try:
        both("SET", "k", "v")
        both("OBJECT", "FREQ", "k")
        both("OBJECT", "IDLETIME", "k")
        both("GET", "k")
        both("OBJECT", "FREQ", "k")   # 5 -> 6 with probability 1 (base 0)
    finally:
        both("CONFIG", "SET", "maxmemory-policy", "noeviction")


def test_object_idletime(r):
    r.set("foo", "bar")
    time.sleep(2.2)
    r.ttl("foo")
    r.type("foo")
    r.exists("foo")
    assert r.object("idletime", "foo") >= 2
    r.touch("foo")
    assert r.object("idletime", "foo") < 2


def test_scan_errors(both):
    both("SET", "k", "v")
    for args in (["x"], ["1.5"], [" 1"], ["18446744073709551616"], ["+"],
                 ["0", "COUNT"], ["0", "COUNT", "0"], ["0", "COUNT", "-1"],
                 ["0", "COUNT", "x"], ["0", "MATCH"], ["0", "TYPE"], ["0", "FOO", "x"],
                 ["0", "COUNT", "10", "MATCH", "*", "TYPE", "string"]):
        both("SCAN", *args)
    for cur in ("-1", "", "+5", "18446744073709551615", "-0"):   # accepted by strtoul
        assert both.a.cmd("SCAN", cur).startswith(b"*2\r\n$")


def _full_scan(conn, *opts, count=None):
    seen = []
    cur = b"0"
    calls = 0
    while True:
        args = ["SCAN", cur] + list(opts) + (["COUNT", str(count)] if count else [])
        reply = conn.cmd(*args)
        parts = reply.split(b"\r\n")
        cur = parts[2]
        n = int(parts[3][1:])
        seen.extend(parts[5:5 + 2 * n:2])
        calls += 1
        if cur == b"0":
            return seen, calls


def test_scan_basic(raw):
    c = raw()
    c.cmd("FLUSHALL")
    for i in range(1000):
        c.cmd("SET", "key:%d" % i, "v")
    seen, calls = _full_scan(c)
    assert len(seen) == 1000 and len(set(seen)) == 1000
    assert calls > 50
    seen, calls = _full_scan(c, count=5)
    assert len(set(seen)) == 1000 and calls >= 180
    seen, _ = _full_scan(c, "MATCH", "key:1*")
    assert sorted(seen) == sorted(b"key:%d" % i for i in range(1000)
                                  if str(i).startswith("1"))
    c.cmd("HSET", "h", "f", "v")
    seen, _ = _full_scan(c, "TYPE", "hash")
    assert seen == [b"h"]
    seen, _ = _full_scan(c, "TYPE", "STRING", "MATCH", "key:*", count=10)
    assert len(set(seen)) == 1000


def test_scan_guarantees_under_writes(raw):
    c = raw()
    c.cmd("FLUSHALL")
    for i in range(1000):
        c.cmd("SET", "k:%d" % i, "v")
    rnd = random.Random(1)
    seen = set()
    cur = b"0"
    deleted = set()
    while True:
        parts = c.cmd("SCAN", cur, "COUNT", "20").split(b"\r\n")
        cur = parts[2]
        n = int(parts[3][1:])
        batch = parts[5:5 + 2 * n:2]
        assert not (set(batch) & seen) or True
        seen.update(batch)
        if cur == b"0":
            break
        for _ in range(10):
            c.cmd("SET", "added:%d" % rnd.randint(0, 100000), "x")
        for _ in range(3):
            k = "k:%d" % rnd.randint(500, 999)
            c.cmd("DEL", k)
            deleted.add(k.encode())
    for i in range(500):
        assert b"k:%d" % i in seen


def test_scan_expired_keys_filtered(raw):
    c = raw()
    c.cmd("FLUSHALL")
    for i in range(30):
        c.cmd("SET", "e:%d" % i, "v", "PX", "1")
    for i in range(30):
        c.cmd("SET", "l:%d" % i, "v")
    time.sleep(0.05)
    seen, _ = _full_scan(c, count=100)
    assert sorted(seen) == sorted(b"l:%d" % i for i in range(30))


def test_keys_skips_expired(raw):
    c = raw()
    c.cmd("FLUSHALL")
    c.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    c.cmd("SET", "a", "1", "PX", "1")
    c.cmd("SET", "b", "1")
    time.sleep(0.02)
    assert c.cmd("KEYS", "*") == b"*1\r\n$1\r\nb\r\n"
    c.cmd("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_scan_dict_unit():
    d = {b"k%d" % i: 1 for i in range(5000)}
    cur = 0
    seen = []
    while True:
        cur, ks = scanmod.scan_dict(d, cur, 37)
        seen.extend(ks)
        if cur == 0:
            break
        # mutate: delete some, add some
        for k in ks[:3]:
            d.pop(k, None)
        d[b"new%d" % len(seen)] = 1
    assert len(seen) == len(set(seen))
    assert all(b"k%d" % i in set(seen) for i in range(5000))
    # a set and ints
    s = set(range(3000))
    cur, out = 0, []
    while True:
        cur, ks = scanmod.scan_dict(s, cur, 50, lambda b: b.endswith(b"7"))
        out.extend(ks)
        if cur == 0:
            break
    assert sorted(out) == [i for i in range(3000) if i % 10 == 7]
    assert scanmod.parse_cursor(b"") == 0
    assert scanmod.parse_cursor(b"-1") == (1 << 64) - 1


def _events(port, cmds, flags):
    from conftest import Raw
    sub, c = Raw(port), Raw(port)
    c.cmd("CONFIG", "SET", "notify-keyspace-events", flags)
    try:
        sub.cmd("PSUBSCRIBE", "__key*@*__:*")
        c.cmd("FLUSHALL")
        for cmd in cmds:
            c.cmd(*cmd)
        c.cmd("SET", "end-marker", "1")
        out = []
        while True:
            parts = sub.read_reply().split(b"\r\n")
            out.append(parts[6] + b"/" + parts[8])
            if parts[8] == b"end-marker" and b"keyevent" in parts[6]:
                return out
    finally:
        c.cmd("CONFIG", "SET", "notify-keyspace-events", "")
        sub.close()
        c.close()


def test_keyspace_notifications(server, real):
    cmds = [("SET", "a", "1"), ("INCR", "a"), ("INCRBYFLOAT", "a", "1.5"),
            ("APPEND", "a", "x"), ("SETRANGE", "a", "0", "y"), ("EXPIRE", "a", "100"),
            ("PERSIST", "a"), ("RENAME", "a", "b"), ("COPY", "b", "c"), ("MOVE", "c", "1"),
            ("DEL", "b"), ("SET", "d", "1", "EX", "100"), ("EXPIRE", "d", "-1"),
            ("SETEX", "f", "100", "v"), ("GETDEL", "f"),
            ("SET", "g", "v"), ("GETEX", "g", "EX", "100"), ("GETEX", "g", "PERSIST"),
            ("GETSET", "g", "w"), ("MSET", "h", "1", "i", "2"), ("SETNX", "h", "x"),
            ("COPY", "h", "i", "REPLACE"), ("RENAMENX", "i", "j"), ("SWAPDB", "0", "1"),
            ("SWAPDB", "0", "1"), ("UNLINK", "j", "h"), ("GETEX", "g", "PXAT", "1"),
            ("PSETEX", "k", "100000", "v"), ("PEXPIREAT", "k", "1")]
    assert _events(server.port, cmds, "KEA") == _events(real.port, cmds, "KEA")
    assert _events(server.port, cmds, "KEAn") == _events(real.port, cmds, "KEAn")


def test_swapdb_wakes_blocked_and_invalidates_watch(raw):
    a, b = raw(), raw()
    b.cmd("FLUSHALL")
    b.cmd("SELECT", "1")
    b.cmd("RPUSH", "bl", "x")
    a.send(b"*3\r\n$5\r\nBLPOP\r\n$2\r\nbl\r\n$1\r\n0\r\n")
    time.sleep(0.1)
    assert b.cmd("SWAPDB", "0", "1") == b"+OK\r\n"
    assert a.read_reply() == b"*2\r\n$2\r\nbl\r\n$1\r\nx\r\n"
    # WATCH is invalidated by SWAPDB / FLUSHDB / FLUSHALL touching a watched key
    for flush in (["SWAPDB", "0", "1"], ["FLUSHDB"], ["FLUSHALL"]):
        b.cmd("SELECT", "0")
        b.cmd("SET", "w", "1")
        assert a.cmd("WATCH", "w") == b"+OK\r\n"
        b.cmd(*flush)
        a.cmd("MULTI")
        a.cmd("PING")
        assert a.cmd("EXEC") == b"*-1\r\n"


def test_rename_move_keep_idle_and_encoding(raw):
    c = raw()
    c.cmd("FLUSHALL")
    c.cmd("SET", "n", "123")
    c.cmd("APPEND", "n", "4")
    c.cmd("RENAME", "n", "m")
    assert c.cmd("OBJECT", "ENCODING", "m") == b"$3\r\nraw\r\n"
    c.cmd("MOVE", "m", "2")
    c.cmd("SELECT", "2")
    assert c.cmd("OBJECT", "ENCODING", "m") == b"$3\r\nraw\r\n"
    assert c.cmd("OBJECT", "IDLETIME", "m") == b":0\r\n"
    c.cmd("FLUSHALL")


@pytest.mark.parametrize("setup,check", [
    (["RPUSH", "src", "a", "b", "c"], ["RPUSH", "dst", "d"]),
    (["SADD", "src", "a", "b", "1"], ["SADD", "dst", "z"]),
    (["SADD", "src", "1", "2", "3"], ["SADD", "dst", "4"]),
    (["ZADD", "src", "1", "a", "2", "b"], ["ZADD", "dst", "3", "c"]),
    (["HSET", "src", "f", "v"], ["HSET", "dst", "g", "w"]),
    (["XADD", "src", "1-1", "f", "v"], ["XADD", "dst", "2-1", "g", "w"]),
])
def test_copy_types_deep(both, setup, check):
    both(*setup)
    both("COPY", "src", "dst")
    both("TYPE", "dst")
    both("OBJECT", "ENCODING", "dst")
    both(*check)
    for cmd in (["LRANGE", "src", "0", "-1"], ["SCARD", "src"], ["ZCARD", "src"],
                ["HLEN", "src"], ["XLEN", "src"]):
        if cmd[0][0] == {"list": "L", "set": "S", "zset": "Z", "hash": "H",
                         "stream": "X"}[both("TYPE", "src")[1:-2].decode()]:
            both(*cmd)
            both(cmd[0], "dst", *cmd[2:])
    both("RENAME", "src", "renamed")
    both("TYPE", "renamed")


def test_scan_dict_guarantees_randomized():
    """Seeded: every element present for the whole iteration is returned exactly once,
    whatever the COUNT, deletions (including whole runs, which exhaust a call's budget),
    additions and lost snapshots (rebuilt mid-iteration)."""
    rnd = random.Random(7)
    for trial in range(12):
        n = rnd.choice([300, 1000, 5000, 20000])
        d = {b"e%d" % i: 1 for i in range(n)}
        stable = set(k for k in d if rnd.random() < 0.5)
        count = rnd.choice([1, 10, 37, 500])
        cur, seen, calls = 0, [], 0
        while True:
            cur, ks = scanmod.scan_dict(d, cur, count)
            seen.extend(ks)
            calls += 1
            if cur == 0:
                break
            for k in [k for k in islice(d, rnd.randint(0, 200)) if k not in stable]:
                del d[k]
            d[b"added%d-%d" % (trial, calls)] = 1
            if rnd.random() < 0.05:
                scanmod.drop_cache()
        assert len(seen) == len(set(seen)), (n, count)
        assert stable <= set(seen), (n, count)
