"""DEBUG subcommands against Redis 7.0.15's debug.c: POPULATE, DIGEST / DIGEST-VALUE
(byte-identical to redis-server), the settings and structure reports, and the crash /
restart family (each on its own short-lived server)."""
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import redis

from conftest import (Raw, ROOT, start_real_redis, start_redislet,
                      wait_ready, free_port)


# -- argument forms and errors, byte-compared with redis-server --------------------------------
ERROR_FORMS = [
    ("DEBUG", "POPULATE"),
    ("DEBUG", "POPULATE", "-1"),
    ("DEBUG", "POPULATE", "abc"),
    ("DEBUG", "POPULATE", "1.5"),
    ("DEBUG", "POPULATE", "0"),
    ("DEBUG", "POPULATE", "3", "p", "-1"),
    ("DEBUG", "POPULATE", "3", "p", "x"),
    ("DEBUG", "POPULATE", "-1", "p", "x"),
    ("DEBUG", "POPULATE", "2", "p", "3", "4"),
    ("DEBUG", "DIGEST", "x"),
    ("DEBUG", "DIGEST-VALUE"),
    ("DEBUG", "DIGEST-VALUE", "nokey", "nokey2"),
    ("DEBUG", "STRUCTSIZE"),
    ("DEBUG", "STRUCTSIZE", "x"),
    ("DEBUG", "HTSTATS"),
    ("DEBUG", "HTSTATS", "16"),
    ("DEBUG", "HTSTATS", "-1"),
    ("DEBUG", "HTSTATS", "x"),
    ("DEBUG", "HTSTATS", "0", "full"),
    ("DEBUG", "HTSTATS-KEY", "nokey"),
    ("DEBUG", "HTSTATS-KEY"),
    ("DEBUG", "SDSLEN", "nokey"),
    ("DEBUG", "LISTPACK", "nokey"),
    ("DEBUG", "QUICKLIST", "nokey"),
    ("DEBUG", "QUICKLIST", "nokey", "1", "2"),
    ("DEBUG", "CLIENT-EVICTION"),
    ("DEBUG", "CLIENT-EVICTION", "x"),
    ("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "5gb"),
    ("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "abc"),
    ("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "-1"),
    ("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "4294967296"),
    ("DEBUG", "QUICKLIST-PACKED-THRESHOLD"),
    ("DEBUG", "REPLYBUFFER", "foo", "1"),
    ("DEBUG", "REPLYBUFFER", "resizing"),
    ("DEBUG", "REPLYBUFFER", "peak-reset-time", "x"),
    ("DEBUG", "REPLYBUFFER", "peak-reset-time", "never"),
    ("DEBUG", "REPLYBUFFER", "peak-reset-time", "100"),
    ("DEBUG", "REPLYBUFFER", "peak-reset-time", "reset"),
    ("DEBUG", "REPLYBUFFER", "resizing", "0"),
    ("DEBUG", "REPLYBUFFER", "resizing", "1"),
    ("DEBUG", "DROP-CLUSTER-PACKET-FILTER", "x"),
    ("DEBUG", "DROP-CLUSTER-PACKET-FILTER", "-1"),
    ("DEBUG", "DROP-CLUSTER-PACKET-FILTER"),
    ("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION"),
    ("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "0"),
    ("DEBUG", "REPLICATE"),
    ("DEBUG", "REPLICATE", "set", "a", "b"),
    ("DEBUG", "LEAK"),
    ("DEBUG", "LEAK", "x"),
    ("DEBUG", "RESTART", "x"),
    ("DEBUG", "CRASH-AND-RECOVER", "1.5"),
]


@pytest.mark.parametrize("args", ERROR_FORMS, ids=lambda a: " ".join(a[1:]))
def test_forms_like_redis(both, args):
    both(*args)


def test_quicklist_packed_threshold_values(both):
    try:
        for v in ("1", "1b", "0", "1kb", "4gb", "4095mb", "4294967295", "2g", "b"):
            both("DEBUG", "QUICKLIST-PACKED-THRESHOLD", v)
    finally:
        both("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "0")


def test_structure_reports_like_redis(both):
    both("SET", "s", "hello")
    both("SET", "n", "12345")
    both("RPUSH", "l", "a", "b")
    both("HSET", "h", "f", "v")
    both("ZADD", "z", "1", "a")
    both("SADD", "si", "1", "2")
    both("DEBUG", "SDSLEN", "n")           # int encoded: not sds
    both("DEBUG", "SDSLEN", "l")
    both("DEBUG", "LISTPACK", "h")
    both("DEBUG", "LISTPACK", "z")
    both("DEBUG", "LISTPACK", "l")         # quicklist in 7.0
    both("DEBUG", "LISTPACK", "s")
    both("DEBUG", "QUICKLIST", "l")
    both("DEBUG", "QUICKLIST", "l", "1")
    both("DEBUG", "QUICKLIST", "h")
    both("DEBUG", "HTSTATS-KEY", "h")      # listpack: not a hash table
    both("DEBUG", "HTSTATS-KEY", "si")     # intset
    both("DEBUG", "HTSTATS-KEY", "s")
    both("DEBUG", "HTSTATS", "5")          # empty db: both tables empty
    both("DEBUG", "HTSTATS-KEY", "l")


def test_sdslen_format(r):
    r.set("k", "v" * 10)
    r.set("big", "v" * 100)
    out = r.execute_command("DEBUG", "SDSLEN", "k")
    assert re.fullmatch(rb"key_sds_len:1, key_sds_avail:0, key_zmalloc: \d+, "
                        rb"val_sds_len:10, val_sds_avail:0, val_zmalloc: \d+", out), out
    out = r.execute_command("DEBUG", "SDSLEN", "big")
    assert b"key_sds_len:3," in out and b"val_sds_len:100," in out


def test_htstats_format(r):
    assert r.execute_command("DEBUG", "HTSTATS", "0") == (
        b"[Dictionary HT]\nHash table 0 stats (main hash table):\n"
        b"No stats available for empty dictionaries\n"
        b"[Expires HT]\nHash table 0 stats (main hash table):\n"
        b"No stats available for empty dictionaries\n")
    r.execute_command("DEBUG", "POPULATE", "4097")
    out = r.execute_command("DEBUG", "HTSTATS", "0").decode()
    assert " table size: 8192\n number of elements: 4097\n" in out
    assert re.search(r" different slots: \d+\n max chain length: \d+\n"
                     r" avg chain length \(counted\): \d+\.\d\d\n"
                     r" avg chain length \(computed\): \d+\.\d\d\n"
                     r" Chain length distribution:\n   0: \d+ \(\d+\.\d\d%\)\n", out), out
    r.config_set("set-max-intset-entries", 1)
    try:
        r.sadd("s", *range(30))
        out = r.execute_command("DEBUG", "HTSTATS-KEY", "s").decode()
        assert " table size: 32\n number of elements: 30\n" in out
    finally:
        r.config_set("set-max-intset-entries", 512)
    r.config_set("zset-max-listpack-entries", 0)
    try:
        r.zadd("z", {"a": 1})
        out = r.execute_command("DEBUG", "HTSTATS-KEY", "z").decode()
        assert " table size: 4\n number of elements: 1\n different slots: 1\n" in out
    finally:
        r.config_set("zset-max-listpack-entries", 128)


def test_client_eviction_buckets(r):
    r.config_set("maxmemory-clients", "1gb")
    try:
        out = r.execute_command("DEBUG", "CLIENT-EVICTION").decode()
    finally:
        r.config_set("maxmemory-clients", 0)
    lines = out.splitlines()
    assert len(lines) == 19
    assert lines[0].startswith("bucket          0 -      32767: tot-mem: ")
    assert lines[1].startswith("bucket      32768 -      65535: tot-mem: ")
    assert lines[-1].startswith("bucket 4294967296+            : tot-mem: ")
    assert sum(int(re.search(r"clients: (\d+)", x).group(1)) for x in lines) >= 1


def test_mallctl_is_unknown_with_libc(r):
    # jemalloc-only subcommands; redislet reports mem_allocator:libc
    assert r.info("memory")["mem_allocator"] == "libc"
    for sub in ("MALLCTL", "MALLCTL-STR"):
        with pytest.raises(redis.ResponseError, match="unknown subcommand"):
            r.execute_command("DEBUG", sub, "arenas.page")


# -- POPULATE -------------------------------------------------------------------------------
def test_populate_values(r):
    dirty = r.info("persistence")["rdb_changes_since_last_save"]
    assert r.execute_command("DEBUG", "POPULATE", "3") == b"OK"
    assert sorted(r.keys()) == [b"key:0", b"key:1", b"key:2"]
    assert r.get("key:2") == b"value:2"
    r.set("p:1", "mine")
    r.execute_command("DEBUG", "POPULATE", "3", "p")
    assert r.mget("p:0", "p:1", "p:2") == [b"value:0", b"mine", b"value:2"]
    r.execute_command("DEBUG", "POPULATE", "12", "q", "9")
    assert r.get("q:11") == b"value:11\0"
    r.execute_command("DEBUG", "POPULATE", "12", "t", "3")
    assert r.get("t:11") == b"val"
    r.execute_command("DEBUG", "POPULATE", "1", "z", "0")
    assert r.get("z:0") == b"value:0"
    r.execute_command("DEBUG", "POPULATE", "2", "a%d%s")
    assert r.get("a%d%s:1") == b"value:1"
    # not propagated and not counted as changes
    assert r.info("persistence")["rdb_changes_since_last_save"] == dirty + 1   # the SET


def test_populate_replaces_expired_and_in_multi(r):
    r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    try:
        r.set("key:0", "old", px=1)
        time.sleep(0.01)
        r.execute_command("DEBUG", "POPULATE", "1")
        assert r.get("key:0") == b"value:0" and r.ttl("key:0") == -1
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
    p = r.pipeline(transaction=True)
    p.execute_command("DEBUG", "POPULATE", "2", "m")
    p.get("m:1")
    assert p.execute() == [b"OK", b"value:1"]


def test_populate_watch_is_touched(r):
    r2 = redis.Redis(port=r.connection_pool.connection_kwargs["port"])
    p = r.pipeline(transaction=True)
    p.watch("key:1")
    p.multi()
    p.set("x", 1)
    r2.execute_command("DEBUG", "POPULATE", "2")
    with pytest.raises(redis.WatchError):
        p.execute()
    r2.close()


def test_populate_million_keys_fast(r):
    t = time.time()
    assert r.execute_command("DEBUG", "POPULATE", "1000000") == b"OK"
    took = time.time() - t
    assert r.dbsize() == 1000000
    assert r.get("key:999999") == b"value:999999"
    assert took < 5, took
    r.flushall()


# -- DIGEST / DIGEST-VALUE: byte-identical with redis-server on the same data --------------------
@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Fresh servers (no config changes from other tests)."""
    a = start_redislet(tmp_path_factory.mktemp("dg-redislet"))
    b = start_real_redis(tmp_path_factory.mktemp("dg-redis"))
    yield Raw(a.port), Raw(b.port)
    a.stop()
    b.stop()


def _same(pair, *args):
    ra = pair[0].cmd(*args)
    rb = pair[1].cmd(*args)
    assert ra == rb, "%r: redislet %r != redis %r" % (args, ra, rb)
    return ra


DATASET = [
    ("SET", "s", "hello"), ("SET", "n", "12345"), ("SET", "neg", "-7"),
    ("SET", "big", "x" * 100), ("SET", "bin", "a\x00b\xff"),
    ("RPUSH", "l", "a", "b", "c", "1", "2", "-3", "x" * 70),
    ("SADD", "si", "1", "2", "3", "-5"), ("SADD", "ss", "a", "b", "c", "1"),
    ("ZADD", "zl", "1", "a", "2.5", "b", "-0", "c", "inf", "d", "-inf", "e", "1e300", "f",
     "0.1", "g", "3", "100"),
    ("HSET", "hl", "f1", "v1", "f2", "2", "f3", "v3", "10", "-1"),
    ("XADD", "st", "1-1", "a", "1", "b", "2"), ("XADD", "st", "1-2", "a", "3", "c", "4"),
    ("XADD", "st", "5-0", "x", "yy"), ("XADD", "st", "6-0", "a", "5", "b", "6"),
    ("XDEL", "st", "1-2"), ("XGROUP", "CREATE", "st", "g", "0"),
    ("XADD", "st2", "MAXLEN", "0", "1-1", "f", "v"),
    ("SET", "ttl", "v"), ("EXPIRE", "ttl", "1000"),
    ("RPUSH", "lttl", "a"), ("PEXPIRE", "lttl", "100000"),
    ("HSET", "httl", "a", "b"), ("EXPIRE", "httl", "100"),
    ("CONFIG", "SET", "zset-max-listpack-entries", "1"),
    ("ZADD", "zs", "1", "a", "2.5", "b", "-0", "c", "inf", "d", "-inf", "e", "0.1", "g"),
    ("CONFIG", "SET", "zset-max-listpack-entries", "128"),
    ("CONFIG", "SET", "hash-max-listpack-entries", "1"),
    ("HSET", "hh", "f1", "v1", "f2", "2", "f3", "v3"),
    ("CONFIG", "SET", "hash-max-listpack-entries", "128"),
    ("CONFIG", "SET", "set-max-intset-entries", "1"),
    ("SADD", "sh", "1", "2", "3"),
    ("CONFIG", "SET", "set-max-intset-entries", "512"),
    ("SELECT", "3"), ("SET", "x", "y"), ("RPUSH", "l", "1"), ("SELECT", "0"),
]


def test_digest_all_types(pair):
    _same(pair, "FLUSHALL")
    assert _same(pair, "DEBUG", "DIGEST") == b"+" + b"0" * 40 + b"\r\n"
    assert _same(pair, "DEBUG", "DIGEST-VALUE", "nokey") == b"*1\r\n+" + b"0" * 40 + b"\r\n"
    for cmd in DATASET:
        _same(pair, *cmd)
    _same(pair, "DEBUG", "DIGEST")
    keys = ["s", "n", "neg", "big", "bin", "l", "si", "ss", "zl", "hl", "st", "st2", "ttl",
            "lttl", "httl", "zs", "hh", "sh", "nokey"]
    _same(pair, "DEBUG", "DIGEST-VALUE", *keys)
    for k in keys:
        _same(pair, "DEBUG", "DIGEST-VALUE", k)
    # order matters for lists, not for sets; TTL presence (not its value) is mixed in
    before = _same(pair, "DEBUG", "DIGEST")
    _same(pair, "EXPIRE", "s", "500")
    assert _same(pair, "DEBUG", "DIGEST") != before
    _same(pair, "PERSIST", "s")
    assert _same(pair, "DEBUG", "DIGEST") == before
    _same(pair, "LPUSH", "l", "z")
    _same(pair, "DEBUG", "DIGEST")
    _same(pair, "SELECT", "3")
    _same(pair, "MOVE", "x", "0")    # the same pair in another db digests differently
    _same(pair, "SELECT", "0")
    _same(pair, "DEBUG", "DIGEST")


def test_digest_after_populate(pair):
    _same(pair, "FLUSHALL")
    _same(pair, "DEBUG", "POPULATE", "1000")
    _same(pair, "DEBUG", "POPULATE", "100", "pre", "20")
    _same(pair, "DEBUG", "POPULATE", "100", "short", "3")
    _same(pair, "DEBUG", "POPULATE", "3", "p" * 130)      # names cut at 127 bytes
    _same(pair, "DEBUG", "POPULATE", "3", "nul\x00after")   # a C string: "nul"
    _same(pair, "DBSIZE")
    _same(pair, "DEBUG", "DIGEST")
    _same(pair, "DEBUG", "DIGEST-VALUE", "key:999", "pre:5", "short:99", "nul:2")
    _same(pair, "SELECT", "9")
    _same(pair, "DEBUG", "POPULATE", "10")
    _same(pair, "DEBUG", "DIGEST")
    _same(pair, "SELECT", "0")


# -- settings that change other commands ------------------------------------------------------
def test_skip_checksum_validation(both):
    both("SET", "k", "v")
    payload = both.a.cmd("DUMP", "k")
    body = payload.split(b"\r\n", 1)[1][:-2]
    bad = body[:-1] + bytes([body[-1] ^ 0xFF])
    both("RESTORE", "k2", "0", bad)
    try:
        both("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "1")
        both("RESTORE", "k2", "0", bad)
        both("GET", "k2")
    finally:
        both("DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "0")
    both("RESTORE", "k3", "0", bad)


def test_replicate_reaches_replicas_only(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "s").mkdir()
    m = start_redislet(tmp_path / "m")
    s = None
    try:
        s = start_redislet(tmp_path / "s", "--replicaof", "127.0.0.1", str(m.port))
        rm = redis.Redis(port=m.port)
        rs = redis.Redis(port=s.port)
        deadline = time.time() + 10
        while rs.info("replication").get("master_link_status") != "up":
            assert time.time() < deadline
            time.sleep(0.05)
        assert rm.execute_command("DEBUG", "REPLICATE", "SET", "only", "replica") == b"OK"
        rm.set("sync", "1")
        deadline = time.time() + 10
        while rs.get("sync") is None:
            assert time.time() < deadline
            time.sleep(0.05)
        assert rs.get("only") == b"replica"
        assert rm.get("only") is None
    finally:
        if s is not None:
            s.stop()
        m.stop()


# -- crashes and restarts (each on its own server) ---------------------------------------------
def _crash(tmp_path, sub, real=False):
    srv = (start_real_redis if real else start_redislet)(tmp_path)
    c = Raw(srv.port)
    c.send(b"DEBUG %s\r\n" % sub)
    assert c.read_until_closed(10) == b""
    c.close()
    rc = srv.proc.wait(20)
    srv.log.close()
    with open(os.path.join(srv.cwd, "server.log"), "rb") as f:
        log = f.read().decode("latin-1")
    return rc, log


@pytest.mark.parametrize("sub,rc,text", [
    (b"SEGFAULT", -signal.SIGSEGV, "crashed by signal: 11"),
    (b"PANIC", -signal.SIGABRT, "Guru Meditation: DEBUG PANIC called at Unix time"),
    (b"ASSERT", -signal.SIGABRT, "==> debug.c:530 '1 == 2' is not true"),
    (b"OOM", -signal.SIGABRT, "Out Of Memory allocating 9223372036854775807 bytes!"),
])
def test_crash(tmp_path, sub, rc, text):
    got_rc, log = _crash(tmp_path, sub)
    assert got_rc == rc
    assert text in log
    for section in ("=== REDIS BUG REPORT START", "------ STACK TRACE ------",
                    "------ INFO OUTPUT ------", "------ CLIENT LIST OUTPUT ------",
                    "------ CURRENT CLIENT INFO ------", "argv[1]: '\"%s\"'" % sub.decode(),
                    "=== REDIS BUG REPORT END"):
        assert section in log, section


def test_leak_is_harmless(r):
    assert r.execute_command("DEBUG", "LEAK", "x" * 100) == b"OK"
    assert r.ping()


def _wait_up(port, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            return redis.Redis(port=port).ping()
        except redis.ConnectionError:
            time.sleep(0.05)
    raise AssertionError("server did not come back")


def test_restart_saves_and_reexecs(tmp_path):
    port = free_port()
    conf = tmp_path / "r.conf"
    conf.write_text("port %d\nbind 127.0.0.1\nenable-debug-command yes\nsave 900 1\n"
                    "dir %s\n" % (port, tmp_path))
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "redislet", str(conf)], cwd=tmp_path,
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        wait_ready(port, proc)
        r = redis.Redis(port=port)
        pid = r.info("server")["process_id"]
        r.set("kept", "1")
        with pytest.raises(redis.ConnectionError):
            r.execute_command("DEBUG", "RESTART")
        _wait_up(port)
        r = redis.Redis(port=port)
        assert r.info("server")["process_id"] == pid == proc.pid   # exec, same process
        assert r.get("kept") == b"1"                               # saved before exec
        r.set("lost", "1")
        with pytest.raises(redis.ConnectionError):
            r.execute_command("DEBUG", "CRASH-AND-RECOVER", "50")
        _wait_up(port)
        r = redis.Redis(port=port)
        assert r.get("lost") is None                               # no save on crash
        assert r.get("kept") == b"1"
        assert proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
