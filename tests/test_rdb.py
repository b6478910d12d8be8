"""RDB persistence: files moving both ways between redislet and a real Redis 7.0, every type
and encoding, SAVE / BGSAVE / DEBUG RELOAD / save points / MISCONF / SHUTDOWN saves,
corrupt files, old encodings from Redis's own test assets."""
import os
import random
import shutil
import subprocess
import sys
import time

import pytest
import redis

from conftest import start_redislet, start_real_redis, REDIS_SERVER, ROOT

sys.path.insert(0, ROOT)
from redislet.persistence import rdb, lzf, encodings   # noqa: E402
from redislet.persistence.crc64 import crc64           # noqa: E402

ASSETS = "/tmp/redis-src/tests/assets"
CHECK_RDB = shutil.which("redis-check-rdb")


def client(srv, db=0, **kw):
    c = redis.Redis(host="127.0.0.1", port=srv.port, db=db, **kw)
    c.response_callbacks.pop("BGSAVE", None)
    return c


def shutdown(srv, *args):
    """SHUTDOWN over a raw socket: the reply (error) or b"" when the server went away."""
    import socket
    from conftest import encode_command
    with socket.create_connection(("127.0.0.1", srv.port)) as sock:
        sock.sendall(encode_command([b"SHUTDOWN", *args]))
        data = b""
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
            if data.endswith(b"\r\n"):
                break
    if not data:
        srv.proc.wait(10)
    return data


def build_dataset(r, r3):
    """Every type and encoding Redis 7.0 uses (r: db 0, r3: db 3)."""
    r.set("s:raw", "hello world")
    r.set("s:int", "12345")
    r.set("s:neg", "-7")
    r.set("s:bigint", "1234567890123")
    r.set("s:notcanon", "007")
    r.set("s:empty", "")
    r.set("s:lzf", "abc" * 200)
    r.set("s:bin", bytes(range(256)) * 3)
    r.set(b"\x00bin\xffkey", "v")
    r.set("s:ttl", "v", px=10_000_000)
    r.rpush("l:small", "a", "b", "1", "-3", "x" * 70, "")
    r.rpush("l:big", *[str(i) for i in range(3000)])
    r.rpush("l:fat", "y" * 9000, "z", "w" * 20000)
    r.sadd("set:int", 1, 2, 3, -5, 100000, 2 ** 40)
    r.sadd("set:str", "a", "b", "c")
    r.sadd("set:many", *range(700))
    r.hset("h:lp", mapping={"f1": "v1", "f2": "2", "f3": "x" * 10})
    r.hset("h:many", mapping={"f%d" % i: i for i in range(200)})
    r.hset("h:long", mapping={"a": "x" * 100})
    r.zadd("z:lp", {"a": 1, "b": 2.5, "c": -3, "d": float("inf"), "e": float("-inf"),
                    "f": 1e300, "g": 0.1})
    r.zadd("z:many", {"m%d" % i: i * 1.5 for i in range(200)})
    r.zadd("z:long", {"y" * 100: 1, "q": 2})
    r.xadd("st:1", {"a": "1", "b": "2"}, id="1-1")
    r.xadd("st:1", {"a": "3", "b": "4"}, id="1-2")
    r.xadd("st:1", {"c": "5"}, id="2-0")
    r.xadd("st:1", {"a": "1", "b": "2"}, id="3-0")
    r.xdel("st:1", "1-2")
    r.xgroup_create("st:1", "g1", "0")
    r.xreadgroup("g1", "c1", {"st:1": ">"}, count=2)
    r.xgroup_create("st:1", "g2", "$")
    r.xgroup_createconsumer("st:1", "g2", "c9")
    for i in range(300):
        r.xadd("st:big", {"f": str(i), "n": "x" * (i % 7)}, id="%d-%d" % (1000 + i // 3, i))
    r.xadd("st:empty", {"a": "b"}, id="5-5")
    r.xdel("st:empty", "5-5")
    r3.set("indb3", "yes")
    r3.set("exp3", "v", ex=5000)
    r3.hset("h3", "a", "b")


def snapshot(srv):
    """Every key of every non-empty db: type, encoding, value, expiry (seconds)."""
    out = {}
    base = client(srv)
    dbs = []
    for line in base.info("keyspace"):
        dbs.append(int(line[2:]))
    for dbid in dbs:
        c = client(srv, db=dbid)
        for key in sorted(c.keys("*")):
            t = c.type(key).decode()
            enc = c.object("encoding", key)
            if t == "string":
                v = c.get(key)
            elif t == "list":
                v = c.lrange(key, 0, -1)
            elif t == "set":
                v = sorted(c.smembers(key))
            elif t == "hash":
                v = sorted(c.hgetall(key).items())
            elif t == "zset":
                v = c.zrange(key, 0, -1, withscores=True)
            else:
                v = c.execute_command("XINFO", "STREAM", key, "FULL")
            ttl = c.pttl(key)
            out[(dbid, key)] = (t, enc, v, -1 if ttl < 0 else round(ttl / 100000))
    return out


@pytest.fixture
def real_redis(tmp_path):
    d = tmp_path / "real"
    d.mkdir()
    s = start_real_redis(d, "--dir", str(d), "--dbfilename", "dump.rdb")
    yield s
    s.stop()


def test_real_to_redislet(tmp_path, real_redis):
    build_dataset(client(real_redis), client(real_redis, db=3))
    assert client(real_redis).save()
    want = snapshot(real_redis)
    d = tmp_path / "ours"
    d.mkdir()
    shutil.copy(tmp_path / "real" / "dump.rdb", d / "dump.rdb")
    ours = start_redislet(d, "--dir", str(d), "--dbfilename", "dump.rdb")
    try:
        got = snapshot(ours)
        assert got.keys() == want.keys()
        for k in want:
            assert got[k] == want[k], k
        log = open(d / "server.log").read()
        assert "DB loaded from disk:" in log
        assert "Done loading RDB, keys loaded: %d, keys expired: 0." % len(want) in log
    finally:
        ours.stop()


def test_redislet_to_real(tmp_path):
    d = tmp_path / "ours"
    d.mkdir()
    ours = start_redislet(d, "--dir", str(d), "--dbfilename", "dump.rdb")
    try:
        build_dataset(client(ours), client(ours, db=3))
        want = snapshot(ours)
        assert client(ours).save()
    finally:
        ours.stop()
    if CHECK_RDB:
        out = subprocess.run([CHECK_RDB, str(d / "dump.rdb")], capture_output=True, text=True)
        assert "RDB looks OK" in out.stdout, out.stdout
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    shutil.copy(d / "dump.rdb", real_dir / "dump.rdb")
    real = start_real_redis(real_dir, "--dir", str(real_dir), "--dbfilename", "dump.rdb")
    try:
        got = snapshot(real)
        assert got.keys() == want.keys()
        for k in want:
            assert got[k] == want[k], k
    finally:
        real.stop()


def test_uncompressed_no_checksum_to_real(tmp_path):
    d = tmp_path / "ours"
    d.mkdir()
    ours = start_redislet(d, "--dir", str(d), "--dbfilename", "dump.rdb",
                          "--rdbcompression", "no", "--rdbchecksum", "no")
    try:
        build_dataset(client(ours), client(ours, db=3))
        want = snapshot(ours)
        assert client(ours).save()
    finally:
        ours.stop()
    data = open(d / "dump.rdb", "rb").read()
    assert data[-8:] == b"\0" * 8
    real = start_real_redis(d, "--dir", str(d), "--dbfilename", "dump.rdb")
    try:
        assert snapshot(real) == want
    finally:
        real.stop()


def test_old_encodings_like_real(tmp_path):
    """Redis's test assets (zipmap, ziplist, quicklist v1, intset, old zsets...) load into
    the same data and encodings as real Redis gives them (DEBUG RELOAD NOSAVE per file)."""
    assets = ["encodings", "hash-ziplist", "hash-zipmap", "list-quicklist", "zset-ziplist",
              "scriptbackup"]
    if not os.path.exists(os.path.join(ASSETS, "encodings.rdb")):
        pytest.skip("Redis test assets not available")
    views = {}
    for starter in (start_real_redis, start_redislet):
        d = tmp_path / starter.__name__
        d.mkdir()
        for a in assets:
            shutil.copy(os.path.join(ASSETS, a + ".rdb"), d / (a + ".rdb"))
        s = starter(d, "--dir", str(d), "--enable-debug-command", "yes",
                    "--enable-protected-configs", "yes")
        try:
            c = client(s)
            for a in assets:
                c.config_set("dbfilename", a + ".rdb")
                assert c.execute_command("DEBUG", "RELOAD", "NOSAVE")
                views[(starter.__name__, a)] = snapshot(s)
        finally:
            s.stop()
    for a in assets:
        assert views[("start_real_redis", a)] == views[("start_redislet", a)], a


def test_empty_keys_skipped(tmp_path):
    src = os.path.join(ASSETS, "corrupt_empty_keys.rdb")
    if not os.path.exists(src):
        pytest.skip("Redis test assets not available")
    shutil.copy(src, tmp_path / "x.rdb")
    s = start_redislet(tmp_path, "--dir", str(tmp_path), "--dbfilename", "x.rdb")
    try:
        assert client(s).dbsize() == 0
    finally:
        s.stop()
    assert "empty keys skipped: 9" in open(tmp_path / "server.log").read()


def _start_fails(tmp_path, data):
    (tmp_path / "bad.rdb").write_bytes(data)
    env = dict(os.environ, PYTHONPATH=ROOT)
    p = subprocess.run([sys.executable, "-m", "redislet", "--port", "0", "--save", "",
                        "--dir", str(tmp_path), "--dbfilename", "bad.rdb"],
                       capture_output=True, text=True, env=env, timeout=30)
    return p.returncode, p.stdout + p.stderr


def _good_rdb(tmp_path):
    d = tmp_path / "gen"
    d.mkdir()
    s = start_redislet(d, "--dir", str(d), "--dbfilename", "dump.rdb")
    try:
        c = client(s)
        c.set("a", "1")
        c.rpush("l", "x", "y")
        c.hset("h", "f", "v")
        assert c.save()
    finally:
        s.stop()
    return open(d / "dump.rdb", "rb").read()


def test_corrupt_files_stop_startup(tmp_path):
    good = _good_rdb(tmp_path)
    # truncated
    code, out = _start_fails(tmp_path, good[:len(good) - 20])
    assert code == 1
    assert "bad.rdb" in out and "offset" in out
    assert "Terminating server after rdb file reading failure." in out
    # bad checksum
    bad = bytearray(good)
    bad[-1] ^= 0xFF
    code, out = _start_fails(tmp_path, bytes(bad))
    assert code == 1 and "RDB CRC error" in out and "Wrong RDB checksum" in out
    # bad signature / version
    code, out = _start_fails(tmp_path, b"RUBBISH" + good[7:])
    assert code == 1 and "Wrong signature" in out
    code, out = _start_fails(tmp_path, b"REDIS0011" + good[9:])
    assert code == 1 and "Can't handle RDB format version 11" in out


def _plain_rdb(entries):
    """An RDB (version 10, checksum 0: not checked) of string entries in db 0, each
    (key, value) or (key, value, expire ms), in that order."""
    out = [b"REDIS0010\xfe\x00"]
    for e in entries:
        if len(e) == 3:
            out.append(b"\xfc" + e[2].to_bytes(8, "little"))
        out.append(b"\x00")
        for s in e[:2]:     # 6- or 14-bit lengths
            n = len(s)
            out.append((bytes([n]) if n < 64 else bytes([0x40 | n >> 8, n & 0xff])) + s)
    return b"".join(out) + b"\xff" + bytes(8)


def test_duplicate_key_in_a_run_of_short_strings(tmp_path):
    """The loader's fast path for runs of short string keys hands a duplicate to the
    checked path: Redis's message for it, wherever it is in the run."""
    keys = [(b"k:%d" % i, b"v:%d" % i) for i in range(3000)]
    for where in (1, 57, 2999):
        code, out = _start_fails(tmp_path, _plain_rdb(keys[:where] + [keys[where // 2]]
                                                      + keys[where:]))
        assert code == 1
        assert "RDB has duplicated key 'k:%d' in DB 0" % (where // 2) in out
    # after a key with an expire (the checked path), then in the next run
    code, out = _start_fails(tmp_path, _plain_rdb(
        [(b"a", b"1", 1 << 50), (b"b", b"2"), (b"c", b"3"), (b"b", b"4")]))
    assert code == 1 and "RDB has duplicated key 'b' in DB 0" in out
    # values of 0 and 1 bytes (slices of those are shared objects), equal or not
    for first, again in ((b"", b""), (b"x", b"x"), (b"x", b"yy"), (b"yy", b"")):
        code, out = _start_fails(tmp_path, _plain_rdb(
            [(b"a", b"1"), (b"d", first), (b"c", b"3"), (b"d", again), (b"e", b"5")]))
        assert code == 1 and "RDB has duplicated key 'd' in DB 0" in out


def test_short_string_runs_load_as_written(tmp_path):
    """Runs of short strings mixed with expires and keys or values of 64 bytes or more,
    loaded as written (the loader's run reader stops at anything else)."""
    entries = []
    for i in range(5000):
        if i % 97 == 0:
            entries.append((b"e:%d" % i, b"x", 1 << 50))
        elif i % 101 == 0:
            entries.append((b"long:%d:" % i + b"k" * 70, b"v"))
        elif i % 103 == 0:
            entries.append((b"lv:%d" % i, b"w" * (63 + i % 2)))
        else:
            entries.append((b"k:%d" % i, b"v:%d" % i))
    (tmp_path / "dump.rdb").write_bytes(_plain_rdb(entries))
    s = start_redislet(tmp_path, "--dir", str(tmp_path), "--dbfilename", "dump.rdb",
                       "--loading-process-events-interval-bytes", "1024")
    try:
        c = client(s)
        assert c.dbsize() == len(entries)
        assert c.mget([e[0] for e in entries]) == [e[1] for e in entries]
        assert c.pexpiretime("e:97") == 1 << 50 and c.ttl("k:1") == -1
    finally:
        s.stop()


def test_loaded_keys_access_times_like_redis(tmp_path):
    """Keys loaded from an RDB start idle at the load (redislet keeps no access-clock entry
    for them until they are touched): OBJECT IDLETIME, DEBUG OBJECT, RENAME, MOVE, SWAPDB,
    the idle records a SAVE writes under an LRU policy, and OBJECT FREQ under LFU, as
    redis-server reports them."""
    rdb_bytes = _plain_rdb([(b"k:%d" % i, b"v:%d" % i) for i in range(20)])
    servers = []
    for name, start in (("real", start_real_redis), ("mine", start_redislet)):
        d = tmp_path / name
        d.mkdir()
        (d / "dump.rdb").write_bytes(rdb_bytes)
        servers.append(start(d, "--dir", str(d), "--dbfilename", "dump.rdb"))
    try:
        time.sleep(2.3)
        seen = []
        for s in servers:
            c = client(s)
            c.get("k:1")
            c.rename("k:2", "r2")
            c.move("k:3", 1)
            c.swapdb(0, 2)
            c2 = client(s, db=2)
            dbg = c2.execute_command("DEBUG", "OBJECT", "k:6")
            row = [c2.object("idletime", "k:0"), c2.object("idletime", "k:1"),
                   c2.object("idletime", "r2"), client(s, db=1).object("idletime", "k:3"),
                   int(dbg.split(b"lru_seconds_idle:")[1].split()[0])]
            c2.config_set("maxmemory-policy", "allkeys-lru")
            c2.save()
            c2.execute_command("DEBUG", "RELOAD")
            row += [client(s, db=2).object("idletime", "k:7"),
                    client(s, db=2).object("idletime", "k:1")]
            seen.append(row)
        for row in seen:    # (each server's keys are as old as its own load)
            assert row[0] in (2, 3) and row[4] in (2, 3) and row[5] in (2, 3), seen
            # the touched keys: 0, or 1 when the whole-second LRU clock ticked between
            # the touch and the read (SAVE and DEBUG RELOAD come between for k:1)
            assert set(row[1:4] + row[6:]) <= {0, 1}, seen
        # LRU clocks read as LFU words after a policy change (SAVE writes them as freqs)
        freqs = []
        for s in servers:
            c = client(s, db=2)
            c.config_set("maxmemory-policy", "allkeys-lfu")
            freqs.append(c.object("freq", "k:8"))
            assert c.save()
        assert 0 <= freqs[1] <= 255
        if freqs[0] != freqs[1]:    # Redis's word is the clock's seconds: a tick between?
            freqs = [client(s, db=2).object("freq", "k:11") for s in servers]
        assert freqs[0] == freqs[1]
    finally:
        for s in servers:
            s.stop()
    # a fresh load under LFU: the keys start at LFU_INIT_VAL
    for name, start in (("real", start_real_redis), ("mine", start_redislet)):
        d = tmp_path / name
        (d / "dump.rdb").write_bytes(rdb_bytes)
        s = start(d, "--dir", str(d), "--dbfilename", "dump.rdb",
                  "--maxmemory-policy", "allkeys-lfu")
        try:
            c = client(s)
            assert c.object("freq", "k:9") == 5
            assert c.dbsize() == 20
        finally:
            s.stop()


def test_corrupt_ziplist_asset(tmp_path):
    src = os.path.join(ASSETS, "corrupt_ziplist.rdb")
    if not os.path.exists(src):
        pytest.skip("Redis test assets not available")
    code, out = _start_fails(tmp_path, open(src, "rb").read())
    assert code == 1
    assert out.count("integrity check failed") > 1


def test_missing_file_is_fine(tmp_path):
    s = start_redislet(tmp_path, "--dir", str(tmp_path), "--dbfilename", "nope.rdb")
    try:
        assert client(s).dbsize() == 0
    finally:
        s.stop()


def test_expired_keys_dropped_on_load(tmp_path):
    s = start_redislet(tmp_path, "--dir", str(tmp_path), "--dbfilename", "dump.rdb")
    try:
        c = client(s)
        c.set("gone", "1", px=150)
        c.set("stays", "1", ex=1000)
        c.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0") if False else None
        assert c.save()
    finally:
        s.stop()
    time.sleep(0.3)
    s = start_redislet(tmp_path, "--dir", str(tmp_path), "--dbfilename", "dump.rdb")
    try:
        c = client(s)
        assert c.keys() == [b"stays"]
        info = c.info("persistence")
        assert info["rdb_last_load_keys_expired"] == 1
        assert info["rdb_last_load_keys_loaded"] == 1
    finally:
        s.stop()


# -- SAVE / BGSAVE / LASTSAVE / INFO -----------------------------------------------------
@pytest.fixture
def ours(tmp_path):
    s = start_redislet(tmp_path, "--dir", str(tmp_path), "--dbfilename", "dump.rdb",
                       "--enable-debug-command", "yes")
    yield s
    s.stop()


def _wait_bgsave(c):
    for _ in range(400):
        if c.info("persistence")["rdb_bgsave_in_progress"] == 0:
            return
        time.sleep(0.02)
    raise AssertionError("bgsave did not finish")


def test_save_and_info(ours, tmp_path):
    c = client(ours)
    c.set("a", "1")
    c.set("b", "2")
    info = c.info("persistence")
    assert info["rdb_changes_since_last_save"] == 2
    before = c.lastsave()
    time.sleep(1.05)
    assert c.save()
    info = c.info("persistence")
    assert info["rdb_changes_since_last_save"] == 0
    assert info["rdb_saves"] == 1
    assert c.lastsave() > before
    assert os.path.exists(tmp_path / "dump.rdb")
    assert not [f for f in os.listdir(tmp_path) if f.startswith("temp-")]


def test_bgsave_while_writing(ours, tmp_path):
    c = client(ours)
    for i in range(2000):
        c.set("k%d" % i, i)
    c.config_set("rdb-key-save-delay", 200)
    raw = c.execute_command("BGSAVE")
    assert raw == b"Background saving started"
    with pytest.raises(redis.ResponseError, match="Background save already in progress"):
        c.execute_command("BGSAVE")
    with pytest.raises(redis.ResponseError, match="Background save already in progress"):
        c.execute_command("SAVE")
    assert c.info("persistence")["rdb_bgsave_in_progress"] == 1
    for i in range(2000, 2500):     # writes continue while the child saves
        c.set("k%d" % i, i)
    c.config_set("rdb-key-save-delay", 0)
    _wait_bgsave(c)
    info = c.info("persistence")
    assert info["rdb_last_bgsave_status"] == "ok"
    assert info["rdb_changes_since_last_save"] == 500
    c.set("after", "x")
    # the file holds the snapshot at fork time
    d = tmp_path / "check"
    d.mkdir()
    shutil.copy(tmp_path / "dump.rdb", d / "dump.rdb")
    s2 = start_redislet(d, "--dir", str(d), "--dbfilename", "dump.rdb")
    try:
        assert client(s2).dbsize() == 2000
    finally:
        s2.stop()


def test_bgsave_syntax(ours):
    c = client(ours)
    with pytest.raises(redis.ResponseError, match="syntax error"):
        c.execute_command("BGSAVE", "foo")
    with pytest.raises(redis.ResponseError, match="syntax error"):
        c.execute_command("BGSAVE", "SCHEDULE", "x")
    assert c.execute_command("BGSAVE", "schedule") == b"Background saving started"
    _wait_bgsave(c)


def test_bgsave_in_multi_is_scheduled(ours):
    c = client(ours)
    p = c.pipeline(transaction=True)
    p.execute_command("BGSAVE")
    assert p.execute() == [b"Background saving scheduled"]
    for _ in range(200):
        if c.info("persistence")["rdb_saves"] >= 1:
            break
        time.sleep(0.02)
    assert c.info("persistence")["rdb_saves"] >= 1
    _wait_bgsave(c)


def test_save_points(tmp_path):
    s = start_redislet(tmp_path, "--dir", str(tmp_path), "--dbfilename", "dump.rdb",
                       "--save", "1 2")
    try:
        c = client(s)
        c.set("a", 1)
        c.set("b", 2)
        for _ in range(300):
            info = c.info("persistence")
            if info["rdb_changes_since_last_save"] == 0 and info["rdb_saves"]:
                break
            time.sleep(0.02)
        assert info["rdb_changes_since_last_save"] == 0
        assert os.path.exists(tmp_path / "dump.rdb")
        assert "2 changes in 1 seconds. Saving..." in open(tmp_path / "server.log").read()
    finally:
        s.stop()


def test_misconf_after_failed_bgsave(tmp_path):
    s = start_redislet(tmp_path, "--dir", str(tmp_path), "--dbfilename", "dump.rdb",
                       "--save", "1000 1000")
    try:
        c = client(s)
        c.set("a", 1)
        os.chmod(tmp_path, 0o500)
        try:
            if os.access(tmp_path, os.W_OK):
                pytest.skip("running as a user that ignores directory permissions")
            c.execute_command("BGSAVE")
            _wait_bgsave(c)
            assert c.info("persistence")["rdb_last_bgsave_status"] == "err"
            with pytest.raises(redis.ResponseError) as e:
                c.set("b", 2)
            assert str(e.value).startswith("MISCONF Redis is configured to save RDB snapshots")
            with pytest.raises(redis.ResponseError, match="MISCONF"):
                c.ping()
            assert c.get("a") == b"1"
            c.config_set("stop-writes-on-bgsave-error", "no")
            assert c.set("b", 2)
            c.config_set("stop-writes-on-bgsave-error", "yes")
        finally:
            os.chmod(tmp_path, 0o755)
        assert c.save()
        assert c.set("b", 3)
    finally:
        s.stop()


def test_misconf_root_safe(tmp_path):
    """MISCONF through an unwritable dbfilename path (works even as root)."""
    s = start_redislet(tmp_path, "--dir", str(tmp_path), "--dbfilename", "dump.rdb",
                       "--save", "1000 1000")
    try:
        c = client(s)
        os.mkdir(tmp_path / "dump.rdb")      # rename over a directory fails
        c.execute_command("BGSAVE")
        _wait_bgsave(c)
        assert c.info("persistence")["rdb_last_bgsave_status"] == "err"
        with pytest.raises(redis.ResponseError, match="^MISCONF Redis is configured"):
            c.set("b", 2)
        with pytest.raises(redis.ResponseError):
            c.save()
        os.rmdir(tmp_path / "dump.rdb")
        assert c.save()
        assert c.set("b", 2)
    finally:
        s.stop()


def test_misconf_replies_like_redis(tmp_path):
    """After a failed BGSAVE (save points set), commands, scripts (their writes and their
    declared flags) and PING get redis-server's replies byte for byte."""
    from conftest import Raw
    replies = []
    for kind, start in (("redislet", start_redislet), ("redis", start_real_redis)):
        d = tmp_path / kind
        d.mkdir()
        s = start(d, "--dir", str(d), "--dbfilename", "dump.rdb", "--save", "1000 1000")
        try:
            c = client(s)
            c.set("k", "v")
            os.mkdir(d / "dump.rdb")          # the rename over it fails (even as root)
            c.execute_command("BGSAVE")
            _wait_bgsave(c)
            raw = Raw(s.port)
            replies.append([raw.cmd(*cmd) for cmd in (
                ("SET", "k", "w"), ("GET", "k"), ("PING",), ("INCR", "n"),
                ("MULTI",), ("SET", "a", "1"), ("EXEC",),
                ("EVAL", "return redis.call('set','k','x')", "0"),
                ("EVAL", "return redis.pcall('set','k','x')", "0"),
                ("EVAL", "#!lua\nreturn redis.call('set','k','x')", "0"),
                ("EVAL", "#!lua flags=no-writes\nreturn redis.call('get','k')", "0"),
                ("EVAL", "return redis.call('get','k')", "0"),
                ("CONFIG", "SET", "stop-writes-on-bgsave-error", "no"),
                ("SET", "k", "y"), ("PING",),
                ("CONFIG", "SET", "save", ""))])     # (else SIGTERM's save fails: no exit)
            raw.sock.close()
        finally:
            s.stop()
    assert replies[0] == replies[1]
    assert replies[0][0].startswith(b"-MISCONF Redis is configured to save RDB snapshots")


def test_flushall_saves(tmp_path):
    s = start_redislet(tmp_path, "--dir", str(tmp_path), "--dbfilename", "dump.rdb",
                       "--save", "1000 1000")
    try:
        c = client(s)
        c.set("a", 1)
        c.flushall()
        assert c.info("persistence")["rdb_changes_since_last_save"] == 0
        assert os.path.exists(tmp_path / "dump.rdb")
    finally:
        s.stop()


def test_shutdown_saves(tmp_path):
    s = start_redislet(tmp_path, "--dir", str(tmp_path), "--dbfilename", "dump.rdb",
                       "--save", "1000 1000")
    c = client(s)
    c.set("a", "persisted")
    assert shutdown(s) == b""
    s.stop()
    s = start_redislet(tmp_path, "--dir", str(tmp_path), "--dbfilename", "dump.rdb")
    try:
        c = client(s)
        assert c.get("a") == b"persisted"
        c.set("b", "1")
        assert shutdown(s, b"NOSAVE") == b""
    finally:
        s.stop()
    s = start_redislet(tmp_path, "--dir", str(tmp_path), "--dbfilename", "dump.rdb")
    try:
        c = client(s)
        assert c.get("b") is None
        c.set("c", "1")
        assert shutdown(s, b"SAVE") == b""
    finally:
        s.stop()
    s = start_redislet(tmp_path, "--dir", str(tmp_path), "--dbfilename", "dump.rdb")
    try:
        assert client(s).get("c") == b"1"
    finally:
        s.stop()


def test_sigterm_saves(tmp_path):
    s = start_redislet(tmp_path, "--dir", str(tmp_path), "--dbfilename", "dump.rdb",
                       "--save", "1000 1000")
    client(s).set("a", "x")
    s.proc.terminate()
    s.proc.wait(10)
    s.stop()
    s = start_redislet(tmp_path, "--dir", str(tmp_path), "--dbfilename", "dump.rdb")
    try:
        assert client(s).get("a") == b"x"
    finally:
        s.stop()


def test_shutdown_save_error(tmp_path):
    s = start_redislet(tmp_path, "--dir", str(tmp_path), "--dbfilename", "dump.rdb",
                       "--save", "1000 1000")
    try:
        c = client(s)
        os.mkdir(tmp_path / "dump.rdb")
        assert shutdown(s) == b"-ERR Errors trying to SHUTDOWN. Check logs.\r\n"
        assert c.ping()
        os.rmdir(tmp_path / "dump.rdb")
    finally:
        s.stop()


def test_debug_reload(ours):
    c = client(ours)
    build_dataset(c, client(ours, db=3))
    before = snapshot(ours)
    assert c.execute_command("DEBUG", "RELOAD") == b"OK"
    assert snapshot(ours) == before
    c.set("new", "1")
    assert c.execute_command("DEBUG", "RELOAD", "NOSAVE") == b"OK"
    assert c.get("new") is None
    c.set("s:raw", "changed")
    c.set("new", "2")
    assert c.execute_command("DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE") == b"OK"
    assert c.get("s:raw") == b"hello world"
    assert c.get("new") == b"2"
    with pytest.raises(redis.ResponseError, match="only supports the MERGE, NOFLUSH"):
        c.execute_command("DEBUG", "RELOAD", "FOO")


# -- unit level: codecs --------------------------------------------------------------------
def test_crc64():
    assert crc64(0, b"123456789") == 0xe9c6d914c4b8d9ca
    data = os.urandom(300_000)
    from redislet.persistence.crc64 import _crc_loop, crc64_python
    assert crc64(5, data) == _crc_loop(5, data)
    # every backend (anycrc's C, numpy lanes, the loop) gives the same value,
    # for any start value, length and buffer type
    for buf in (data, memoryview(data)[3:], bytearray(data[:1000]), b"", data * 10):
        assert crc64(7, buf) == crc64_python(7, buf)
    assert crc64_python(0, b"123456789") == 0xe9c6d914c4b8d9ca


def _lzf_samples(rng):
    out = [b"a" * 1000, b"abcabcabd" * 50, os.urandom(500), b"x" * 10 + os.urandom(40),
           b"".join(b"item:%d:%d" % (7, j) for j in range(200)), b"ab", b"abcd" * 3]
    for _ in range(300):
        # runs, repeats at every distance and noise, up to 20 KiB (past the 8 KiB window)
        parts = []
        while sum(map(len, parts)) < rng.randrange(1, 20000):
            k = rng.random()
            if k < 0.3 and parts:
                parts.append(rng.choice(parts)[:rng.randrange(1, 300)])
            elif k < 0.6:
                parts.append(bytes([rng.randrange(256)]) * rng.randrange(1, 400))
            else:
                parts.append(rng.randbytes(rng.randrange(1, 50)))
        out.append(b"".join(parts))
    return out


def test_integer_members_in_one_width_as_each_alone():
    """The C-speed path for sets of integers of one width writes what the per-member
    path writes (rdbTryIntegerEncoding: int8/16/32 up to 2^31 - 1, strings otherwise)."""
    rng = random.Random(3)
    odd = [b"0", b"01", b"-5", b"1" * 12, b"9" * 5000, b"2147483647", b"2147483648", b"",
           b"1 ", b"+1", b"127", b"128", b"32767", b"32768", b"1_0"]
    spans = [(1, 128), (128, 32768), (32768, 1 << 31), (1, 1 << 33)]
    hits = 0
    for _ in range(2000):
        if rng.random() < 0.3:
            members = [rng.choice(odd) for _ in range(rng.randrange(1, 6))]
        else:
            lo, hi = rng.choice(spans)
            members = [b"%d" % rng.randrange(lo, hi) for _ in range(rng.randrange(1, 40))]
        got = encodings.enc_ints_one_width(members)
        if got is not None:
            hits += 1
            assert got == encodings.enc_strings(members, True), members
    assert hits > 1000


def test_lzf_roundtrip():
    rng = random.Random(7)
    for d in _lzf_samples(rng):
        comp = lzf.compress(d)
        assert lzf.decompress(comp, len(d)) == d
        assert lzf.decompress_py(lzf.compress_py(d), len(d)) == d
        # the limit is on the output: None when it would not fit in max_out bytes (liblzf
        # also gives up a few bytes early, as in Redis, so a fit is only asserted with room)
        for fn in (lzf.compress, lzf.compress_py):
            assert fn(d, len(fn(d)) - 1) is None
            assert fn(d, len(fn(d)) + 4) == fn(d)
        assert lzf.compress_py(d, len(d) + len(d) // 16 + 64) is not None
    for dec in (lzf.decompress, lzf.decompress_py):
        for bad, n in ((b"\x20\x00", 3), (b"\x05abc", 6), (b"\x01ab", 3), (b"\x01ab", 1),
                       (b"\xff\xff\xff", 100), (b"\x00a\xe0", 50)):
            with pytest.raises(lzf.LZFError):
                dec(bad, n)
    # writable buffers, which python-lzf's "s#" refuses
    d = b"abcabcabd" * 50
    comp = lzf.compress(bytearray(d))
    assert lzf.decompress(bytearray(comp), len(d)) == d


@pytest.mark.skipif(lzf._c is None, reason="python-lzf (the `fast` extra) is not installed")
def test_lzf_c_and_python_agree():
    """python-lzf (liblzf, as in Redis) and the Python fallback read each other's output;
    corrupted inputs are refused or decoded alike."""
    rng = random.Random(11)
    for d in _lzf_samples(rng):
        c_comp, py_comp = lzf.compress(d), lzf.compress_py(d)
        assert lzf.decompress_py(c_comp, len(d)) == d
        assert lzf.decompress(py_comp, len(d)) == d
        if len(c_comp) > 2:
            bad = bytearray(c_comp)
            bad[rng.randrange(len(bad))] ^= 1 << rng.randrange(8)
            bad = bytes(bad)
            results = []
            for dec in (lzf.decompress, lzf.decompress_py):
                try:
                    results.append(dec(bad, len(d)))
                except lzf.LZFError:
                    results.append("error")
            assert results[0] == results[1]


def test_listpack_roundtrip():
    vals = [b"", b"a", b"x" * 63, b"x" * 64, b"y" * 5000, b"0", b"-1", b"127", b"128",
            b"-4096", b"4095", b"32767", b"-32768", b"8388607", b"2147483647",
            b"9223372036854775807", b"-9223372036854775808", b"9223372036854775808",
            b"007", b"-0", b"1.5"]
    lp = encodings.lp_build(vals)
    assert [encodings.to_bytes(x) for x in encodings.lp_decode(lp)] == vals


def test_dump_value_roundtrip_all_types():
    from redislet.commands.hashes import make_hash
    from redislet.commands.sets import make_set
    from redislet.types.rlist import RList
    from redislet.types.zset import ZSet
    cfg = rdb.DEFAULT_CFG
    values = [b"x" * 100, b"123", RList([b"a", b"1"]), make_hash({b"a": b"b"}, cfg),
              make_set([b"1", b"2"], cfg), make_set([b"a"], cfg),
              ZSet.from_items([(b"a", 1.5)], 128, 64)]
    for v in values:
        got = rdb.load_value(rdb.dump_value(v))
        assert type(got) is type(v)
    with pytest.raises(rdb.RDBError):
        rdb.load_value(b"\x12\x01\x02\x05abc")


def test_loaded_stream_grows_like_redis(tmp_path):
    """XADDs after a load continue the loaded node as Redis does: an entry with the
    master entry's fields is counted without them, so the node fills at the same entry
    (XINFO STREAM's radix-tree figures) and DUMP gives the same bytes. Loaded entries
    once were lists, which never compared equal to an XADD's tuple of fields."""
    fields = {("field-name-%02d" % j) * 3: "v" for j in range(8)}
    seen = []
    for name, start in (("real", start_real_redis), ("mine", start_redislet)):
        d = tmp_path / name
        d.mkdir()
        s = start(d, "--dir", str(d))
        try:
            c = client(s)
            for i in range(1, 11):
                c.xadd("s", fields, id="1-%d" % i)
            c.execute_command("DEBUG", "RELOAD")
            for i in range(11, 80):
                c.xadd("s", fields, id="1-%d" % i)
            x = c.xinfo_stream("s")
            seen.append(([x["length"], x["radix-tree-keys"], x["radix-tree-nodes"]],
                         c.dump("s")))
        finally:
            s.stop()
    assert seen[0][0] == [79, 1, 2]
    assert seen[1] == seen[0]
