"""RDB encodings at their edges, both ways between redislet and a real Redis 7.0.15: the
fast paths of the RDB writer (listpack entries from tables, zset scores stored as listpack
integers, lists cut into quicklist nodes by count, hashtable strings written inline) and of
the reader (listpack, LZF, zset scores) must give files each server loads into the same
values: the same DEBUG DIGEST-VALUE per key, the same replies and encodings.
Real servers over TCP on free ports, each started (and stopped) by the test."""
import shutil
import subprocess

import pytest
import redis

from conftest import start_redislet, start_real_redis

CHECK_RDB = shutil.which("redis-check-rdb")

# strings around the boundaries the writer tests: integer-looking (encoded as integers
# when canonical and short enough), 11/12/20/21 bytes (integer encoding, LZF), 63/64 bytes
# (the listpack's 6-bit string entry), and longer (12-bit, 32-bit entries, LZF)
EDGE_STRINGS = [b"", b"0", b"-0", b"007", b"-1", b"127", b"128", b"-4096", b"4095",
                b"32767", b"-32769", b"8388607", b"2147483648", b"-9223372036854775808",
                b"9223372036854775807", b"9223372036854775808", b"1.5", b"+1", b" 1",
                b"12345678901", b"123456789012", b"a" * 11, b"b" * 12, b"c" * 20, b"d" * 21,
                b"-" + b"9" * 19, b"e" * 63, b"f" * 64, b"g" * 4095, b"h" * 4096,
                bytes(range(256)), b"xy" * 40]
# scores around what a listpack stores as an integer: d2string's %d range is 2^62
EDGE_SCORES = [0.0, -0.0, 1.0, -1.0, 1.5, 127.0, 128.0, -4097.0, 2.0 ** 31, 2.0 ** 53,
               2.0 ** 62, -(2.0 ** 62), 2.0 ** 62 + 2048, -(2.0 ** 62) - 2048, 1e20, 0.1,
               -2.5e-300, float("inf"), float("-inf"), 123456789.125]


def fill(c):
    """The edge dataset, through commands (the same on both servers)."""
    for i, s in enumerate(EDGE_STRINGS):
        c.set(b"str:%d" % i, s)
    # lists: all-short (nodes cut by count) of various sizes, and mixed with long items
    c.rpush("list:short", *EDGE_STRINGS[:22])
    c.rpush("list:ints", *range(-3000, 3000, 7))
    c.rpush("list:many", *[b"i%d" % i for i in range(2000)])
    c.rpush("list:mixed", *(EDGE_STRINGS * 8))
    c.rpush("list:empties", *([b""] * 700))
    # hashes: listpack (few, short) and hashtable (long value / many fields)
    c.hset("hash:lp", mapping={s[:60] or b"empty": s[:60] for s in EDGE_STRINGS})
    c.hset("hash:ht", mapping={b"f%d" % i: s for i, s in enumerate(EDGE_STRINGS)})
    c.hset("hash:many", mapping={b"%d" % i: b"v%d" % i for i in range(300)})
    # sets: intset (16/32/64-bit) and hashtable
    c.sadd("set:i16", *range(-50, 50))
    c.sadd("set:i64", 1, -(2 ** 63), 2 ** 63 - 1)
    c.sadd("set:ht", *EDGE_STRINGS)
    c.sadd("set:bigints", *range(600))
    # a hashtable of integers of every RDB integer encoding (8, 16 and 32 bits), signed
    c.sadd("set:int32", *[(-1) ** i * i * k for i in range(200) for k in (1, 150, 3000000)])
    # zsets: listpack (the score edges) and skiplist
    c.zadd("zset:lp", {b"m%d" % i: sc for i, sc in enumerate(EDGE_SCORES)})
    c.zadd("zset:members", {s[:60] or b"empty": i for i, s in enumerate(EDGE_STRINGS)})
    c.zadd("zset:sl", {b"m%d" % i: sc for i, sc in enumerate(EDGE_SCORES * 8)})
    c.zadd("zset:sl2", {s: i * 0.5 for i, s in enumerate(EDGE_STRINGS)})
    # streams: entries with the master fields, other fields, deleted ones, a group
    for i in range(40):
        fields = {b"a": EDGE_STRINGS[i % len(EDGE_STRINGS)], b"b": b"%d" % (i * 1000)}
        if i % 5 == 0:
            fields = {b"other": b"x" * i}
        c.xadd("stream", fields, id=b"%d-%d" % (1000 + i, i))
    c.xdel("stream", b"1003-3")
    c.xgroup_create("stream", "g", "0")
    c.xreadgroup("g", "c1", {"stream": ">"}, count=3)


def state(c):
    """Per key: type, encoding, DEBUG DIGEST-VALUE and a reply that shows the value."""
    out = {}
    for key in sorted(c.keys("*")):
        t = c.type(key)
        if t == b"string":
            v = c.get(key)
        elif t == b"list":
            v = c.lrange(key, 0, -1)
        elif t == b"hash":
            v = sorted(c.hgetall(key).items())
        elif t == b"set":
            v = sorted(c.smembers(key))
        elif t == b"zset":
            v = c.zrange(key, 0, -1, withscores=True)
        else:
            v = c.xrange(key)
        out[key] = (t, c.object("encoding", key),
                    c.execute_command("DEBUG", "DIGEST-VALUE", key), v)
    return out


def saved_state(start, path, args):
    """Start a server (start_redislet or start_real_redis) in path, fill it, SAVE: its
    state and the dump's path."""
    srv = start(path, "--dir", str(path), "--dbfilename", "dump.rdb", *args)
    try:
        c = redis.Redis(port=srv.port)
        fill(c)
        want = state(c)
        assert c.save()
    finally:
        srv.stop()
    return want, path / "dump.rdb"


def loaded_state(start, path, dump, args):
    shutil.copy(dump, path / "dump.rdb")
    srv = start(path, "--dir", str(path), "--dbfilename", "dump.rdb", *args)
    try:
        return state(redis.Redis(port=srv.port))
    finally:
        srv.stop()


CONFIGS = {
    "defaults": (),
    "no-compression": ("--rdbcompression", "no"),
    "list-fill-5": ("--list-max-listpack-size", "5"),
    "list-fill-1kb": ("--list-max-listpack-size", "-1"),
}


@pytest.mark.parametrize("cfg", list(CONFIGS))
def test_redislet_dump_loads_in_real_redis(tmp_path, cfg):
    args = CONFIGS[cfg]
    (tmp_path / "ours").mkdir()
    (tmp_path / "real").mkdir()
    want, dump = saved_state(start_redislet, tmp_path / "ours", args)
    if CHECK_RDB:
        out = subprocess.run([CHECK_RDB, str(dump)], capture_output=True, text=True)
        assert "RDB looks OK" in out.stdout, out.stdout
    got = loaded_state(start_real_redis, tmp_path / "real", dump, args)
    assert got.keys() == want.keys()
    for key in want:
        assert got[key] == want[key], key


@pytest.mark.parametrize("cfg", ["defaults", "no-compression"])
def test_real_redis_dump_loads_in_redislet(tmp_path, cfg):
    args = CONFIGS[cfg]
    (tmp_path / "ours").mkdir()
    (tmp_path / "real").mkdir()
    want, dump = saved_state(start_real_redis, tmp_path / "real", args)
    got = loaded_state(start_redislet, tmp_path / "ours", dump, args)
    assert got.keys() == want.keys()
    for key in want:
        assert got[key] == want[key], key


def test_redislet_and_real_write_the_same_values(tmp_path):
    """The same commands on both servers: each one's dump, loaded by the other, holds
    the same digests as the original (so the writers agree on every value)."""
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
    ours, _ = saved_state(start_redislet, tmp_path / "a", ())
    real, _ = saved_state(start_real_redis, tmp_path / "b", ())
    assert ours == real


def test_lzf_match_lengths_round_trip():
    """Matches ending at every length around the compressor's 16-byte comparison and the
    264-byte token limit, near the end of the input, overlapping their own output."""
    import os
    import sys
    from conftest import ROOT
    sys.path.insert(0, ROOT)
    from redislet.persistence import lzf
    base = os.urandom(300)
    cases = [b"a" * k for k in range(0, 600, 7)]
    for k in (3, 4, 8, 9, 15, 16, 17, 18, 19, 20, 31, 64, 263, 264, 265, 300):
        cases.append(base[:k] + b"#" + base[:k] + b"!")      # a match of exactly k bytes
        cases.append(base[:k] + base[:k])                    # one that ends the input
        cases.append(b"xyz" + base[:k] * 3)
    for d in cases:
        comp = lzf.compress(d)
        assert lzf.decompress(comp, len(d)) == d, len(d)


def test_stream_node_sizes_survive_reload_like_real(tmp_path):
    """A loaded stream node counts the listpack's bytes (stream-node-max-bytes decides when
    XADD opens a new node): after DEBUG RELOAD, further XADDs split nodes where Redis
    does."""
    layouts = []
    for start, d in ((start_redislet, "ours"), (start_real_redis, "real")):
        (tmp_path / d).mkdir()
        srv = start(tmp_path / d, "--dir", str(tmp_path / d), "--stream-node-max-bytes", "300")
        try:
            c = redis.Redis(port=srv.port)
            for i in range(60):
                c.xadd("s", {"f": b"v" * (i % 17), "n": i * 1000}, id=b"%d-1" % (i + 1))
            c.xadd("t", {"x": "1"}, id="1-1")
            c.xadd("t", {"x": "2"}, id="2-1")
            c.xdel("t", "1-1")                  # a node with a tombstone
            c.execute_command("DEBUG", "RELOAD")
            nodes = []                          # the node count after each XADD
            for i in range(60, 90):
                c.xadd("s", {"f": b"w" * (i % 13), "n": i}, id=b"%d-1" % (i + 1))
                c.xadd("t", {"x": str(i)}, id=b"%d-1" % (i + 1))
                nodes.append((c.xinfo_stream("s")["radix-tree-keys"],
                              c.xinfo_stream("t")["radix-tree-keys"]))
            layouts.append((nodes, [c.execute_command("DEBUG", "DIGEST-VALUE", k)
                                    for k in ("s", "t")]))
        finally:
            srv.stop()
    assert layouts[0] == layouts[1]
